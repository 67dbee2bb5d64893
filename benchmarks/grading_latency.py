"""Grading latency of a correct submission, as a ratio to a floor measured in the same run.

For each item, alternately, in fresh processes:
  floor: a bare interpreter that imports the framework, imports the reference and runs its
         work once (build, predict, loss, one step, fit on data of the suite's size);
  grade: `python -m grader exercise ID --file <reference> --device D --format json`.
Prints the median wall time of each and their ratio. Run from the repository root:

    .venv/bin/python benchmarks/grading_latency.py [--repeat 5] [--device cpu]
"""

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = {
    "linear_regression_torch": """
import torch
torch.manual_seed(0)
x, y = torch.randn(128, 4, device=DEVICE), torch.randn(128, 2, device=DEVICE)
model = reference.build_model(4, 2).to(DEVICE)
reference.mse_loss(reference.predict(model, x), y)
reference.sgd_step(model, x, y, 0.1)
reference.fit(x, y)
if DEVICE == "cuda":
    torch.cuda.synchronize()
""",
    "linear_regression_jax": """
import jax
key = jax.random.key(0)
x, y = jax.random.normal(key, (128, 4)), jax.random.normal(key, (128, 2))
params = reference.build_model(key, 4, 2)
reference.mse_loss(reference.predict(params, x), y)
reference.sgd_step(params, x, y, 0.1)
jax.block_until_ready(reference.fit(key, x, y))
""",
}
LOAD = """
import importlib.util, sys
DEVICE = {device!r}
spec = importlib.util.spec_from_file_location("reference", {path!r})
reference = importlib.util.module_from_spec(spec)
spec.loader.exec_module(reference)
"""


def wall(command):
    started = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    return elapsed, done


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]} · device {args.device} · {args.repeat} runs each, "
          "alternating; median wall seconds")
    print(f"{'item':26}{'floor s':>10}{'grade s':>10}{'ratio':>8}")
    for item_id, work in WORK.items():
        reference = ROOT / "solutions" / item_id / f"{item_id}.py"
        floor_code = LOAD.format(device=args.device, path=str(reference)) + work
        floors, grades = [], []
        for _ in range(args.repeat):
            seconds, done = wall([sys.executable, "-c", floor_code])
            if done.returncode:
                raise SystemExit(f"the floor for {item_id} failed:\n{done.stderr}")
            floors.append(seconds)
            seconds, done = wall([sys.executable, "-m", "grader", "exercise", item_id, "--file",
                                  str(reference), "--device", args.device, "--format", "json"])
            if done.returncode:
                raise SystemExit(f"grading {item_id} did not pass:\n{done.stdout}{done.stderr}")
            grades.append(seconds)
        floor, grade = statistics.median(floors), statistics.median(grades)
        print(f"{item_id:26}{floor:10.2f}{grade:10.2f}{grade / floor:8.2f}")


if __name__ == "__main__":
    main()
