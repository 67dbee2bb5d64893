"""Probes for linear_regression_jax: they run in a worker, next to the learner's or the
reference's module (`target`), and return plain results for the judge to compare.

Weights arrive in the JAX layout: weight (in_features, out_features), bias (out_features,).
"""

import jax
import numpy as np

from grader.probekit import Reject, a_type, flatten_params, require_jax_array, to_jax


def _params(weight, bias, device):
    return {"linear": {"weight": to_jax(weight, device), "bias": to_jax(bias, device)}}


def _linear_arrays(params, call, what):
    """(weight, bias) from a params dict shaped like {"linear": {"weight", "bias"}}."""
    flat = flatten_params(params, call, what)
    if sorted(flat) != ["linear.bias", "linear.weight"]:
        raise Reject(
            f"Called `{call}`. Returned {what} holding {sorted(flat)}, expected "
            f"['linear.bias', 'linear.weight'] (a dict {{'linear': {{'weight': ..., "
            f"'bias': ...}}}})."
        )
    return flat["linear.weight"], flat["linear.bias"]


def _unpack_step(result, call):
    """(weight, bias, loss) from sgd_step's (new_params, loss)."""
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        items = f" of {len(result)} items" if isinstance(result, (tuple, list)) else ""
        raise Reject(
            f"Called `{call}`. Returned {a_type(type(result).__name__)}{items}, expected a pair "
            f"(new_params, loss)."
        )
    new_params, loss = result
    weight, bias = _linear_arrays(new_params, call, "new_params")
    if not isinstance(loss, jax.Array):
        raise Reject(
            f"Called `{call}`. Returned {a_type(type(loss).__name__)} as the loss, expected a 0-d "
            f"jax.Array."
        )
    if loss.size != 1:
        raise Reject(
            f"Called `{call}`. Returned a loss of shape {tuple(loss.shape)}, expected a 0-d "
            f"array."
        )
    return weight, bias, loss.reshape(())


def _run_steps(step, device, weight, bias, x, y, learning_rate, steps, call):
    params = _params(weight, bias, device)
    inputs = to_jax(x, device)  # (batch, in_features)
    targets = to_jax(y, device)  # (batch, out_features)
    losses = []
    for _ in range(steps):
        new_weight, new_bias, loss = _unpack_step(
            step(params, inputs, targets, float(learning_rate)), call
        )
        params = {"linear": {"weight": new_weight, "bias": new_bias}}
        losses.append(loss)
    jax.block_until_ready((params, losses))
    return {
        "weight": params["linear"]["weight"],
        "bias": params["linear"]["bias"],
        "losses": np.asarray([np.asarray(loss) for loss in losses], dtype=np.float32),
    }


def parameter_shapes(target, device, seed, in_features, out_features):
    """{"shapes": {"linear.weight": [sizes], ...}, "dtypes": {...}} from build_model."""
    key = to_jax(jax.random.key(seed), device)
    params = target.build_model(key, in_features, out_features)
    flat = flatten_params(params, f"build_model(key, {in_features}, {out_features})", "params")
    jax.block_until_ready(flat)
    return {
        "shapes": {name: list(array.shape) for name, array in flat.items()},
        "dtypes": {name: str(array.dtype) for name, array in flat.items()},
    }


def predict_with_weights(target, device, weight, bias, x):
    """predict(params, x) for the given weights."""
    predictions = target.predict(_params(weight, bias, device), to_jax(x, device))
    predictions = require_jax_array(predictions, "predict(params, x)")
    return predictions.block_until_ready()


def loss(target, device, predictions, targets):
    """mse_loss(predictions, targets)."""
    value = target.mse_loss(to_jax(predictions, device), to_jax(targets, device))
    value = require_jax_array(value, "mse_loss(predictions, targets)")
    return value.block_until_ready()


def sgd_steps(target, device, weight, bias, x, y, learning_rate, steps):
    """`steps` consecutive sgd_step calls, each fed the previous new_params: losses, weights."""
    call = "sgd_step(params, x, y, learning_rate)"
    return _run_steps(target.sgd_step, device, weight, bias, x, y, learning_rate, steps, call)


def jitted_sgd_steps(target, device, weight, bias, x, y, learning_rate, steps):
    """The same under jax.jit(sgd_step), learning_rate traced."""
    call = "jax.jit(sgd_step)(params, x, y, learning_rate)"
    step = jax.jit(target.sgd_step)
    return _run_steps(step, device, weight, bias, x, y, learning_rate, steps, call)


def step_keeps_params(target, device, weight, bias, x, y, learning_rate):
    """True when sgd_step left the params dict it was given as it was (same keys, same arrays)."""
    params = _params(weight, bias, device)
    layer = params["linear"]
    given_weight, given_bias = layer["weight"], layer["bias"]
    result = target.sgd_step(params, to_jax(x, device), to_jax(y, device), float(learning_rate))
    jax.block_until_ready(result)
    return (
        list(params) == ["linear"]
        and params["linear"] is layer
        and sorted(layer) == ["bias", "weight"]
        and layer["weight"] is given_weight
        and layer["bias"] is given_bias
    )


def fit_weights(target, device, seed, x, y):
    """fit(key, x, y), then the trained weights: weight (in, out), bias (out,)."""
    key = to_jax(jax.random.key(seed), device)
    params = target.fit(key, to_jax(x, device), to_jax(y, device))
    weight, bias = _linear_arrays(params, "fit(key, x, y)", "params")
    jax.block_until_ready((weight, bias))
    return {"weight": weight, "bias": bias}
