"""How stable the Q-learning training check's verdict is across grading seeds, and how often one
training of a file reaches the optimal policy.

Two measurements, each from one run:

- `verdicts`: grades each file with `grade exercise ITEM --file F --seed N --format json` for
  grading seeds 1..10, running only the training check (task 5) in a private copy of the bank,
  and prints per file the verdict of every seed and how many seeds passed. A file whose verdict
  differs between seeds "flips".
- `replay`: the same verdicts, before (two trainings, both optimal) and after (the statement's
  rate) the rate over several trainings, from the very trainings the check would run for grading
  seeds 1..10, trained directly (no grader, no reference): cheap enough for a busy machine, and
  exact, since a CPU training with one torch thread is deterministic for its seed.
- `rates`: trains each file directly (fresh process per training, torch on one thread, as the
  training probe runs it) for training seeds 0..N-1 and prints how often the greedy policy is
  optimal from FrozenLake's start state (the suites' oracle, grader/topics/qlearning.py).

Files: `reference` (solutions/), `weaker_dqn` (the reference with another, plausible training
plan: target network, replay, decaying epsilon; gamma 0.99, Adam 1e-2, minibatches of 128,
target sync every 25 updates; correct, but it learns less reliably), `longer_dqn` (the same
plan for 5,000 steps, epsilon decaying over 3,000), and `seeds_loop` (the seeds' own code,
tests/seed_code/). Run from the repository root:

    .venv/bin/python benchmarks/qlearning_verdicts.py verdicts [--seeds 1-10] [--files ...]
    .venv/bin/python benchmarks/qlearning_verdicts.py replay [--seeds 1-10] [--files ...]
    .venv/bin/python benchmarks/qlearning_verdicts.py rates [--trainings 20] [--files ...]
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from grader.topics.common import draw_seed  # noqa: E402
from grader.topics.qlearning import (  # noqa: E402
    TRAININGS,
    TRAININGS_NEEDED,
    environment_table,
    is_optimal_from_start,
)

ITEM = "qlearning_torch"
TRAINING_CHECK = "training_learns_a_greedy_policy_optimal_from_the_start_state"

# Another training plan on the reference's functions: correct (target network, replay, decaying
# epsilon, done = terminated), with the hyperparameters of an independently written DQN.
WEAKER_DQN = '''

import collections
import random


def train(env, seed, device="cpu"):
    torch.manual_seed(seed)
    random.seed(seed)
    num_states, num_actions = env.observation_space.n, env.action_space.n
    q_network = build_q_network(num_states, num_actions).to(device)
    target_network = build_q_network(num_states, num_actions).to(device)
    target_network.load_state_dict(q_network.state_dict())
    optimizer = torch.optim.Adam(q_network.parameters(), lr=1e-2)
    replay = collections.deque(maxlen=10_000)
    state, _ = env.reset(seed=seed)
    updates = 0
    for step in range(3_000):
        epsilon = max(0.05, 1.0 - step / 2_000)
        with torch.no_grad():
            state_q_values = q_values(q_network, torch.tensor([state], device=device))[0]
        action = select_action(state_q_values, epsilon)
        next_state, reward, terminated, truncated, _ = env.step(action)
        replay.append((state, action, reward, next_state, float(terminated)))
        state = next_state
        if terminated or truncated:
            state, _ = env.reset()
        if step >= 1_000:
            states, actions, rewards, next_states, dones = zip(*random.sample(replay, 128))
            batch = {
                "states": torch.tensor(states, device=device),
                "actions": torch.tensor(actions, device=device),
                "rewards": torch.tensor(rewards, dtype=torch.float32, device=device),
                "next_states": torch.tensor(next_states, device=device),
                "dones": torch.tensor(dones, dtype=torch.float32, device=device),
            }
            train_step(q_network, target_network, optimizer, batch, 0.99)
            updates += 1
            if updates % 25 == 0:
                target_network.load_state_dict(q_network.state_dict())
    return q_network
'''

TRAIN_MANY = """
import importlib.util, json, sys, time, torch
from grader.topics.qlearning import make_env
torch.set_num_threads(1)
spec = importlib.util.spec_from_file_location("learner", {path!r})
learner = importlib.util.module_from_spec(spec)
spec.loader.exec_module(learner)
for line in sys.stdin:
    started = time.perf_counter()
    network = learner.train(make_env(), int(line), "cpu")
    with torch.no_grad():
        q = learner.q_values(network, torch.arange(16)).cpu().numpy()
    print(json.dumps({{"q": q.tolist(), "seconds": time.perf_counter() - started}}), flush=True)
