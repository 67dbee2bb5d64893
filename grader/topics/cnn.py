"""The CNN items, judge side: the digits and their split, the network's parameter layouts, the
inputs both twins draw, and the judgements they share (numpy only).

Weights are drawn in one canonical form, PyTorch's `state_dict()` layout (kernels OIHW, linear
weights (out, in), `fc1` reading a (channel, height, width) flatten, `bn1`'s running statistics
and its `num_batches_tracked` beside the parameters), and converted for the JAX twin by
`to_jax_layout` into params (kernels HWIO, dense weights (in, out), `fc1` reading a
(height, width, channel) flatten) and a separate state (the running statistics).
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
# With bn1, the references' lowest over 12 seeds each was 0.989 (median 0.992, torch and jax
# alike), and torch at lr 1e-3 for 10 epochs reached 0.978..0.994 over 4 seeds
# (benchmarks/cnn_training.py, benchmarks/README.md): about 4 points of margin below the lowest
ACCURACY_THRESHOLD = 0.95
POOLED = (32, 2, 2)  # (channels, height, width) left by the second pooling
FLATTENED = 32 * 2 * 2  # the features fc1 reads

# canonical (PyTorch) names and shapes, with the fan-in the weights are scaled by
CANONICAL_SHAPES = {
    "conv1.weight": (16, 1, 3, 3),  # no bias: bn1 follows
    "bn1.weight": (16,),
    "bn1.bias": (16,),
    "conv2.weight": (32, 16, 3, 3),
    "conv2.bias": (32,),
    "fc1.weight": (64, 128),
    "fc1.bias": (64,),
    "fc2.weight": (10, 64),
    "fc2.bias": (10,),
}
FAN_IN = {"conv1": 9, "conv2": 144, "fc1": 128, "fc2": 64}
# bn1's running statistics: a buffer in PyTorch, the state beside the params in JAX
STATISTICS = {"bn1.running_mean": (16,), "bn1.running_var": (16,)}
BATCHES_TRACKED = "bn1.num_batches_tracked"  # PyTorch only: an int64 count nothing reads
# Adam's first step moves each weight by about the learning rate whatever its gradient's size:
# a gradient that is zero up to rounding may go either way, so steps get this much more atol
ADAM_ATOL_PER_LEARNING_RATE = 1e-3
# Such a weight ("a stray") may end up to about two learning rates a step from the reference's.
# Strays are rare (a few in thousands, where the gradient is within rounding of zero) and a mistake
# in the update (learning rate, betas, eps, bias correction, a missed step) moves nearly every
# weight, so an array may hold this fraction of strays (at least one), each within the bound.
ADAM_STRAY_FRACTION = 1e-3
ADAM_STRAY_LEARNING_RATES_PER_STEP = 2.0


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


def draw_batch_sizes(run_rng):
    """The run's three batch sizes: 1, one in 2..16 and one in 17..128, so every run covers all
    three. Drawn from the judge's `run_rng`, so every check of a run gets the same three and a
    run meets one of a few sets: a JAX worker compiles each function for three shapes at most,
    and a later run of the same learner finds them in its compilation cache."""
    return [1, int(run_rng.integers(2, 17)), int(run_rng.integers(17, 129))]


def pick_batch_size(rng, run_rng):
    """One of the run's batch sizes above 1, picked by the check's own `rng`."""
    return int(rng.choice(draw_batch_sizes(run_rng)[1:]))


def draw_run_steps(run_rng):
    """(batch size, learning rate) of every Adam step a run checks: the run's largest batch and
    one learning rate, so that the JAX twin's train step compiles once per run."""
    batch = draw_batch_sizes(run_rng)[2]
    return batch, draw_learning_rate(run_rng)


def draw_images(rng, batch):
    """Random images (batch, 8, 8), float32 in [0, 1]; the twins add the channel axis."""
    return rng.uniform(0.0, 1.0, size=(batch, 8, 8)).astype(np.float32)


def draw_labels(rng, batch):
    return rng.integers(0, NUM_CLASSES, size=(batch,)).astype(np.int64)


