"""The source documents' own code, graded: linear regression and distributed training.

Each file in tests/seed_code/ is what a learner gets by copying the documents' code for one
coding question into the item's interface (its header says what was adapted). The grading must
give every check the verdict that code deserves, and the message must name the mistake, so a
regression in feedback fails here. Gradings use a fixed seed: the verdicts hold for any seed,
but a fixed one keeps a failure reproducible.
"""

from pathlib import Path

import pytest

SEED_CODE = Path(__file__).resolve().parent / "seed_code"
SEED = "1"


def grade_seed_code(grade_json, item_id, name, load_error=None):
    """The checks of the report, by name; `load_error`, when given, a phrase the report's
    account of the file's failed import must hold."""
    code, report = grade_json(item_id, "--file", SEED_CODE / f"{name}.py", "--seed", SEED)
    assert code == 1, f"{name}: exit {code}: {report['checks']}"
    if load_error:
        assert load_error in (report["load_error"] or ""), report["load_error"]
    return {check["name"]: check for check in report["checks"]}


def expect_checks(checks, expected):
    """`expected`: {check name: (statuses allowed, phrases its message must hold)}; every check
    of the report is listed, so a new check makes the test say what it should get."""
    assert sorted(checks) == sorted(expected), f"checks: {sorted(checks)}"
    for name, (statuses, phrases) in expected.items():
        check = checks[name]
        assert check["status"] in statuses, f"{name} was {check['status']}: {check['message']}"
        for phrase in phrases:
            assert phrase in check["message"], f"{name}: {phrase!r} not in {check['message']!r}"


PASSED = ({"passed"}, ())
RANKED_CHECKS = ("data_parallel_steps_match_full_batch_gradient_descent",  # the distributed_torch
                 "training_matches_full_batch_gradient_descent")  # checks that launch ranks


def test_the_documents_torch_regression_passes_until_fit_which_is_told_to_train_longer(
        grade_json):
    # nn.MSELoss and torch.optim.SGD are right; 100 steps at learning rate 0.01 are too few
    fit = ({"failed"}, ("Train for more steps", "least-squares optimum"))
    expect_checks(grade_seed_code(grade_json, "linear_regression_torch",
                                  "linear_regression_torch_seed"), {
        "model_holds_linear_weight_and_bias_with_the_reference_shapes": PASSED,
        "parameters_are_float32": PASSED,
        "prediction_matches_the_reference_for_given_weights": PASSED,
        "loss_is_a_zero_dimensional_tensor": PASSED,
        "loss_is_the_mean_squared_error_over_all_elements": PASSED,
        "one_step_returns_the_loss_and_updates_the_weights_like_the_reference": PASSED,
        "three_consecutive_steps_match_the_reference": PASSED,
        "fit_reaches_the_least_squares_optimum_with_one_output": fit,
        "fit_reaches_the_optimum_with_few_examples_many_features_and_outputs": fit,
    })


@pytest.mark.slow  # a whole grading whose every step check differs: about 20 s on 2 cores
def test_the_documents_unsquared_summed_loss_is_named_in_the_loss_the_steps_and_fit(grade_json):
    unsquared = ({"failed"}, ("the sum of (predictions - targets), unsquared",
                              "square the errors, then take the mean"))
    diverged = ({"failed"}, ("training diverged", "above the targets' variance"))
    expect_checks(grade_seed_code(grade_json, "linear_regression_torch",
                                  "linear_regression_torch_seed_summed_loss"), {
        "model_holds_linear_weight_and_bias_with_the_reference_shapes": PASSED,
        "parameters_are_float32": PASSED,
        "prediction_matches_the_reference_for_given_weights": PASSED,
        "loss_is_a_zero_dimensional_tensor": PASSED,
        "loss_is_the_mean_squared_error_over_all_elements": unsquared,
        "one_step_returns_the_loss_and_updates_the_weights_like_the_reference": unsquared,
        "three_consecutive_steps_match_the_reference": unsquared,
        "fit_reaches_the_least_squares_optimum_with_one_output": diverged,
        "fit_reaches_the_optimum_with_few_examples_many_features_and_outputs": diverged,
    })


