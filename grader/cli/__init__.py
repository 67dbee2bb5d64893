"""The `grade` command: a thin click group; each command lives in its own module."""

import os
import sys

import click

from grader import __version__
from grader.cli import (
    doctor,  # practice: doctor, hint, next, race, reset, solution, watch
    exercise,
    hint,
    kit,  # assessment: grade kit
    listing,
    quiz,  # theory items
    race,
    reset,
    solution,
    verify,
    watch,
)
from grader.cli import next as next_command
from grader.cli.batch import batch as batch_command  # assessment: grade batch
from grader.cli.gradescope import gradescope as gradescope_command  # Gradescope bundle
from grader.cli.common import BROKEN_PIPE, InternalError, Interrupted, stop_on_termination

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
Exit codes: 0 done (grading: all checks passed), 1 some checks did not pass, 2 usage
error, 3 internal error, 130 interrupted (Ctrl-C), 129 and 143 stopped by SIGHUP or SIGTERM,
141 the output's reader went away (as head does).
"""


class Group(click.Group):
    """Turns what escapes a command into the documented exit codes: Ctrl-C is 130, a reader
    that went away (`grade list | head -1`) ends quietly with 141, anything else is a bug (3)."""

    def invoke(self, ctx):
        try:
            try:
                return super().invoke(ctx)
            finally:
                sys.stdout.flush()  # a closed pipe shows here, not at interpreter exit
        except BrokenPipeError:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            raise SystemExit(BROKEN_PIPE) from None
        except KeyboardInterrupt:
            raise Interrupted("interrupted (Ctrl-C).") from None
        except click.Abort as exc:  # click's prompts turn Ctrl-C into Abort
            if isinstance(exc.__context__, KeyboardInterrupt):
                raise Interrupted("interrupted (Ctrl-C).") from None
            raise
        except (click.exceptions.ClickException, click.exceptions.Exit, SystemExit):
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
cli.add_command(kit.kit)
cli.add_command(batch_command)
cli.add_command(gradescope_command)
for practice_command in (next_command.next_item, hint.hint, watch.watch, reset.reset,
                         solution.solution, doctor.doctor, race.race):
    cli.add_command(practice_command)


def main(prog_name="grade"):
    stop_on_termination()
    cli(prog_name=prog_name)
