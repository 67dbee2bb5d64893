"""Helpers for probes: the worker-side functions of a hidden suite.

A probe lives in `grader/suites/<id>/probes.py` and is called in a worker as
`probe(target, device, **inputs)`, where `target` is the imported learner (or reference) module,
`device` is "cpu" or "cuda", and `inputs` are the numpy arrays and plain numbers the judge sent.
It returns numpy arrays, framework arrays (converted by the worker), numbers, or dicts/lists of
them. It never compares anything: the judge does.
"""


class Reject(Exception):
    """The learner's code ran but gave back something unusable; the message says what.

    The check is then failed with this message (it is not a crash of the grader).
    """


def to_torch(array, device):
    """A float/int numpy array as a torch tensor on `device`."""
    import torch

    return torch.as_tensor(array, device=torch.device(device))


def to_jax(array, device):
    """A numpy array as a committed jax array on the first device of the platform."""
    import jax

    platform = "gpu" if device == "cuda" else "cpu"
    return jax.device_put(array, jax.devices(platform)[0])


def require_tensor(value, what):
    """Reject anything that is not a torch.Tensor."""
    import torch

    if not isinstance(value, torch.Tensor):
        raise Reject(f"{what} returned {type(value).__name__}, expected a torch.Tensor")
    return value


def require_jax_array(value, what):
    """Reject anything that is not a jax.Array."""
    import jax

    if not isinstance(value, jax.Array):
        raise Reject(f"{what} returned {type(value).__name__}, expected a jax.Array")
    return value


def synchronize(device):
    """Wait for queued GPU work so that the judge's clock measures it."""
    if device == "cuda":
        import sys

        if "torch" in sys.modules:
            sys.modules["torch"].cuda.synchronize()


def a_type(type_name):
    """"a dict", "an int", "an ndarray": a type's name with its article, for messages."""
    vowel_sound = type_name[:1].lower() in "aeio" or type_name.startswith("nd")
    return f"{'an' if vowel_sound else 'a'} {type_name}"


def flatten_params(tree, call, what, prefix=""):
    """{"conv1.weight": array, ...} from nested dicts of jax arrays; anything else is rejected.

    `call` is what was called and `what` names the tree in messages, e.g. "fit(key, x, y)" and
    "params", or "sgd_step(params, x, y, learning_rate)" and "new_params".
    """
    import jax

    if not isinstance(tree, dict):
        raise Reject(f"Called `{call}`. Returned {a_type(type(tree).__name__)} as {what}, "
                     f"expected a dict of parameters.")
    flat = {}
    for name, value in tree.items():
        path = f"{prefix}{name}"
        if isinstance(value, dict):
            flat.update(flatten_params(value, call, what, prefix=f"{path}."))
        elif isinstance(value, jax.Array):
            flat[path] = value
        else:
            raise Reject(f"Called `{call}`. Returned {what} holding "
                         f"{a_type(type(value).__name__)} at {path!r}, expected a jax.Array "
                         "there.")
    return flat
