"""`grade verify [ID...]`: every reference passes its suite and every stub fails it.

The stub graded is the bank's own: the working file in exercises/ while its digest matches
grader/stubs.sha256, else the committed one (grader/bank_stubs.py); each row says which.
"""

import secrets

import click

from grader.catalog import CatalogError
from grader.cli.common import (
    DEVICES,
    InternalError,
    Interrupted,
    find_item,
    load_bank,
    use_color,
)
from grader.report import ExitCode


@click.command(epilog="""\b
Examples:
  grade verify                                        the whole bank
  grade verify linear_regression_torch linear_regression_jax
  grade verify --seed 1234                            replay a verify run's inputs
  grade verify --device cuda                          prove the bank on a GPU
""")
@click.argument("item_ids", metavar="[ID]...", nargs=-1)
@click.option("--device", type=click.Choice(DEVICES), default="auto", show_default=True,
              help="Where the code runs.")
@click.option("--seed", type=click.IntRange(0, 2**31 - 1), help="Replay a verify run's inputs.")
def verify(item_ids, device, seed):
    """Prove that references pass and stubs fail their suites."""
    bank = load_bank()
    items = [find_item(bank, item_id) for item_id in item_ids] or list(bank.items.values())
    try:
        bank.validate_files([item.id for item in items])
    except CatalogError as exc:
        raise InternalError(str(exc)) from None
    seed = secrets.randbelow(2**31) if seed is None else seed
    click.echo(f"seed {seed} (replay with --seed {seed})\n")
    click.echo(f"{'item'.ljust(26)}{'reference'.ljust(24)}{'stub'.ljust(24)}holds")
    try:
        reports = [_verify_item(bank, item, device, seed) for item in items]
    except KeyboardInterrupt:
        raise Interrupted() from None
    statuses = {report.status for pair in reports for report in pair}
    if "error" in statuses:
        raise SystemExit(int(ExitCode.INTERNAL))
    holds = all(_holds(*pair) for pair in reports)
    raise SystemExit(int(ExitCode.ALL_PASSED if holds else ExitCode.NOT_ALL_PASSED))


def _verify_item(bank, item, device, seed):
    """Grade the reference and the bank's stub (never a learner's edits: see bank_stubs)."""
    from grader import judge
    from grader.bank_stubs import bank_stub
    from grader.cache import ReferenceStore

    store = ReferenceStore()  # the stub's grading reads the reference's results back
    reference = judge.grade(bank, item.id, bank.solution_file(item.id), device, seed,
                            reference_cache=store)
    with bank_stub(bank, item.id) as graded:
        stub = judge.grade(bank, item.id, graded.path, device, seed, reference_cache=store)
    holds = _holds(reference, stub)
    click.echo(f"{item.id.ljust(26)}{_cell(reference).ljust(24)}{_cell(stub).ljust(24)}"
               + click.style("yes" if holds else "NO", fg="green" if holds else "red"),
               color=use_color())
    click.echo(f"    stub: {graded.note}")
    if not holds:
        _explain(reference, "reference")
        _explain(stub, "stub")
    return reference, stub


def _holds(reference, stub):
    return reference.status == "passed" and stub.status == "failed" and stub.score == 0


def _cell(report):
    return f"{report.status} {report.score}/{report.max_score} ({report.elapsed_s:.0f} s)"


def _explain(report, what):
    problems = [c for c in report.checks if (c.status == "passed") == (what == "stub")]
    for check in problems[:5]:
        click.echo(f"    {what}: {check.name}: {check.status} {check.message[:200]}")
    for error in (report.internal_error, report.load_error, report.usage_error):
        if error:
            click.echo(f"    {what}: {error.splitlines()[0]}")