"""

TRAIN_ONCE = """
import importlib.util, json, torch
from grader.topics.qlearning import make_env
torch.set_num_threads(1)
spec = importlib.util.spec_from_file_location("learner", {path!r})
learner = importlib.util.module_from_spec(spec)
spec.loader.exec_module(learner)
network = learner.train(make_env(), {seed}, "cpu")
with torch.no_grad():
    q = learner.q_values(network, torch.arange(16)).cpu().numpy()
print(json.dumps(q.tolist()))
"""


def write_files(folder, names):
    """{name: path} of the files to measure, written into `folder` where they are made."""
    reference = ROOT / "solutions" / ITEM / f"{ITEM}.py"
    paths = {}
    for name in names:
        if name == "reference":
            paths[name] = reference
        elif name == "weaker_dqn":
            paths[name] = folder / "weaker_dqn.py"
            paths[name].write_text(reference.read_text() + WEAKER_DQN)
        elif name == "longer_dqn":  # the same plan, 5,000 steps, epsilon decaying over 3,000
            paths[name] = folder / "longer_dqn.py"
            paths[name].write_text(reference.read_text() + WEAKER_DQN.replace(
                "range(3_000)", "range(5_000)").replace("step / 2_000", "step / 3_000"))
        elif name == "seeds_loop":
            paths[name] = ROOT / "tests" / "seed_code" / f"{ITEM}.py"
        else:
            raise SystemExit(f"unknown file {name!r}: reference, weaker_dqn, longer_dqn or "
                             f"seeds_loop")
    return paths


def private_bank(folder):
    """A copy of the bank whose suites run only the training check."""
    bank = folder / "bank"
    shutil.copytree(ROOT / "grader" / "suites", bank / "grader" / "suites")
    shutil.copy(ROOT / "grader" / "catalog.yaml", bank / "grader" / "catalog.yaml")
    for part in ("exercises", "solutions"):
        shutil.copytree(ROOT / part, bank / part)
    ini = bank / "grader" / "suites" / "pytest.ini"
    ini.write_text(ini.read_text() + f'addopts = -k "test_{TRAINING_CHECK}"\n')
    return bank


def grade_training(bank, path, seed):
    """(status, message, seconds) of the training check for one grading seed."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "grader", "exercise", ITEM, "--file", str(path), "--seed",
         str(seed), "--format", "json", "--device", "cpu"],
        cwd=ROOT, capture_output=True, text=True, env=dict(os.environ, DLPREP_ROOT=str(bank)))
    seconds = time.perf_counter() - started
    try:
        report = json.loads(done.stdout)
    except ValueError:
        return "no report", done.stderr[-300:], seconds
    check = next(c for c in report["checks"] if c["name"] == TRAINING_CHECK)
    return check["status"], check.get("message") or "", seconds


def verdicts(args, paths, folder):
    bank = private_bank(folder)
    first, last = (int(part) for part in args.seeds.split("-"))
    seeds = range(first, last + 1)
    table = {}
    for name, path in paths.items():
        table[name] = []
        for seed in seeds:
            status, message, seconds = grade_training(bank, path, seed)
            table[name].append(status)
            print(f"{name:12s} grading seed {seed:3d}  {status:8s} {seconds:6.1f} s  "
                  f"{message.splitlines()[0][:150] if message else ''}", flush=True)
    print(f"\n| file | grading seeds | passed | verdicts ({first}..{last}) | flips |")
    print("|---|---:|---:|---|---|")
    for name, statuses in table.items():
        passed = statuses.count("passed")
        marks = " ".join("P" if status == "passed" else "F" for status in statuses)
        flips = "yes" if 0 < passed < len(statuses) else "no"
        print(f"| {name} | {len(statuses)} | {passed} | {marks} | {flips} |")


