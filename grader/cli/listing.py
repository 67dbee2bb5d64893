"""`grade list`: every item of the bank, with the learner's progress."""

import json

import click

from grader.cli.common import echo, load_bank


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
             "title": item.title, "status": progress.status_of(done, item.id),
             "last_score": progress.last_score(done, item.id) or None}
            for item in progress.practice_order(bank)]
    passed = sum(row["status"] == "passed" for row in rows)
    summary = f"{passed} of {len(rows)} items passed"
    if fmt == "json":
        click.echo(json.dumps({"items": rows, "passed": passed, "total": len(rows)}, indent=2))
        return
    width = max(len(row["id"]) for row in rows)
    colour = {"passed": "green", "failing": "red"}
    for row in rows:
        status = click.style(row["status"].ljust(11), fg=colour.get(row["status"]))
        score = (row["last_score"] or "").rjust(5)
        echo(f"{row['id'].ljust(width)}  {row['framework'].ljust(5)}  {status}  "
             f"{score}  {row['title']}")
    echo(f"\n{summary}. `grade next` names the next one to do.")
