"""`grade watch ID`: grade the learner's file again every time it is saved.

The file is polled (its modification time, size and inode, a few times a second): no
dependency, and it works wherever the file lives (network and container mounts included) and
with editors that save by writing a new file and renaming it. Ctrl-C while waiting for a save
ends the watch with exit 0: every finished run was recorded, stopping is the normal way out.
Ctrl-C during a run exits 130, as `grade exercise` does: that run is discarded.
"""

import os
import sys
import time

import click

from grader.cli.common import (
    DEVICES,
    echo,
    find_item,
    is_own_stub,
    load_bank,
    readable_file,
    use_color,
)

POLL_S = 0.3
SETTLE_S = 0.2  # a save must be this quiet before grading starts (editors write in bursts)


@click.command(epilog="""\b
Examples:
  grade watch linear_regression_jax
  grade watch linear_regression_torch --file ~/answers/lr.py --device cpu
""")
@click.argument("item_id", metavar="ID")
@click.option("--file", "path", type=click.Path(),
              help="The file to watch and grade (default: the stub exercises/ID/ID.py).")
@click.option("--device", type=click.Choice(DEVICES), default="auto", show_default=True,
              help="Where the code runs; auto takes a GPU when the framework sees one.")
@click.option("--seed", type=click.IntRange(0, 2**31 - 1),
              help="Keep the same inputs on every run (default: new ones each time).")
@click.option("--max-runs", type=click.IntRange(min=1), hidden=True,
              help="Stop after this many runs (for tests).")
def watch(item_id, path, device, seed, max_runs):
    """Grade exercise ID again every time you save your file."""
    bank = load_bank()
    item = find_item(bank, item_id)
    own_file = is_own_stub(bank, item.id, path)  # progress is recorded for it alone
    path = readable_file(str(bank.stub_file(item.id)) if path is None else path)
    runs = 0
    while True:
        stamp = file_stamp(path)
        report = grade_once(bank, item.id, path, device, seed, own_file)
        runs += 1
        if max_runs and runs >= max_runs:
            raise SystemExit(int(report.exit_code))
        try:
            echo(f"\nWatching {bank.display(path)}: save it to grade again, Ctrl-C to "
                 "stop.", dim=True)
            wait_for_save(path, stamp)
        except KeyboardInterrupt:
            click.echo("\nStopped watching.")
            return


def grade_once(bank, item_id, path, device, seed, own_file):
    """Grade once and show only this run's report, with the header and progress while it runs
    (never a blank screen); records progress for the learner's file."""
    from grader import progress
    from grader.cli.elapsed import graded

    if sys.stdout.isatty():  # only this run's report on screen, colour or not
        click.clear()
    from grader.cache import self_study_caches

    report = graded(bank, bank.item(item_id), path, device, seed,
                    **self_study_caches(bank, item_id, own_file))
    click.echo(report.to_text(click.style, next_steps=True), color=use_color())
    if own_file and report.status != "error":
        progress.record(bank, report)
    sys.stdout.flush()
    return report


def file_stamp(path):
    try:
        stat = os.stat(path)
    except OSError:  # being replaced by the editor: not there for a moment
        return None
    return stat.st_mtime_ns, stat.st_size, stat.st_ino


def wait_for_save(path, stamp):
    """Return once `path` exists and has changed since `stamp`, and stayed quiet SETTLE_S."""
    while True:
        time.sleep(POLL_S)
        now = file_stamp(path)
        if now is None or now == stamp:
            continue
        time.sleep(SETTLE_S)
        if file_stamp(path) == now:
            return
