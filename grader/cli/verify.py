"""`grade verify [ID...]`: every reference passes its suite and every stub fails it."""

import click

from grader.catalog import CatalogError
from grader.cli.common import DEVICES, InternalError, find_item, load_bank, use_color
from grader.report import ExitCode


@click.command(epilog="""\b
Examples:
  grade verify                                        the whole bank
  grade verify linear_regression_torch linear_regression_jax
  grade verify --device cuda                          prove the bank on a GPU
""")
@click.argument("item_ids", metavar="[ID]...", nargs=-1)
@click.option("--device", type=click.Choice(DEVICES), default="auto", show_default=True,
              help="Where the code runs.")
@click.option("--seed", type=click.IntRange(0, 2**31 - 1), help="Replay a verify run's inputs.")
def verify(item_ids, device, seed):
    """Prove that references pass and stubs fail their suites."""
    from grader import judge

    bank = load_bank()
    items = [find_item(bank, item_id) for item_id in item_ids] or list(bank.items.values())
    try:
        bank.validate_files([item.id for item in items])
    except CatalogError as exc:
        raise InternalError(str(exc)) from None
    all_hold = True
    click.echo(f"{'item'.ljust(26)}{'reference'.ljust(24)}{'stub'.ljust(24)}holds")
    for item in items:
        reference = judge.grade(bank, item.id, bank.solution_file(item.id), device, seed)
        stub = judge.grade(bank, item.id, bank.stub_file(item.id), device, seed)
        holds = reference.status == "passed" and stub.status == "failed" and stub.score == 0
        all_hold &= holds
        click.echo(f"{item.id.ljust(26)}{_cell(reference).ljust(24)}{_cell(stub).ljust(24)}"
                   + click.style("yes" if holds else "NO", fg="green" if holds else "red"),
                   color=use_color())
        for report, what in ((reference, "reference"), (stub, "stub")):
            if not holds:
                _explain(report, what)
    raise SystemExit(int(ExitCode.ALL_PASSED if all_hold else ExitCode.NOT_ALL_PASSED))


def _cell(report):
    return f"{report.status} {report.score}/{report.max_score} ({report.elapsed_s:.0f} s)"


def _explain(report, what):
    problems = [c for c in report.checks if (c.status == "passed") == (what == "stub")]
    for check in problems[:5]:
        click.echo(f"    {what}: {check.name}: {check.status} {check.message[:200]}")
    for error in (report.internal_error, report.load_error):
        if error:
            click.echo(f"    {what}: {error.splitlines()[0]}")
