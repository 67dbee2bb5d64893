"""Probes for distributed_torch: they run in a worker, next to the learner's or the reference's
module (`target`), and return plain results for the judge to compare.

The data-parallel probes start one process per rank (`rank.py` next to this file) with
subprocess, so the ranks are the worker's children, in its process group and its cgroup: the
judge's teardown of the worker ends them too. The probe hosts the rendezvous (a TCPStore on a
port the OS picks, so concurrent runs never collide), waits for every rank under a deadline,
kills the ranks that are left as soon as one fails, and reports what happened per rank. Each
rank gets its own inputs on its stdin, never a file holding the other ranks' rows.

Weights arrive in PyTorch's layout: weight (out_features, in_features), bias (out_features,).
"""

import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import timedelta

import numpy as np
import torch

from grader.probekit import Reject, to_torch

RANK_SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "rank.py")
POLL_S = 0.02


def _backend(device, world_size):
    """NCCL when every rank can have a GPU of its own, else gloo (over CPU processes)."""
    if device == "cuda" and torch.cuda.device_count() >= world_size:
        return "nccl", "cuda"
    return "gloo", "cpu"


def _launch(target, device, task, rank_inputs, collective_timeout_s, startup_timeout_s,
            deadline_s):
    """Run `task` on one rank per entry of `rank_inputs` (each rank's own inputs, handed over
    on its stdin); {"outcome", "message", "port", "ranks": [per-rank results]}."""
    import torch.distributed as dist

    world_size = len(rank_inputs)
    backend, rank_device = _backend(device, world_size)
    workdir = tempfile.mkdtemp(prefix="ranks-", dir=os.getcwd())
    store = dist.TCPStore("127.0.0.1", 0, is_master=True, wait_for_workers=False,
                          timeout=timedelta(seconds=startup_timeout_s))
    port = store.port
    ranks = []
    try:
        for rank in range(world_size):
            config = dict(target=target.__file__, module=target.__name__, task=task,
                          workdir=workdir, rank=rank, world_size=world_size, port=port,
                          backend=backend, device=rank_device,
                          collective_timeout_s=collective_timeout_s,
                          startup_timeout_s=startup_timeout_s)
            ranks.append(subprocess.Popen([sys.executable, "-s", RANK_SCRIPT, json.dumps(config)],
                                          stdin=subprocess.PIPE))
        for process, inputs in zip(ranks, rank_inputs):  # a few kB each: fits the pipe buffer
            buffer = io.BytesIO()
            np.savez(buffer, **inputs)
            try:
                process.stdin.write(buffer.getvalue())
                process.stdin.close()
            except OSError:  # the rank is already gone: _collect says how it ended
                pass
        timed_out = _wait(ranks, deadline_s)
    finally:
        for process in ranks:  # the ranks still running when one failed, or past the deadline
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
            process.wait()
        del store  # frees the rendezvous port
    try:
        return {**_collect(workdir, ranks, timed_out, deadline_s, startup_timeout_s),
                "port": port}
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _wait(ranks, deadline_s):
    """Wait until every rank exited, one failed, or the deadline passed; True on the deadline."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        codes = [process.poll() for process in ranks]
        if all(code is not None for code in codes) or any(code for code in codes):
            return False
        time.sleep(POLL_S)
    return True


def _collect(workdir, ranks, timed_out, deadline_s, startup_timeout_s):
    statuses = []
    for rank, process in enumerate(ranks):
        try:
            with open(os.path.join(workdir, f"status-{rank}.json")) as handle:
                statuses.append(json.load(handle))
        except (OSError, ValueError):
            statuses.append(None)
    # the cause first: a rank that died, then an exception in the learner's code, then a
    # collective that failed (usually because a peer is gone or never joined), then the clock
    for rank, (process, status) in enumerate(zip(ranks, statuses)):
        if status is None and process.returncode not in (None, -signal.SIGKILL):
            return _outcome("crashed", f"rank {rank} {_exit_text(process.returncode)} "
                            "without finishing its work")
    for kind in ("not_implemented", "failed", "error", "collective"):
        for rank, status in enumerate(statuses):
            if status and status["status"] == kind:
                return _outcome(kind, f"rank {rank}: {status['message']}")
    if any(status and status["status"] == "startup" for status in statuses):
        return _outcome("startup", f"the ranks did not all start within {startup_timeout_s:g} s")
    if timed_out:
        waiting = [rank for rank, status in enumerate(statuses) if status is None]
        return _outcome("timeout", f"rank(s) {waiting} had not finished after {deadline_s:g} s")
    if any(status is None for status in statuses):
        return _outcome("crashed", "a rank was stopped before it finished its work")
    results = []
    for rank in range(len(ranks)):
        with np.load(os.path.join(workdir, f"result-{rank}.npz"), allow_pickle=False) as data:
            results.append({name: data[name] for name in data.files})
    return {"outcome": "ok", "message": "", "ranks": results}


def _exit_text(code):
    if code is not None and code < 0:
        name = signal.Signals(-code).name if -code in signal.valid_signals() else -code
        return f"was killed by signal {name}"
    return f"ended its process (exit status {code})"


def _outcome(kind, message):
    return {"outcome": kind, "message": message, "ranks": []}


def _rank_inputs(weight, bias, learning_rate, num_steps, **per_rank):
    """One inputs dict per rank: the shared values, and rank r's entry of every per-rank list."""
    world_size = len(next(iter(per_rank.values())))
    shared = {"weight": np.asarray(weight, np.float32), "bias": np.asarray(bias, np.float32),
              "learning_rate": np.float64(learning_rate), "num_steps": np.int64(num_steps)}
    return [{**shared, **{name: np.asarray(values[rank], np.float32)
                          for name, values in per_rank.items()}} for rank in range(world_size)]


