"""Linear regression, judge side: the inputs both twins draw, and the least-squares oracle."""

import functools

import numpy as np

from grader.topics.diagnosis import (
    first_of,
    matches_another,
    offset_per_column,
    ratio_is_a_count,
    sign_flipped,
    step_ratio_is_a_count,
    step_scaled_by_learning_rate,
    step_sign_flipped,
    transposed,
)

FIT_FACTOR = 1.01
FIT_SLACK = 1e-4
NOISE_SCALE = 0.1


# --- drawing inputs ------------------------------------------------------------------------------


def draw_sizes(rng):
    """Three (in_features, out_features): each out_features in 1..3 once.

    One of them, at random, has in_features 1; the others have 2..8.
    """
    outs = [int(out) for out in rng.permutation([1, 2, 3])]
    single = int(rng.integers(0, len(outs)))
    return [(1 if i == single else int(rng.integers(2, 9)), out) for i, out in enumerate(outs)]


def draw_shapes(rng):
    """Three (batch, in_features, out_features), with the sizes of draw_sizes.

    One is a single example (batch 1), always with out_features 2 or 3, so that out_features 1
    always comes with a batch of 2..64: there a (batch,) prediction broadcasts against (batch, 1)
    targets into a (batch, batch) error, which a batch of 1 would hide.
    """
    sizes = draw_sizes(rng)
    single = int(rng.choice([i for i, (_, out_features) in enumerate(sizes) if out_features > 1]))
    batches = [1 if i == single else int(rng.integers(2, 65)) for i in range(len(sizes))]
    return [(batch, *size) for batch, size in zip(batches, sizes)]


def with_one_output(shapes):
    """The one of draw_sizes' or draw_shapes' tuples with out_features (the last entry) 1."""
    return next(shape for shape in shapes if shape[-1] == 1)


def draw_batch(rng, batch, in_features, out_features):
    x = rng.normal(size=(batch, in_features)).astype(np.float32)
    y = rng.normal(size=(batch, out_features)).astype(np.float32)
    return x, y


def draw_regression_data(rng, num_examples, in_features, out_features):
    """x ~ N(0, 1); y = x @ true_weight + true_bias + 0.1 * noise; float32."""
    x = rng.normal(size=(num_examples, in_features))
    true_weight = rng.normal(size=(in_features, out_features))
    true_bias = rng.normal(size=(out_features,))
    noise = rng.normal(size=(num_examples, out_features))
    y = x @ true_weight + true_bias + NOISE_SCALE * noise
    return x.astype(np.float32), y.astype(np.float32)


# --- diagnosing a mismatch (grader/topics/diagnosis.py) -----------------------------------------


def _counts(batch, out_features):
    return {"the number of elements (batch x out_features)": batch * out_features,
            "the batch size": batch,
            "the number of outputs (a sum over each row's outputs)": out_features}


# Losses learners write instead of the mean squared error that no ratio explains: what each is,
# its value and its gradient with respect to the residuals (predictions - targets).
OTHER_LOSSES = {
    "the sum of (predictions - targets), unsquared": (
        lambda residuals: residuals.sum(), lambda residuals: np.ones_like(residuals)),
    "the mean of (predictions - targets), unsquared": (
        lambda residuals: residuals.mean(),
        lambda residuals: np.ones_like(residuals) / residuals.size),
    "the mean of |predictions - targets|": (
        lambda residuals: np.abs(residuals).mean(),
        lambda residuals: np.sign(residuals) / residuals.size),
}
RIGHT_LOSS = "square the errors, then take the mean over all elements"


def other_loss_values(predictions, targets):
    """{sentence: value}: each of OTHER_LOSSES on (predictions, targets)."""
    residuals = np.asarray(predictions, np.float64) - np.asarray(targets, np.float64)
    return {f"it equals {what}: {RIGHT_LOSS}": loss(residuals)
            for what, (loss, _) in OTHER_LOSSES.items()}


def other_loss_descent(weight, bias, x, y, learning_rate, steps):
    """{what: {"weight": (in, out), "bias": (out,), "losses": (steps,)}}: `steps` of gradient
    descent from canonical-layout weights under each of OTHER_LOSSES, in float64."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)  # (batch, in), (batch, out)
    runs = {}
    for what, (loss, loss_gradient) in OTHER_LOSSES.items():
        w, b = np.asarray(weight, np.float64), np.asarray(bias, np.float64)  # (in, out), (out,)
        losses = []
        for _ in range(steps):
            residuals = x @ w + b - y  # (batch, out)
            losses.append(loss(residuals))
            gradient = loss_gradient(residuals)  # (batch, out)
            w, b = w - learning_rate * x.T @ gradient, b - learning_rate * gradient.sum(axis=0)
        runs[what] = {"weight": w, "bias": b, "losses": np.asarray(losses)}
    return runs


def diagnose_prediction(bias):
    """What a wrong prediction looks like, `bias` (out,) being the one the check loaded."""
    return first_of(functools.partial(offset_per_column, bias=bias), transposed, sign_flipped)


def diagnose_loss(batch, out_features, predictions=None, targets=None):
    """What a wrong mean squared error over a (batch, out_features) batch looks like; with the
    check's `predictions` and `targets`, also which other loss it is."""
    counts = _counts(batch, out_features)
    others = {} if predictions is None else other_loss_values(predictions, targets)
    return first_of(lambda got, want: ratio_is_a_count(got, want, counts),
                    lambda got, want: matches_another(got, want, others), sign_flipped)


