"""A seed-code submission for distributed_torch (a test input, not a solution).

Origin: the source documents the bank comes from (/work/shared/seeds/), coding question 4,
"distributed training with PyTorch": its loop body (a `dist.barrier()` before and after the
step on rank 0 only, zero_grad, forward, criterion, backward, optimizer.step) kept as written.
Adapted only to plug into the interface: the grader starts the ranks and the process group, so
`init_process_group` and `mp.spawn` are left out; the documents' `...` for the optimizer and
the criterion become `torch.optim.SGD` at the given learning rate and the statement's mean
squared error; `.cuda()` becomes "stay on the inputs' device"; the documents' dataloader (the
whole data set on every rank: nothing splits it) is the batch each call is given, so
`shard_batch` returns the whole batch.
What it keeps from the documents: no gradient averaging, no split of the batch, and barriers
that only rank 0 calls.
"""

import torch
import torch.distributed as dist
import torch.nn as nn


def shard_batch(x, y, rank, world_size):
    return x, y


def make_train_step(model, learning_rate):
    optimizer = torch.optim.SGD(model.parameters(), lr=learning_rate)
    criterion = nn.MSELoss()
    rank = dist.get_rank()

    def step(data, target):
        if rank == 0:
            dist.barrier()
        optimizer.zero_grad()
        output = model(data)
        loss = criterion(output, target)
        loss.backward()
        optimizer.step()
        if rank == 0:
            dist.barrier()
        return loss

    return step


def train(model, x, y, learning_rate, num_steps):
    rank, world_size = dist.get_rank(), dist.get_world_size()
    data, target = shard_batch(x, y, rank, world_size)
    step = make_train_step(model, learning_rate)
    for epoch in range(num_steps):
        step(data, target)
    return model
