"""Grading time of the distributed pair, as a ratio to a floor measured in the same run.

For each item, alternately, in fresh processes:
  floor: the reference's work done by hand, once: for distributed_torch, two ranks started with
         torch.multiprocessing.spawn (gloo), each running train() for 3 steps; for
         distributed_jax, one interpreter with 4 forced host devices running train();
  grade: `python -m grader exercise ID --file <reference> --device D --format json`.
Prints the median wall time of each, their ratio, and the median time of the slowest learner
call of a grading run (for distributed_torch, one launch of the ranks). Run from the
repository root:

    .venv/bin/python benchmarks/distributed_steps.py [--repeat 3] [--device cpu]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FLOOR = {
    "distributed_torch": """
import os, sys
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
sys.path.insert(0, {folder!r})
from distributed_torch import train

class Model(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(3, 2)
    def forward(self, x):
        return self.linear(x)

def run(rank, world_size, port):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world_size)
    torch.manual_seed(0)
    model, x, y = Model(), torch.randn(8, 3), torch.randn(8, 2)
    train(model, x, y, 0.1, 3)
    dist.destroy_process_group()

if __name__ == "__main__":
    import socket
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    mp.spawn(run, args=(2, port), nprocs=2)
""",
    "distributed_jax": """
import os, sys
os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=4"
import jax
import numpy as np
from jax.sharding import Mesh
sys.path.insert(0, {folder!r})
from distributed_jax import train

mesh = Mesh(np.array(jax.devices("cpu")), ("data",))
x, y = np.ones((8, 3), np.float32), np.ones((8, 2), np.float32)
params = {{"linear": {{"weight": np.zeros((3, 2), np.float32), "bias": np.zeros(2, np.float32)}}}}
jax.block_until_ready(train(params, x, y, mesh, 0.1, 3))
""",
}


def wall(command, env=None):
    started = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, env=env)
    return time.perf_counter() - started, done


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    print(f"{'item':<20}{'floor s':>9}{'grade s':>9}{'ratio':>7}{'slowest call s':>16}")
    for item_id, floor_code in FLOOR.items():
        folder = str(ROOT / "solutions" / item_id)
        floor_file = ROOT / "benchmarks" / f".floor_{item_id}.py"
        floor_file.write_text(floor_code.format(folder=folder))
        reference = ROOT / "solutions" / item_id / f"{item_id}.py"
        grade = [sys.executable, "-m", "grader", "exercise", item_id, "--file", str(reference),
                 "--device", args.device, "--format", "json"]
        floors, grades, slowest = [], [], []
        try:
            for _ in range(args.repeat):
                seconds, done = wall([sys.executable, str(floor_file)],
                                     env=dict(os.environ, JAX_PLATFORMS="cpu"))
                if done.returncode:
                    sys.exit(f"the floor of {item_id} failed:\n{done.stderr[-2000:]}")
                floors.append(seconds)
                seconds, done = wall(grade)
                report = json.loads(done.stdout)
                if report["status"] != "passed":
                    sys.exit(f"grading the reference of {item_id} did not pass: {done.stdout}")
                grades.append(seconds)
                slowest.append(max(check["time_s"] for check in report["checks"]))
        finally:
            floor_file.unlink()
        floor, graded = statistics.median(floors), statistics.median(grades)
        print(f"{item_id:<20}{floor:>9.2f}{graded:>9.2f}{graded / floor:>7.2f}"
              f"{statistics.median(slowest):>16.2f}")


if __name__ == "__main__":
    main()
