"""Linear regression in JAX (reference solution).

Parameters are a plain dict (a pytree), the prediction and the loss are pure functions,
`jax.value_and_grad` gives the gradients, and one step of gradient descent returns new
parameters instead of changing the old ones. Everything is float32.
"""

import math

import jax
import jax.numpy as jnp

LEARNING_RATE = 0.2
NUM_STEPS = 500


def build_model(key, in_features, out_features):
    weight_key, bias_key = jax.random.split(key)  # two new keys, each of shape ()
    bound = 1.0 / math.sqrt(in_features)  # the same range as torch.nn.Linear
    weight = jax.random.uniform(
        weight_key, (in_features, out_features), minval=-bound, maxval=bound
    )  # (in_features, out_features)
    bias = jax.random.uniform(bias_key, (out_features,), minval=-bound, maxval=bound)  # (out,)
    return {"linear": {"weight": weight, "bias": bias}}


def predict(params, x):
    return x @ params["linear"]["weight"] + params["linear"]["bias"]  # (batch, out_features)


def mse_loss(predictions, targets):
    squared_errors = (predictions - targets) ** 2  # (batch, out_features)
    return jnp.mean(squared_errors)  # ()


def loss_fn(params, x, y):
    predictions = predict(params, x)  # (batch, out_features)
    return mse_loss(predictions, y)  # ()


def sgd_step(params, x, y, learning_rate):
    loss, grads = jax.value_and_grad(loss_fn)(params, x, y)  # (), a pytree shaped like params
    new_params = jax.tree.map(
        lambda parameter, gradient: parameter - learning_rate * gradient, params, grads
    )  # shaped like params: weight (in, out), bias (out,)
    return new_params, loss


def fit(key, x, y):
    params = build_model(key, x.shape[1], y.shape[1])  # weight (in, out), bias (out,)
    step = jax.jit(sgd_step)  # compiled once, reused for every step
    for _ in range(NUM_STEPS):
        params, _ = step(params, x, y, LEARNING_RATE)  # shaped like params; the loss is unused
    return params