def rates(args, paths):
    table = environment_table()
    print("| file | trainings | optimal from the start | seconds per training (median) |")
    print("|---|---:|---:|---:|")
    for name, path in paths.items():
        optimal, times = 0, []
        for seed in range(args.trainings):
            started = time.perf_counter()
            done = subprocess.run([sys.executable, "-c", TRAIN_ONCE.format(path=str(path),
                                                                           seed=seed)],
                                  cwd=ROOT, capture_output=True, text=True)
            times.append(time.perf_counter() - started)
            if done.returncode == 0:
                q = np.asarray(json.loads(done.stdout.strip().splitlines()[-1]))
                optimal += bool(is_optimal_from_start(q, table))
        print(f"| {name} | {args.trainings} | {optimal}/{args.trainings} | "
              f"{sorted(times)[len(times) // 2]:.1f} |", flush=True)


def training_seeds(grading_seed):
    """The seeds the training check draws for a grading seed (the judge's rng fixture)."""
    rng = np.random.default_rng([grading_seed, zlib.crc32(f"test_{TRAINING_CHECK}".encode())])
    return [draw_seed(rng) for _ in range(TRAININGS)]


def replay(args, paths):
    """The check's verdicts, before and after the rate, from the very trainings it would run.

    Training on CPU with one torch thread is deterministic for a seed, so a verdict is a
    function of the outcomes of the drawn seeds' trainings: before (two trainings, both had to
    be optimal: the first two seeds drawn, which the rate's draws start with) and after (at least
    TRAININGS_NEEDED of TRAININGS, stopping once decided). Each needed seed trains once, in a
    long-lived process per file; no grader runs, so no reference trains and no limit applies.
    """
    table = environment_table()
    first, last = (int(part) for part in args.seeds.split("-"))
    for name, path in paths.items():
        process = subprocess.Popen([sys.executable, "-c", TRAIN_MANY.format(path=str(path))],
                                   cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                   text=True)
        outcomes, times, rows = {}, [], []

        def optimal(seed):
            if seed not in outcomes:
                process.stdin.write(f"{seed}\n")
                process.stdin.flush()
                result = json.loads(process.stdout.readline())
                outcomes[seed] = bool(is_optimal_from_start(np.asarray(result["q"]), table))
                times.append(result["seconds"])
            return outcomes[seed]

        for grading_seed in range(first, last + 1):
            seeds = training_seeds(grading_seed)
            before = optimal(seeds[0]) and optimal(seeds[1])
            successes = failures = 0
            for seed in seeds:
                if optimal(seed):
                    successes += 1
                else:
                    failures += 1
                if successes >= TRAININGS_NEEDED or failures > TRAININGS - TRAININGS_NEEDED:
                    break
            after = successes >= TRAININGS_NEEDED
            rows.append((grading_seed, before, after, successes, successes + failures))
            print(f"{name:12s} grading seed {grading_seed:3d}  before {'P' if before else 'F'}  "
                  f"after {'P' if after else 'F'} ({successes} of {successes + failures})",
                  flush=True)
        process.stdin.close()
        process.wait()
        per_training = sum(outcomes.values())
        befores = "".join("P" if row[1] else "F" for row in rows)
        afters = "".join("P" if row[2] else "F" for row in rows)
        print(f"| {name} | {len(rows)} | {befores} ({befores.count('P')} passed) | "
              f"{afters} ({afters.count('P')} passed) | {per_training}/{len(outcomes)} | "
              f"{sorted(times)[len(times) // 2]:.1f} |", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=("verdicts", "replay", "rates"))
    parser.add_argument("--seeds", default="1-10", help="grading seeds FIRST-LAST (verdicts)")
    parser.add_argument("--trainings", type=int, default=20, help="training seeds (rates)")
    parser.add_argument("--files", nargs="+", default=["reference", "weaker_dqn"])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        paths = write_files(Path(scratch), args.files)
        if args.mode == "verdicts":
            verdicts(args, paths, Path(scratch))
        elif args.mode == "replay":
            print("| file | grading seeds | before: 2 of 2 needed | after: rate | optimal "
                  "trainings | median s |")
            print("|---|---:|---|---|---:|---:|")
            replay(args, paths)
        else:
            rates(args, paths)


if __name__ == "__main__":
    main()
