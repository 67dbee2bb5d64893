"""Hidden suite for linear_regression_torch.

Each check runs one probe on the learner's module and on the reference solution with the same
freshly drawn float32 inputs, and compares the two results here:

1. build_model's state_dict holds exactly "linear.weight" (out, in) and "linear.bias" (out,),
   float32, and predict matches the reference for given weights on inputs of several shapes.
2. mse_loss returns a 0-d tensor equal to the mean of the squared errors over all elements.
3. sgd_step from given weights gives the reference's updated weights and loss, for one step and
   for three consecutive steps (gradients must not leak from one call into the next).
4. fit reaches the least-squares optimum: the training MSE of the returned weights, computed
   here in float64, is at most optimum * 1.01 + 1e-4; once with one output, once with three.

Every check that takes shapes runs on all three of draw_shapes (or draw_sizes): out_features 1,
2 and 3 each once, in_features 1 once, and one single example; the float32 check, which no shape
can change, runs once, always with out_features 1. So the same file gets the same score
whatever the seed.
"""

import numpy as np
import pytest

from grader.expect import expect_close, expect_keys, require_array
from grader.topics.linear_regression import (
    diagnose_loss,
    diagnose_prediction,
    diagnose_steps,
    draw_batch,
    draw_regression_data,
    draw_shapes,
    draw_sizes,
    expect_near_optimum,
    shape_of,
    with_one_output,
)


# --- drawing inputs ------------------------------------------------------------------------------


def draw_weights(rng, in_features, out_features):
    """A weight in PyTorch's (out, in) layout and a bias, float32.

    They are drawn in the canonical (in, out) layout and transposed: nn.Linear stores the
    weight as (out_features, in_features).
    """
    weight = rng.normal(size=(in_features, out_features)).astype(np.float32)  # (in, out)
    bias = rng.normal(size=(out_features,)).astype(np.float32)  # (out,)
    return np.ascontiguousarray(weight.T), bias  # (out, in), (out,)


# --- judging -------------------------------------------------------------------------------------


def expect_fit_reaches_optimum(workers, x, y):
    want, got = workers.both("fit_weights", x=x, y=y)
    call = f"fit(x.shape={x.shape}, y.shape={y.shape})"
    for name in ("weight", "bias"):
        array = require_array(got[name], call)
        if array.shape != want[name].shape:
            raise AssertionError(
                f"Called `{call}`. The trained {name} has shape {array.shape} "
                f"(read as (in, out) from linear.weight.T), expected {want[name].shape}."
            )
    expect_near_optimum(call, "model", got["weight"], got["bias"], x, y)


# --- task 1: the model and its prediction -------------------------------------------------------


@pytest.mark.task(1)
def test_model_holds_linear_weight_and_bias_with_the_reference_shapes(workers, rng, run_rng):
    for in_features, out_features in draw_sizes(run_rng):
        want, got = workers.both("parameter_shapes", in_features=in_features,
                                 out_features=out_features)
        call = f"build_model({in_features}, {out_features}).state_dict()"
        expect_keys(got["shapes"], want["shapes"], call)
        for name, want_sizes in want["shapes"].items():
            got_shape, want_shape = shape_of(got["shapes"][name]), shape_of(want_sizes)
            if got_shape != want_shape:
                raise AssertionError(
                    f"Called `{call}`. {name!r} has shape {got_shape}, expected {want_shape} "
                    f"(nn.Linear stores the weight as (out_features, in_features))."
                )


@pytest.mark.task(1)
def test_parameters_are_float32(workers, rng, run_rng):
    in_features, out_features = with_one_output(draw_sizes(run_rng))  # the dtype is shape-blind
    want, got = workers.both("parameter_shapes", in_features=in_features,
                             out_features=out_features)
    call = f"build_model({in_features}, {out_features}).state_dict()"
    expect_keys(got["dtypes"], want["dtypes"], call)
    for name, want_dtype in want["dtypes"].items():
        if got["dtypes"][name] != want_dtype:
            raise AssertionError(
                f"Called `{call}`. {name!r} is {got['dtypes'][name]}, expected {want_dtype}."
            )


@pytest.mark.task(1)
def test_prediction_matches_the_reference_for_given_weights(workers, rng, run_rng, tol):
    for batch, in_features, out_features in draw_shapes(run_rng):
        weight, bias = draw_weights(rng, in_features, out_features)
        x, _ = draw_batch(rng, batch, in_features, out_features)
        want, got = workers.both("predict_with_weights", weight=weight, bias=bias, x=x)
        call = (f"predict(model, x.shape={x.shape}) with linear.weight.shape={weight.shape}, "
                f"linear.bias.shape={bias.shape}")
        expect_close(got, want, call, rtol=tol.rtol, atol=tol.atol,
                     diagnose=diagnose_prediction(bias))