@pytest.mark.slow  # a whole JAX grading, compiling in most checks: about 30 s on 2 cores
def test_the_documents_jax_regression_is_told_that_the_bias_is_missing(grade_json):
    # one weight of shape (1,), no bias, and a loss that only differentiates the weight
    no_bias_key = ({"failed"}, ("missing ['linear.bias']",))
    no_bias_step = ({"failed"}, ("holding ['linear.weight'], expected ['linear.bias', "
                                 "'linear.weight']",))
    # in_features 1: the (1,) weight multiplies, and the params come back without a bias;
    # more features: jnp.dot meets the (1,) weight
    fit = ({"failed", "error"}, ())
    checks = grade_seed_code(grade_json, "linear_regression_jax", "linear_regression_jax_seed")
    expect_checks(checks, {
        "params_hold_linear_weight_and_bias_with_the_reference_shapes": no_bias_key,
        "parameters_are_float32": no_bias_key,
        "prediction_matches_the_reference_for_given_weights": (
            {"failed"}, ("every row is off by minus the bias", "the bias is missing")),
        "loss_is_a_zero_dimensional_array": PASSED,
        "loss_is_the_mean_squared_error_over_all_elements": PASSED,
        "one_step_returns_the_new_params_and_loss_like_the_reference": no_bias_step,
        "three_consecutive_steps_match_the_reference": no_bias_step,
        "step_under_jit_matches_the_reference": no_bias_step,
        "step_leaves_the_given_params_untouched": PASSED,
        "fit_reaches_the_least_squares_optimum_with_one_output": fit,
        "fit_reaches_the_optimum_with_few_examples_many_features_and_outputs": (
            {"error"}, ("got (8,) and (1,)", "return jnp.dot(x, w)")),
    })
    fit_message = checks["fit_reaches_the_least_squares_optimum_with_one_output"]["message"]
    assert "'linear.bias'" in fit_message or "and (1,)" in fit_message, fit_message


@pytest.mark.slow  # two launches of ranks, each waiting out a collective: minutes on 2 cores
def test_the_documents_torch_distributed_loop_is_told_its_barriers_are_not_on_every_rank(
        grade_json):
    # the whole batch on every rank, no gradient averaging, and dist.barrier() on rank 0 only:
    # rank 0 waits in a collective rank 1 never calls
    barrier = ({"timeout"}, ())
    checks = grade_seed_code(grade_json, "distributed_torch", "distributed_torch_seed")
    for name in RANKED_CHECKS:
        message = checks[name]["message"]
        # On an overloaded machine the ranks may start so slowly that the launch's deadline
        # comes before the collective gives up; then the message can only say that.
        if "had not finished after" not in message:
            assert "dist.barrier()" in message and "Every rank must call the same collectives " \
                "in the same order" in message, f"{name}: {message}"
    expect_checks(checks, {
        "each_rank_gets_its_own_contiguous_block_of_the_batch": (
            {"failed"}, ("it is the whole batch", "must keep only rows")),
        "data_parallel_steps_match_full_batch_gradient_descent": barrier,
        "every_rank_ends_the_steps_with_the_same_weights": barrier,
        "each_step_returns_the_loss_of_the_ranks_own_block": barrier,
        "training_matches_full_batch_gradient_descent": barrier,
        "every_rank_ends_training_with_the_same_weights": barrier,
        "each_rank_trains_on_its_own_block_only": barrier,
    })


def test_the_documents_jax_distributed_code_is_told_where_data_parallelism_lives(grade_json):
    # `from jax.experimental import parallel`: the file never loads
    not_loaded = ({"error"}, ("cannot import name 'parallel' from 'jax.experimental'",
                              "No `jax.experimental.parallel` here", "jax.shard_map",
                              "NamedSharding"))
    checks = grade_seed_code(grade_json, "distributed_jax", "distributed_jax_seed",
                             load_error="No `jax.experimental.parallel` here")
    expect_checks(checks, {
        name: not_loaded for name in (
            "each_device_holds_its_own_contiguous_block_of_the_batch",
            "the_sharded_batch_holds_the_same_values",
            "data_parallel_steps_match_full_batch_gradient_descent",
            "every_device_ends_the_steps_with_the_same_weights",
            "every_device_steps_with_the_gradient_combined_over_all_devices",
            "each_step_returns_the_loss_of_the_full_batch",
            "training_matches_full_batch_gradient_descent",
            "every_device_ends_training_with_the_same_weights")})
