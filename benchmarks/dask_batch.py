"""The same batch of 12 linear_regression_torch submissions graded three ways, in one run:
locally with --jobs 1, locally with --jobs 2, and through a loopback Dask cluster of two
one-thread workers (no nanny; each with its own reference store). Prints wall times and
throughput ratios. Every process this script starts is stopped by its pid.

    .venv/bin/python benchmarks/dask_batch.py [--count 12]
"""

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ITEM = "linear_regression_torch"
SEED = 2026


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def submissions(folder, count):
    texts = [(ROOT / "solutions" / ITEM / f"{ITEM}.py").read_text(),
             (ROOT / "exercises" / ITEM / f"{ITEM}.py").read_text(),
             (ROOT / "solutions" / ITEM / f"{ITEM}.py").read_text()
             + "\n\ndef mse_loss(p, t):\n    return ((p - t) ** 2).sum()\n"]
    for n in range(count):
        (folder / f"c{n:02d}").mkdir(parents=True)
        (folder / f"c{n:02d}" / f"{ITEM}.py").write_text(texts[n % 3])


def batch(subs, out, *args, env=None):
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "grader", "batch", str(subs), "--out", str(out),
                           "--items", ITEM, "--device", "cpu", "--seed", str(SEED), *args],
                          capture_output=True, text=True, cwd=ROOT, env=env)
    if done.returncode != 0:
        sys.exit(f"batch failed ({done.returncode}): {done.stdout}{done.stderr}")
    return time.monotonic() - started


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=12)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="dlprep-dask-bench-"))
    started = []
    try:
        subs = work / "subs"
        submissions(subs, args.count)
        local_env = dict(os.environ, DLPREP_CACHE=str(work / "cache-local"))
        times = {"--jobs 1": batch(subs, work / "j1", "--jobs", "1", env=local_env)}
        shutil.rmtree(work / "cache-local")
        times["--jobs 2"] = batch(subs, work / "j2", "--jobs", "2", env=local_env)

        port = free_port()
        address = f"tcp://127.0.0.1:{port}"
        log = open(work / "cluster.log", "wb")
        started.append(subprocess.Popen(
            [sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
             "--port", str(port), "--dashboard-address", f"127.0.0.1:{free_port()}"],
            stdout=log, stderr=subprocess.STDOUT))
        for name in ("w1", "w2"):
            started.append(subprocess.Popen(
                [sys.executable, "-m", "distributed.cli.dask_worker", address, "--nthreads", "1",
                 "--no-nanny", "--no-dashboard", "--host", "127.0.0.1", "--name", name,
                 "--local-directory", str(work / name)],
                stdout=log, stderr=subprocess.STDOUT,
                env=dict(os.environ, DLPREP_CACHE=str(work / f"cache-{name}"))))
        from distributed import Client

        deadline = time.monotonic() + 90
        while True:
            try:
                with Client(address, timeout=5) as client:
                    if len(client.scheduler_info()["workers"]) == 2:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                sys.exit("the cluster did not start; see " + str(work / "cluster.log"))
            time.sleep(1)
        times["dask, 2 workers"] = batch(subs, work / "dask", "--scheduler", address)
    finally:
        for process in reversed(started):
            if process.poll() is None:
                process.terminate()
        for process in started:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        shutil.rmtree(work, ignore_errors=True)
    base = times["--jobs 1"]
    print(f"{args.count} submissions of {ITEM}, seed {SEED}, CPU, {os.cpu_count()} cores")
    print(f"{'run':<18}{'wall s':>8}{'per s':>8}{'vs jobs 1':>11}{'vs jobs 2':>11}")
    for name, seconds in times.items():
        print(f"{name:<18}{seconds:8.1f}{args.count / seconds:8.3f}{base / seconds:11.2f}"
              f"{times['--jobs 2'] / seconds:11.2f}")


if __name__ == "__main__":
    main()
