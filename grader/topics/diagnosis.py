"""Judge-side diagnosis of value mismatches (numpy only; no learner code runs here).

When a result differs from the reference's, `grader.expect.expect_close` can ask a topic's
`diagnose(got, want)` what the difference looks like. A diagnosis is a chain of small
hypotheses, each a function of the two float64 arrays (and of the inputs the check drew,
bound by the topic) that returns one sentence naming the likely mistake, or None when the
arrays do not fit it. `first_of` says the first that holds. The hypotheses every topic shares
live here; a topic's own (Q-learning's bootstrapping past the end) live with the topic.
"""

import numpy as np

RTOL = 1e-3  # a hypothesis holds when it explains the result this closely (float32 noise)


def near(got, want):
    """`got` equals `want` within RTOL, relative to the largest |want| (at least 1)."""
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    if got.shape != want.shape:
        return False
    scale = max(1.0, float(np.max(np.abs(want)))) if want.size else 1.0
    return bool(np.allclose(got, want, rtol=RTOL, atol=RTOL * scale))


def _numbers(values):
    return np.round(np.asarray(values, dtype=np.float64), 4).tolist()


def first_of(*hypotheses):
    """A diagnose(got, want) that returns the sentence of the first hypothesis that holds."""

    def diagnose(got, want):
        for hypothesis in hypotheses:
            sentence = hypothesis(got, want)
            if sentence:
                return sentence
        return None

    return diagnose


def offset_per_column(got, want, bias=None):
    """Every row off by the same amount per column: the bias missing, doubled or misplaced.

    With the `bias` the check gave, a single row is enough to say "missing" or "added twice";
    without it, the offset must be the same over two rows or more.
    """
    if got.shape != want.shape or got.ndim != 2:
        return None
    offset = got - want  # (rows, columns)
    if bias is not None and np.any(bias != 0):
        bias = np.asarray(bias, dtype=np.float64)
        if near(offset, np.broadcast_to(-bias, offset.shape)):
            return (f"every row is off by minus the bias, column by column "
                    f"({_numbers(offset[0])}): the bias is missing")
        if near(offset, np.broadcast_to(bias, offset.shape)):
            return (f"every row is off by the bias, column by column ({_numbers(offset[0])}): "
                    f"the bias is added twice")
    if got.shape[0] < 2:
        return None
    column = offset.mean(axis=0)  # (columns,)
    if np.allclose(column, 0.0) or not near(offset, np.broadcast_to(column, offset.shape)):
        return None
    return (f"every row is off by the same constant per column ({_numbers(column)}): a bias "
            f"missing, added twice or taken from the wrong place")


def ratio_is_a_count(got, want, counts):
    """`got` is `want` times, or divided by, one of `counts` ({what: n}): a sum where a mean
    belongs, or the reverse."""
    if got.shape != want.shape or not np.any(want != 0):
        return None
    for what, count in counts.items():
        if count <= 1:
            continue
        if near(got, want * count):
            return (f"it is {count} times the expected value, {count} being {what}: a sum "
                    f"where a mean belongs")
        if near(got * count, want):
            return (f"it is the expected value divided by {count}, {count} being {what}: a "
                    f"mean where a sum belongs")
    return None


def transposed(got, want):
    """`got` is `want` transposed (a weight in (out, in) where (in, out) is meant, or the
    reverse; a batch laid out the other way)."""
    if got.ndim != 2 or got.T.shape != want.shape or near(got, want):
        return None
    if near(got.T, want):
        return (f"it is the expected {want.shape[0]}x{want.shape[1]} array transposed: "
                f"(in, out) and (out, in) swapped somewhere")
    return None


def sign_flipped(got, want):
    """`got` is `-want`."""
    if got.shape != want.shape or not np.any(want != 0) or not near(got, -want):
        return None
    return "it is the expected value with its sign flipped"


def step_sign_flipped(got, want, before):
    """Parameters moved from `before` by the expected step, the other way: gradient ascent."""
    if got.shape != want.shape or near(want, before):
        return None
    if near(got - before, -(want - before)):
        return ("the parameters moved by the expected step in the opposite direction: gradient "
                "ascent (add -learning_rate x gradient, and check the loss's sign)")
    return None


def step_scaled_by_learning_rate(got, want, before, learning_rate):
    """Parameters moved from `before` by the expected step divided, or multiplied, by the
    learning rate: the rate left out, or applied twice."""
    if got.shape != want.shape or near(want, before) or not 0 < learning_rate < 1:
        return None
    step_got, step_want = got - before, want - before
    if near(step_got * learning_rate, step_want):
        return (f"the parameters moved by the expected step divided by the learning rate "
                f"({learning_rate:.4g}): the gradient is applied without the learning rate")
    if near(step_got, step_want * learning_rate):
        return (f"the parameters moved by the expected step times the learning rate "
                f"({learning_rate:.4g}): the learning rate is applied twice")
    return None


def step_ratio_is_a_count(got, want, before, counts):
    """Parameters moved from `before` by a count times the expected step: the loss is a sum
    where a mean belongs (or the reverse)."""
    if got.shape != want.shape or near(want, before):
        return None
    sentence = ratio_is_a_count(got - before, want - before, counts)
    if sentence is None:
        return None
    return "the step " + sentence.removeprefix("it ").replace("value", "step") + " in the loss"


def matches_another(got, want, alternatives):
    """`got` equals one of `alternatives` ({sentence: array}, what the check's inputs give under
    a plausible other formula) and `want` does not: that sentence."""
    for sentence, value in alternatives.items():
        value = np.asarray(value, dtype=np.float64)
        if near(got, value) and not near(want, value):
            return sentence
    return None
