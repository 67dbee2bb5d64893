"""`grade solution ID`: the reference solution, once the learner's own file has passed."""

import click

from grader.cli.common import InternalError, UserError, echo, find_item, load_bank


@click.command(epilog="""\b
Examples:
  grade solution linear_regression_torch
""")
@click.argument("item_id", metavar="ID")
def solution(item_id):
    """Show the reference solution of exercise ID, after you have passed it."""
    from grader import progress

    bank = load_bank()
    item = find_item(bank, item_id)
    status = progress.status_of(progress.load(bank), item.id)
    if status != "passed":
        raise UserError(
            f"The reference of {item.id} is shown once your own file passes ({status} so far): "
            f"edit {bank.display(bank.stub_file(item.id))} and run `grade exercise {item.id}` "
            f"until every check passes. Stuck? `grade hint {item.id}`.")
    path = bank.solution_file(item.id)
    try:
        source = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InternalError(f"cannot read {bank.display(path)}: {exc.strerror}") from None
    echo(f"# Reference solution of {item.id} ({bank.display(path)})", bold=True)
    click.echo(source.rstrip("\n"))
    twin = f"; its twin `grade solution {item.twin}` once you pass that one" if item.twin else ""
    echo(f"# Compare it with yours{twin}.", dim=True)
