"""Framework names that do not exist (any more): where the learner should look instead.

The bank's source documents, and much older code a learner may copy, use names that the
installed releases (torch 2.13, jax 0.10.2, optax 0.2.8) do not have: modules that never
existed (`jax.experimental.parallel`, `torchvision_transformers`), layers `jax.nn` never had
(`jax.nn.Dense`, `jnn.conv2d`), objects the documents use without defining them
(`jax_optimizer`), and names JAX removed (`jax.tree_map`). Python's own message says only that
the name is missing; `advice_for` reads that message (an AttributeError, ImportError,
ModuleNotFoundError or NameError text, as a worker reports it) and says what exists instead.

Judge side, pure: it reads text, never the learner's code.
"""

import re

_SHARD_MAP = ("data parallelism is `jax.shard_map` over a `jax.sharding.Mesh` (with "
              "`PartitionSpec` and a collective such as `jax.lax.pmean`), or `jax.jit` on arrays "
              "placed with `jax.device_put(x, NamedSharding(mesh, P('data')))`")
_OPTAX = ("optimizers are Optax's: `optimizer = optax.sgd(learning_rate)`, "
          "`opt_state = optimizer.init(params)`, then `updates, opt_state = "
          "optimizer.update(grads, opt_state, params)` and `params = optax.apply_updates(params, "
          "updates)`; or update by hand with `jax.tree.map(lambda p, g: p - learning_rate * g, "
          "params, grads)`")
_DENSE = ("a dense layer in plain JAX is a params pytree and a function: "
          "`{'weight': (in, out), 'bias': (out,)}` and `x @ weight + bias` (Flax's `nnx.Linear` "
          "is the layer library's version; Flax is not installed in the grader)")
_CONV = ("a convolution is `jax.lax.conv_general_dilated(x, kernel, window_strides=(1, 1), "
         "padding='VALID', dimension_numbers=('NCHW', 'OIHW', 'NCHW'))` (or the shorter "
         "`jax.lax.conv`), with the kernel in a params pytree")
_POOL = ("adaptive average pooling to 1x1 is a mean over the spatial axes: "
         "`x.mean(axis=(2, 3))` for NCHW (`axis=(1, 2)` for NHWC); fixed windows are "
         "`jax.lax.reduce_window`")
_LAYERS = ("write a layer as a params pytree and a function (`x @ weight + bias`; "
           "`jax.lax.conv_general_dilated` and `jax.lax.reduce_window` for convolution and "
           "pooling)")

# full dotted name (or a bare name for NameError) -> (what it is, what exists instead)
MOVED = {
    "jax.experimental.parallel": ("there is no `jax.experimental.parallel` module", _SHARD_MAP),
    "jax_parallel": ("`jax_parallel` stands for `jax.experimental.parallel`, a module that does "
                     "not exist", _SHARD_MAP),
    "jax.experimental.maps": ("`jax.experimental.maps` (`xmap`) was removed", _SHARD_MAP),
    "jax.nn.Dense": ("`jax.nn` has no layers, only activations and initializers", _DENSE),
    "jax.nn.dense": ("`jax.nn` has no layers, only activations and initializers", _DENSE),
    "jax.nn.Linear": ("`jax.nn` has no layers, only activations and initializers", _DENSE),
    "jax.nn.conv2d": ("`jax.nn` has no convolution", _CONV),
    "jax.nn.conv": ("`jax.nn` has no convolution", _CONV),
    "jax.nn.Conv": ("`jax.nn` has no convolution", _CONV),
    "jax.nn.adaptive_average_pool2d": ("`jax.nn` has no pooling", _POOL),
    "jax.nn.adaptive_avg_pool2d": ("`jax.nn` has no pooling", _POOL),
    "jax.jacf": ("there is no `jax.jacf`",
                 "Jacobians are `jax.jacfwd` (forward mode) and `jax.jacrev` (reverse mode)"),
    "jax_optimizer": ("`jax_optimizer` is defined nowhere (JAX has no optimizer object)", _OPTAX),
    "jax.experimental.optimizers": ("`jax.experimental.optimizers` was removed",
                                    _OPTAX + " (the old module lives on, frozen, as "
                                    "`jax.example_libraries.optimizers`)"),
    "jax.experimental.stax": ("`jax.experimental.stax` was removed",
                              "it lives on, frozen, as `jax.example_libraries.stax`; or write "
                              "the layers as a params pytree and functions"),
    "jax.tree_map": ("`jax.tree_map` was removed", "use `jax.tree.map` (or "
                     "`jax.tree_util.tree_map`)"),
    "jax.experimental.host_callback": ("`jax.experimental.host_callback` was removed",
                                       "use `jax.debug.callback` (printing, side effects) or "
                                       "`jax.pure_callback` (a value computed on the host)"),
    "jax.xla_computation": ("`jax.xla_computation` was removed",
                            "use `jax.jit(f).lower(*args).as_text()`"),
    "jax.sharding.PositionalSharding": ("`PositionalSharding` was removed",
                                        "use `NamedSharding(mesh, PartitionSpec(...))`"),
    "jax.random.KeyArray": ("`jax.random.KeyArray` was removed",
                            "keys are `jax.Array`s: `jax.random.key(seed)`"),
    "jax.numpy.DeviceArray": ("`DeviceArray` was removed", "arrays are `jax.Array`"),
    "torchvision_transformers": ("there is no `torchvision_transformers` library",
                                 "image transforms are `torchvision.transforms` (a separate "
                                 "package, not installed in the grader: the items hand you "
                                 "their data as tensors); transformer models are "
                                 "`torch.nn.Transformer` or the `transformers` library"),
    "torchvision": ("`torchvision` is a separate package, not installed in the grader",
                    "the items hand you their data as tensors; build layers from `torch.nn`"),
}

_MISSING = (  # each finds (module, name) in one kind of message; module "" for a bare name
    re.compile(r"module '(?P<module>[\w.]+)' has no attribute '(?P<name>\w+)'"),
    re.compile(r"cannot import name '(?P<name>\w+)' from '(?P<module>[\w.]+)'"),
    re.compile(r"No module named '(?P<name>[\w.]+)'"),
    re.compile(r"name '(?P<name>\w+)' is not defined"),
)


def _missing_names(message):
    """Every dotted name the message says is missing, in the order the message gives them."""
    found = []
    for pattern in _MISSING:
        for match in pattern.finditer(message):
            module = match.groupdict().get("module") or ""  # `jnn.conv2d` reads 'jax.nn'
            found.append((match.start(), f"{module}.{match['name']}" if module else match["name"]))
    return [name for _, name in sorted(found)]


def _known(name):
    """The table's entry for `name`, or for the first of its parent modules the table holds
    (`jax.experimental.parallel.broadcast` is answered as `jax.experimental.parallel`)."""
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        entry = MOVED.get(".".join(parts[:end]))
        if entry:
            return ".".join(parts[:end]), entry
    return None


def advice_for(message):
    """One sentence saying what exists instead of a missing framework name the message reports,
    or None when the message reports no name the table knows."""
    for name in _missing_names(message or ""):
        known = _known(name)
        if known is None and name.startswith("jax.nn."):  # any other layer-like name
            known = name, ("`jax.nn` holds activations and initializers only", _LAYERS)
        if known:
            name, (what, instead) = known
            return f"No `{name}` here: {what}; {instead}."
    return None


def with_advice(message):
    """`message`, followed on its own line by `advice_for(message)` when there is one."""
    advice = advice_for(message)
    return f"{message}\n{advice}" if advice else message
