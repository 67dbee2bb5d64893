"""Probes for cnn_torch: they run in a worker, next to the learner's or the reference's module
(`target`), and return plain results for the judge to compare.

Weights arrive in PyTorch's layout as a flat state dict ({"conv1.weight": OIHW, ...,
"fc1.weight": (out, in), "bn1.running_mean": ..., "bn1.num_batches_tracked": int64}); images
arrive NCHW (batch, 1, 8, 8) and labels as int64. A probe that runs the model says which mode it
sets (`train`: model.train(train)); the learner's functions must not need another.
"""

import numpy as np
import torch
from torch import nn

from grader.probekit import Reject, require_tensor, synchronize, to_torch

# One intra-op thread on CPU, in the learner's worker and the reference's alike: this network is
# too small to gain from a second one, and on a busy machine OpenMP threads waiting for each
# other made training 10 times slower at random, which a calibrated time limit cannot absorb.
torch.set_num_threads(1)

STATISTICS = ("bn1.running_mean", "bn1.running_var")
SHAPE_CHECK = "state_dict_has_the_stated_names_and_shapes"


class _Reached(Exception):
    """Raised by the hook on fc1 once it has seen its input: the rest of the forward is moot."""


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
    except RuntimeError:
        # torch's own dump lists the names from the weights' side ("Unexpected key(s)" are the
        # learner's missing layers): the shape check says it once, in the learner's terms
        raise Reject(f"Called `build_model().load_state_dict(weights)` with the statement's "
                     f"tensors. It failed: your model's state_dict() differs from the "
                     f"statement's table (the check `{SHAPE_CHECK}` says where), so this "
                     f"check cannot run.") from None
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


def _statistics(model):
    """bn1's running statistics as they are now (the model loaded the stated names)."""
    state = model.state_dict()
    return {name: state[name].detach().clone() for name in STATISTICS}


def _fc1_inputs(model, device):
    """How many features the model's own forward feeds fc1 (evaluation mode, two blank images),
    or None when fc1 is no module or the forward fails before it."""
    fc1 = getattr(model, "fc1", None)
    if not isinstance(fc1, nn.Module):
        return None
    seen = []

    def record(_module, inputs):
        if inputs and isinstance(inputs[0], torch.Tensor) and inputs[0].dim() >= 1:
            seen.append(int(inputs[0].shape[-1]))
        raise _Reached

    handle = fc1.register_forward_pre_hook(record)
    try:
        model.eval()
        with torch.no_grad():
            model(torch.zeros(2, 1, 8, 8, device=device))
    except Exception:  # noqa: BLE001 - _Reached, or the learner's forward failing earlier
        pass
    finally:
        handle.remove()
    return seen[0] if seen else None


def parameter_shapes(target, device):
    """Names, shapes and dtypes of build_model()'s state_dict, its number of parameters, and
    how many features its forward feeds fc1 (for a message on a mis-sized fc1)."""
    model = _build(target, device)
    state = model.state_dict()
    return {
        "shapes": {name: list(tensor.shape) for name, tensor in state.items()},
        "dtypes": {name: str(tensor.dtype).removeprefix("torch.") for name, tensor in
                   state.items()},
        "count": int(sum(parameter.numel() for parameter in model.parameters())),
        "fc1_inputs": _fc1_inputs(model, device),
    }


def _outputs(target, device, weights, images, function, train):
    """`function`(model, images) of the target, for a model loaded with the given weights and
    put in training (`train`) or evaluation mode: the logits and bn1's statistics after."""
    model = _model_with_weights(target, device, weights)
    model.train(train)
    result = require_tensor(getattr(target, function)(model, to_torch(images, device)),
                            f"{function}(model, images)").detach()
    synchronize(device)
    return {"logits": result, "statistics": _statistics(model)}


def logits(target, device, weights, images, train=False):
    """forward(model, images) for a model loaded with the given weights, in the given mode."""
    return _outputs(target, device, weights, images, "forward", train)["logits"]


def forward_pass(target, device, weights, images, train):
    """forward(model, images) in the given mode: the logits and bn1's statistics after."""
    return _outputs(target, device, weights, images, "forward", train)


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
    """predict(model, images) for a model loaded with the given weights and left in training
    mode, as train leaves it: the logits and bn1's statistics after."""
    return _outputs(target, device, weights, images, "predict", train=True)


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
