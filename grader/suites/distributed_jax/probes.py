"""Probes for distributed_jax: they run in a worker, next to the learner's or the reference's
module (`target`), and return plain results for the judge to compare.

Every probe builds a one-axis mesh named "data": over the GPUs when there are two or more,
else over the host devices the item's workers get (the catalog's cpu_devices), also with one
GPU.
Weights arrive in the canonical layout: weight (in_features, out_features), bias (out,).
"""

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from grader.probekit import Reject, require_jax_array

CROSS_DEVICE_REDUCTIONS = ("all-reduce", "reduce-scatter")  # how they read in compiled HLO


def _mesh(device):
    """All GPUs when there are two or more; else the host's devices (one GPU alone has nothing
    to reduce across, so the item then runs on the forced host devices)."""
    gpus = jax.devices("gpu") if device == "cuda" else []
    return Mesh(np.array(gpus if len(gpus) >= 2 else jax.devices("cpu")), ("data",))


def _params(weight, bias):
    return {"linear": {"weight": jnp.asarray(weight), "bias": jnp.asarray(bias)}}


def _rows_per_device(array, mesh):
    """(devices, 2): the [start, stop) rows each mesh device holds; -1 where it holds none."""
    rows = np.full((mesh.devices.size, 2), -1, dtype=np.int64)
    position = {device: index for index, device in enumerate(mesh.devices.flat)}
    for shard in array.addressable_shards:
        if shard.device in position:
            start, stop, _ = shard.index[0].indices(array.shape[0])
            rows[position[shard.device]] = (start, stop)
    return rows


def _copies(params, call, mesh):
    """The weights as every mesh device holds them: a list of {"weight", "bias"} per device
    holding a whole copy of both, in mesh order, and how many devices that is."""
    leaves = {"weight": params["linear"]["weight"], "bias": params["linear"]["bias"]}
    for name, leaf in leaves.items():
        require_jax_array(leaf, f"{call}: params['linear'][{name!r}]")
    copies = []
    for device in mesh.devices.flat:
        copy = {}
        for name, leaf in leaves.items():
            whole = [shard for shard in leaf.addressable_shards
                     if shard.device == device and shard.data.shape == leaf.shape]
            if whole:
                copy[name] = np.asarray(whole[0].data)
        if len(copy) == len(leaves):
            copies.append(copy)
    return copies


def _read_params(params, call):
    try:
        weight, bias = params["linear"]["weight"], params["linear"]["bias"]
    except (TypeError, KeyError, IndexError):
        raise Reject(f"Called `{call}`. Returned {type(params).__name__}, expected params "
                     "shaped like the input: {'linear': {'weight': ..., 'bias': ...}}.") from None
    return require_jax_array(weight, call), require_jax_array(bias, call)


# --- probes ----------------------------------------------------------------------------------


def device_count(target, device):
    """How many devices the mesh spans."""
    return int(_mesh(device).devices.size)


def shards(target, device, x, y):
    """shard_batch(x, y, mesh): the values, and which rows each device holds."""
    mesh = _mesh(device)
    result = target.shard_batch(jnp.asarray(x), jnp.asarray(y), mesh)
    call = "shard_batch(x, y, mesh)"
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        raise Reject(f"Called `{call}`. Returned {type(result).__name__}, expected a pair "
                     "(x_sharded, y_sharded).")
    x_sharded = require_jax_array(result[0], call)
    y_sharded = require_jax_array(result[1], call)
    return {"x": x_sharded, "y": y_sharded, "x_rows": _rows_per_device(x_sharded, mesh),
            "y_rows": _rows_per_device(y_sharded, mesh)}


def _replicas(copies, mesh):
    """A "replicated" array whose copy on mesh device i is copies[i]: JAX does not check that
    replicas agree, and a step that works per device starts from its own device's copy."""
    sharding = NamedSharding(mesh, P())
    return jax.make_array_from_single_device_arrays(
        copies.shape[1:], sharding,
        [jax.device_put(copy, device) for copy, device in zip(copies, mesh.devices.flat)])


