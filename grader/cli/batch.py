"""`grade batch SUBMISSIONS --out RESULTS`: grade a folder of candidates' submissions."""

import click

from grader.cli.common import (
    DEVICES,
    SANDBOXES,
    InternalError,
    UserError,
    find_item,
    load_bank,
    use_color,
)


def echo(text, err=False, **style):
    click.echo(click.style(text, **style) if style else text, err=err, color=use_color())


@click.command(epilog="""\b
Examples:
  grade batch submissions/ --out results/              every candidate, every item found
  grade batch submissions/ --out results/              again: grades only what is new
  grade batch submissions/ --out results/ --items cnn_jax,qlearning_torch --jobs 2
  grade batch submissions/ --out results/ --regrade alice     grade one candidate again

\b
SUBMISSIONS holds one folder per candidate (alice/cnn_jax.py, alice/theory_speed.yaml) or
one zip per candidate (bob.zip). RESULTS gets candidates/<candidate>.json, batch.json (the
seed, device, bank digest, every run) and the reports. Exit codes: 0 every submission graded,
1 some submission could not be read or graded (its candidate's JSON says why), 2 usage error,
130 interrupted (finished gradings are kept; run the same command to resume).
""")
@click.argument("submissions", type=click.Path(file_okay=False))
@click.option("--out", "results", required=True, type=click.Path(file_okay=False),
              help="The results folder (created; an existing one is resumed).")
@click.option("--items", help="Comma-separated item ids to grade (default: every item found).")
@click.option("--jobs", type=click.IntRange(1, 256),
              help="Gradings at once (default: min(cores, memory in GiB / 4)).")
@click.option("--seed", type=click.IntRange(0, 2**31 - 1),
              help="The batch's seed (default: a fresh one, kept in RESULTS/batch.json).")
@click.option("--device", type=click.Choice(DEVICES), default="auto", show_default=True,
              help="Where the candidates' code runs.")
@click.option("--regrade", multiple=True, metavar="CANDIDATE",
              help="Grade this candidate again, even what is already graded (repeatable).")
@click.option("--sandbox", "sandbox_kind", type=click.Choice(SANDBOXES), default=None,
              help="auto or bwrap: graded in the sandbox, which is required (the default); "
                   "none: unsandboxed, obeyed with a warning that every report repeats.")
@click.option("--scheduler", metavar="ADDRESS",
              help="Grade on a Dask cluster (tcp://host:8786; needs the extra `cluster`): each "
                   "grading runs in its own judge on a worker, in the worker's sandbox.")
def batch(submissions, results, items, jobs, seed, device, regrade, sandbox_kind, scheduler):
    """Grade every candidate's submissions in SUBMISSIONS with one seed."""
    from pathlib import Path

    from grader import sandbox
    from grader.assessment.batch import (
        UNSANDBOXED,
        Batch,
        BatchError,
        EarlySimilarity,
        Options,
        write_reports,
    )
    from grader.catalog import UnknownItem
    from grader.cli.common import Interrupted

    bank = load_bank()
    chosen = None
    if items:
        chosen = [find_item(bank, name.strip()).id for name in items.split(",") if name.strip()]
    if sandbox_kind == "none":
        echo(f"warning: {UNSANDBOXED}; the reports say so.", err=True, fg="yellow")
    elif scheduler:
        pass  # the sandbox is required on each worker, where its judge grades
    else:
        try:
            choice = sandbox.choose(sandbox_kind)
        except sandbox.Unavailable as exc:
            raise UserError(str(exc)) from None
        if choice.kind == "none":
            raise UserError(f"grading candidates needs a sandbox, and none can start here: "
                            f"{choice.reason}. Run `grade doctor`; `--sandbox none` grades "
                            "unsandboxed (the reports then say so).")
    options = Options(Path(submissions), Path(results), items=chosen, jobs=jobs, seed=seed,
                      device=device, regrade=list(regrade), sandbox_kind=sandbox_kind)
    runner = Batch(bank, options)
    try:
        jobs_to_run = runner.prepare()
    except (BatchError, UnknownItem) as exc:
        raise UserError(str(exc)) from None
    seed_note = f"seed {runner.state['seed']}"
    known = sum(len(record["items"]) for record in runner.records.values())
    echo(f"{len(runner.candidates)} candidates, {len(jobs_to_run)} submissions to grade "
         f"({known} graded before) · {seed_note} · device {device}", err=True)
    early = []  # the similarity check, started once no reference time is being measured
    try:
        if scheduler:
            try:
                import distributed  # noqa: F401  (the extra `cluster`)

                from grader.assessment import cluster
            except ImportError as exc:
                raise UserError(f"--scheduler needs Dask: pip install -e '.[cluster]' "
                                f"({exc})") from None
            early.append(EarlySimilarity(results))
            run = cluster.run(runner, jobs_to_run, scheduler,
                              echo=lambda text: echo(text, err=True))
        else:
            run = runner.run(jobs_to_run,
                             after_passes=lambda: early.append(EarlySimilarity(results)))
        written, problems, notes = write_reports(results, early[0] if early else None)
    except KeyboardInterrupt:
        raise Interrupted("interrupted: the finished gradings are kept in "
                          f"{results}; run the same command to grade the rest.") from None
    finally:
        for process in early:
            process.stop()
    cache = run["reference_cache"]
    workers = (f", {cache['reference_workers']} reference workers started"
               if "reference_workers" in cache else "")
    echo(f"Graded {run['graded']} submissions ({run['failed']} did not pass, "
         f"{run['judge_errors']} could not be graded); reference results reused "
         f"{cache['hits']} times, computed {cache['misses']} times{workers}.")
    for entry in run.get("reference_passes", []):
        if "error" in entry:
            echo(f"warning: the reference pass {entry['item']} {entry['shard']} failed, so its "
                 f"item's candidates computed the reference's results: {entry['error'][:300]}",
                 err=True, fg="yellow")
    echo(f"Per-candidate results: {Path(results) / 'candidates'}/ (batch record: "
         f"{Path(results) / 'batch.json'})")
    for path in written:
        echo(f"  {path}")
    for note in notes:
        echo(f"note: {note}", err=True, fg="yellow")
    for problem in problems:
        echo(f"warning: a report could not be written: {problem}", err=True, fg="yellow")
    if sandbox_kind == "none":
        echo(f"warning: {UNSANDBOXED}.", err=True, fg="yellow")
    errors = sum(len(record["errors"]) for record in runner.records.values())
    if problems:
        raise InternalError("; ".join(problems))
    raise SystemExit(1 if errors else 0)
