"""`grade exercise ID`: grade a learner's file against the item's hidden suite."""

import click

from grader.cli.common import (
    DEVICES,
    sandbox_options,
    emit,
    find_item,
    is_own_stub,
    load_bank,
    readable_file,
    writable_output,
)


@click.command(epilog="""\b
Examples:
  grade exercise linear_regression_torch
  grade exercise linear_regression_jax --file ~/answers/lr.py --device cpu
  grade exercise linear_regression_jax --seed 1234      replay a run's inputs
  grade exercise linear_regression_torch --format json --output report.json
  grade exercise theory_speed                    your answers in exercises/theory_speed/
  grade exercise cnn_jax --file cand.py --require-sandbox      refuse to grade unsandboxed
  grade exercise cnn_jax --file cand.py --mode assessment   hiring: no hints, no progress
""")
@click.argument("item_id", metavar="ID")
@click.option("--file", "path", type=click.Path(),
              help="The file to grade (default: your stub exercises/ID/ID.py, or ID.yaml for "
                   "a theory item, in the bank, "
                   "wherever you run grade from).")
@click.option("--device", type=click.Choice(DEVICES), default="auto", show_default=True,
              help="Where the code runs; auto takes a GPU when the framework sees one.")
@click.option("--seed", type=click.IntRange(0, 2**31 - 1),
              help="Replay the inputs of an earlier run (its report prints the seed).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="Report format.")
@click.option("--output", type=click.Path(dir_okay=False),
              help="Write the report to this file instead of the terminal.")
@sandbox_options
@click.option("--mode", type=click.Choice(["practice", "assessment"]), default="practice",
              show_default=True,
              help="assessment (hiring): no next steps or hints, no progress recorded, the "
                   "sandbox required (an explicit --sandbox none is obeyed with a warning).")
@click.option("--reference-cache", "reference_cache", type=click.Path(file_okay=False),
              hidden=True, help="The reference results store `grade batch` shares between its "
                                "judges (grader/cache.py).")
@click.option("--reference-pass", "reference_pass", type=click.Path(file_okay=False,
              exists=True), hidden=True,
              help="CLAIMS: grade nothing; fill --reference-cache with the reference's results "
                   "of the checks no other pass sharing the folder CLAIMS has claimed (what "
                   "`grade batch` runs before its candidates).")
def exercise(item_id, path, device, seed, fmt, output, sandbox_kind, require_sandbox, mode,
             reference_cache, reference_pass):
    """Grade your solution of exercise ID against its hidden checks."""
    from grader import progress
    from grader.cli.elapsed import graded

    assessment = mode == "assessment"
    if assessment and sandbox_kind == "none":
        click.echo("warning: --sandbox none: the graded code runs unsandboxed, as you; the "
                   "report says so.", err=True)
    store = _reference_store(reference_cache)
    bank = load_bank()
    item = find_item(bank, item_id)
    if reference_pass:
        path = _reference_pass_file(bank, item, path, store, reference_pass)
    own_file = is_own_stub(bank, item.id, path)  # progress is recorded for it alone
    path = readable_file(str(bank.stub_file(item.id)) if path is None else path)
    writable_output(output, path)
    caches = {"reference_cache": store, "reference_pass": reference_pass or None}
    if store is None and not assessment:  # self-study: the user's caches (grader/cache.py)
        from grader.cache import self_study_caches

        caches = self_study_caches(bank, item.id, own_file)
    report = graded(bank, item, path, device, seed, sandbox_kind=sandbox_kind,
                    require_sandbox=require_sandbox or (assessment and sandbox_kind != "none"),
                    **caches)
    emit(_rendered(report, fmt, assessment, path, store), output)
    if own_file and report.status != "error" and not assessment:
        progress.record(bank, report)
    raise SystemExit(int(report.exit_code))


def _reference_pass_file(bank, item, path, store, reference_pass):
    if store is None or path is not None or item.kind == "theory":
        raise click.UsageError("--reference-pass CLAIMS takes a code item, --reference-cache "
                               "and no --file")
    return str(bank.solution_file(item.id))


def _reference_store(folder):
    if folder is None:
        return None
    from grader.cache import ReferenceStore

    return ReferenceStore(folder)


def _rendered(report, fmt, assessment, path, store):
    """The report as text, or as JSON with what an assessment's audit needs."""
    if fmt != "json":
        return report.to_text(click.style, next_steps=not assessment)
    import json

    document = report.to_dict()
    if assessment:
        from grader.cache import file_sha256

        document.update(mode="assessment", submission_sha256=file_sha256(path))
    if store is not None:
        document["reference_cache"] = store.stats()
    return json.dumps(document, indent=2)
