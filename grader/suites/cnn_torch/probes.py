"""Probes for cnn_torch: they run in a worker, next to the learner's or the reference's module
(`target`), and return plain results for the judge to compare.

Weights arrive in PyTorch's layout as a flat state dict ({"conv1.weight": OIHW, ...,
"fc1.weight": (out, in)}); images arrive NCHW (batch, 1, 8, 8) and labels as int64.
"""

import numpy as np
import torch
from torch import nn

from grader.probekit import Reject, require_tensor, synchronize, to_torch

# One intra-op thread on CPU, in the learner's worker and the reference's alike: this network is
# too small to gain from a second one, and on a busy machine OpenMP threads waiting for each
# other made training 10 times slower at random, which a calibrated time limit cannot absorb.
torch.set_num_threads(1)


def _build(target, device):
    model = target.build_model()
    if not isinstance(model, nn.Module):
        raise Reject(f"Called `build_model()`. Returned {type(model).__name__}, expected a "
                     f"torch.nn.Module.")
    return model.to(device)


def _model_with_weights(target, device, weights):
    model = _build(target, device)
    try:
        model.load_state_dict({name: to_torch(array, device) for name, array in weights.items()})
    except RuntimeError as error:
        shapes = ", ".join(f"{name} {tuple(array.shape)}" for name, array in weights.items())
        raise Reject(f"Called `build_model().load_state_dict(state)` with {shapes}. It raised: "
                     f"{error}") from None
    return model


def _loss_value(loss, call):
    """The loss as a float32 0-d array: a tensor with one element, or a number."""
    if isinstance(loss, torch.Tensor):
        if loss.numel() != 1:
            raise Reject(f"Called `{call}`. Returned a loss of shape {tuple(loss.shape)}, "
                         f"expected a 0-d tensor.")
        return np.asarray(float(loss.detach().reshape(()).cpu()), dtype=np.float32)
    if isinstance(loss, (int, float)) and not isinstance(loss, bool):
        return np.asarray(loss, dtype=np.float32)
    raise Reject(f"Called `{call}`. Returned {type(loss).__name__} as the loss, expected a 0-d "
                 f"tensor.")


def _state(model):
    return {name: tensor.detach().clone() for name, tensor in model.state_dict().items()}


def parameter_shapes(target, device):
    """Names, shapes and dtypes of build_model()'s state_dict, and its number of parameters."""
    model = _build(target, device)
    state = model.state_dict()
    return {
        "shapes": {name: list(tensor.shape) for name, tensor in state.items()},
        "dtypes": {name: str(tensor.dtype).removeprefix("torch.") for name, tensor in
                   state.items()},
        "count": int(sum(parameter.numel() for parameter in model.parameters())),
    }


def _outputs(target, device, weights, images, function):
    """`function`(model, images) of the target, for a model loaded with the given weights."""
    model = _model_with_weights(target, device, weights)
    result = require_tensor(getattr(target, function)(model, to_torch(images, device)),
                            f"{function}(model, images)").detach()
    synchronize(device)
    return result


def logits(target, device, weights, images):
    """forward(model, images) for a model loaded with the given weights."""
    return _outputs(target, device, weights, images, "forward")


def loss_and_grads(target, device, weights, images, labels, calls):
    """`calls` calls of loss_and_grads(model, images, labels) on one model: loss and grads each."""
    call = "loss_and_grads(model, images, labels)"
    model = _model_with_weights(target, device, weights)
    inputs, targets = to_torch(images, device), to_torch(labels, device)
    results = []
    for _ in range(calls):
        result = target.loss_and_grads(model, inputs, targets)
        if not isinstance(result, (tuple, list)) or len(result) != 2:
            raise Reject(f"Called `{call}`. Returned {type(result).__name__}, expected a pair "
                         f"(loss, grads).")
        loss, grads = result
        if not isinstance(grads, dict) or not all(
                isinstance(grad, torch.Tensor) for grad in grads.values()):
            raise Reject(f"Called `{call}`. Returned {type(grads).__name__} as grads, expected "
                         f"a dict from parameter names to tensors.")
        results.append({"loss": _loss_value(loss, call),
                        "grads": {str(name): grad.detach().clone()
                                  for name, grad in grads.items()}})
    synchronize(device)
    return results


def adam_steps(target, device, weights, batches, learning_rate):
    """Consecutive train_step calls with one optimizer, one per batch: final weights, losses."""
    call = "train_step(optimizer, model, images, labels)"
    model = _model_with_weights(target, device, weights)
    optimizer = target.make_optimizer(model, learning_rate)
    losses = []
    for images, labels in batches:
        loss = target.train_step(optimizer, model, to_torch(images, device),
                                 to_torch(labels, device))
        losses.append(_loss_value(loss, call))
    synchronize(device)
    return {"weights": _state(model), "losses": np.asarray(losses, dtype=np.float32)}


def evaluation_graph(target, device, weights, images):
    """Whether autograd was on while predict ran the model's layers, and the logits' flags."""
    model = _model_with_weights(target, device, weights)
    grad_enabled = []

    def record(_module, _inputs, _output):
        grad_enabled.append(torch.is_grad_enabled())

    hooks = [module.register_forward_hook(record) for module in model.modules()]
    try:
        result = require_tensor(target.predict(model, to_torch(images, device)),
                                "predict(model, images)")
    finally:
        for hook in hooks:
            hook.remove()
    synchronize(device)
    return {"layers_ran": len(grad_enabled), "grad_enabled": any(grad_enabled),
            "requires_grad": bool(result.requires_grad), "has_graph": result.grad_fn is not None}


def predictions(target, device, weights, images):
    """predict(model, images) for a model loaded with the given weights."""
    return _outputs(target, device, weights, images, "predict")


def trained_weights(target, device, seed, train_images, train_labels):
    """torch.manual_seed(seed), then train(train split): the returned model's state_dict. The
    judge scores these weights with the reference's forward pass; the held-out digits never
    come here."""
    torch.manual_seed(seed)
    model = target.train(to_torch(train_images, device), to_torch(train_labels, device))
    if not isinstance(model, nn.Module):
        raise Reject(f"Called `train(images, labels)`. Returned {type(model).__name__}, "
                     f"expected a torch.nn.Module.")
    state = _state(model)
    synchronize(device)
    return state
