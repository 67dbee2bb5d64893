"""Judge-side comparisons used by the hidden suites.

Everything here works on plain numpy arrays rebuilt by the channel. Each helper raises
`AssertionError` with a message that says what was called, what came back and what was expected.
"""

import numpy as np


def _describe(array):
    return f"shape {tuple(array.shape)} {array.dtype}"


def require_array(got, call):
    """`got` must be an ndarray (the channel only ever builds real ones)."""
    if not isinstance(got, np.ndarray):
        raise AssertionError(
            f"Called `{call}`. Returned {type(got).__name__}, expected an array."
        )
    return got


def _diagnosis(diagnose, got, want):
    """The message's ending " Diagnosis: ...", from `diagnose(got, want)` on float64 copies,
    or "" when no hypothesis holds.

    A diagnosis only adds words to a failure: one that raises says nothing.
    """
    if diagnose is None:
        return ""
    try:
        sentence = diagnose(np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64))
    except Exception:  # noqa: BLE001 - the verdict stands whatever the diagnosis does
        return ""
    return f" Diagnosis: {sentence}." if sentence else ""


def expect_close(got, want, call, rtol, atol, diagnose=None):
    """`got` matches `want` in dtype, shape and value (|got - want| <= atol + rtol * |want|).

    `diagnose(got, want)`, when given (a topic's hypotheses, grader/topics/diagnosis.py), is
    asked what a mismatch looks like; the first hypothesis that holds ends the message.
    """
    got = require_array(got, call)
    if got.dtype != want.dtype or got.shape != want.shape:
        hint = _diagnosis(diagnose, got, want) if got.shape != want.shape else ""
        raise AssertionError(
            f"Called `{call}`. Returned {_describe(got)}, expected {_describe(want)}.{hint}"
        )
    got64 = got.astype(np.float64)
    want64 = want.astype(np.float64)
    if not np.all(np.isfinite(got64)):
        bad = int(np.size(got64) - np.count_nonzero(np.isfinite(got64)))
        raise AssertionError(
            f"Called `{call}`. Returned {_describe(got)} as expected, but {bad} of "
            f"{got.size} values are NaN or infinite."
        )
    diff = np.abs(got64 - want64)
    allowed = atol + rtol * np.abs(want64)
    wrong = diff > allowed
    if np.any(wrong):
        worst = np.unravel_index(int(np.argmax(diff)), diff.shape) if diff.ndim else ()
        at = f" at {list(map(int, worst))}" if diff.ndim else ""
        raise AssertionError(
            f"Called `{call}`. Returned {_describe(got)} as expected, but "
            f"{int(np.count_nonzero(wrong))} of {got.size} values differ from the reference: "
            f"max abs diff {float(diff.max()):.3g}{at} (allowed {atol:g} + {rtol:g} x |expected|)."
            f"{_diagnosis(diagnose, got64, want64)}"
        )


def expect_equal(got, want, call):
    """Exact equality of dtype, shape and values (for integer results such as predictions)."""
    expect_close(got, want, call, rtol=0.0, atol=0.0)


def expect_keys(got, want_keys, call):
    """`got` is a dict with exactly these keys."""
    if not isinstance(got, dict):
        raise AssertionError(f"Called `{call}`. Returned {type(got).__name__}, expected a dict.")
    if sorted(got) != sorted(want_keys):
        missing, extra = sorted(set(want_keys) - set(got)), sorted(set(got) - set(want_keys))
        differences = "; ".join([f"missing {missing}"] * bool(missing) +
                                [f"not expected {extra}"] * bool(extra))
        raise AssertionError(
            f"Called `{call}`. Returned keys {sorted(got)}, expected {sorted(want_keys)} "
            f"({differences})."
        )