def steps(target, device, weight, bias, x, y, learning_rate, num_steps, replica_weight,
          replica_bias):
    """step = make_train_step(mesh, learning_rate) on the batch sharded here by rows over
    "data" and replicated params: `num_steps` steps, the losses, and every device's copy of the
    weights; how many cross-device reductions the compiled step holds; then one more step from
    params whose copies differ per device (replica_weight[i], replica_bias[i] on device i) and
    what every device's copy moved by."""
    mesh = _mesh(device)
    batch_sharding, replicated = NamedSharding(mesh, P("data")), NamedSharding(mesh, P())
    x_sharded = jax.device_put(x, batch_sharding)  # (batch, in_features)
    y_sharded = jax.device_put(y, batch_sharding)  # (batch, out_features)
    params = jax.device_put(_params(weight, bias), replicated)
    step = target.make_train_step(mesh, learning_rate)
    call = "step(params, x, y)"
    compiled = (step if hasattr(step, "lower") else jax.jit(step)).lower(
        params, x_sharded, y_sharded).compile().as_text()
    reductions = sum(compiled.count(f" {name}") for name in CROSS_DEVICE_REDUCTIONS)
    losses = []
    for _ in range(num_steps):
        params, loss = _step_result(step(params, x_sharded, y_sharded), call)
        losses.append(float(np.asarray(require_jax_array(loss, call)).reshape(-1)[0]))
    weight_out, bias_out = _read_params(params, call)
    starts = {"weight": np.asarray(replica_weight, np.float32),  # (devices, in, out)
              "bias": np.asarray(replica_bias, np.float32)}  # (devices, out)
    desynced = _params(_replicas(starts["weight"], mesh), _replicas(starts["bias"], mesh))
    moved, _ = _step_result(step(desynced, x_sharded, y_sharded), call)
    updates = [{name: copy[name] - starts[name][index] for name in copy}
               for index, copy in enumerate(_copies(moved, call, mesh))]
    return {"weight": weight_out, "bias": bias_out, "losses": np.asarray(losses, np.float32),
            "copies": _copies(params, call, mesh), "devices": int(mesh.devices.size),
            "reductions": int(reductions), "replica_updates": updates}


def _step_result(result, call):
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        raise Reject(f"Called `{call}`. Returned {type(result).__name__}, expected a pair "
                     "(new_params, loss).")
    return result


def train_run(target, device, weight, bias, x, y, learning_rate, num_steps):
    """train(params, x, y, mesh, learning_rate, num_steps) from unsharded inputs: the weights
    and every device's copy of them."""
    mesh = _mesh(device)
    params = target.train(_params(weight, bias), jnp.asarray(x), jnp.asarray(y), mesh,
                          learning_rate, num_steps)
    call = "train(params, x, y, mesh, learning_rate, num_steps)"
    weight_out, bias_out = _read_params(params, call)
    jax.block_until_ready(params)
    return {"weight": weight_out, "bias": bias_out, "copies": _copies(params, call, mesh),
            "devices": int(mesh.devices.size)}


def full_batch_training(target, device, weight, bias, x, y, learning_rate, num_steps):
    """Single-device full-batch gradient descent on the MSE (the run data parallelism must
    reproduce): the weights after `num_steps` steps."""
    first = _mesh(device).devices.flat[0]
    params = jax.device_put(_params(weight, bias), first)
    inputs, targets = jax.device_put(x, first), jax.device_put(y, first)

    def loss_fn(params):
        predictions = inputs @ params["linear"]["weight"] + params["linear"]["bias"]
        return jnp.mean((predictions - targets) ** 2)  # ()

    @jax.jit
    def step(params):
        grads = jax.grad(loss_fn)(params)
        return jax.tree.map(lambda value, grad: value - learning_rate * grad, params, grads)

    for _ in range(num_steps):
        params = step(params)
    return {"weight": params["linear"]["weight"], "bias": params["linear"]["bias"]}
