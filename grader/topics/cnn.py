"""The CNN items, judge side: the digits and their split, the network's parameter layouts, the
inputs both twins draw, and the judgements they share (numpy only).

Weights are drawn in one canonical form, PyTorch's `state_dict()` layout (kernels OIHW, linear
weights (out, in), `fc1` reading a (channel, height, width) flatten), and converted for the JAX
twin by `to_jax_layout` (kernels HWIO, dense weights (in, out), `fc1` reading a
(height, width, channel) flatten).
"""

import gzip
from pathlib import Path

import numpy as np

from grader.expect import expect_close, expect_keys
from grader.topics.common import shape_of
from grader.verdicts import InternalFault

DIGITS_FILE = Path(__file__).resolve().parent.parent / "data" / "digits" / "digits.csv.gz"
NUM_CLASSES = 10
TRAIN_SIZE = 1437  # of 1,797 digits; the other 360 are held out
SPLIT_SEED = 0  # the split is the same in every run
ACCURACY_THRESHOLD = 0.93  # the references' lowest over 12 seeds: 0.969 (benchmarks/README.md)
POOLED = (32, 2, 2)  # (channels, height, width) left by the second pooling

# canonical (PyTorch) names and shapes, with the fan-in the weights are scaled by
CANONICAL_SHAPES = {
    "conv1.weight": (16, 1, 3, 3),
    "conv1.bias": (16,),
    "conv2.weight": (32, 16, 3, 3),
    "conv2.bias": (32,),
    "fc1.weight": (64, 128),
    "fc1.bias": (64,),
    "fc2.weight": (10, 64),
    "fc2.bias": (10,),
}
FAN_IN = {"conv1": 9, "conv2": 144, "fc1": 128, "fc2": 64}
# Adam's first step moves each weight by about the learning rate whatever its gradient's size:
# a gradient that is zero up to rounding may go either way, so steps get this much more atol
ADAM_ATOL_PER_LEARNING_RATE = 1e-3


# --- the digits ----------------------------------------------------------------------------------


def load_digits():
    """(images (1797, 8, 8) float32 in [0, 1], labels (1797,) int64) from the bundled file."""
    with gzip.open(DIGITS_FILE, "rt") as handle:
        table = np.loadtxt(handle, delimiter=",", dtype=np.int64)  # (1797, 65)
    images = (table[:, :64].astype(np.float32) / 16.0).reshape(-1, 8, 8)  # pixels 0..16
    return images, table[:, 64]


def digits_split():
    """The fixed split: (train_images, train_labels, test_images, test_labels)."""
    images, labels = load_digits()
    order = np.random.default_rng(SPLIT_SEED).permutation(len(labels))
    train, test = order[:TRAIN_SIZE], order[TRAIN_SIZE:]
    return images[train], labels[train], images[test], labels[test]


# --- drawing inputs ------------------------------------------------------------------------------


def draw_batch_sizes(rng):
    """Three batch sizes: 1, one in 2..16 and one in 17..128, so every run covers all three."""
    return [1, int(rng.integers(2, 17)), int(rng.integers(17, 129))]


def draw_images(rng, batch):
    """Random images (batch, 8, 8), float32 in [0, 1]; the twins add the channel axis."""
    return rng.uniform(0.0, 1.0, size=(batch, 8, 8)).astype(np.float32)


def draw_labels(rng, batch):
    return rng.integers(0, NUM_CLASSES, size=(batch,)).astype(np.int64)


def draw_weights(rng):
    """Canonical weights, He-scaled normals (so every layer's activations keep their size)."""
    weights = {}
    for name, shape in CANONICAL_SHAPES.items():
        scale = np.sqrt(2.0 / FAN_IN[name.split(".")[0]])
        weights[name] = (scale * rng.normal(size=shape)).astype(np.float32)
    return weights


def draw_learning_rate(rng):
    return float(rng.uniform(1e-3, 1e-2))


# --- layouts -------------------------------------------------------------------------------------


def fc1_to_jax(weight):
    """fc1 (out, channel*height*width) -> (height*width*channel, out)."""
    out_features = weight.shape[0]
    per_position = weight.reshape(out_features, *POOLED)  # (out, channel, height, width)
    return per_position.transpose(2, 3, 1, 0).reshape(-1, out_features)  # (h*w*c, out)


def to_jax_layout(weights):
    """Canonical weights -> JAX params {"conv1": {"weight": HWIO, "bias"}, ...}."""
    params = {}
    for name, array in weights.items():
        layer, kind = name.split(".")
        if kind == "weight" and layer.startswith("conv"):
            array = array.transpose(2, 3, 1, 0)  # OIHW -> HWIO
        elif kind == "weight" and layer == "fc1":
            array = fc1_to_jax(array)
        elif kind == "weight":
            array = array.T  # (out, in) -> (in, out)
        params.setdefault(layer, {})[kind] = np.ascontiguousarray(array)
    return params


def jax_images(images):
    return images[..., None]  # (batch, 8, 8, 1): NHWC


def torch_images(images):
    return images[:, None]  # (batch, 1, 8, 8): NCHW


# --- judging -------------------------------------------------------------------------------------


def expect_shapes(got, want, call, layout_hint):
    """The same parameter names and shapes as the reference; got and want map names to sizes."""
    expect_keys(got, want, call)
    for name, want_sizes in want.items():
        got_shape, want_shape = shape_of(got[name]), shape_of(want_sizes)
        if got_shape != want_shape:
            raise AssertionError(
                f"Called `{call}`. {name!r} has shape {got_shape}, expected {want_shape} "
                f"({layout_hint})."
            )


