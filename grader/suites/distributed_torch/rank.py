"""One rank of a data-parallel run, started by the distributed_torch probes (never by the judge).

Run as `python -s rank.py CONFIG` where CONFIG is JSON: target, module, task, workdir, rank,
world_size, port, backend, device, collective_timeout_s, startup_timeout_s. The rank reads its
own inputs (an npz) from stdin before any learner code runs, so it never holds the other ranks'
rows; it imports the target file, waits on the probe's TCPStore until every rank got that far,
initialises the process group, runs one task, and leaves in its workdir `status-<rank>.json`
(ok, not_implemented, failed, error, collective or startup) and, when ok, `result-<rank>.npz`.

Tasks:
  steps  inputs weight, bias, x_shard, y_shard, learning_rate, num_steps; results weight (out,
         in), bias (out,), losses (num_steps,)
  train  inputs weight, bias, x (runs, batch, in), y (runs, batch, out), learning_rate,
         num_steps: train() once per run on a fresh model; results weight (runs, out, in),
         bias (runs, out)

A rank that dies leaves no status: the probe reads that as a crash.
"""

import io
import json
import os
import sys
import time
import traceback
from datetime import timedelta

sys.path.pop(0)  # this suite's folder: the learner's code has no business importing from it

from grader.worker import Worker, die_with_parent, hide_bank_from_imports  # noqa: E402

die_with_parent()  # before the slow imports: a probe that dies takes its ranks with it
hide_bank_from_imports()

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.distributed as dist  # noqa: E402
from torch import nn  # noqa: E402

TORCH_DIR = os.path.dirname(os.path.abspath(torch.__file__))


class Model(nn.Module):
    """The grader's model: nn.Linear under `self.linear`, nothing else."""

    def __init__(self, weight, bias):
        super().__init__()
        out_features, in_features = weight.shape
        self.linear = nn.Linear(in_features, out_features)
        self.linear.load_state_dict({"weight": weight, "bias": bias})

    def forward(self, x):
        return self.linear(x)  # (rows, out_features)


def main():
    config = json.loads(sys.argv[1])
    rank, world_size, workdir = config["rank"], config["world_size"], config["workdir"]
    with np.load(io.BytesIO(sys.stdin.buffer.read()), allow_pickle=False) as data:
        inputs = {name: data[name] for name in data.files}  # this rank's inputs only
    # Worker's public side speaks the judge's channel, one probe per request; a rank needs
    # only its loading and its learner-frame-aware messages, hence the underscored methods.
    harness = Worker({"target": config["target"], "display": os.path.basename(config["target"]),
                      "module": config["module"], "probes": None, "framework": "torch",
                      "device": config["device"]})
    failure = harness._load_target()
    if failure:
        return finish(workdir, rank, {"status": "error", "message": failure["message"]})
    store = dist.TCPStore("127.0.0.1", config["port"], is_master=False,
                          timeout=timedelta(seconds=config["startup_timeout_s"]))
    if not all_arrived(store, world_size, config["startup_timeout_s"]):
        return finish(workdir, rank, {"status": "startup", "message": "not every rank had "
                                      f"started after {config['startup_timeout_s']:g} s"})
    dist.init_process_group(config["backend"], store=store, rank=rank, world_size=world_size,
                            timeout=timedelta(seconds=config["collective_timeout_s"]))
    device = torch.device(config["device"])
    if device.type == "cuda":
        device = torch.device("cuda", rank % torch.cuda.device_count())
        torch.cuda.set_device(device)
    try:
        results = run_task(harness.target, config["task"], inputs, device)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
    except UnusableResult as exc:
        return finish(workdir, rank, {"status": "failed", "message": str(exc)})
    except BaseException as exc:  # learner code: anything can come out of it
        return finish(workdir, rank, {"status": classify(harness, exc),
                                      "message": harness._describe(exc)})
    np.savez(os.path.join(workdir, f"result-{rank}.npz"), **results)
    finish(workdir, rank, {"status": "ok"})
    # Leave together: a rank that exits while a peer still reads from it would cut the peer off.
    store.add("finished", 1)
    while int(store.add("finished", 0)) < world_size:
        time.sleep(0.01)
    dist.destroy_process_group()


def all_arrived(store, world_size, timeout_s):
    """Wait until every rank has loaded the target, so that slow start-ups (a loaded machine)
    are not charged to the first collective's shorter timeout."""
    store.add("arrived", 1)
    deadline = time.monotonic() + timeout_s
    while int(store.add("arrived", 0)) < world_size:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def run_task(target, task, inputs, device):
    weight, bias = torch.as_tensor(inputs["weight"]), torch.as_tensor(inputs["bias"])
    learning_rate, num_steps = float(inputs["learning_rate"]), int(inputs["num_steps"])
    if task == "steps":
        model = Model(weight, bias).to(device)
        x_shard = torch.as_tensor(inputs["x_shard"], device=device)  # (batch // world, in)
        y_shard = torch.as_tensor(inputs["y_shard"], device=device)  # (batch // world, out)
        step = target.make_train_step(model, learning_rate)
        losses = [loss_value(step(x_shard, y_shard)) for _ in range(num_steps)]
        return {**weights_of(model), "losses": np.asarray(losses, np.float32)}  # (num_steps,)
    runs = []
    for x, y in zip(inputs["x"], inputs["y"]):  # one fresh model per run
        model = Model(weight, bias).to(device)
        x = torch.as_tensor(x, device=device)  # (batch, in_features), this rank's view
        y = torch.as_tensor(y, device=device)  # (batch, out_features)
        target.train(model, x, y, learning_rate, num_steps)
        runs.append(weights_of(model))
    return {name: np.stack([run[name] for run in runs]) for name in ("weight", "bias")}


def weights_of(model):
    return {"weight": model.linear.weight.detach().cpu().numpy(),  # (out_features, in_features)
            "bias": model.linear.bias.detach().cpu().numpy()}  # (out_features,)


class UnusableResult(Exception):
    """The learner's code returned something the checks cannot read."""


def loss_value(loss):
    """A step's loss as a float: a one-element tensor, or a number."""
    if isinstance(loss, torch.Tensor) and loss.numel() == 1:
        return float(loss.detach().reshape(()).cpu())
    if isinstance(loss, (int, float)) and not isinstance(loss, bool):
        return float(loss)
    shape = f" of shape {tuple(loss.shape)}" if isinstance(loss, torch.Tensor) else ""
    raise UnusableResult(f"step(x_shard, y_shard) returned {type(loss).__name__}{shape}, "
                         "expected the loss (a 0-d tensor or a float)")


def finish(workdir, rank, status):
    path = os.path.join(workdir, f"status-{rank}.json")
    with open(path + ".part", "w") as handle:
        json.dump(status, handle)
    os.replace(path + ".part", path)
    sys.stdout.flush()
    sys.stderr.flush()
    if status["status"] != "ok":
        os._exit(1)


def classify(harness, exc):
    """not_implemented, collective (a failed or timed-out collective, raised inside torch) or
    error."""
    if isinstance(exc, NotImplementedError) and harness._learner_frames(exc):
        return "not_implemented"
    if isinstance(exc, dist.DistError):
        return "collective"
    frames = [frame.filename for frame in traceback.extract_tb(exc.__traceback__)]
    raised_by_torch = bool(frames) and frames[-1].startswith(TORCH_DIR + os.sep)
    text = str(exc)
    if isinstance(exc, RuntimeError) and raised_by_torch and any(
            mark in text for mark in ("gloo", "Gloo", "NCCL", "Connection closed", "Timed out")):
        return "collective"
    return "error"


if __name__ == "__main__":
    main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
