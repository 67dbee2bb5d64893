"""`grade race TOPIC`: the torch and jax references of one topic, timed side by side here.
The timing and the table are grader/races/compare.py's."""

import json

import click

from grader.cli.common import DEVICES, InternalError, UserError, load_bank


@click.command(epilog="""\b
Examples:
  grade race linear_regression
  grade race cnn --device cpu
  grade race cnn --steps 100 --format json
""")
@click.argument("topic")
@click.option("--device", type=click.Choice(DEVICES), default="auto", show_default=True,
              help="Where both references run; auto takes a GPU when the framework sees one.")
@click.option("--steps", type=click.IntRange(min=2),
              help="Training steps to time (default: as many as the references' training).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="Table for people, JSON for machines.")
def race(topic, device, steps, fmt):
    """Time the torch and jax references of TOPIC side by side on this machine."""
    from grader.races import compare

    bank = load_bank()
    try:
        compare.check_topic(bank, topic)
        steps = steps or compare.default_steps(topic)
        sides = {}
        for framework in compare.FRAMEWORKS:
            click.echo(f"timing {topic}_{framework} ({steps} steps)...", err=True)
            sides[framework] = compare.run_side(bank, topic, framework, device, steps)
    except compare.NoRace as exc:
        raise UserError(str(exc)) from None
    except compare.RaceFailed as exc:
        raise InternalError(str(exc)) from None
    if fmt == "json":
        click.echo(json.dumps({"topic": topic, "sides": sides, "ratios": compare.ratios(sides)},
                              indent=2))
        return
    click.echo(compare.table(topic, sides))
