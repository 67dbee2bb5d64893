"""The judge's diagnosis of value mismatches: each hypothesis holds on the arrays of the mistake
it names and on no others, and expect_close ends its message with the first that holds."""

import numpy as np
import pytest

from grader import expect
from grader.topics import diagnosis, linear_regression, qlearning

RNG = np.random.default_rng(0)
WANT = RNG.normal(size=(6, 3))  # (batch, out_features)
BIAS = RNG.normal(size=3)  # (out,)
OTHER = RNG.normal(size=(6, 3))  # an unrelated mistake: no hypothesis may hold on it


def test_a_missing_bias_is_named_from_the_bias_the_check_loaded():
    sentence = diagnosis.offset_per_column(WANT - BIAS, WANT, bias=BIAS)
    assert sentence and "the bias is missing" in sentence, sentence


def test_a_doubled_bias_is_named_even_on_a_single_row():
    sentence = diagnosis.offset_per_column(WANT[:1] + BIAS, WANT[:1], bias=BIAS)
    assert sentence and "added twice" in sentence, sentence


def test_a_constant_offset_per_column_is_named_without_knowing_the_bias():
    offset = np.array([0.5, -1.0, 2.0])
    sentence = diagnosis.offset_per_column(WANT + offset, WANT)
    assert sentence and "same constant per column ([0.5, -1.0, 2.0])" in sentence, sentence
    assert diagnosis.offset_per_column(OTHER, WANT) is None
    assert diagnosis.offset_per_column(WANT[:1] + offset, WANT[:1]) is None  # one row: any diff


def test_a_sum_where_a_mean_belongs_is_named_with_its_count():
    counts = {"the batch size": 6, "the number of elements": 18}
    sentence = diagnosis.ratio_is_a_count(np.array(18 * 0.7), np.array(0.7), counts)
    assert sentence and "18 times" in sentence and "the number of elements" in sentence
    sentence = diagnosis.ratio_is_a_count(np.array(0.7 / 6), np.array(0.7), counts)
    assert sentence and "divided by 6" in sentence and "a mean where a sum belongs" in sentence
    assert diagnosis.ratio_is_a_count(np.array(0.9), np.array(0.7), counts) is None


def test_a_transposed_result_is_named():
    sentence = diagnosis.transposed(WANT.T, WANT)
    assert sentence and "transposed" in sentence, sentence
    square = RNG.normal(size=(4, 4))
    assert diagnosis.transposed(square.T, square) and diagnosis.transposed(OTHER, WANT) is None


def test_a_flipped_sign_is_named():
    assert "sign flipped" in diagnosis.sign_flipped(-WANT, WANT)
    assert diagnosis.sign_flipped(OTHER, WANT) is None


def test_gradient_ascent_is_named_from_the_weights_before_the_step():
    before, step = RNG.normal(size=(3, 2)), RNG.normal(size=(3, 2))
    sentence = diagnosis.step_sign_flipped(before + step, before - step, before)
    assert sentence and "gradient ascent" in sentence, sentence
    assert diagnosis.step_sign_flipped(before + 2 * step, before - step, before) is None


def test_a_step_without_or_with_twice_the_learning_rate_is_named():
    before, gradient, rate = RNG.normal(size=(3, 2)), RNG.normal(size=(3, 2)), 0.05
    want = before - rate * gradient
    without = diagnosis.step_scaled_by_learning_rate(before - gradient, want, before, rate)
    assert without and "without the learning rate" in without, without
    twice = diagnosis.step_scaled_by_learning_rate(before - rate**2 * gradient, want, before, rate)
    assert twice and "applied twice" in twice, twice
    assert diagnosis.step_scaled_by_learning_rate(OTHER[:3, :2], want, before, rate) is None


def test_a_step_from_a_summed_loss_is_named():
    before, step = RNG.normal(size=(3, 2)), RNG.normal(size=(3, 2))
    sentence = diagnosis.step_ratio_is_a_count(before - 12 * step, before - step, before,
                                               {"the number of elements": 12})
    assert sentence and sentence.startswith("the step is 12 times the expected step"), sentence


def test_td_targets_bootstrapped_past_the_end_are_named():
    rewards, next_q = RNG.normal(size=5), RNG.normal(size=(5, 3))
    dones, gamma = np.array([0.0, 1.0, 0.0, 1.0, 0.0]), 0.9
    want = rewards + gamma * (1 - dones) * next_q.max(axis=1)
    got = rewards + gamma * next_q.max(axis=1)
    sentence = qlearning.bootstrapped_past_the_end(got, want, next_q, dones, gamma)
    assert sentence and "only on the 2 transitions with done=1" in sentence, sentence
    assert qlearning.bootstrapped_past_the_end(-want, want, next_q, dones, gamma) is None


def test_first_of_says_the_first_hypothesis_that_holds_and_none_when_none_holds():
    diagnose = linear_regression.diagnose_prediction(BIAS)
    assert "the bias is missing" in diagnose(WANT - BIAS, WANT)
    assert "sign flipped" in diagnose(-WANT, WANT)
    assert diagnose(OTHER, WANT) is None


