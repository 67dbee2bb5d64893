"""Data-parallel SGD with torch.distributed (reference solution).

Every rank runs this file with the process group already initialised: it takes its own
contiguous block of the global batch, computes the mean squared error on it, averages the
gradients across ranks with an explicit all_reduce, and takes the same SGD step as every other
rank. Equal blocks make the average of the ranks' gradients the gradient of the full batch.
"""

import torch
import torch.distributed as dist


def shard_batch(x, y, rank, world_size):
    shard_size = x.shape[0] // world_size  # rows per rank; the batch divides evenly
    start = rank * shard_size
    x_shard = x[start:start + shard_size]  # (batch // world_size, in_features)
    y_shard = y[start:start + shard_size]  # (batch // world_size, out_features)
    return x_shard, y_shard


def average_gradients(model):
    world_size = dist.get_world_size()
    for parameter in model.parameters():
        dist.all_reduce(parameter.grad, op=dist.ReduceOp.SUM)  # summed over ranks, in place
        parameter.grad /= world_size  # the mean of the ranks' gradients


def make_train_step(model, learning_rate):
    def step(x_shard, y_shard):
        model.zero_grad()
        predictions = model(x_shard)  # (batch // world_size, out_features)
        loss = ((predictions - y_shard) ** 2).mean()  # (), on this rank's block only
        loss.backward()
        average_gradients(model)  # every rank now holds the full batch's gradient
        with torch.no_grad():
            for parameter in model.parameters():
                parameter -= learning_rate * parameter.grad  # the same update on every rank
        return loss.detach()  # (), this rank's loss before the update

    return step


def train(model, x, y, learning_rate, num_steps):
    x_shard, y_shard = shard_batch(x, y, dist.get_rank(), dist.get_world_size())
    step = make_train_step(model, learning_rate)
    for _ in range(num_steps):
        step(x_shard, y_shard)  # updates model in place; the loss is unused
    return model
