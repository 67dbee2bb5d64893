"""The judge's comparisons: dtype and shape before values, and messages that say what differs."""

import numpy as np
import pytest

from grader.expect import expect_close, expect_equal, expect_keys

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