def diagnose_step(before, learning_rate, batch, out_features):
    """What wrong parameters after a step from `before` look like."""
    counts = _counts(batch, out_features)
    return first_of(
        lambda got, want: step_sign_flipped(got, want, before),
        lambda got, want: step_scaled_by_learning_rate(got, want, before, learning_rate),
        lambda got, want: step_ratio_is_a_count(got, want, before, counts),
        transposed)


def diagnose_steps(name, before, x, y, learning_rate, steps, weight_layout="in_out"):
    """What a wrong result of `steps` sgd_step calls looks like: `name` is "weight", "bias" or
    "losses", `before` the {"weight", "bias"} the check started from, the weight in
    `weight_layout` ("in_out", or "out_in" for nn.Linear's layout)."""
    batch, out_features = y.shape
    flip = (lambda array: array.T) if weight_layout == "out_in" else (lambda array: array)
    runs = other_loss_descent(flip(before["weight"]), before["bias"], x, y, learning_rate, steps)
    if name == "losses":
        others = {f"the losses are those of {what}: {RIGHT_LOSS}": run["losses"]
                  for what, run in runs.items()}
        return first_of(diagnose_loss(batch, out_features),
                        lambda got, want: matches_another(got, want, others))
    others = {f"the parameters took the step of gradient descent on {what}, not on the mean "
              f"squared error: {RIGHT_LOSS}":
              flip(run["weight"]) if name == "weight" else run["bias"]
              for what, run in runs.items()}
    return first_of(diagnose_step(before[name], learning_rate, batch, out_features),
                    lambda got, want: matches_another(got, want, others))


# --- judging -------------------------------------------------------------------------------------


def shape_of(sizes):
    return tuple(int(size) for size in sizes)


def training_mse(weight, bias, x, y):
    """MSE of canonical-layout weights (in, out) on (x, y), in float64."""
    predictions = x.astype(np.float64) @ weight.astype(np.float64) + bias.astype(np.float64)
    return float(np.mean((predictions - y.astype(np.float64)) ** 2))


def targets_variance(y):
    """The MSE of the best constant prediction (each output's mean), in float64: a training that
    ends above it did worse than no weights at all."""
    return float(np.mean(np.var(y.astype(np.float64), axis=0)))


def least_squares_mse(x, y):
    """The smallest MSE any weight and bias reach on (x, y), from np.linalg.lstsq."""
    design = np.hstack([x.astype(np.float64), np.ones((x.shape[0], 1))])  # (n, in + 1)
    solution, *_ = np.linalg.lstsq(design, y.astype(np.float64), rcond=None)  # (in + 1, out)
    return float(np.mean((design @ solution - y.astype(np.float64)) ** 2))


def expect_near_optimum(call, trained, weight, bias, x, y):
    """The trained (in, out) weights reach optimum * FIT_FACTOR + FIT_SLACK on (x, y).

    `trained` names the learner's result in messages ("model", "params").
    """
    mse = training_mse(weight, bias, x, y)
    optimum = least_squares_mse(x, y)
    limit = optimum * FIT_FACTOR + FIT_SLACK
    if not np.isfinite(mse):
        raise AssertionError(
            f"Called `{call}`. The trained weights give a training MSE of {mse}: training "
            f"diverged. Lower the learning rate (and check that the loss is a mean, not a sum)."
        )
    variance = targets_variance(y)
    if mse > limit and mse > variance:
        raise AssertionError(
            f"Called `{call}`. The training MSE of the returned {trained} is {mse:.6g}, above "
            f"the targets' variance {variance:.6g} (the MSE of predicting each output's mean; "
            f"all-zero weights give {float(np.mean(y.astype(np.float64) ** 2)):.6g}, about "
            f"where training starts): training diverged, moving away from the least-squares "
            f"optimum {optimum:.6g} instead of towards it. Check that the loss is the mean of "
            f"the squared errors (not a sum, not unsquared) and that the step subtracts the "
            f"gradient; then lower the learning rate."
        )
    if mse > limit:
        raise AssertionError(
            f"Called `{call}`. The training MSE of the returned {trained} is {mse:.6g}; the "
            f"least-squares optimum is {optimum:.6g}, and the check allows up to {limit:.6g} "
            f"(optimum x {FIT_FACTOR} + {FIT_SLACK:g}). Train for more steps, or with a larger "
            f"(still stable) learning rate."
        )
