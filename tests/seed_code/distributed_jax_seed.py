"""A seed-code submission for distributed_jax (a test input, not a solution).

Origin: the source documents the bank comes from (/work/shared/seeds/), coding question 4,
"distributed training with JAX": its imports (`from jax.experimental import parallel as
jax_parallel`, a module that does not exist), its `jax_parallel.broadcast` of every batch, its
loss `jnp.mean((model(x_batch, w) - y_batch)**2)` and its `jax_optimizer.update(w, opt_state,
gradients)` step (`jax_optimizer` is defined nowhere), kept as written.
Adapted only to plug into the interface: the garbled signature `def distributed_train Stephens,
world_size):` is the interface's `train`, the documents' `cnn(x, w)` is the linear model of the
statement, the loop body is the step that `make_train_step` returns, and `shard_batch`
broadcasts as the loop does.
What it keeps from the documents: the import of a module that does not exist, which fails
before any function runs.
"""

import jax
import jax.numpy as jnp
from jax.experimental import parallel as jax_parallel


def model(x, w):
    return x @ w["linear"]["weight"] + w["linear"]["bias"]


def shard_batch(x, y, mesh):
    x_batch = jax_parallel.broadcast(x, 0)
    y_batch = jax_parallel.broadcast(y, 0)
    return x_batch, y_batch


def make_train_step(mesh, learning_rate):
    opt_state = ...  # 初始化优化器状态

    def step(w, x_batch, y_batch):
        loss_fn = lambda w: jnp.mean((model(x_batch, w) - y_batch)**2)
        loss, gradients = jax.value_and_grad(loss_fn, argnums=0)(w)
        w = jax_optimizer.update(w, opt_state, gradients)  # noqa: F821 (as in the documents)
        return w, loss

    return step


def train(params, x, y, mesh, learning_rate, num_steps):
    w = params
    step = make_train_step(mesh, learning_rate)
    for epoch in range(num_steps):
        x_batch, y_batch = shard_batch(x, y, mesh)
        w, _ = step(w, x_batch, y_batch)
    return w
