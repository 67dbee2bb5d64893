"""`grade list`: every item of the bank, with the learner's progress."""

import json

import click

from grader.cli.common import load_bank


@click.command("list", epilog="""\b
Examples:
  grade list
  grade list --format json
""")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="Table for people, JSON for machines.")
def list_items(fmt):
    """List the exercises, with your progress on each."""
    from grader import progress

    bank = load_bank()
    done = progress.load(bank)
    rows = [{"id": item.id, "framework": item.framework, "topic": item.topic,
             "title": item.title, "status": progress.status_of(done, item.id)}
            for item in bank.items.values()]
    if fmt == "json":
        click.echo(json.dumps({"items": rows}, indent=2))
        return
    width = max(len(row["id"]) for row in rows)
    colour = {"passed": "green", "failing": "red"}
    for row in rows:
        status = click.style(row["status"].ljust(11), fg=colour.get(row["status"]))
        click.echo(f"{row['id'].ljust(width)}  {row['framework'].ljust(5)}  {status}  "
                   f"{row['title']}")
    passed = sum(row["status"] == "passed" for row in rows)
    click.echo(f"\n{passed} of {len(rows)} items passed.")
