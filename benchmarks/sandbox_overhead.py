"""What the bubblewrap sandbox costs a worker: start-up, and a whole grading, with and without.

Three measurements, each alternating sandbox off and on in fresh processes, medians printed
side by side with their ratio:
  1. a bare interpreter (`python -c pass`), plain against inside the worker's sandbox;
  2. a worker started until it is ready (framework imported, the reference loaded), through the
     grader's own WorkerProcess;
  3. `grade exercise ITEM` on the reference, end to end.

    .venv/bin/python benchmarks/sandbox_overhead.py --repeat 15 --item linear_regression_torch
"""

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from grader import sandbox  # noqa: E402
from grader.catalog import Bank  # noqa: E402
from grader.workers import NO_SANDBOX, OutputLog, WorkerProcess, WorkerSpec  # noqa: E402


def bare_interpreter(choice, view):
    argv = choice.command([sys.executable, "-s", "-c", "pass"], view, "cpu")
    started = time.perf_counter()
    subprocess.run(argv, check=True, stdin=subprocess.DEVNULL)
    return time.perf_counter() - started


def worker_ready(choice, bank, item):
    spec = WorkerSpec(role="reference", target=bank.solution_file(item.id), display=item.id,
                      module=item.id, probes=bank.suite_dir(item.id) / "probes.py",
                      framework=item.framework, device="cpu", memory_mb=item.limits["memory_mb"],
                      cpu_devices=item.cpu_devices, sandbox=choice)
    worker = WorkerProcess(spec, OutputLog())
    try:
        worker.start()
        reply, seconds = worker.await_ready(300)
        assert reply["op"] == "ready", reply
        return seconds
    finally:
        worker.stop()


def grading(kind, item):
    solution = ROOT / "solutions" / item / f"{item}.py"
    argv = [sys.executable, "-m", "grader", "exercise", item, "--file", str(solution),
            "--device", "cpu", "--format", "json"]
    started = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, cwd=ROOT,
                   env=dict(os.environ, DLPREP_SANDBOX=kind))
    return time.perf_counter() - started


def compare(name, measure, repeat):
    off, on = [], []
    for _ in range(repeat):  # alternate, so that a noisy moment hits both sides
        off.append(measure(NO_SANDBOX))
        on.append(measure(BWRAP))
    off_s, on_s = statistics.median(off), statistics.median(on)
    print(f"| {name} | {repeat} | {off_s * 1000:.1f} | {on_s * 1000:.1f} | "
          f"{(on_s - off_s) * 1000:+.1f} | {on_s / off_s:.3f} |", flush=True)


def main():
    global BWRAP
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--item", default="linear_regression_torch")
    args = parser.parse_args()
    BWRAP = sandbox.choose("bwrap")
    bank = Bank(ROOT)
    item = bank.item(args.item)
    view = sandbox.View(target=bank.solution_file(item.id),
                        probes_dir=bank.suite_dir(item.id))
    print(f"item {item.id}, {args.repeat} repeats (fewer for whole gradings), medians\n")
    print("| what | n | sandbox off ms | sandbox on ms | on − off ms | ratio |")
    print("|---|---:|---:|---:|---:|---:|")
    compare("`python -c pass`", lambda choice: bare_interpreter(choice, view), args.repeat)
    compare(f"worker ready ({item.framework} imported, reference loaded)",
            lambda choice: worker_ready(choice, bank, item), max(3, args.repeat // 3))
    compare(f"`grade exercise {item.id}` on the reference",
            lambda choice: grading(choice.kind, item.id), max(3, args.repeat // 5))


if __name__ == "__main__":
    main()
