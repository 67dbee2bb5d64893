"""Probes for cnn_jax: they run in a worker, next to the learner's or the reference's module
(`target`), and return plain results for the judge to compare.

Weights arrive in the JAX layout, nested like the params ({"conv1": {"weight": HWIO, "bias"},
..., "fc1": {"weight": (in, out), ...}}); images arrive NHWC (batch, 8, 8, 1) and labels as
int64, passed on as int32. Params come back flattened: {"conv1.weight": array, ...}.
"""

import jax
import numpy as np

from grader.probekit import Reject, a_type, flatten_params, require_jax_array, to_jax

COMPILE_EVENT = "/jax/core/compile/backend_compile_duration"
# What jax.jit returns (decorated directly or through functools.partial(jax.jit, ...)); the type
# cannot be subclassed, so an object that merely has a `.lower` attribute is not mistaken for it
JIT_FUNCTION = type(jax.jit(lambda x: x))


def _params(weights, device):
    return {layer: {name: to_jax(array, device) for name, array in arrays.items()}
            for layer, arrays in weights.items()}


def _init(optimizer, params, device):
    """optimizer.init(params), every leaf committed to the device: an uncommitted leaf (Adam's
    step count) would make train_step compile a second time once its outputs are committed."""
    return to_jax(optimizer.init(params), device)


def _labels(labels, device):
    return to_jax(np.asarray(labels, dtype=np.int32), device)


def _loss(value, call):
    value = require_jax_array(value, call)
    if value.size != 1:
        raise Reject(f"Called `{call}`. Returned a loss of shape {tuple(value.shape)}, "
                     f"expected a 0-d array.")
    return value.reshape(())


def _unpack_step(result, call):
    if not isinstance(result, (tuple, list)) or len(result) != 3:
        raise Reject(f"Called `{call}`. Returned {a_type(type(result).__name__)}, expected a "
                     f"triple (params, opt_state, loss).")
    params, opt_state, loss = result
    flatten_params(params, call, "params")  # rejects a malformed params early, with its path
    return params, opt_state, _loss(loss, call)


def parameter_shapes(target, device, seed):
    """Names, shapes, dtypes and the number of values of build_model's params."""
    key = to_jax(jax.random.key(seed), device)
    flat = flatten_params(jax.jit(target.build_model)(key), "jax.jit(build_model)(key)", "params")
    jax.block_until_ready(flat)
    return {
        "shapes": {name: list(array.shape) for name, array in flat.items()},
        "dtypes": {name: str(array.dtype) for name, array in flat.items()},
        "count": int(sum(array.size for array in flat.values())),
    }


def params_from_keys(target, device, seed, other_seed):
    """build_model's params for key(seed) twice and for key(other_seed): three flat dicts."""
    build_model = jax.jit(target.build_model)  # one compilation for all three calls
    results = []
    for which in (seed, seed, other_seed):
        key = to_jax(jax.random.key(which), device)
        results.append(flatten_params(build_model(key), "jax.jit(build_model)(key)", "params"))
    jax.block_until_ready(results)
    return results


def logits(target, device, weights, images):
    """jax.jit(forward)(params, images) for the given weights (jitted: op-by-op dispatch would
    compile every primitive separately, which takes seconds)."""
    result = jax.jit(target.forward)(_params(weights, device), to_jax(images, device))
    return require_jax_array(result, "jax.jit(forward)(params, images)").block_until_ready()


def loss_and_grads(target, device, weights, images, labels):
    """jax.jit(loss_and_grads)(params, images, labels): {"loss": (), "grads": {...}}."""
    call = "jax.jit(loss_and_grads)(params, images, labels)"
    result = jax.jit(target.loss_and_grads)(_params(weights, device), to_jax(images, device),
                                   _labels(labels, device))
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        raise Reject(f"Called `{call}`. Returned {a_type(type(result).__name__)}, expected a pair "
                     f"(loss, grads).")
    loss, grads = result
    grads = flatten_params(grads, call, "grads")
    jax.block_until_ready(grads)
    return {"loss": _loss(loss, call), "grads": grads}


def adam_steps(target, device, weights, batches, learning_rate):
    """Consecutive train_step calls, one per (images, labels) batch: final params and losses."""
    call = "train_step(optimizer, params, opt_state, images, labels)"
    optimizer = target.make_optimizer(learning_rate)
    params = _params(weights, device)
    opt_state = _init(optimizer, params, device)
    losses = []
    for images, labels in batches:
        params, opt_state, loss = _unpack_step(
            target.train_step(optimizer, params, opt_state, to_jax(images, device),
                              _labels(labels, device)), call)
        losses.append(loss)
    flat = flatten_params(params, call, "params")
    jax.block_until_ready((flat, losses))
    return {"params": flat, "losses": np.asarray([np.asarray(loss) for loss in losses],
                                                  dtype=np.float32)}


def step_compilations(target, device, weights, batches, learning_rate):
    """Whether train_step is a jax.jit function, and the XLA compilations during each call."""
    optimizer = target.make_optimizer(learning_rate)
    params = _params(weights, device)
    opt_state = _init(optimizer, params, device)
    inputs = [(to_jax(images, device), _labels(labels, device)) for images, labels in batches]
    jax.block_until_ready((params, opt_state, inputs))
    compilations = []

    def count(event, _seconds, **_):
        if event == COMPILE_EVENT:
            compilations[-1] += 1

    jax.monitoring.register_event_duration_secs_listener(count)
    try:
        for images, labels in inputs:
            compilations.append(0)
            params, opt_state, loss = _unpack_step(
                target.train_step(optimizer, params, opt_state, images, labels),
                "train_step(optimizer, params, opt_state, images, labels)")
            jax.block_until_ready((params, loss))
    finally:
        jax.monitoring.unregister_event_duration_listener(count)
    return {"jitted": isinstance(target.train_step, JIT_FUNCTION), "compilations": compilations}


def predictions(target, device, weights, images):
    """predict(params, images) for the given weights (called as the learner wrote it)."""
    result = target.predict(_params(weights, device), to_jax(images, device))
    return require_jax_array(result, "predict(params, images)").block_until_ready()


def trained_params(target, device, seed, train_images, train_labels):
    """train(key, train split): the returned params, flattened. The judge scores them with the
    reference's forward pass; the held-out digits never come here."""
    key = to_jax(jax.random.key(seed), device)
    params = target.train(key, to_jax(train_images, device), _labels(train_labels, device))
    flat = flatten_params(params, "train(key, images, labels)", "params")
    jax.block_until_ready(flat)
    return flat
