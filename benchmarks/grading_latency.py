"""Grading latency of a correct submission, every code item, as ratios to a floor of the same run.

For each item and repeat, in fresh processes, one after the other:
  floor:   a bare interpreter that imports the framework, imports the reference and runs its
           work once (each function the suite grades, called once as the suite calls it, and
           the training or stepping the suite asks of it, on data of the suite's size);
  first:   `python -m grader exercise ID --device D --format json --seed S` on the learner's
           own stub, solved (a copy of the reference, in a copy of the bank), with every cache
           of the grader empty (a fresh DLPREP_CACHE, progress folder and XDG_CACHE_HOME for
           this repeat);
  second:  the same command again (what `grade watch` and a re-submission see);
  changed: the same command after a one-line change to the learner's file (a new line at the
           end: the module's code differs, its functions do not);
  other:   the changed file graded as another learner would (a fresh progress folder, the same
           grader caches): a first grading on a warm reference cache, what a batch's later
           candidates see.
Every grading of one repeat uses the same seed (`--seed`, as `grade watch --seed` or a batch
does), so the reference meets the same inputs. Prints medians and each scenario's ratio to the
floor. Run from the repository root:

    .venv/bin/python benchmarks/grading_latency.py [--repeat 3] [--device cpu] [--items a,b]
"""

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ("first", "second", "changed", "other")
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
    # The CNN floors call every function the suite grades once, as the suite calls it (JAX: under
    # jax.jit where the suite jits it, forward also without it), on one batch of 64, then train
    # and predict: as the linear-regression floors do. Before 2026-12-03 they trained and
    # predicted only, which left out the programs any grader of these checks must compile.
    "cnn_torch": """
import numpy as np
import torch
from grader.topics.cnn import digits_split, torch_images
torch.set_num_threads(1)  # as the suite's probes run it
train_images, train_labels, test_images, test_labels = digits_split()
torch.manual_seed(0)
images = torch.as_tensor(torch_images(train_images[:64]), device=DEVICE)
labels = torch.as_tensor(train_labels[:64], device=DEVICE)
model = reference.build_model().to(DEVICE)
model.eval(); reference.forward(model, images)
model.train(); reference.forward(model, images)
reference.loss_and_grads(model, images, labels)
reference.train_step(reference.make_optimizer(model, 1e-3), model, images, labels)
model = reference.train(torch.as_tensor(torch_images(train_images), device=DEVICE),
                        torch.as_tensor(train_labels, device=DEVICE))
reference.predict(model, torch.as_tensor(torch_images(test_images), device=DEVICE)).cpu()
""",
    "cnn_jax": """
import numpy as np
import jax
from grader.topics.cnn import digits_split, jax_images
train_images, train_labels, test_images, test_labels = digits_split()
key = jax.random.key(0)
images = jax.device_put(jax_images(train_images[:64]))
labels = jax.device_put(train_labels[:64].astype(np.int32))
params, state = jax.jit(reference.build_model)(key)
forward = jax.jit(reference.forward, static_argnums=3)
jax.block_until_ready((forward(params, state, images, False), forward(params, state, images, True),
                       reference.forward(params, state, images, True),
                       jax.jit(reference.loss_and_grads)(params, state, images, labels)))
optimizer = reference.make_optimizer(1e-3)
jax.block_until_ready(reference.train_step(optimizer, params, state, optimizer.init(params),
                                           images, labels))
trained = reference.train(key, jax.device_put(jax_images(train_images)),
                          jax.device_put(train_labels.astype(np.int32)))
trained = trained if isinstance(trained, tuple) else (trained,)  # (params, state) with BatchNorm
np.asarray(reference.predict(*trained, jax.device_put(jax_images(test_images))))
""",
    # Q-learning's task 5 trains the learner's code until TRAININGS_NEEDED trainings end optimal
    # (grader/topics/qlearning.py): a correct file is trained that many times, so any grader
    # of this suite pays that many trainings
    "qlearning_torch": """
import torch
from grader.topics.qlearning import TRAININGS_NEEDED, make_env
torch.set_num_threads(1)  # as the suite's training probe runs it
for seed in range(TRAININGS_NEEDED):
    reference.train(make_env(), seed, DEVICE)
""",
    "qlearning_jax": """
import jax
from grader.topics.qlearning import TRAININGS_NEEDED, make_env
for seed in range(TRAININGS_NEEDED):
    jax.block_until_ready(reference.train(jax.random.key(seed), make_env()))
""",
}
LOAD = """
import importlib.util, sys
sys.path.insert(0, {root!r})
DEVICE = {device!r}
spec = importlib.util.spec_from_file_location("reference", {path!r})
reference = importlib.util.module_from_spec(spec)
spec.loader.exec_module(reference)
"""


