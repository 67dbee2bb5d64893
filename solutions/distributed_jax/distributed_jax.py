"""Data-parallel SGD over a device mesh in JAX (reference solution).

The batch is split into contiguous blocks along the mesh axis "data", one block per device; the
parameters are replicated. The step is written per device with `jax.shard_map`: each device
computes the loss of its block, `pmean` over "data" turns it into the loss of the full batch,
and differentiating that gives every device the full batch's gradient, so all take the same
SGD step. Everything is float32.
"""

import jax
import jax.numpy as jnp
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P


def shard_batch(x, y, mesh):
    batch_sharding = NamedSharding(mesh, P("data"))  # rows split over "data", columns whole
    x_sharded = jax.device_put(x, batch_sharding)  # (batch, in_features), a block per device
    y_sharded = jax.device_put(y, batch_sharding)  # (batch, out_features), a block per device
    return x_sharded, y_sharded


def predict(params, x):
    return x @ params["linear"]["weight"] + params["linear"]["bias"]  # (rows, out_features)


def block_loss(params, x_block, y_block):
    squared_errors = (predict(params, x_block) - y_block) ** 2  # (rows, out_features)
    return jnp.mean(squared_errors)  # (), the loss of this device's block


def make_train_step(mesh, learning_rate):
    def device_step(params, x_block, y_block):
        def full_batch_loss(params):
            # equal blocks: the mean of the blocks' losses is the loss of the full batch
            return jax.lax.pmean(block_loss(params, x_block, y_block), "data")  # ()

        # params are replicated, so their gradient is the same on every device: no pmean on
        # the gradients (that would average what is already the total)
        loss, grads = jax.value_and_grad(full_batch_loss)(params)  # (), shaped like params
        new_params = jax.tree.map(
            lambda parameter, gradient: parameter - learning_rate * gradient, params, grads
        )  # shaped like params: weight (in, out), bias (out,)
        return new_params, loss

    step = jax.shard_map(
        device_step,
        mesh=mesh,
        in_specs=(P(), P("data"), P("data")),  # params replicated, batch split by rows
        out_specs=(P(), P()),  # new params and loss replicated
    )
    return jax.jit(step)


def train(params, x, y, mesh, learning_rate, num_steps):
    x_sharded, y_sharded = shard_batch(x, y, mesh)  # a block of rows per device
    step = make_train_step(mesh, learning_rate)  # compiled once, reused for every step
    for _ in range(num_steps):
        params, _ = step(params, x_sharded, y_sharded)  # shaped like params; loss unused
    return params
