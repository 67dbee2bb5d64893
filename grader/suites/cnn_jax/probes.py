"""Probes for cnn_jax: they run in a worker, next to the learner's or the reference's module
(`target`), and return plain results for the judge to compare.

Weights arrive in the JAX layout, nested like the params ({"conv1": {"weight": HWIO}, "bn1":
{"weight", "bias"}, ..., "fc1": {"weight": (in, out), ...}}), with the state apart ({"bn1":
{"running_mean", "running_var"}}); images arrive NHWC (batch, 8, 8, 1) and labels as int64,
passed on as int32. Params and state come back flattened: {"conv1.weight": array, ...,
"bn1.running_mean": array, ...}.
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


def _pair(result, call, what="(params, state)"):
    """The two dicts of build_model / train: params and the batch-normalisation state."""
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        raise Reject(f"Called `{call}`. Returned {a_type(type(result).__name__)}, expected a "
                     f"pair {what}: the params and bn1's running statistics, kept apart.")
    return tuple(result)


def _flat_model(result, call):
    """(params, state) from build_model or train, flattened into one dict."""
    params, state = _pair(result, call)
    return {**flatten_params(params, call, "params"), **flatten_params(state, call, "state")}


def _forward_result(result, call):
    """forward's (logits, state): the logits array and the flattened state."""
    logits, state = _pair(result, call, "(logits, state)")
    return require_jax_array(logits, call), flatten_params(state, call, "state")


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
    if not isinstance(result, (tuple, list)) or len(result) != 4:
        raise Reject(f"Called `{call}`. Returned {a_type(type(result).__name__)}, expected a "
                     f"4-tuple (params, state, opt_state, loss).")
    params, state, opt_state, loss = result
    flatten_params(params, call, "params")  # rejects a malformed params early, with its path
    flatten_params(state, call, "state")
    return params, state, opt_state, _loss(loss, call)


def parameter_shapes(target, device, seed):
    """Names, shapes, dtypes of build_model's params and state (one flat dict), and the number
    of values of the params."""
    call = "jax.jit(build_model)(key)"
    key = to_jax(jax.random.key(seed), device)
    params, state = _pair(jax.jit(target.build_model)(key), call)
    flat_params = flatten_params(params, call, "params")
    flat = {**flat_params, **flatten_params(state, call, "state")}
    jax.block_until_ready(flat)
    return {
        "shapes": {name: list(array.shape) for name, array in flat.items()},
        "dtypes": {name: str(array.dtype) for name, array in flat.items()},
        "count": int(sum(array.size for array in flat_params.values())),
    }


def params_from_keys(target, device, seed, other_seed):
    """build_model's params and state for key(seed) twice and for key(other_seed): three flat
    dicts."""
    build_model = jax.jit(target.build_model)  # one compilation for all three calls
    results = []
    for which in (seed, seed, other_seed):
        key = to_jax(jax.random.key(which), device)
        results.append(_flat_model(build_model(key), "jax.jit(build_model)(key)"))
    jax.block_until_ready(results)
    return results


def logits(target, device, params, state, images, train=False):
    """The logits of jax.jit(forward, static_argnums=3)(params, state, images, train) for the
    given weights (jitted: op-by-op dispatch would compile every primitive separately, which
    takes seconds)."""
    return forward_pass(target, device, params, state, images, train)["logits"]


def forward_pass(target, device, params, state, images, train):
    """jax.jit(forward, static_argnums=3)(params, state, images, train): the logits and the
    state it returns, flattened."""
    call = f"jax.jit(forward, static_argnums=3)(params, state, images, {train})"
    result = jax.jit(target.forward, static_argnums=3)(
        _params(params, device), _params(state, device), to_jax(images, device), train)
    logits, new_state = _forward_result(result, call)
    jax.block_until_ready((logits, new_state))
    return {"logits": logits, "statistics": new_state}


def state_after_forward(target, device, params, state, images):
    """forward(params, state, images, True) called as the learner wrote it (no jax.jit added
    here, so that writing into the given dicts is seen): which of the given state's entries
    were replaced or removed, or added, in place."""
    given = _params(state, device)
    before = {layer: dict(arrays) for layer, arrays in given.items()}
    result = target.forward(_params(params, device), given, to_jax(images, device), True)
    _forward_result(result, "forward(params, state, images, True)")
    changed = []
    for layer in sorted(set(before) | set(given)):
        now = given.get(layer)
        if not isinstance(now, dict) or now.keys() != before.get(layer, {}).keys():
            changed.append(layer)
            continue
        changed += [f"{layer}.{name}" for name in sorted(now)
                    if now[name] is not before[layer][name]]
    return {"changed": changed}