def distributed_floors():
    """The distributed pair's floors, shared with benchmarks/distributed_steps.py."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from distributed_steps import FLOOR

    return FLOOR


def floor_command(item_id, device, scratch):
    """The floor as a script file in `scratch`: torch.multiprocessing.spawn (distributed_torch)
    re-imports the main module, which `python -c` does not have."""
    folder = ROOT / "solutions" / item_id
    if item_id.startswith("distributed_"):
        code = distributed_floors()[item_id].format(folder=str(folder))
    else:
        code = LOAD.format(root=str(ROOT), device=device, path=str(folder / f"{item_id}.py"))
        code += WORK[item_id]
    script = scratch / "floor.py"
    script.write_text(code, encoding="utf-8")
    return [sys.executable, str(script)]


def wall(command, env=None):
    started = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, env=env)
    return time.perf_counter() - started, done


def grade(item_id, device, seed, env):
    """`grade exercise ID` on the learner's own stub (in the bank copy DLPREP_ROOT names): the
    file `grade watch` grades, and the only one practice mode gives a compilation cache."""
    seconds, done = wall([sys.executable, "-m", "grader", "exercise", item_id, "--device",
                          device, "--format", "json", "--seed", str(seed)], env)
    if done.returncode:
        raise Failed(f"grading {item_id} did not pass:\n{done.stdout[-3000:]}"
                     f"{done.stderr[-3000:]}")
    return seconds


class Failed(Exception):
    """A floor or a grading that did not succeed: its item's row says so, the others run."""


def one_repeat(item_id, device, scratch):
    """{scenario: seconds} of one repeat, its caches in `scratch` (emptied first)."""
    shutil.rmtree(scratch, ignore_errors=True)
    bank = scratch / "bank"
    shutil.copytree(ROOT / "grader" / "suites", bank / "grader" / "suites")
    shutil.copy(ROOT / "grader" / "catalog.yaml", bank / "grader" / "catalog.yaml")
    for part in ("exercises", "solutions"):
        shutil.copytree(ROOT / part, bank / part)
    learner = bank / "exercises" / item_id / f"{item_id}.py"  # the learner's own stub, solved
    shutil.copyfile(ROOT / "solutions" / item_id / f"{item_id}.py", learner)
    env = dict(os.environ, DLPREP_ROOT=str(bank), DLPREP_CACHE=str(scratch / "cache"),
               XDG_CACHE_HOME=str(scratch / "xdg"),
               DLPREP_PROGRESS=str(scratch / "state-1" / "progress.json"))
    seed = random.randrange(2**31)
    seconds = {}
    floor_s, done = wall(floor_command(item_id, device, scratch))
    if done.returncode:
        raise Failed(f"the floor of {item_id} failed:\n{done.stderr[-3000:]}")
    seconds["floor"] = floor_s
    seconds["first"] = grade(item_id, device, seed, env)
    seconds["second"] = grade(item_id, device, seed, env)
    with open(learner, "a", encoding="utf-8") as handle:
        handle.write("\nEDITED_BY_THE_BENCHMARK = 1\n")
    seconds["changed"] = grade(item_id, device, seed, env)
    other = dict(env, DLPREP_PROGRESS=str(scratch / "state-2" / "progress.json"))
    seconds["other"] = grade(item_id, device, seed, other)
    return seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--items", default=",".join(list(WORK) + ["distributed_torch",
                                                                   "distributed_jax"]),
                        help="comma-separated item ids (default: the eight code items)")
    args = parser.parse_args()
    items = [item.strip() for item in args.items.split(",") if item.strip()]
    print(f"python {sys.version.split()[0]} · device {args.device} · {args.repeat} runs each; "
          f"median wall seconds; load average at start {os.getloadavg()[0]:.1f}", flush=True)
    header = f"{'item':26}{'floor s':>9}" + "".join(f"{name + ' s':>11}" for name in SCENARIOS)
    print(header + "".join(f"{name + ' x':>11}" for name in SCENARIOS), flush=True)
    scratch = Path(tempfile.mkdtemp(prefix="dlprep-latency-"))
    try:
        for item_id in items:
            try:
                runs = [one_repeat(item_id, args.device, scratch / "run")
                        for _ in range(args.repeat)]
            except Failed as exc:
                print(f"{item_id:26}not measured: {exc}", flush=True)
                continue
            median = {name: statistics.median(run[name] for run in runs)
                      for name in ("floor",) + SCENARIOS}
            print(f"{item_id:26}{median['floor']:9.2f}"
                  + "".join(f"{median[name]:11.2f}" for name in SCENARIOS)
                  + "".join(f"{median[name] / median['floor']:11.2f}" for name in SCENARIOS)
                  + f"   (load {os.getloadavg()[0]:.1f})", flush=True)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