# --- probes ----------------------------------------------------------------------------------


def shards(target, device, x, y, world_size):
    """shard_batch(x, y, rank, world_size) for every rank, in one process (no process group)."""
    inputs, targets = to_torch(x, device), to_torch(y, device)
    found = []
    for rank in range(world_size):
        call = f"shard_batch(x, y, rank={rank}, world_size={world_size})"
        result = target.shard_batch(inputs, targets, rank, world_size)
        if not isinstance(result, (tuple, list)) or len(result) != 2 or not all(
                isinstance(part, torch.Tensor) for part in result):
            raise Reject(f"Called `{call}`. Returned {type(result).__name__}, expected a pair "
                         "of tensors (x_shard, y_shard).")
        found.append({"x": result[0].detach(), "y": result[1].detach()})
    return found


def steps_on_ranks(target, device, weight, bias, x, y, learning_rate, num_steps, world_size,
                   collective_timeout_s, startup_timeout_s, deadline_s):
    """On every rank: step = make_train_step(model, learning_rate), then `num_steps` calls of
    step(x_shard, y_shard) on the rank's contiguous block of the batch (cut here, not by the
    learner's shard_batch; a rank is given its own block only)."""
    inputs = _rank_inputs(weight, bias, learning_rate, num_steps,
                          x_shard=np.split(np.asarray(x), world_size),
                          y_shard=np.split(np.asarray(y), world_size))
    return _launch(target, device, "steps", inputs, collective_timeout_s, startup_timeout_s,
                   deadline_s)


def train_on_ranks(target, device, weight, bias, rank_x, rank_y, learning_rate, num_steps,
                   collective_timeout_s, startup_timeout_s, deadline_s):
    """On every rank r, once per run: train(model, rank_x[r][run], rank_y[r][run],
    learning_rate, num_steps) on a fresh model; rank_x[r][run] is a whole batch as rank r sees
    it in that run (the judge fills the rows outside r's block)."""
    inputs = _rank_inputs(weight, bias, learning_rate, num_steps, x=rank_x, y=rank_y)
    return _launch(target, device, "train", inputs, collective_timeout_s, startup_timeout_s,
                   deadline_s)


def full_batch_training(target, device, weight, bias, x, y, learning_rate, num_steps):
    """Single-process full-batch gradient descent on the MSE (the run data parallelism must
    reproduce), with plain autograd: the weights after `num_steps` steps."""
    model = torch.nn.Linear(weight.shape[1], weight.shape[0]).to(device)
    with torch.no_grad():
        model.weight.copy_(to_torch(weight, device))
        model.bias.copy_(to_torch(bias, device))
    inputs, targets = to_torch(x, device), to_torch(y, device)
    for _ in range(num_steps):
        model.zero_grad()
        loss = ((model(inputs) - targets) ** 2).mean()  # ()
        loss.backward()
        with torch.no_grad():
            for parameter in model.parameters():
                parameter -= learning_rate * parameter.grad
    return {"weight": model.weight.detach(), "bias": model.bias.detach()}
