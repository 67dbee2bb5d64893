"""Data-parallel SGD with torch.distributed.

Fill in the three functions below; the statement (README.md next to this file) says what each
one must do and how it is checked. The grader starts the ranks and initialises the process
group before it calls your code: use `dist.get_rank()` and `dist.get_world_size()`, never
`init_process_group`. Everything is float32. Grade with `grade exercise distributed_torch`.
"""

import torch
import torch.distributed as dist


def shard_batch(x, y, rank, world_size):
    """Task 1. This rank's share of the global batch.

    Args:
        x: float32 tensor of shape (batch, in_features), the global batch; batch is a multiple
            of world_size.
        y: float32 tensor of shape (batch, out_features).
        rank: int in [0, world_size).
        world_size: int, the number of ranks.

    Returns:
        (x_shard, y_shard): the rank-th of world_size contiguous, equal blocks of rows, of shapes
        (batch // world_size, in_features) and (batch // world_size, out_features).
    """
    # TODO: slice out rows [rank * batch // world_size, (rank + 1) * batch // world_size).
    raise NotImplementedError


def make_train_step(model, learning_rate):
    """Task 2. A function that takes one data-parallel SGD step on `model`, in place.

    Args:
        model: an nn.Module holding `self.linear = nn.Linear(in_features, out_features)`, with
            the same weights on every rank.
        learning_rate: float, used as given.

    Returns:
        step(x_shard, y_shard) -> loss: computes the mean squared error of model(x_shard)
        against y_shard (this rank's block only), averages the gradients over all ranks
        (DistributedDataParallel, or dist.all_reduce and a division by the world size),
        updates every parameter p <- p - learning_rate * averaged gradient, and returns this
        rank's loss before the update (a 0-d tensor or a float).
    """
    # TODO: build what the step needs once (a DDP wrapper or an optimizer, if you use them),
    #   then define and return step(x_shard, y_shard).
    raise NotImplementedError


def train(model, x, y, learning_rate, num_steps):
    """Task 3. The per-rank training function of data-parallel SGD.

    Args:
        model: as in make_train_step; trained in place.
        x: float32 tensor of shape (batch, in_features), a whole batch (every rank gets one;
            only the rows of the rank's own block are meant for it).
        y: float32 tensor of shape (batch, out_features).
        learning_rate: float.
        num_steps: int, the number of steps.

    Returns:
        The model, trained: after num_steps steps its weights equal those of num_steps steps
        of single-process gradient descent on the full batch.
    """
    # TODO: take this rank's shard with shard_batch, build a step with make_train_step and
    #   call it num_steps times.
    raise NotImplementedError
