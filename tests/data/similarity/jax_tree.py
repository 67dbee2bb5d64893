"""Linear regression in JAX with jax.tree_util and jax.grad (has_aux for the loss)."""

import jax
import jax.numpy as jnp
from jax import random


def build_model(key, in_features, out_features):
    k_w, k_b = random.split(key, 2)
    limit = in_features ** -0.5
    w = random.uniform(k_w, shape=(in_features, out_features), dtype=jnp.float32,
                       minval=-limit, maxval=limit)
    b = random.uniform(k_b, shape=(out_features,), dtype=jnp.float32,
                       minval=-limit, maxval=limit)
    return dict(linear=dict(weight=w, bias=b))


def predict(params, x):
    layer = params["linear"]
    return jnp.dot(x, layer["weight"]) + layer["bias"]


def mse_loss(predictions, targets):
    return jnp.mean(jnp.square(predictions - targets))


def _objective(params, x, y):
    loss = mse_loss(predict(params, x), y)
    return loss, loss


def sgd_step(params, x, y, learning_rate):
    grads, loss = jax.grad(_objective, has_aux=True)(params, x, y)
    updated = jax.tree_util.tree_map(lambda p, g: p - learning_rate * g, params, grads)
    return updated, loss


def fit(key, x, y, learning_rate=0.1, num_iterations=1000):
    params = build_model(key, x.shape[-1], y.shape[-1])
    jitted = jax.jit(sgd_step)
    for _ in range(num_iterations):
        params, _loss = jitted(params, x, y, learning_rate)
    return params