def expect_count_and_dtypes(got, want, call):
    """The parameter_shapes probes' "count" and "dtypes" as the reference's."""
    if got["count"] != want["count"]:
        raise AssertionError(f"Called `{call}`. The parameters hold {got['count']} numbers, "
                             f"expected {want['count']}.")
    expect_keys(got["dtypes"], want["dtypes"], call)
    for name, want_dtype in want["dtypes"].items():
        if got["dtypes"][name] != want_dtype:
            raise AssertionError(f"Called `{call}`. {name!r} is {got['dtypes'][name]}, "
                                 f"expected {want_dtype}.")


def expect_arrays_close(got, want, call, what, rtol, atol):
    """Dicts of named arrays (params, grads, a state_dict) close to the reference's, name by name;
    `what` shows how a name is read in messages, e.g. "grads[{name!r}]"."""
    expect_keys(got, want, f"{call}: {what.split('[')[0]}")
    for name in sorted(want):
        expect_close(got[name], want[name], f"{call}: {what.format(name=name)}", rtol=rtol,
                     atol=atol)


def check_training(workers, probe, inputs, call, test_images, test_labels, to_weights):
    """Train in both workers, then score the trained weights: the REFERENCE's forward pass (its
    `logits` probe) runs on them and the judge takes the argmax. The held-out images and labels
    never reach the learner's worker, and the learner's own predict plays no part here (it has
    checks of its own). `to_weights` turns a flat {name: array} into the `logits` probe's weights.
    A reference below the threshold is the grader's fault."""
    want, got = workers.both(probe, **inputs)
    got = expect_trained_weights(got, want, call)
    reference_logits = workers.reference("logits", weights=to_weights(want), images=test_images)
    try:
        expect_accuracy(call, reference_logits, test_labels)
    except AssertionError as failure:
        raise InternalFault(f"the reference missed the threshold: {failure}") from None
    learner_logits = workers.reference("logits", weights=to_weights(got), images=test_images)
    expect_accuracy(call, learner_logits, test_labels)


def expect_trained_weights(got, want, call):
    """The trained weights have the reference's names and shapes; returned as float32."""
    expect_keys(got, want, f"{call}: the trained parameters")
    for name in sorted(want):
        array = got[name]
        if not isinstance(array, np.ndarray) or array.dtype.kind != "f":
            kind = array.dtype if isinstance(array, np.ndarray) else type(array).__name__
            raise AssertionError(f"Called `{call}`. The trained {name!r} is {kind}, expected "
                                 f"float32.")
        if shape_of(array.shape) != shape_of(want[name].shape):
            raise AssertionError(f"Called `{call}`. The trained {name!r} has shape "
                                 f"{shape_of(array.shape)}, expected {shape_of(want[name].shape)}.")
    return {name: got[name].astype(np.float32) for name in want}


def nest_params(flat):
    """{"conv1.weight": array, ...} -> {"conv1": {"weight": array}, ...} (the JAX params)."""
    params = {}
    for name, array in flat.items():
        layer, kind = name.split(".")
        params.setdefault(layer, {})[kind] = array
    return params


def adam_atol(tol, learning_rate):
    return tol.atol + ADAM_ATOL_PER_LEARNING_RATE * learning_rate


def expect_accuracy(call, logits, test_labels):
    """The held-out accuracy of the logits' argmax reaches ACCURACY_THRESHOLD; the logits come
    from the reference's forward pass on the trained weights."""
    how = (f"Called `{call}`, then ran the reference's forward pass with the trained weights on "
           f"the {len(test_labels)} held-out digits.")
    if logits.dtype.kind != "f" or not np.all(np.isfinite(logits)):
        raise AssertionError(f"{how} The logits are not all finite ({logits.dtype}): training "
                             f"diverged.")
    accuracy = float(np.mean(np.argmax(logits, axis=1) == test_labels))
    if accuracy < ACCURACY_THRESHOLD:
        raise AssertionError(
            f"{how} Their argmax is right on {accuracy:.1%} of them, expected at least "
            f"{ACCURACY_THRESHOLD:.0%}. Train for more epochs or with another learning rate, "
            f"and check the network against the statement (a forward pass that differs from "
            f"the stated one trains weights that the stated one cannot use)."
        )
    return accuracy


def shared_key_pairs(params, min_values=8, threshold=0.99):
    """Names of array pairs whose leading random numbers rise and fall together.

    `params` maps names to flat float arrays. Two arrays drawn from one JAX key start with the
    same random bits, so their leading values are a monotone function of each other whatever
    the distribution and scale: their rank correlation over the shorter length is 1 (for
    independent keys it is near 0). Constant arrays (zeros, ones) carry no randomness and are
    skipped.
    """
    ranked = {}
    for name, values in params.items():
        values = np.asarray(values, dtype=np.float64).ravel()
        if values.size >= min_values and np.ptp(values) > 0:
            ranked[name] = values
    names = sorted(ranked)
    pairs = []
    for first_index, first in enumerate(names):
        for second in names[first_index + 1:]:
            length = min(ranked[first].size, ranked[second].size)
            a = np.argsort(np.argsort(ranked[first][:length]))
            b = np.argsort(np.argsort(ranked[second][:length]))
            if np.std(a) > 0 and np.std(b) > 0 and np.corrcoef(a, b)[0, 1] > threshold:
                pairs.append((first, second))
    return pairs
