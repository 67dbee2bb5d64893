"""Training time and held-out accuracy of the two CNN references, side by side.

For each seed, the PyTorch and the JAX reference each train from scratch on the digits'
training split (the grader's own split, grader/topics/cnn.py) and predict the 360 held-out
digits; the script prints the wall time of `train` + `predict` and the accuracy, per seed and
twin, then medians and the JAX/PyTorch time ratio. Each twin runs in its own fresh interpreter
(started once, trained once per seed, the twins alternating seed by seed); its first seed also
pays the one-off costs (JAX's compilations, PyTorch's first kernels), so it is shown apart as
"cold", and medians are taken over the other seeds. PyTorch runs on one CPU thread, as in the
grader. Run from the repository root:

    .venv/bin/python benchmarks/cnn_training.py [--seeds 5] [--device cpu]
"""

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from grader.topics.cnn import ACCURACY_THRESHOLD  # noqa: E402  (numpy only)
TWIN = """
import importlib.util, json, sys, time
import numpy as np
from grader.topics.cnn import digits_split, jax_images, torch_images
DEVICE = {device!r}
spec = importlib.util.spec_from_file_location("reference", {path!r})
reference = importlib.util.module_from_spec(spec)
spec.loader.exec_module(reference)
train_images, train_labels, test_images, test_labels = digits_split()
{setup}
for line in sys.stdin:
    seed = int(line)
    started = time.perf_counter()
    logits = run(seed)
    seconds = time.perf_counter() - started
    accuracy = float(np.mean(np.argmax(logits, axis=1) == test_labels))
    print(json.dumps({{"seconds": seconds, "accuracy": accuracy}}), flush=True)
"""
SETUP = {
    "torch": """
import torch
torch.set_num_threads(1)  # as the grader's probes do (grader/suites/cnn_torch/probes.py)
images = torch.as_tensor(torch_images(train_images), device=DEVICE)
labels = torch.as_tensor(train_labels, device=DEVICE)
held_out = torch.as_tensor(torch_images(test_images), device=DEVICE)

def run(seed):
    torch.manual_seed(seed)
    logits = reference.predict(reference.train(images, labels), held_out)
    if DEVICE == "cuda":
        torch.cuda.synchronize()
    return logits.cpu().numpy()
""",
    "jax": """
import jax
device = jax.devices("gpu" if DEVICE == "cuda" else "cpu")[0]
images = jax.device_put(jax_images(train_images), device)
labels = jax.device_put(train_labels.astype(np.int32), device)
held_out = jax.device_put(jax_images(test_images), device)

def run(seed):
    key = jax.device_put(jax.random.key(seed), device)
    params, state = reference.train(key, images, labels)
    return np.asarray(reference.predict(params, state, held_out))
""",
}


def start(framework, device):
    path = str(ROOT / "solutions" / f"cnn_{framework}" / f"cnn_{framework}.py")
    code = TWIN.format(device=device, path=path, setup=SETUP[framework])
    return subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)


def train_once(process, seed):
    process.stdin.write(f"{seed}\n")
    process.stdin.flush()
    line = process.stdout.readline()
    if not line:
        raise SystemExit(f"a twin's process ended early (exit {process.wait()})")
    return json.loads(line)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5, help="training runs per twin (>= 2)")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    args = parser.parse_args()
    twins = {framework: start(framework, args.device) for framework in ("torch", "jax")}
    results = {framework: [] for framework in twins}
    try:
        for seed in range(max(2, args.seeds)):
            for framework, process in twins.items():
                results[framework].append(train_once(process, seed))
    finally:
        for process in twins.values():
            process.stdin.close()
            process.wait()
    print(f"{'seed':>6} | {'torch s':>8} {'torch acc':>9} | {'jax s':>8} {'jax acc':>9}")
    for seed, (torch_run, jax_run) in enumerate(zip(results["torch"], results["jax"])):
        label = f"{seed} cold" if seed == 0 else str(seed)
        print(f"{label:>6} | {torch_run['seconds']:8.2f} {torch_run['accuracy']:9.3f} | "
              f"{jax_run['seconds']:8.2f} {jax_run['accuracy']:9.3f}")
    warm = {framework: statistics.median(run["seconds"] for run in runs[1:])
            for framework, runs in results.items()}
    lowest = {framework: min(run["accuracy"] for run in runs)
              for framework, runs in results.items()}
    print(f"median warm time: torch {warm['torch']:.2f} s, jax {warm['jax']:.2f} s, "
          f"jax / torch {warm['jax'] / warm['torch']:.2f}")
    print(f"lowest accuracy: torch {lowest['torch']:.3f}, jax {lowest['jax']:.3f} "
          f"(the suite's threshold is {ACCURACY_THRESHOLD})")
    for framework, runs in results.items():
        accuracies = sorted(run["accuracy"] for run in runs)
        print(f"{framework} accuracies, sorted: {' '.join(f'{a:.3f}' for a in accuracies)} "
              f"(median {statistics.median(accuracies):.3f})")


if __name__ == "__main__":
    main()
