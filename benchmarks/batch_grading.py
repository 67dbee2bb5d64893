"""`grade batch --jobs 2` against the same submissions graded one after another, in one run.

For each item, 8 submissions: 3 correct (the reference, and two copies with a comment added),
3 wrong (the loss summed instead of averaged) and 2 stubs (the bank's own). They are graded

  sequential: 8 x `python -m grader exercise ID --file F --seed S --mode assessment
              --require-sandbox` (no shared reference results), one after another;
  batch:      `python -m grader batch SUBMISSIONS --out RESULTS --jobs 2 --seed S`, with an
              empty reference store of its own (DLPREP_CACHE in a temporary folder),

with the same seed and device, and the script prints both wall times, their ratio and the
batch's reference reuse (the candidates' store hits and results computed, then what the
reference passes computed before them, and each pass's seconds), then where the time went: per submission, the judge's own elapsed
time in the batch and alone, and how many reference workers each batch grading started (0: all
its reference results came from the store). The sum of the batch's judge times against the
batch's wall time is how much of `--jobs` the machine gave. The load average is printed with
each result: on a machine others share, the wall ratio says as much about their load during
each half as about the batch. With several items, a last row grades them as a take-home: every
candidate hands in every item, one `grade batch --items a,b` grades all of them, against the
sum of the items' sequential times above (the same files, seed and device). Run from the
repository root:

    .venv/bin/python benchmarks/batch_grading.py [--items linear_regression_jax,cnn_torch]
                                                 [--jobs 2] [--device cpu] [--repeat 3]

With `--repeat N` each item is measured N times (batch, then sequential, in turn) and the
median ratio printed: on this machine one run's halves differ by a fifth from run to run.
"""

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
WRONG = {
    "linear_regression_jax": """

def mse_loss(predictions, targets):
    return ((predictions - targets) ** 2).sum()  # summed, not averaged
""",
    "linear_regression_torch": """

def mse_loss(predictions, targets):
    return ((predictions - targets) ** 2).sum()  # summed, not averaged
""",
    "cnn_torch": """

def loss_fn(model, images, labels):
    return F.cross_entropy(forward(model, images), labels, reduction="sum")  # not the mean
""",
    "qlearning_torch": """

def td_targets(rewards, next_q_values, dones, gamma):
    return rewards + gamma * next_q_values.max(dim=1).values  # bootstraps past the end
""",
}
SEED = 20261202


def submissions(item_id, folder, stub_text):
    """8 candidates' folders for one item: 3 correct, 3 wrong, 2 stubs."""
    reference = (ROOT / "solutions" / item_id / f"{item_id}.py").read_text()
    texts = [reference, reference + "\n# checked twice\n", reference + "\n# done\n"]
    texts += [reference + WRONG[item_id] + f"\n# variant {n}\n" for n in range(3)]
    texts += [stub_text, stub_text + "\n# not started\n"]
    files = []
    for number, text in enumerate(texts):
        path = folder / f"candidate{number}" / f"{item_id}.py"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        files.append(path)
    return files


def sequential(item_id, files, device):
    started = time.perf_counter()
    statuses, judges = [], []
    for path in files:
        done = subprocess.run(
            [sys.executable, "-m", "grader", "exercise", item_id, "--file", str(path),
             "--format", "json", "--seed", str(SEED), "--device", device, "--mode",
             "assessment", "--require-sandbox"], capture_output=True, text=True)
        report = json.loads(done.stdout) if done.stdout else {}
        statuses.append(report.get("status", f"exit {done.returncode}"))
        judges.append(report.get("elapsed_s"))
    return time.perf_counter() - started, statuses, judges, os.getloadavg()[0]