# --- task 2: the loss ----------------------------------------------------------------------------


@pytest.mark.task(2)
def test_loss_is_a_zero_dimensional_tensor(workers, rng, run_rng):
    for batch, _, out_features in draw_shapes(run_rng):
        predictions, targets = draw_batch(rng, batch, out_features, out_features)
        want, got = workers.both("loss", predictions=predictions, targets=targets)
        call = f"mse_loss(predictions.shape={predictions.shape}, targets.shape={targets.shape})"
        got = require_array(got, call)
        if got.shape != want.shape:
            raise AssertionError(
                f"Called `{call}`. Returned shape {got.shape}, expected a 0-d tensor "
                f"(shape {want.shape}): reduce with .mean() over all elements."
            )


@pytest.mark.task(2)
def test_loss_is_the_mean_squared_error_over_all_elements(workers, rng, run_rng, tol):
    for batch, _, out_features in draw_shapes(run_rng):
        predictions, targets = draw_batch(rng, batch, out_features, out_features)
        want, got = workers.both("loss", predictions=predictions, targets=targets)
        got = require_array(got, "mse_loss(predictions, targets)")
        if got.size == 1:  # the 0-d requirement is checked on its own
            got = got.reshape(())
        call = f"mse_loss(predictions.shape={predictions.shape}, targets.shape={targets.shape})"
        expect_close(got, want, call, rtol=tol.rtol, atol=tol.atol,
                     diagnose=diagnose_loss(batch, out_features, predictions, targets))


# --- task 3: one step of gradient descent --------------------------------------------------------


def check_steps(workers, rng, tol, steps, shapes):
    """`steps` calls of sgd_step on one model, for each of `shapes` (default: the
    three of draw_shapes).

    The weights are compared first: their shape and the position of the worst value say more
    than the losses, which the probe always returns as (steps,).
    """
    for batch, in_features, out_features in shapes:
        weight, bias = draw_weights(rng, in_features, out_features)
        x, y = draw_batch(rng, batch, in_features, out_features)
        learning_rate = float(rng.uniform(0.01, 0.2))
        before = {"weight": weight, "bias": bias}
        want, got = workers.both("sgd_steps", weight=weight, bias=bias, x=x, y=y,
                                 learning_rate=learning_rate, steps=steps)
        call = (f"sgd_step(model, x.shape={x.shape}, y.shape={y.shape}, "
                f"learning_rate={learning_rate:.4g})")
        if steps > 1:
            call = f"{call} {steps} times on the same model"
        losses = "the returned loss" if steps == 1 else "the returned losses, in order"
        for name, what in (("weight", "linear.weight afterwards"),
                           ("bias", "linear.bias afterwards"), ("losses", losses)):
            diagnose = diagnose_steps(name, before, x, y, learning_rate, steps,
                                      weight_layout="out_in")
            expect_close(got[name], want[name], f"{call}: {what}", rtol=tol.rtol, atol=tol.atol,
                         diagnose=diagnose)


@pytest.mark.task(3)
def test_one_step_returns_the_loss_and_updates_the_weights_like_the_reference(
        workers, rng, run_rng, tol):
    check_steps(workers, rng, tol, steps=1,
                shapes=draw_shapes(run_rng))


@pytest.mark.task(3)
def test_three_consecutive_steps_match_the_reference(workers, rng, run_rng, tol):
    # gradients leaking from one call into the next show on any shape: one is enough
    one_output = [shape for shape in draw_shapes(run_rng) if shape[2] == 1]
    check_steps(workers, rng, tol, steps=3, shapes=one_output)


# --- task 4: training ----------------------------------------------------------------------------


@pytest.mark.task(4)
def test_fit_reaches_the_least_squares_optimum_with_one_output(workers, rng):
    num_examples, in_features = int(rng.integers(64, 257)), int(rng.integers(1, 9))
    x, y = draw_regression_data(rng, num_examples, in_features, out_features=1)
    expect_fit_reaches_optimum(workers, x, y)


@pytest.mark.task(4)
def test_fit_reaches_the_optimum_with_few_examples_many_features_and_outputs(workers, rng):
    x, y = draw_regression_data(rng, num_examples=64, in_features=8, out_features=3)
    expect_fit_reaches_optimum(workers, x, y)
