"""JAX linear regression: optax for the fit, a hand-written SGD step for task 3."""

import math

import jax
import jax.numpy as jnp
import optax


def build_model(key, in_features, out_features):
    """Same initialisation as torch.nn.Linear."""
    bound = 1 / math.sqrt(in_features)
    keys = jax.random.split(key, num=2)
    weight = jax.random.uniform(keys[0], (in_features, out_features), jnp.float32, -bound,
                                bound)
    bias = jax.random.uniform(keys[1], (out_features,), jnp.float32, -bound, bound)
    return {"linear": {"bias": bias, "weight": weight}}


def predict(params, x):
    lin = params["linear"]
    out = jnp.matmul(x, lin["weight"])
    return out + lin["bias"]


def mse_loss(predictions, targets):
    errors = (predictions - targets).ravel()
    return jnp.dot(errors, errors) / errors.shape[0]


def sgd_step(params, x, y, learning_rate):
    loss_value, grads = jax.value_and_grad(
        lambda current: mse_loss(predict(current, x), y))(params)
    new_params = jax.tree.map(lambda a, g: a - learning_rate * g, params, grads)
    return new_params, loss_value


def fit(key, x, y):
    params = build_model(key, x.shape[1], y.shape[1])
    optimiser = optax.sgd(learning_rate=0.2)
    state = optimiser.init(params)

    @jax.jit
    def update(params, state):
        loss, grads = jax.value_and_grad(lambda p: mse_loss(predict(p, x), y))(params)
        updates, state = optimiser.update(grads, state, params)
        return optax.apply_updates(params, updates), state, loss

    for _ in range(700):
        params, state, _ = update(params, state)
    return params
