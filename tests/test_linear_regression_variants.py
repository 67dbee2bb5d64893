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
def test_a_buggy_variant_fails_its_named_check(variant, grade_json, learner_file):
    item_id, override, check_name = VARIANTS[variant]
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
