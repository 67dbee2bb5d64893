"""The seeds' own Q-learning code, graded by the real grader: every check's verdict, and a
message that names the mistake wherever a check fails (issue 16, point 1).

The submissions (tests/seed_code/qlearning_*.py) are the code of the bank's source documents,
adapted only as far as each interface needs; their header comments say what was adapted. A
regression in a verdict or in the feedback that names a mistake fails a test here.
"""

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SEED_CODE = ROOT / "tests" / "seed_code"
SEED = 7  # the grading seed of the default checks (tasks 1-4): their draws do not decide them
TRAINING = "training_learns_a_greedy_policy_optimal_from_the_start_state"
GRADING_SEEDS = (1, 2, 3, 4, 5)  # the seeds' training loop must fail task 5 for every one

PAST_THE_END = "the target bootstraps past the end of the episode"
ONLINE = "the TD targets come from the online network"
GRAD_GIVEN_A_VALUE = "`loss` is a value"

# check name -> (verdict, a phrase its message must hold, or None for a pass)
TORCH = {
    "network_holds_fc1_and_fc2_with_the_reference_shapes_in_float32": ("passed", None),
    "q_values_match_the_reference_for_given_weights": ("passed", None),
    "td_targets_match_the_reference": ("failed", PAST_THE_END),
    "td_targets_of_terminal_transitions_are_the_rewards": ("failed", PAST_THE_END),
    "loss_matches_the_reference_with_separate_target_weights": ("failed", ONLINE),
    "the_loss_sends_no_gradient_to_the_target_network": (
        "failed", "the loss does not read the target network"),
    "one_train_step_matches_the_reference": ("failed", ONLINE),
    "three_train_steps_match_the_reference_and_leave_the_target_network_alone": (
        "failed", ONLINE),
    "epsilon_zero_always_picks_the_greedy_action": ("passed", None),
    "epsilon_one_picks_every_action_equally_often": ("passed", None),
    "epsilon_greedy_shares_match_epsilon": ("passed", None),
}
JAX = {
    "params_hold_fc1_and_fc2_with_the_reference_shapes_in_float32": ("passed", None),
    "q_values_match_the_reference_for_given_weights": ("passed", None),
    "td_targets_match_the_reference": ("failed", PAST_THE_END),
    "td_targets_of_terminal_transitions_are_the_rewards": ("failed", PAST_THE_END),
    "loss_matches_the_reference_with_separate_target_params": ("failed", ONLINE),
    "the_loss_sends_no_gradient_to_the_target_params": (
        "failed", "the loss does not read the target params"),
    "one_train_step_matches_the_reference": ("error", GRAD_GIVEN_A_VALUE),
    "three_train_steps_match_the_reference_and_leave_the_target_params_alone": (
        "error", GRAD_GIVEN_A_VALUE),
    "epsilon_zero_always_picks_the_greedy_action": (
        "failed", "select_action ignores epsilon and q_values"),
    "epsilon_one_picks_every_action_equally_often": ("passed", None),
    "epsilon_greedy_shares_match_epsilon": ("failed", "select_action ignores epsilon and q_values"),
    TRAINING: ("error", GRAD_GIVEN_A_VALUE),
}


def assert_verdicts(report, expected):
    checks = {check["name"]: check for check in report["checks"]}
    assert sorted(checks) == sorted(expected), sorted(checks)
    for name, (status, phrase) in expected.items():
        check = checks[name]
        assert check["status"] == status, f"{name}: {check['status']}: {check['message']}"
        if phrase is not None:
            assert phrase in check["message"], f"{name}: {check['message']}"


@pytest.mark.slow
def test_the_seeds_torch_code_gets_each_verdict_and_a_message_naming_each_mistake(
        grade_json, only_checks):
    only_checks(f"not {TRAINING}")  # task 5 has its own test below: it trains for minutes
    code, report = grade_json("qlearning_torch", "--file", SEED_CODE / "qlearning_torch.py",
                              "--seed", SEED)
    assert code == 1
    assert_verdicts(report, TORCH)


@pytest.mark.slow
def test_the_seeds_jax_code_gets_each_verdict_and_a_message_naming_each_mistake(grade_json):
    code, report = grade_json("qlearning_jax", "--file", SEED_CODE / "qlearning_jax.py",
                              "--seed", SEED)
    assert code == 1
    assert_verdicts(report, JAX)
    training = next(c for c in report["checks"] if c["name"] == TRAINING)
    assert "argnums=1" in training["message"], training["message"]  # jax's own words stay


@pytest.mark.slow
@pytest.mark.parametrize("grading_seed", GRADING_SEEDS)
def test_the_seeds_training_loop_fails_task_5_for_every_grading_seed(
        grading_seed, grade_json, only_checks):
    only_checks(TRAINING)
    code, report = grade_json("qlearning_torch", "--file", SEED_CODE / "qlearning_torch.py",
                              "--seed", grading_seed)
    (check,) = report["checks"]
    assert code == 1 and check["status"] in ("failed", "timeout"), check
    if check["status"] == "failed":
        assert "optimal from the start state in" in check["message"], check["message"]