def test_expect_close_ends_a_value_mismatch_with_the_diagnosis_and_keeps_the_numbers():
    want = WANT.astype(np.float32)
    got = (WANT - BIAS).astype(np.float32)
    with pytest.raises(AssertionError) as failure:
        expect.expect_close(got, want, "predict(model, x)", rtol=1e-5, atol=1e-6,
                            diagnose=linear_regression.diagnose_prediction(BIAS))
    message = str(failure.value)
    assert "values differ from the reference: max abs diff" in message, message
    assert message.endswith("the bias is missing."), message


def test_expect_close_diagnoses_a_transposed_shape():
    with pytest.raises(AssertionError, match=r"shape \(3, 6\).*Diagnosis: .*transposed"):
        expect.expect_close(WANT.T.astype(np.float32), WANT.astype(np.float32), "f()",
                            rtol=1e-5, atol=1e-6, diagnose=diagnosis.transposed)


def test_a_diagnosis_that_raises_leaves_the_message_as_it_was():
    def broken(got, want):
        raise ValueError("boom")

    with pytest.raises(AssertionError) as failure:
        expect.expect_close(OTHER.astype(np.float32), WANT.astype(np.float32), "f()",
                            rtol=1e-5, atol=1e-6, diagnose=broken)
    assert "Diagnosis" not in str(failure.value) and "max abs diff" in str(failure.value)


def test_a_result_equal_to_another_formula_is_named_and_nothing_else_is():
    alternatives = {"it is the other formula": WANT + 1.0}
    assert diagnosis.matches_another(WANT + 1.0, WANT, alternatives) == "it is the other formula"
    assert diagnosis.matches_another(OTHER, WANT, alternatives) is None
    assert diagnosis.matches_another(WANT, WANT, {"it is the right one": WANT}) is None


def linear_problem():
    x, y = RNG.normal(size=(6, 2)), RNG.normal(size=(6, 3))  # (batch, in), (batch, out)
    weight, bias = RNG.normal(size=(2, 3)), RNG.normal(size=3)  # (in, out), (out,)
    return x, y, weight, bias


def descend(weight, bias, x, y, learning_rate, steps, gradient_of):
    """Plain gradient descent, the losses before each step, for a loss given by its gradient
    with respect to the residuals (written here independently of the topic's)."""
    losses = []
    for _ in range(steps):
        residuals = x @ weight + bias - y
        losses.append(np.mean(residuals ** 2))
        gradient = gradient_of(residuals)
        weight = weight - learning_rate * x.T @ gradient
        bias = bias - learning_rate * gradient.sum(axis=0)
    return weight, bias, np.asarray(losses)


def test_an_unsquared_summed_loss_and_a_mean_absolute_error_are_named():
    x, y, weight, bias = linear_problem()
    predictions = x @ weight + bias
    want = np.array(np.mean((predictions - y) ** 2))
    diagnose = linear_regression.diagnose_loss(6, 3, predictions, y)
    sentence = diagnose(np.array((predictions - y).sum()), want)  # the seed-000 `(z - y).sum()`
    assert sentence and "the sum of (predictions - targets), unsquared" in sentence, sentence
    sentence = diagnose(np.array(np.abs(predictions - y).mean()), want)
    assert sentence and "|predictions - targets|" in sentence, sentence
    assert diagnose(np.array(0.123), want) is None


def test_a_loss_summed_over_each_rows_outputs_is_named_with_the_number_of_outputs():
    x, y, weight, bias = linear_problem()
    residuals = x @ weight + bias - y
    sentence = linear_regression.diagnose_loss(6, 3)(
        np.array((residuals ** 2).sum(axis=1).mean()), np.array(np.mean(residuals ** 2)))
    assert sentence and "3 being the number of outputs" in sentence, sentence


@pytest.mark.parametrize("layout", ["in_out", "out_in"])
def test_steps_on_an_unsquared_summed_loss_are_named_in_either_weight_layout(layout):
    x, y, weight, bias = linear_problem()
    flip = (lambda array: array.T) if layout == "out_in" else (lambda array: array)
    right = descend(weight, bias, x, y, 0.1, 3, lambda r: 2 * r / r.size)
    summed = descend(weight, bias, x, y, 0.1, 3, np.ones_like)
    summed_losses = [float((x @ w + b - y).sum()) for w, b in
                     [(weight, bias)] + [descend(weight, bias, x, y, 0.1, k, np.ones_like)[:2]
                                         for k in (1, 2)]]
    before = {"weight": flip(weight), "bias": bias}
    for name, got, want in (("weight", flip(summed[0]), flip(right[0])),
                            ("bias", summed[1], right[1]),
                            ("losses", np.asarray(summed_losses), right[2])):
        diagnose = linear_regression.diagnose_steps(name, before, x, y, 0.1, 3,
                                                    weight_layout=layout)
        sentence = diagnose(got, want)
        assert sentence and "the sum of (predictions - targets), unsquared" in sentence, (
            name, sentence)
        assert diagnose(want + 0.5, want) is None, name


def test_a_shard_that_is_the_whole_batch_or_another_ranks_block_is_named():
    from grader.topics import distributed

    batch = RNG.normal(size=(6, 2))  # (rows, features), 3 rows per rank of 2
    diagnose = distributed.diagnose_block(batch, rank=0, world_size=2)
    sentence = diagnose(batch, batch[:3])
    assert sentence and "the whole batch" in sentence and "rows [0, 3)" in sentence, sentence
    sentence = diagnose(batch[3:], batch[:3])
    assert sentence and "rank 1's block" in sentence, sentence
    assert diagnose(batch[:3] + 1.0, batch[:3]) is None
