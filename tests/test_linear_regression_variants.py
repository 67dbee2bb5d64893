"""Plausible buggy variants of the linear-regression references each fail a named check."""

import textwrap

import pytest

VARIANTS = {
    "torch_without_zero_grad": ("linear_regression_torch", """
        def sgd_step(model, x, y, learning_rate):
            loss = mse_loss(predict(model, x), y)
            loss.backward()
            with torch.no_grad():
                for parameter in model.parameters():
                    parameter -= learning_rate * parameter.grad
            return loss.detach()
    """, "three_consecutive_steps_match_the_reference"),
    "torch_prediction_squeezed": ("linear_regression_torch", """
        def predict(model, x):
            return model(x).squeeze(-1)
    """, "prediction_matches_the_reference_for_given_weights"),
    "jax_loss_summed": ("linear_regression_jax", """
        def mse_loss(predictions, targets):
            return jnp.sum((predictions - targets) ** 2)
    """, "loss_is_the_mean_squared_error_over_all_elements"),
    "jax_python_float_under_jit": ("linear_regression_jax", """
        def sgd_step(params, x, y, learning_rate):
            loss, grads = jax.value_and_grad(loss_fn)(params, x, y)
            rate = float(learning_rate)
            return jax.tree.map(lambda p, g: p - rate * g, params, grads), loss
    """, "step_under_jit_matches_the_reference"),
}


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_a_buggy_variant_fails_its_named_check(variant, grade_json, learner_file, only_checks):
    item_id, override, check_name = VARIANTS[variant]
    only_checks(f"test_{check_name}")  # grade verify proves the reference passes the others
    path = learner_file(item_id, extra=textwrap.dedent(override))
    code, report = grade_json(item_id, "--file", path)
    status = {check["name"]: check["status"] for check in report["checks"]}
    assert code == 1, f"{variant}: exit {code}"
    assert check_name in status, f"{variant}: no check named {check_name}: {sorted(status)}"
    assert status[check_name] in ("failed", "error"), (
        f"{variant}: {check_name} was {status[check_name]}, expected failed or error")


def test_a_buggy_variant_gets_the_same_score_whatever_the_seed(grade_json, learner_file):
    item_id, override, _ = VARIANTS["torch_prediction_squeezed"]
    path = learner_file(item_id, extra=textwrap.dedent(override))
    scores = {seed: grade_json(item_id, "--file", path, "--seed", seed)[1]["score"]
              for seed in (1, 2, 3)}
    assert len(set(scores.values())) == 1, f"scores by seed: {scores}"


def test_fit_with_the_seeds_summed_unsquared_loss_is_told_that_training_diverged(
        grade_json, learner_file, only_checks):
    # the seed-000 snippet's loss: `(z - y).sum()`, no square, no mean; fit trains on it
    only_checks("fit_reaches_the_least_squares_optimum_with_one_output")
    path = learner_file("linear_regression_torch", extra=textwrap.dedent("""
        def mse_loss(predictions, targets):
            return (predictions - targets).sum()
    """))
    code, report = grade_json("linear_regression_torch", "--file", path)
    (check,) = report["checks"]
    assert code == 1 and check["status"] == "failed", f"exit {code}: {check}"
    assert "training diverged" in check["message"], check["message"]
    assert "above the targets' variance" in check["message"], check["message"]
    assert "Train for more steps" not in check["message"], check["message"]


def test_a_prediction_without_the_bias_is_told_that_the_bias_is_missing(
        grade_json, learner_file, only_checks):
    only_checks("prediction_matches_the_reference_for_given_weights")
    path = learner_file("linear_regression_jax", extra=textwrap.dedent("""
        def predict(params, x):
            return x @ params["linear"]["weight"]
    """))
    code, report = grade_json("linear_regression_jax", "--file", path)
    (check,) = report["checks"]
    assert code == 1 and check["status"] == "failed", f"exit {code}: {check}"
    assert "values differ from the reference: max abs diff" in check["message"], check["message"]
    assert "Diagnosis: every row is off by minus the bias" in check["message"], check["message"]
    assert check["message"].endswith("the bias is missing."), check["message"]


def test_a_summed_loss_is_told_that_it_is_a_sum_where_a_mean_belongs(
        grade_json, learner_file, only_checks):
    only_checks("loss_is_the_mean_squared_error_over_all_elements")
    item_id, override, _ = VARIANTS["jax_loss_summed"]
    code, report = grade_json(item_id, "--file", learner_file(item_id, textwrap.dedent(override)))
    (check,) = report["checks"]
    assert code == 1 and check["status"] == "failed", f"exit {code}: {check}"
    assert "a sum where a mean belongs" in check["message"], check["message"]