def loss_and_grads(target, device, params, state, images, labels):
    """jax.jit(loss_and_grads)(params, state, images, labels), which returns ((loss, state),
    grads): {"loss": (), "grads": {...}, "statistics": {...}}."""
    call = "jax.jit(loss_and_grads)(params, state, images, labels)"
    result = jax.jit(target.loss_and_grads)(_params(params, device), _params(state, device),
                                            to_jax(images, device), _labels(labels, device))
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        raise Reject(f"Called `{call}`. Returned {a_type(type(result).__name__)}, expected a pair "
                     f"((loss, state), grads).")
    value, grads = result
    loss, new_state = _pair(value, call, "(loss, state) as its first element")
    grads = flatten_params(grads, call, "grads")
    new_state = flatten_params(new_state, call, "state")
    jax.block_until_ready((grads, new_state))
    return {"loss": _loss(loss, call), "grads": grads, "statistics": new_state}


# The optimizer make_optimizer returned for each learning rate: train_step is jitted with the
# optimizer static, and a new optimizer (new functions) is a new program to compile, so the
# checks of a run, which share its learning rate and batch size, share one compilation
# (step_compilations, which must see a first compilation, builds its own and leaves it here).
_OPTIMIZERS = {}


def adam_steps(target, device, params, state, batches, learning_rate):
    """Consecutive train_step calls, one per (images, labels) batch: final params, state and
    the losses."""
    call = "train_step(optimizer, params, state, opt_state, images, labels)"
    if learning_rate not in _OPTIMIZERS:
        _OPTIMIZERS[learning_rate] = target.make_optimizer(learning_rate)
    optimizer = _OPTIMIZERS[learning_rate]
    params, state = _params(params, device), _params(state, device)
    opt_state = _init(optimizer, params, device)
    losses = []
    for images, labels in batches:
        params, state, opt_state, loss = _unpack_step(
            target.train_step(optimizer, params, state, opt_state, to_jax(images, device),
                              _labels(labels, device)), call)
        losses.append(loss)
    flat = flatten_params(params, call, "params")
    statistics = flatten_params(state, call, "state")
    jax.block_until_ready((flat, statistics, losses))
    return {"params": flat, "statistics": statistics,
            "losses": np.asarray([np.asarray(loss) for loss in losses], dtype=np.float32)}


def step_compilations(target, device, params, state, batches, learning_rate):
    """Whether train_step is a jax.jit function, and the XLA compilations during each call."""
    optimizer = target.make_optimizer(learning_rate)  # a new one: the first step compiles
    _OPTIMIZERS[learning_rate] = optimizer  # the Adam checks' steps reuse what it compiles
    params, state = _params(params, device), _params(state, device)
    opt_state = _init(optimizer, params, device)
    inputs = [(to_jax(images, device), _labels(labels, device)) for images, labels in batches]
    jax.block_until_ready((params, state, opt_state, inputs))
    compilations = []

    def count(event, _seconds, **_):
        if event == COMPILE_EVENT:
            compilations[-1] += 1

    jax.monitoring.register_event_duration_secs_listener(count)
    try:
        for images, labels in inputs:
            compilations.append(0)
            params, state, opt_state, loss = _unpack_step(
                target.train_step(optimizer, params, state, opt_state, images, labels),
                "train_step(optimizer, params, state, opt_state, images, labels)")
            jax.block_until_ready((params, loss))
    finally:
        jax.monitoring.unregister_event_duration_listener(count)
    return {"jitted": isinstance(target.train_step, JIT_FUNCTION), "compilations": compilations}


def predictions(target, device, params, state, images):
    """predict(params, state, images) for the given weights (called as the learner wrote it)."""
    result = target.predict(_params(params, device), _params(state, device),
                            to_jax(images, device))
    return require_jax_array(result, "predict(params, state, images)").block_until_ready()


def trained_params(target, device, seed, train_images, train_labels):
    """train(key, train split): the returned params and state, flattened into one dict. The
    judge scores them with the reference's forward pass; the held-out digits never come here."""
    key = to_jax(jax.random.key(seed), device)
    result = target.train(key, to_jax(train_images, device), _labels(train_labels, device))
    flat = _flat_model(result, "train(key, images, labels)")
    jax.block_until_ready(flat)
    return flat
