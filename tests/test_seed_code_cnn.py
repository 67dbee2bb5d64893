"""The source documents' own CNN code, plugged into each CNN interface (tests/seed_code/), is
graded by the real grader: every check's verdict is asserted, and the messages must name the
mistake (a mis-sized fc1 said once in the learner's terms, a key reused for every weight, the
jax.nn functions that do not exist), so a regression in feedback fails here.

One whole grading per item (the checks share it); on 2 busy cores each takes more than 20 s.
"""

from pathlib import Path

import pytest

SEED_CODE = Path(__file__).resolve().parent / "seed_code"
SHAPE_CHECK = "state_dict_has_the_stated_names_and_shapes"
LOAD_REFERS_TO_SHAPE_CHECK = f"the check `{SHAPE_CHECK}` says where"

# check name: (status, phrases its message must hold)
CNN_TORCH = {
    SHAPE_CHECK: ("failed", [
        "your fc1 takes 21632 inputs; after your pooling the flatten gives 32; the statement's "
        "table says 128",
        "bn1.running_mean", "which your model lacks", "your conv1.weight has shape (32, 1, 3, 3)",
    ]),
    "parameter_count_and_dtype_match_the_reference": ("failed", ["expected 13722"]),
    "logits_match_the_reference_in_evaluation_mode": ("failed", [LOAD_REFERS_TO_SHAPE_CHECK]),
    "evaluation_mode_leaves_the_running_statistics_unchanged": (
        "failed", [LOAD_REFERS_TO_SHAPE_CHECK]),
    "logits_match_the_reference_in_training_mode": ("failed", [LOAD_REFERS_TO_SHAPE_CHECK]),
    "training_mode_forward_updates_the_running_statistics": (
        "failed", [LOAD_REFERS_TO_SHAPE_CHECK]),
    "loss_and_gradients_match_the_reference_on_two_calls": (
        "failed", [LOAD_REFERS_TO_SHAPE_CHECK]),
    "one_adam_step_matches_the_reference": ("failed", [LOAD_REFERS_TO_SHAPE_CHECK]),
    "gradients_do_not_leak_across_adam_steps": ("failed", [LOAD_REFERS_TO_SHAPE_CHECK]),
    # the documents' forward itself cannot run on the digits: 32 features meet a 21632-input fc1
    "training_reaches_the_stated_accuracy_on_held_out_digits": (
        "error", ["mat1 and mat2 shapes cannot be multiplied (64x32 and 21632x128)"]),
    "predict_runs_in_evaluation_mode_with_the_running_statistics": (
        "failed", [LOAD_REFERS_TO_SHAPE_CHECK]),
    "evaluation_builds_no_graph": ("failed", [LOAD_REFERS_TO_SHAPE_CHECK]),
}

# every check that runs the network meets jax.nn.conv2d, which does not exist
NO_CONV2D = ("error", ["jax.nn", "conv2d"])
CNN_JAX = {
    "params_and_state_have_the_stated_names_and_shapes": ("failed", ["'bn1.weight'", "missing"]),
    "parameter_count_and_dtype_match_the_reference": ("failed", ["expected 13722"]),
    # named even though the names differ from the statement's: the key is the mistake here
    "every_array_is_drawn_from_a_key_of_its_own": ("failed", [
        "'conv1.weight' and 'fc1.weight'", "drawn from the same key", "jax.random.split"]),
    "logits_match_the_reference_in_evaluation_mode": NO_CONV2D,
    "evaluation_mode_returns_the_running_statistics_unchanged": NO_CONV2D,
    "logits_match_the_reference_in_training_mode": NO_CONV2D,
    "training_mode_returns_updated_running_statistics": NO_CONV2D,
    "forward_leaves_the_state_it_is_given_unchanged": NO_CONV2D,
    "loss_gradients_and_state_match_the_reference": NO_CONV2D,
    "one_adam_step_matches_the_reference": NO_CONV2D,
    "three_consecutive_adam_steps_match_the_reference": NO_CONV2D,
    "train_step_returns_the_updated_running_statistics": NO_CONV2D,
    "train_step_is_jit_compiled_once_and_reused": NO_CONV2D,
    "training_reaches_the_stated_accuracy_on_held_out_digits": NO_CONV2D,
    "predict_runs_in_evaluation_mode_with_the_running_statistics": NO_CONV2D,
}

EXPECTED = {"cnn_torch": CNN_TORCH, "cnn_jax": CNN_JAX}


@pytest.mark.slow
@pytest.mark.parametrize("item_id", sorted(EXPECTED))
def test_the_documents_cnn_code_gets_every_verdict_and_names_its_mistakes(item_id, grade_json):
    path = SEED_CODE / f"{item_id}_seed.py"
    code, report = grade_json(item_id, "--file", path)
    checks = {check["name"]: check for check in report["checks"]}
    expected = EXPECTED[item_id]
    assert sorted(checks) == sorted(expected), f"{item_id}: the suite's checks changed"
    for name, (status, phrases) in expected.items():
        check = checks[name]
        assert check["status"] == status, (
            f"{item_id}: {name} was {check['status']}, expected {status}: {check['message']}")
        for phrase in phrases:
            assert phrase in check["message"], (
                f"{item_id}: {name}: {phrase!r} not in the message: {check['message']}")
    assert code == 1 and report["score"] == 0, f"{item_id}: exit {code}, score {report['score']}"
    if item_id == "cnn_torch":
        # said once: no other check repeats the summary or torch's own dump
        summaries = [name for name, check in checks.items()
                     if "after your pooling" in check["message"]
                     or "Unexpected key(s)" in check["message"]]
        assert summaries == [SHAPE_CHECK], summaries
