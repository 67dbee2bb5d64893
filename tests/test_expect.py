"""The judge's comparisons: dtype and shape before values, and messages that say what differs."""

from types import SimpleNamespace

import numpy as np
import pytest

from grader.expect import expect_close, expect_equal, expect_keys
from grader.topics.cnn import expect_adam_weights_close

CALL = "predict(params, x.shape=(4, 3))"


def test_equal_arrays_pass():
    array = np.linspace(0, 1, 12, dtype=np.float32).reshape(4, 3)
    expect_close(array.copy(), array, CALL, rtol=1e-4, atol=1e-5)


def test_a_broadcastable_shape_fails_on_shape():
    want = np.ones((4, 3), dtype=np.float32)
    with pytest.raises(AssertionError, match=r"Returned shape \(3,\) float32, expected shape "
                                             r"\(4, 3\) float32"):
        expect_close(np.ones(3, dtype=np.float32), want, CALL, rtol=1e-4, atol=1e-5)


def test_a_different_dtype_fails_even_with_equal_values():
    want = np.ones((4, 3), dtype=np.float32)
    with pytest.raises(AssertionError, match="float64, expected shape"):
        expect_close(want.astype(np.float64), want, CALL, rtol=1e-4, atol=1e-5)


def test_nan_fails_with_a_count():
    want = np.ones((2, 2), dtype=np.float32)
    got = want.copy()
    got[1, 0] = np.nan
    with pytest.raises(AssertionError, match="1 of 4 values are NaN or infinite"):
        expect_close(got, want, CALL, rtol=1e-4, atol=1e-5)


def test_a_value_difference_names_the_call_the_count_and_the_worst_place():
    want = np.zeros((4, 3), dtype=np.float32)
    got = want.copy()
    got[3, 1] = 0.5
    with pytest.raises(AssertionError) as caught:
        expect_close(got, want, CALL, rtol=1e-4, atol=1e-5)
    message = str(caught.value)
    assert message.startswith(f"Called `{CALL}`.") and "1 of 12 values differ" in message
    assert "max abs diff 0.5 at [3, 1]" in message, message


def test_something_that_is_not_an_array_fails():
    with pytest.raises(AssertionError, match="Returned list, expected an array"):
        expect_close([1.0], np.ones(1, dtype=np.float32), CALL, rtol=0, atol=0)


def test_exact_comparison_allows_no_difference():
    want = np.array([1, 2, 3])
    with pytest.raises(AssertionError):
        expect_equal(np.array([1, 2, 4]), want, CALL)


def test_keys_must_match_exactly():
    with pytest.raises(AssertionError, match="expected \\['bias', 'weight'\\]"):
        expect_keys({"weight": 1}, ["weight", "bias"], CALL)


# --- Adam steps: a weight whose gradient is zero up to rounding may step either way -------------

ADAM_TOL = SimpleNamespace(rtol=1e-4, atol=1e-5)
LEARNING_RATE = 2e-3


def adam_weights(rng, learning_rate=LEARNING_RATE):
    """(weights before, weights after one Adam step): a first step moves by lr x sign(grad)."""
    before = {"conv2.weight": rng.normal(size=(3, 3, 16, 32)).astype(np.float32),
              "bn1.running_mean": rng.normal(size=16).astype(np.float32)}
    signs = np.sign(rng.normal(size=before["conv2.weight"].shape)).astype(np.float32)
    after = {"conv2.weight": before["conv2.weight"] - learning_rate * signs,
             "bn1.running_mean": before["bn1.running_mean"]}
    return before, after, signs


def test_adam_weights_pass_with_a_stray_whose_gradient_sign_flipped_and_the_note_names_it():
    _, want, signs = adam_weights(np.random.default_rng(0))
    got = {name: array.copy() for name, array in want.items()}
    got["conv2.weight"][0, 0, 13, 25] += 2 * LEARNING_RATE * signs[0, 0, 13, 25]
    strays = expect_adam_weights_close(got, want, CALL, "params[{name!r}]", ADAM_TOL,
                                       LEARNING_RATE, steps=1)
    assert len(strays) == 1 and strays[0].startswith("1 of 4608 values of conv2.weight, off by up to 0.004"), strays


def test_adam_weights_with_another_learning_rate_fail_on_every_value():
    before, want, signs = adam_weights(np.random.default_rng(1))
    got = dict(want, **{"conv2.weight": before["conv2.weight"] - 1.1 * LEARNING_RATE * signs})
    with pytest.raises(AssertionError, match=r"of 4608 values differ from the reference"):
        expect_adam_weights_close(got, want, CALL, "params[{name!r}]", ADAM_TOL, LEARNING_RATE,
                                  steps=1)


@pytest.mark.parametrize("how", ["too_far", "too_many", "in_the_running_statistics", "nan"])
def test_adam_weights_fail_where_the_difference_is_more_than_strays(how):
    _, want, signs = adam_weights(np.random.default_rng(2))
    got = {name: array.copy() for name, array in want.items()}
    if how == "too_far":  # three learning rates off after one step: no sign flip does that
        got["conv2.weight"][1, 2, 3, 4] += 3 * LEARNING_RATE
    elif how == "too_many":  # one in a hundred values off: a mistake, not rounding
        got["conv2.weight"][..., ::4, ::25] += LEARNING_RATE
    elif how == "in_the_running_statistics":  # no Adam step moves them
        got["bn1.running_mean"][5] += LEARNING_RATE
    else:
        got["conv2.weight"][0, 0, 0, 0] = np.nan
    with pytest.raises(AssertionError, match=r"Called `predict"):
        expect_adam_weights_close(got, want, CALL, "params[{name!r}]", ADAM_TOL, LEARNING_RATE,
                                  steps=1)
