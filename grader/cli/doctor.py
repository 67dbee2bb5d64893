"""`grade doctor`: what the grader will use here: devices, versions, limits, paths.
The facts are gathered by grader/doctor.py."""

import json

import click

from grader.cli.common import echo, load_bank


@click.command(epilog="""\b
Examples:
  grade doctor
  grade doctor --format json
""")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="Text for people, JSON for machines.")
def doctor(fmt):
    """Show the devices, versions, limits and paths the grader will use."""
    from grader import doctor as checkup

    found = checkup.facts(load_bank())
    if fmt == "json":
        click.echo(json.dumps(found, indent=2))
        return
    for line in describe(found):
        echo(line)


def describe(facts):
    lines = [facts["grader"], "",
             click.style("Frameworks (queried in fresh interpreters, as workers run)", bold=True)]
    for name, found in facts["frameworks"].items():
        if "error" in found:
            lines.append(f"  {name}: " + click.style(f"unusable: {found['error']}", fg="red"))
            continue
        lines.append(f"  {name} {found['version']}: sees {', '.join(found['devices'])}; "
                     f"--device auto runs on {found['auto']}")
    lines += ["", click.style("Limits on graded code here", bold=True)]
    lines += [f"  {key}: {value}" for key, value in facts["limits"].items()]
    lines += ["", click.style("Paths", bold=True)]
    lines += [f"  {key}: {value}" for key, value in facts["paths"].items()]
    return lines