def draw_weights(rng):
    """Canonical weights: He-scaled normals for the convolutions and dense layers (so every
    layer's activations keep their size), bn1's scale and shift near 1 and 0, and running
    statistics away from the initial 0 and 1 (conv1's outputs have a spread near 1 here), so
    that evaluation and training mode give different logits."""
    weights = {}
    for name, shape in CANONICAL_SHAPES.items():
        layer, kind = name.split(".")
        if layer == "bn1":
            weights[name] = (rng.uniform(0.5, 1.5, size=shape) if kind == "weight"
                             else rng.normal(0.0, 0.2, size=shape)).astype(np.float32)
        else:
            scale = np.sqrt(2.0 / FAN_IN[layer])
            weights[name] = (scale * rng.normal(size=shape)).astype(np.float32)
    weights["bn1.running_mean"] = rng.normal(0.0, 0.5, size=(16,)).astype(np.float32)
    weights["bn1.running_var"] = rng.uniform(0.3, 2.0, size=(16,)).astype(np.float32)
    weights[BATCHES_TRACKED] = np.asarray(rng.integers(0, 1000), dtype=np.int64)
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
    """Canonical weights -> (JAX params {"conv1": {"weight": HWIO}, "bn1": {"weight", "bias"},
    ...}, JAX state {"bn1": {"running_mean", "running_var"}})."""
    params, state = {}, {}
    for name, array in weights.items():
        layer, kind = name.split(".")
        if name == BATCHES_TRACKED:
            continue
        if name in STATISTICS:
            state.setdefault(layer, {})[kind] = np.ascontiguousarray(array)
            continue
        if kind == "weight" and layer.startswith("conv"):
            array = array.transpose(2, 3, 1, 0)  # OIHW -> HWIO
        elif kind == "weight" and layer == "fc1":
            array = fc1_to_jax(array)
        elif kind == "weight":
            array = array.T  # (out, in) -> (in, out)
        params.setdefault(layer, {})[kind] = np.ascontiguousarray(array)
    return params, state


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
    `to_weights` turns a flat {name: array} into the `logits` probe's keyword arguments (the
    weights and evaluation mode: the running statistics the training left are used).
    A reference below the threshold is the grader's fault."""
    want, got = workers.both(probe, **inputs)
    got = expect_trained_weights(got, want, call)
    reference_logits = workers.reference("logits", images=test_images, **to_weights(want))
    try:
        expect_accuracy(call, reference_logits, test_labels)
    except AssertionError as failure:
        raise InternalFault(f"the reference missed the threshold: {failure}") from None
    learner_logits = workers.reference("logits", images=test_images, **to_weights(got))
    expect_accuracy(call, learner_logits, test_labels)


def expect_trained_weights(got, want, call):
    """The trained weights have the reference's names, shapes and dtypes (float32, int64 for a
    counter); returned as those dtypes."""
    expect_keys(got, want, f"{call}: the trained parameters")
    for name in sorted(want):
        array = got[name]
        wanted_kind = "f" if want[name].dtype.kind == "f" else "iu"
        if not isinstance(array, np.ndarray) or array.dtype.kind not in wanted_kind:
            kind = array.dtype if isinstance(array, np.ndarray) else type(array).__name__
            raise AssertionError(f"Called `{call}`. The trained {name!r} is {kind}, expected "
                                 f"{want[name].dtype}.")
        if shape_of(array.shape) != shape_of(want[name].shape):
            raise AssertionError(f"Called `{call}`. The trained {name!r} has shape "
                                 f"{shape_of(array.shape)}, expected {shape_of(want[name].shape)}.")
    return {name: got[name].astype(want[name].dtype) for name in want}


def nest_params(flat):
    """{"conv1.weight": array, ..., "bn1.running_mean": array, ...} -> (params, state), the JAX
    twin's two dicts: {"conv1": {"weight": array}, ...} and {"bn1": {"running_mean": ...}}."""
    params, state = {}, {}
    for name, array in flat.items():
        layer, kind = name.split(".")
        (state if name in STATISTICS else params).setdefault(layer, {})[kind] = array
    return params, state


def adam_atol(tol, learning_rate):
    return tol.atol + ADAM_ATOL_PER_LEARNING_RATE * learning_rate


def expect_adam_weights_close(got, want, call, what, tol, learning_rate, steps):
    """The weights after `steps` Adam steps match the reference's, name by name, as
    `expect_arrays_close` with `adam_atol`, except that an array of trained weights (never bn1's
    running statistics) may hold a few strays (see ADAM_STRAY_FRACTION). Returns one phrase per
    array that held strays, for the check's note."""
    expect_keys(got, want, f"{call}: {what.split('[')[0]}")
    atol = adam_atol(tol, learning_rate)
    bound = ADAM_STRAY_LEARNING_RATES_PER_STEP * steps * learning_rate
    strays = []
    for name in sorted(want):
        try:
            expect_close(got[name], want[name], f"{call}: {what.format(name=name)}", rtol=tol.rtol,
                         atol=atol)
        except AssertionError:
            found = None if name in STATISTICS else _adam_strays(got[name], want[name], tol.rtol,
                                                                 atol, bound)
            if found is None:
                raise
            count, worst = found
            strays.append(f"{count} of {want[name].size} values of {name}, off by up to "
                          f"{worst:.3g}")
    return strays


