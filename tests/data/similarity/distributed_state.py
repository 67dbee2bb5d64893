"""Data-parallel SGD that walks the model's named parameters and keeps its loss history."""

import torch
import torch.distributed as dist
from torch import nn


def shard_batch(x, y, rank, world_size):
    size = x.shape[0] // world_size
    lo, hi = rank * size, (rank + 1) * size
    return x[lo:hi].clone(), y[lo:hi].clone()


class _SyncedSGD:
    def __init__(self, module, lr):
        self.module, self.lr = module, lr
        self.criterion = nn.MSELoss()
        self.history = []

    def __call__(self, inputs, targets):
        self.module.zero_grad(set_to_none=True)
        value = self.criterion(self.module(inputs), targets)
        value.backward()
        world = float(dist.get_world_size())
        for name, tensor in self.module.named_parameters():
            buffer = tensor.grad.clone()
            dist.all_reduce(buffer, op=dist.ReduceOp.SUM)
            tensor.data -= self.lr * (buffer / world)
        self.history.append(value.item())
        return value.detach()


def make_train_step(model, learning_rate):
    return _SyncedSGD(model, learning_rate)


def train(model, x, y, learning_rate, num_steps):
    inputs, targets = shard_batch(x, y, dist.get_rank(), dist.get_world_size())
    stepper = make_train_step(model, learning_rate)
    for _ in range(int(num_steps)):
        stepper(inputs, targets)
    return model
