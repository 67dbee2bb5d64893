"""The `grade` command: a thin click group; each command lives in its own module."""

import click

from grader import __version__
from grader.cli import exercise, listing, verify
from grader.cli import quiz  # theory items
from grader.cli import doctor, hint, race, reset, solution, watch  # practice
from grader.cli import next as next_command
from grader.cli.common import InternalError

EPILOG = """\b
Examples:
  grade list                                      your progress on every exercise
  grade exercise linear_regression_jax            grade your file in exercises/
  grade exercise linear_regression_torch --file lr.py
  grade exercise linear_regression_torch --seed 1234 --format json
  grade next                                      the next exercise to do
  grade hint linear_regression_jax                the next hint, one rung at a time
  grade watch linear_regression_jax               re-grade on every save
  grade race linear_regression                    torch against jax, timed here
  grade doctor                                    devices, versions, limits, paths
  grade quiz theory_speed                         theory, one question at a time
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
cli.add_command(quiz.quiz)
for practice_command in (next_command.next_item, hint.hint, watch.watch, reset.reset,
                         solution.solution, doctor.doctor, race.race):
    cli.add_command(practice_command)


def main(prog_name="grade"):
    cli(prog_name=prog_name)
