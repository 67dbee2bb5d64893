"""One rank of a data-parallel run, started by the distributed_torch probes (never by the judge).

Run as `python -s rank.py CONFIG` where CONFIG is JSON: target, module, task, workdir, rank,
world_size, port, backend, device, timeout_s. The rank joins the probe's TCPStore, initialises
the process group, imports the target file, runs one task on a model whose forward records the
rows it is given, and leaves in its workdir `status-<rank>.json` (ok, not_implemented,
failed, error or collective) and, when ok, `result-<rank>.npz` (weight, bias, seen rows, losses).

A rank that dies leaves no status: the probe reads that as a crash.
"""

import json
import os
import sys
import time
from datetime import timedelta

sys.path.pop(0)  # this suite's folder: the learner's code has no business importing from it

from grader.worker import Worker, die_with_parent, hide_bank_from_imports  # noqa: E402

die_with_parent()  # before the slow imports: a probe that dies takes its ranks with it
hide_bank_from_imports()

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.distributed as dist  # noqa: E402
from torch import nn  # noqa: E402


class RecordingLinear(nn.Module):
    """nn.Linear under `self.linear`, recording every input it is given (detached copies)."""

    def __init__(self, weight, bias):
        super().__init__()
        out_features, in_features = weight.shape
        self.linear = nn.Linear(in_features, out_features)
        self.linear.load_state_dict({"weight": weight, "bias": bias})
        self.records = []

    def forward(self, x):
        self.records.append(x.detach().cpu().clone())  # (rows, in_features)
        return self.linear(x)  # (rows, out_features)


def main():
    config = json.loads(sys.argv[1])
    rank, world_size, workdir = config["rank"], config["world_size"], config["workdir"]
    inputs = dict(np.load(os.path.join(workdir, "inputs.npz"), allow_pickle=False))
    harness = Worker({"target": config["target"], "display": os.path.basename(config["target"]),
                      "module": config["module"], "probes": None, "framework": "torch",
                      "device": config["device"]})
    failure = harness._load_target()
    if failure:
        return finish(workdir, rank, {"status": "error", "message": failure["message"]})
    timeout = timedelta(seconds=config["timeout_s"])
    store = dist.TCPStore("127.0.0.1", config["port"], is_master=False, timeout=timeout)
    dist.init_process_group(config["backend"], store=store, rank=rank, world_size=world_size,
                            timeout=timeout)
    device = torch.device(config["device"])
    if device.type == "cuda":
        device = torch.device("cuda", rank % torch.cuda.device_count())
        torch.cuda.set_device(device)
    model = RecordingLinear(torch.as_tensor(inputs["weight"]),
                            torch.as_tensor(inputs["bias"])).to(device)
    x = torch.as_tensor(inputs["x"], device=device)  # (batch, in_features), the global batch
    y = torch.as_tensor(inputs["y"], device=device)  # (batch, out_features)
    learning_rate, num_steps = float(inputs["learning_rate"]), int(inputs["num_steps"])
    losses = []
    try:
        if config["task"] == "steps":
            rows = torch.as_tensor(inputs["shard_rows"][rank], device=device)  # (batch // world,)
            x_shard, y_shard = x[rows], y[rows]  # (batch // world_size, features)
            step = harness.target.make_train_step(model, learning_rate)
            losses = [loss_value(step(x_shard, y_shard)) for _ in range(num_steps)]
        else:
            harness.target.train(model, x, y, learning_rate, num_steps)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
    except UnusableResult as exc:
        return finish(workdir, rank, {"status": "failed", "message": str(exc)})
    except BaseException as exc:  # learner code: anything can come out of it
        return finish(workdir, rank, {"status": classify(harness, exc),
                                      "message": harness._describe(exc)})
    seen = torch.cat(model.records) if model.records else torch.empty(0, x.shape[1])
    np.savez(os.path.join(workdir, f"result-{rank}.npz"),
             weight=model.linear.weight.detach().cpu().numpy(),  # (out_features, in_features)
             bias=model.linear.bias.detach().cpu().numpy(),  # (out_features,)
             seen=seen.numpy(),  # (rows seen, in_features)
             losses=np.asarray(losses, dtype=np.float32))  # (num_steps,) or (0,)
    finish(workdir, rank, {"status": "ok"})
    # Leave together: a rank that exits while a peer still reads from it would cut the peer off.
    store.add("finished", 1)
    while int(store.add("finished", 0)) < world_size:
        time.sleep(0.01)
    dist.destroy_process_group()


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
    if isinstance(exc, NotImplementedError) and harness._learner_frames(exc):
        return "not_implemented"
    text = str(exc)
    if isinstance(exc, dist.DistError) or (isinstance(exc, RuntimeError) and any(
            mark in text for mark in ("gloo", "Gloo", "NCCL", "Connection closed", "Timed out"))):
        return "collective"
    return "error"


if __name__ == "__main__":
    main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
