"""Probes for linear_regression_torch: they run in a worker, next to the learner's or the
reference's module (`target`), and return plain results for the judge to compare.

Weights arrive in PyTorch's layout: weight (out_features, in_features), bias (out_features,).
"""

import numpy as np
import torch
from torch import nn

from grader.probekit import Reject, require_tensor, synchronize, to_torch


def _build(target, device, in_features, out_features):
    call = f"build_model({in_features}, {out_features})"
    model = target.build_model(in_features, out_features)
    if not isinstance(model, nn.Module):
        raise Reject(
            f"Called `{call}`. Returned {type(model).__name__}, expected a torch.nn.Module."
        )
    return model.to(device)


def _model_with_weights(target, device, weight, bias):
    out_features, in_features = weight.shape
    model = _build(target, device, in_features, out_features)
    state = {"linear.weight": to_torch(weight, device), "linear.bias": to_torch(bias, device)}
    try:
        model.load_state_dict(state)
    except RuntimeError as error:
        raise Reject(
            f"Called `build_model({in_features}, {out_features}).load_state_dict(state)` with "
            f"'linear.weight' of shape ({out_features}, {in_features}) and 'linear.bias' of "
            f"shape ({out_features},). It raised: {error}"
        ) from None
    return model


def _linear_state(model, call, which):
    """(weight, bias) from the model's state_dict, detached.

    `which` names the model in messages: "the returned model", "the model afterwards".
    """
    state = model.state_dict()
    missing = [name for name in ("linear.weight", "linear.bias") if name not in state]
    if missing:
        raise Reject(
            f"Called `{call}`. The state_dict of {which} holds {sorted(state)}, "
            f"expected ['linear.bias', 'linear.weight']."
        )
    return state["linear.weight"].detach(), state["linear.bias"].detach()


def _loss_value(loss, call):
    """The loss as a Python float: a tensor with one element, or a number."""
    if isinstance(loss, torch.Tensor):
        if loss.numel() != 1:
            raise Reject(
                f"Called `{call}`. Returned a tensor of shape {tuple(loss.shape)}, expected the "
                f"loss (a 0-d tensor)."
            )
        return float(loss.detach().reshape(()).cpu())
    if isinstance(loss, (int, float)) and not isinstance(loss, bool):
        return float(loss)
    raise Reject(
        f"Called `{call}`. Returned {type(loss).__name__}, expected the loss (a 0-d tensor)."
    )


def _dtype_name(tensor):
    return str(tensor.dtype).removeprefix("torch.")  # "float32", as numpy and JAX name it


def parameter_shapes(target, device, in_features, out_features):
    """{"shapes": {name: [sizes]}, "dtypes": {name: "float32"}} from build_model's state_dict."""
    model = _build(target, device, in_features, out_features)
    state = model.state_dict()
    return {
        "shapes": {name: list(tensor.shape) for name, tensor in state.items()},
        "dtypes": {name: _dtype_name(tensor) for name, tensor in state.items()},
    }


def predict_with_weights(target, device, weight, bias, x):
    """predict(model, x) for a model loaded with the given weights."""
    model = _model_with_weights(target, device, weight, bias)
    predictions = target.predict(model, to_torch(x, device))
    predictions = require_tensor(predictions, "predict(model, x)").detach()
    synchronize(device)
    return predictions


def loss(target, device, predictions, targets):
    """mse_loss(predictions, targets)."""
    value = target.mse_loss(to_torch(predictions, device), to_torch(targets, device))
    value = require_tensor(value, "mse_loss(predictions, targets)").detach()
    synchronize(device)
    return value


def sgd_steps(target, device, weight, bias, x, y, learning_rate, steps):
    """`steps` consecutive sgd_step calls on one model: the losses and the final weights."""
    model = _model_with_weights(target, device, weight, bias)
    inputs = to_torch(x, device)  # (batch, in_features)
    targets = to_torch(y, device)  # (batch, out_features)
    call = "sgd_step(model, x, y, learning_rate)"
    losses = []
    for _ in range(steps):
        losses.append(_loss_value(target.sgd_step(model, inputs, targets, learning_rate), call))
    new_weight, new_bias = _linear_state(model, call, "the model afterwards")
    synchronize(device)
    return {
        "weight": new_weight,
        "bias": new_bias,
        "losses": np.asarray(losses, dtype=np.float32),
    }


def fit_weights(target, device, x, y):
    """fit(x, y), then the trained weights in the canonical layout: weight (in, out), bias."""
    model = target.fit(to_torch(x, device), to_torch(y, device))
    call = "fit(x, y)"
    if not isinstance(model, nn.Module):
        raise Reject(
            f"Called `{call}`. Returned {type(model).__name__}, expected a torch.nn.Module."
        )
    weight, bias = _linear_state(model, call, "the returned model")
    synchronize(device)
    return {"weight": weight.T.contiguous(), "bias": bias}