def batch(items, folder, results, jobs, device, store):
    """`grade batch` of `items` (comma-separated); (seconds, load, {item: statuses}, the run's
    reference reuse, {item: reports}), candidates in name order."""
    environment = dict(os.environ, DLPREP_CACHE=str(store))
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "grader", "batch", str(folder), "--out", str(results),
         "--items", items, "--jobs", str(jobs), "--seed", str(SEED), "--device", device],
        capture_output=True, text=True, env=environment)
    seconds, load = time.perf_counter() - started, os.getloadavg()[0]
    if done.returncode not in (0, 1):
        raise SystemExit(f"grade batch failed (exit {done.returncode}): {done.stderr[-2000:]}")
    records = [json.loads(path.read_text())
               for path in sorted((results / "candidates").glob("*.json"))]
    reports = {item_id: [record["items"][item_id] for record in records]
               for item_id in items.split(",")}
    run = json.loads((results / "batch.json").read_text())["runs"][-1]
    statuses = {item_id: [report["status"] for report in found]
                for item_id, found in reports.items()}
    reuse = dict(run["reference_cache"], passes=run.get("reference_passes") or [])
    return seconds, load, statuses, reuse, reports


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", default="linear_regression_jax,cnn_torch")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeat", type=int, default=1,
                        help="measure each item this many times, and print the median ratio")
    args = parser.parse_args()
    print(f"cores {os.cpu_count()} · device {args.device} · jobs {args.jobs} · seed {SEED}")
    print(f"{'item':<26}{'sequential s':>14}{'batch s':>10}{'ratio':>8}  reference reuse")
    details, alone_by_item = [], {}
    for item_id in args.items.split(","):
        ratios = []
        for _ in range(args.repeat):  # batch then sequential, in turn: each meets the load
            # of the moment beside the other
            details_row, alone_row = measure(item_id, args)
            ratios.append(details_row[1] / alone_row[0])
        if args.repeat > 1:
            print(f"{'  median ratio':<26}{'':>24}{statistics.median(ratios):>8.2f}  of "
                  f"{', '.join(f'{ratio:.2f}' for ratio in ratios)}", flush=True)
        details.append(details_row)
        alone_by_item[item_id] = alone_row
    if len(alone_by_item) > 1:
        together(list(alone_by_item), alone_by_item, args)
    for item_id, batch_s, reports, alone in details:
        print(f"\n{item_id}: where the time went (judge seconds; workers: reference workers "
              "the batch grading started)")
        print(f"  {'submission':<12}{'status':<10}{'alone s':>9}{'in batch s':>12}"
              f"{'workers':>9}{'hits':>6}{'computed':>10}")
        for number, (report, alone_s) in enumerate(zip(reports, alone)):
            cache = report.get("reference_cache") or {}
            workers = str(cache.get("reference_workers", "?"))
            print(f"  candidate{number:<3}{report['status']:<10}{alone_s or 0:>9.1f}"
                  f"{report.get('elapsed_s') or 0:>12.1f}{workers:>9}"
                  f"{cache.get('hits', 0):>6}{cache.get('misses', 0):>10}")
        total = sum(report.get("elapsed_s") or 0 for report in reports)
        print(f"  judges' time in the batch {total:.1f} s over {batch_s:.1f} s of wall time: "
              f"{total / batch_s:.2f} gradings at once on average (--jobs {args.jobs})")



def measure(item_id, args):
    """One batch of the item's 8 submissions, then the same 8 one after another; prints the
    row; (details, (sequential seconds, statuses)) for the tables that follow."""
    from grader.bank_stubs import bank_stub
    from grader.catalog import Bank

    with tempfile.TemporaryDirectory(prefix="dlprep-bench-") as temporary, \
            contextlib.ExitStack() as stack:
        base = Path(temporary)
        stub = stack.enter_context(bank_stub(Bank(), item_id))
        files = submissions(item_id, base / "submissions", stub.path.read_text())
        batch_s, batch_load, batch_statuses, reuse, reports = batch(
            item_id, base / "submissions", base / "results", args.jobs, args.device,
            base / "store")
        sequential_s, sequential_statuses, alone, sequential_load = sequential(
            item_id, files, args.device)
    agree = batch_statuses[item_id] == sequential_statuses
    print(f"{item_id:<26}{sequential_s:>14.1f}{batch_s:>10.1f}"
          f"{batch_s / sequential_s:>8.2f}  {reused(reuse)} · verdicts agree: {agree}",
          flush=True)
    print(f"{'  load average at the end':<26}{sequential_load:>14.1f}{batch_load:>10.1f}",
          flush=True)
    return (item_id, batch_s, reports[item_id], alone), (sequential_s, sequential_statuses)


def reused(reuse):
    """The candidates' store hits and results computed, then the reference passes' share."""
    passes = reuse["passes"]  # the run's counts include the passes' own

    def by_passes(count):
        return sum((entry.get("reference_cache") or {}).get(count, 0) for entry in passes)

    shards = ", ".join(f"{entry['item']} {entry['shard']} {entry['seconds']:.1f} s"
                       for entry in passes)
    return (f"{reuse['hits'] - by_passes('hits')} hits, "
            f"{reuse['misses'] - by_passes('misses')} computed by candidates; passes: "
            f"{by_passes('misses')} computed ({shards or 'none'})")


def together(items, alone_by_item, args):
    """The take-home as a reviewer meets it: every candidate hands in every item, one batch
    grades them all, against the items' sequential times measured above in this run."""
    from grader.bank_stubs import bank_stub
    from grader.catalog import Bank

    with tempfile.TemporaryDirectory(prefix="dlprep-bench-") as temporary, \
            contextlib.ExitStack() as stack:
        base = Path(temporary)
        for item_id in items:
            stub = stack.enter_context(bank_stub(Bank(), item_id))
            submissions(item_id, base / "submissions", stub.path.read_text())
        batch_s, batch_load, statuses, reuse, _ = batch(
            ",".join(items), base / "submissions", base / "results", args.jobs, args.device,
            base / "store")
    sequential_s = sum(seconds for seconds, _ in alone_by_item.values())
    agree = all(statuses[item_id] == alone_by_item[item_id][1] for item_id in items)
    label = f"all {len(items)} items, 1 batch"
    print(f"{label:<26}{sequential_s:>14.1f}{batch_s:>10.1f}{batch_s / sequential_s:>8.2f}  "
          f"{reused(reuse)} · verdicts agree: {agree}")
    print(f"{'  load average at the end':<26}{'':>14}{batch_load:>10.1f}", flush=True)


if __name__ == "__main__":
    main()
