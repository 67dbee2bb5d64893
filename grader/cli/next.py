"""`grade next`: the next item to work on, and how to start it."""

import click

from grader.cli.common import load_bank


@click.command("next", epilog="""\b
Examples:
  grade next
""")
def next_item():
    """Name the next exercise to do and how to start it."""
    from grader import progress

    bank = load_bank()
    done = progress.load(bank)
    order = progress.practice_order(bank)
    todo = [item for item in order if progress.status_of(done, item.id) != "passed"]
    if not todo:
        click.echo(f"All {len(order)} items passed. `grade solution ID` shows a reference to "
                   "compare with yours.")
        return
    item = todo[0]
    status = progress.status_of(done, item.id)
    score = progress.last_score(done, item.id)
    click.echo(f"Next: {item.id} ({item.title}) · {status}"
               f"{f', last score {score}' if score else ''} · "
               f"{len(order) - len(todo)} of {len(order)} items passed")
    twin = bank.items.get(item.twin) if item.twin else None
    if twin is not None:
        twin_score = progress.last_score(done, twin.id)
        click.echo(f"Twin: {twin.id} ({twin.title}) · {progress.status_of(done, twin.id)}"
                   f"{f', last score {twin_score}' if twin_score else ''} · the same tasks "
                   f"in {twin.framework}, side by side with this one")
    for line in how_to_start(bank, item):
        click.echo(f"  {line}")


def how_to_start(bank, item):
    """The steps that start an item, as short lines."""
    statement = bank.display(bank.statement_file(item.id))
    stub = bank.stub_file(item.id)
    if item.kind == "theory":
        return [f"answer in {bank.display(stub)} (the questions are in it)",
                f"run `grade exercise {item.id}`, or `grade quiz {item.id}` for one question "
                "at a time", f"stuck? `grade hint {item.id}`"]
    return [f"read {statement}", f"edit {bank.display(stub)}",
            f"run `grade exercise {item.id}` (or `grade watch {item.id}` to re-grade on save)",
            f"stuck? `grade hint {item.id}`"]