def _adam_strays(got, want, rtol, atol, bound):
    """(how many values of `got` are strays, the largest difference), or None when the
    difference is more than strays: too many values off, one off by more than `bound` (a NaN
    or an infinity never is within it), or not an array of the same kind."""
    if not isinstance(got, np.ndarray) or got.dtype != want.dtype or got.shape != want.shape:
        return None
    want64 = want.astype(np.float64)
    diff = np.abs(got.astype(np.float64) - want64)
    count = int(np.count_nonzero(diff > atol + rtol * np.abs(want64)))
    allowed = max(1, int(ADAM_STRAY_FRACTION * want.size))
    worst = float(diff.max())
    return (count, worst) if count <= allowed and worst <= bound else None


def adam_strays_note(strays):
    """The note of an Adam check that passed with strays."""
    return (f"Passed with weights whose gradient is within rounding of zero, which Adam may step "
            f"either way: {'; '.join(strays)}.")


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


def expect_statistics_kept(got, given, call, fix):
    """Evaluation mode: bn1's running statistics after the call are the ones given, exactly."""
    for name in sorted(given):
        changed = int(np.count_nonzero(np.asarray(got[name]) != np.asarray(given[name])))
        if changed:
            raise AssertionError(
                f"Called `{call}`. {changed} of {np.size(given[name])} values of {name!r} "
                f"changed, expected none: in evaluation mode batch normalisation reads the "
                f"running statistics and must not update them. {fix}")


def expect_statistics_updated(got, want, given, call, rtol, atol, fix):
    """Training mode: bn1's running statistics took the reference's momentum step from the
    given ones; a message tells statistics that never moved from a wrong update."""
    if all(np.array_equal(np.asarray(got[name]), np.asarray(given[name])) for name in given):
        raise AssertionError(
            f"Called `{call}`. The running statistics are exactly the ones given: a "
            f"training-mode forward must update them (running = 0.9 * running + 0.1 * batch "
            f"statistic, the variance unbiased), or evaluation later uses stale statistics. {fix}")
    for name in sorted(want):
        kind = "the unbiased batch variance" if name.endswith("var") else "the batch mean"
        expect_close(np.asarray(got[name]), np.asarray(want[name]),
                     f"{call}: {name} afterwards (momentum 0.1 towards {kind})",
                     rtol=rtol, atol=atol)


def expect_evaluation_logits(got, want, training_logits, call, tol, fix):
    """predict's logits are the reference's evaluation-mode ones. When they are not, and they
    are the training-mode ones (`training_logits()`, asked only then), the message says that bn1
    ran on the batch's statistics and how to switch (`fix`)."""
    try:
        expect_close(got, want, call, rtol=tol.rtol, atol=tol.atol)
    except AssertionError as failure:
        training = training_logits()
        if got.shape == training.shape and np.allclose(got, training, rtol=tol.rtol,
                                                       atol=tol.atol):
            raise AssertionError(
                f"Called `{call}`. The logits are the training-mode ones: bn1 normalised with "
                f"the batch's statistics instead of the running statistics. {fix}") from None
        raise failure from None


def describe_load_mismatch(got_shapes, want_shapes, fc1_inputs):
    """One line, in the learner's terms, on why the statement's state_dict does not load into
    their model: layers they lack or added, and layers of another shape; for fc1, how many
    features their flatten really gives (`fc1_inputs`, measured in their worker, or None).
    Empty when the names and shapes agree."""
    parts = []
    missing = sorted(set(want_shapes) - set(got_shapes))
    extra = sorted(set(got_shapes) - set(want_shapes))
    if missing:
        parts.append(f"the statement's table has {', '.join(missing)}, which your model lacks")
    if extra:
        parts.append(f"your model has {', '.join(extra)}, which the table does not")
    for name in sorted(set(want_shapes) & set(got_shapes)):
        got_shape, want_shape = shape_of(got_shapes[name]), shape_of(want_shapes[name])
        if got_shape == want_shape:
            continue
        if name == "fc1.weight" and len(got_shape) == 2:
            said = (f"your fc1 takes {got_shape[1]} inputs; the statement's table says "
                    f"{want_shape[1]} (32 channels x 2 x 2 after the second pooling)")
            if fc1_inputs is not None and fc1_inputs != got_shape[1]:
                said = (f"your fc1 takes {got_shape[1]} inputs; after your pooling the flatten "
                        f"gives {fc1_inputs}; the statement's table says {want_shape[1]}")
            parts.append(said)
        else:
            parts.append(f"your {name} has shape {got_shape}, the table says {want_shape}")
    return "; ".join(parts)


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
