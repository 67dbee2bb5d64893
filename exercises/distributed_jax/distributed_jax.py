"""Data-parallel SGD over a device mesh in JAX.

Fill in the three functions below; the statement (README.md next to this file) says what each
one must do and how it is checked. The grader builds the mesh: one axis named "data" over all
devices (4 forced host devices on CPU or with a single GPU; the GPUs when there are two or
more). Params are
{"linear": {"weight": (in_features, out_features), "bias": (out_features,)}}. Everything is
float32. Grade with `grade exercise distributed_jax`.
"""

import jax
import jax.numpy as jnp
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P


def shard_batch(x, y, mesh):
    """Task 1. Put the global batch on the mesh, split by rows over the axis "data".

    Args:
        x: float32 array of shape (batch, in_features); batch is a multiple of the number of
            devices.
        y: float32 array of shape (batch, out_features).
        mesh: a jax.sharding.Mesh with one axis, "data".

    Returns:
        (x_sharded, y_sharded): jax.Arrays with the same values, where the i-th device of the
        mesh holds the i-th contiguous, equal block of rows (all columns).
    """
    # TODO: a NamedSharding over the mesh that splits the first axis over "data".
    raise NotImplementedError


def make_train_step(mesh, learning_rate):
    """Task 2. A data-parallel SGD step on the mean squared error.

    Args:
        mesh: as in shard_batch.
        learning_rate: float, used as given.

    Returns:
        step(params, x, y) -> (new_params, loss), where x and y are sharded as shard_batch
        shards them and params are replicated. Each device works on its own block; the step
        must equal one step of gradient descent on the full batch (new = p - learning_rate *
        gradient of the mean squared error over all rows), leave new_params replicated on every
        device, and return the loss of the full batch before the update (a 0-d array). Write it
        with jax.shard_map (and a collective such as jax.lax.pmean) or with jax.jit on the
        sharded inputs; the compiled step must reduce across devices.
    """
    # TODO: define the step, then return it compiled with jax.jit.
    raise NotImplementedError


def train(params, x, y, mesh, learning_rate, num_steps):
    """Task 3. Data-parallel training from an unsharded batch.

    Args:
        params: {"linear": {"weight": (in_features, out_features), "bias": (out_features,)}}.
        x: float32 array of shape (batch, in_features), not yet sharded.
        y: float32 array of shape (batch, out_features).
        mesh: as in shard_batch.
        learning_rate: float.
        num_steps: int.

    Returns:
        The params after num_steps steps, replicated on every device: equal to num_steps steps
        of single-device gradient descent on the full batch.
    """
    # TODO: shard the batch with shard_batch, build the step once, call it num_steps times.
    raise NotImplementedError
