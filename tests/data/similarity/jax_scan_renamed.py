"""My linear regression."""
import functools

import jax
import jax.numpy as jnp


def mse_loss(predictions, targets):
    err = predictions - targets
    return jnp.sum(err ** 2) / err.size


@functools.partial(jax.jit, static_argnums=3)
def _run_training(theta, x, y, how_many):
    # scan over the steps, compiled once
    def one(state, _):
        updated, value = sgd_step(state, x, y, 0.25)
        return updated, value

    trained, history = jax.lax.scan(one, theta, xs=None, length=how_many)
    return trained


def predict(params, x):
    weights = params["linear"]["weight"]
    offset = params["linear"]["bias"]
    return jnp.einsum("bi,io->bo", x, weights) + offset[None, :]


def build_model(key, in_features, out_features):
    k1, k2 = jax.random.split(key)
    factor = 1.0 / jnp.sqrt(jnp.float32(in_features))
    return {
        "linear": {
            "weight": factor * jax.random.uniform(k1, (in_features, out_features),
                                                  minval=-1.0, maxval=1.0),
            "bias": factor * jax.random.uniform(k2, (out_features,), minval=-1.0,
                                                maxval=1.0),
        }
    }


def fit(key, x, y):
    init = build_model(key, x.shape[1], y.shape[1])
    return _run_training(init, x, y, 600)


def sgd_step(params, x, y, learning_rate):
    # value and gradient of the loss, then plain SGD on both leaves
    def cost(q):
        return mse_loss(predict(q, x), y)

    val, grd = jax.value_and_grad(cost)(params)
    weights = params["linear"]["weight"] - learning_rate * grd["linear"]["weight"]
    offset = params["linear"]["bias"] - learning_rate * grd["linear"]["bias"]
    return {"linear": {"weight": weights, "bias": offset}}, val
