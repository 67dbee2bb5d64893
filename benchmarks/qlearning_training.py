"""Training time and success rate of the Q-learning references, side by side in one run.

For each seed, alternately, each reference trains in its own fresh process (as in a grading
worker: torch on one thread, as the suite's training probe sets it). A run succeeds when the
greedy policy of the trained network earns the optimal return from FrozenLake's start state, the
same oracle as the hidden suites' training check (grader/topics/qlearning.py). Prints per
framework the success rate, the median and worst training time, and the JAX/PyTorch ratio of
the medians. Run from the repository root:

    .venv/bin/python benchmarks/qlearning_training.py [--seeds 20] [--device cpu]
"""

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from grader.topics.qlearning import environment_table, is_optimal_from_start  # noqa: E402

LOAD = """
import importlib.util, json, sys, time
import numpy as np
from grader.topics.qlearning import make_env
spec = importlib.util.spec_from_file_location("reference", {path!r})
reference = importlib.util.module_from_spec(spec)
spec.loader.exec_module(reference)
seed, device = {seed}, {device!r}
"""
TRAIN = {
    "torch": """
import torch
if device == "cpu":
    torch.set_num_threads(1)
env = make_env()
started = time.perf_counter()
network = reference.train(env, seed, device)
with torch.no_grad():
    q = reference.q_values(network, torch.arange(16, device=device)).cpu().numpy()
elapsed = time.perf_counter() - started
""",
    "jax": """
import jax
env = make_env()
started = time.perf_counter()
params = reference.train(jax.random.key(seed), env)
q = np.asarray(reference.q_values(params, np.arange(16, dtype=np.int32)))
elapsed = time.perf_counter() - started
""",
}
REPORT = "print(json.dumps({'seconds': elapsed, 'q': q.tolist()}))"


def train_once(framework, seed, device):
    path = str(ROOT / "solutions" / f"qlearning_{framework}" / f"qlearning_{framework}.py")
    code = LOAD.format(path=path, seed=seed, device=device) + TRAIN[framework] + REPORT
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"qlearning_{framework}, seed {seed} failed:\n{done.stderr[-2000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return result["seconds"], np.asarray(result["q"])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    table = environment_table()
    results = {framework: {"seconds": [], "optimal": []} for framework in TRAIN}
    for seed in range(args.seeds):
        for framework in TRAIN:
            seconds, q = train_once(framework, seed, args.device)
            optimal = is_optimal_from_start(q, table)
            results[framework]["seconds"].append(seconds)
            results[framework]["optimal"].append(optimal)
            print(f"seed {seed:3d}  {framework:5s}  {seconds:6.2f} s  "
                  f"{'optimal' if optimal else 'NOT optimal'}", flush=True)
    print()
    print("| item | seeds | optimal from the start | median s | worst s |")
    print("|---|---:|---:|---:|---:|")
    for framework, result in results.items():
        print(f"| qlearning_{framework} | {args.seeds} | {sum(result['optimal'])}/{args.seeds} | "
              f"{statistics.median(result['seconds']):.2f} | {max(result['seconds']):.2f} |")
    ratio = (statistics.median(results["jax"]["seconds"])
             / statistics.median(results["torch"]["seconds"]))
    print(f"\nmedian training time, JAX / PyTorch: {ratio:.2f}")


if __name__ == "__main__":
    main()
