"""The `grade` command: a thin click group; each command lives in its own module."""

import click

from grader import __version__
from grader.cli import exercise, listing, verify
from grader.cli.common import InternalError

EPILOG = """\b
Examples:
  grade list                                      your progress on every exercise
  grade exercise linear_regression_jax            grade your file in exercises/
  grade exercise linear_regression_torch --file lr.py
  grade exercise linear_regression_torch --seed 1234 --format json
  grade verify                                    references pass, stubs fail

\b
Exit codes: 0 all checks passed, 1 some did not, 2 usage error, 3 internal error,
130 interrupted.
"""


class Group(click.Group):
    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.Abort,
                SystemExit, KeyboardInterrupt):
            raise
        except Exception as exc:  # a grader bug: say so, never blame the learner
            raise InternalError(f"{type(exc).__name__}: {exc}") from exc


@click.group(cls=Group, epilog=EPILOG, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="dlprep")
def cli():
    """Grade PyTorch and JAX interview exercises against hidden test suites."""


cli.add_command(listing.list_items)
cli.add_command(exercise.exercise)
cli.add_command(verify.verify)


def main(prog_name="grade"):
    cli(prog_name=prog_name)
