"""Plausible buggy variants of the Q-learning references each fail a named check; the judge's
oracles (value iteration on FrozenLake, epsilon-greedy shares) hold on their own; and
`grade verify` holds for the pair.

Variants are graded on their named check only (a private bank whose pytest.ini selects it with
`-k`), with a fixed seed: `grade verify` already proves that the reference passes every check.
"""

import subprocess
import sys
import textwrap

import numpy as np
import pytest

from grader.topics import qlearning

# The seed of the CI runs: the references' training reaches the optimal policy for the seeds it
# draws (checked); a random seed could, rarely, make the reference miss and the run fail.
SEED = 7

VARIANTS = {
    "torch_without_terminal_masking": ("qlearning_torch", """
        def td_targets(rewards, next_q_values, dones, gamma):
            return rewards + gamma * next_q_values.max(dim=1).values
    """, "td_targets_of_terminal_transitions_are_the_rewards"),
    "torch_max_over_the_batch_axis": ("qlearning_torch", """
        def td_targets(rewards, next_q_values, dones, gamma):
            return rewards + gamma * (1.0 - dones) * next_q_values.max(dim=0).values
    """, "td_targets_match_the_reference"),
    "torch_online_network_for_the_target": ("qlearning_torch", """
        def dqn_loss(q_network, target_network, batch, gamma):
            with torch.no_grad():
                next_q_values = q_values(q_network, batch["next_states"])
                targets = td_targets(batch["rewards"], next_q_values, batch["dones"], gamma)
            chosen = q_values(q_network, batch["states"]).gather(
                1, batch["actions"].unsqueeze(1)).squeeze(1)
            return F.mse_loss(chosen, targets)
    """, "loss_matches_the_reference_with_separate_target_weights"),
    "torch_target_not_detached": ("qlearning_torch", """
        def dqn_loss(q_network, target_network, batch, gamma):
            next_q_values = q_values(target_network, batch["next_states"])
            targets = td_targets(batch["rewards"], next_q_values, batch["dones"], gamma)
            chosen = q_values(q_network, batch["states"]).gather(
                1, batch["actions"].unsqueeze(1)).squeeze(1)
            return F.mse_loss(chosen, targets)
    """, "the_loss_sends_no_gradient_to_the_target_network"),
    "torch_td_target_from_the_online_network_with_gradient": ("qlearning_torch", """
        def dqn_loss(q_network, target_network, batch, gamma):
            # the seeds' loss: the TD target from the network being trained, not detached
            next_q_values = q_values(q_network, batch["next_states"])
            targets = td_targets(batch["rewards"], next_q_values, batch["dones"], gamma)
            chosen = q_values(q_network, batch["states"]).gather(
                1, batch["actions"].unsqueeze(1)).squeeze(1)
            return F.mse_loss(chosen, targets)
    """, "the_loss_sends_no_gradient_to_the_target_network"),
    "torch_epsilon_inverted": ("qlearning_torch", """
        def select_action(q_values, epsilon):
            if torch.rand(()) < 1.0 - epsilon:
                return int(torch.randint(q_values.shape[0], ()))
            return int(q_values.argmax())
    """, "epsilon_zero_always_picks_the_greedy_action"),
    "torch_target_never_synced": ("qlearning_torch", """
        TARGET_SYNC_EVERY = 10**9  # the sync never comes: the targets stay those of the start
    """, "training_learns_a_greedy_policy_optimal_from_the_start_state"),
    "jax_max_over_the_batch_axis": ("qlearning_jax", """
        def td_targets(rewards, next_q_values, dones, gamma):
            return rewards + gamma * (1.0 - dones) * jnp.max(next_q_values, axis=0)
    """, "td_targets_match_the_reference"),
    "jax_without_stop_gradient": ("qlearning_jax", """
        def dqn_loss(params, target_params, batch, gamma):
            next_q_values = q_values(target_params, batch["next_states"])
            targets = td_targets(batch["rewards"], next_q_values, batch["dones"], gamma)
            chosen = jnp.take_along_axis(q_values(params, batch["states"]),
                                         batch["actions"][:, None], axis=1)[:, 0]
            return jnp.mean((chosen - targets) ** 2)
    """, "the_loss_sends_no_gradient_to_the_target_params"),
    "jax_without_terminal_masking": ("qlearning_jax", """
        def td_targets(rewards, next_q_values, dones, gamma):
            return rewards + gamma * jnp.max(next_q_values, axis=1)
    """, "td_targets_of_terminal_transitions_are_the_rewards"),
    "jax_online_params_for_the_target": ("qlearning_jax", """
        def dqn_loss(params, target_params, batch, gamma):
            next_q_values = q_values(params, batch["next_states"])
            targets = jax.lax.stop_gradient(
                td_targets(batch["rewards"], next_q_values, batch["dones"], gamma))
            chosen = jnp.take_along_axis(q_values(params, batch["states"]),
                                         batch["actions"][:, None], axis=1)[:, 0]
            return jnp.mean((chosen - targets) ** 2)
    """, "loss_matches_the_reference_with_separate_target_params"),
    "jax_td_target_from_the_online_params_with_gradient": ("qlearning_jax", """
        def dqn_loss(params, target_params, batch, gamma):
            # the seeds' loss: the TD target from the params being trained, no stop_gradient
            next_q_values = q_values(params, batch["next_states"])
            targets = td_targets(batch["rewards"], next_q_values, batch["dones"], gamma)
            chosen = jnp.take_along_axis(q_values(params, batch["states"]),
                                         batch["actions"][:, None], axis=1)[:, 0]
            return jnp.mean((chosen - targets) ** 2)
    """, "the_loss_sends_no_gradient_to_the_target_params"),
    "jax_one_key_for_coin_and_action": ("qlearning_jax", """
        def select_action(key, q_values, epsilon):
            coin = jax.random.uniform(key)  # the same draw decides and picks: correlated
            random_action = (coin * q_values.shape[0]).astype(jnp.int32)
            return jnp.where(coin < epsilon, random_action, jnp.argmax(q_values))
    """, "epsilon_greedy_shares_match_epsilon"),
    "jax_key_ignored": ("qlearning_jax", """
        def select_action(key, q_values, epsilon):
            key = jax.random.key(0)  # a fixed key: every draw is the same draw
            explore_key, action_key = jax.random.split(key)
            random_action = jax.random.randint(action_key, (), 0, q_values.shape[0])
            explore = jax.random.uniform(explore_key) < epsilon
            return jnp.where(explore, random_action, jnp.argmax(q_values))
    """, "epsilon_one_picks_every_action_equally_often"),
}


# What the named check's message must say, for the variants whose mistake it names.
MESSAGES = {
    "torch_td_target_from_the_online_network_with_gradient":
        "the loss does not read the target network",
    "jax_td_target_from_the_online_params_with_gradient":
        "the loss does not read the target params",
    "torch_without_terminal_masking": "the target bootstraps past the end of the episode",
    "jax_without_terminal_masking": "the target bootstraps past the end of the episode",
}


@pytest.mark.slow
@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_a_buggy_variant_fails_its_named_check(variant, grade_json, learner_file, bank_copy):
    item_id, override, check_name = VARIANTS[variant]
    ini = bank_copy / "grader" / "suites" / "pytest.ini"
    ini.write_text(ini.read_text() + f'addopts = -k "test_{check_name}"\n')
    path = learner_file(item_id, extra=textwrap.dedent(override))
    code, report = grade_json(item_id, "--file", path, "--seed", SEED)
    status = {check["name"]: check["status"] for check in report["checks"]}
    assert code == 1, f"{variant}: exit {code}"
    assert check_name in status, f"{variant}: no check named {check_name}: {sorted(status)}"
    assert status[check_name] in ("failed", "error"), (
        f"{variant}: {check_name} was {status[check_name]}, expected failed or error")
    if variant in MESSAGES:
        message = next(c["message"] for c in report["checks"] if c["name"] == check_name)
        assert MESSAGES[variant] in message, f"{variant}: {message}"


@pytest.mark.slow
def test_verify_holds_for_the_qlearning_pair(grade):
    result = grade("verify", "qlearning_torch", "qlearning_jax", "--device", "cpu", "--seed", SEED)
    assert result.exit_code == 0, result.output
    assert result.output.count("yes") == 2, result.output


# --- the target-gradient check, judge side: no seed lets a loss that ignores the target pass ---


def _numpy_q_values(weights, states):
    hidden = np.maximum(np.eye(weights["fc1.weight"].shape[0])[states] @ weights["fc1.weight"]
                        + weights["fc1.bias"], 0.0)  # (batch, hidden)
    return hidden @ weights["fc2.weight"] + weights["fc2.bias"]  # (batch, actions)


def _numpy_loss(weights, target_weights, batch, gamma):
    chosen = _numpy_q_values(weights, batch["states"])[np.arange(len(batch["actions"])),
                                                       batch["actions"]]  # (batch,)
    bootstrap = _numpy_q_values(target_weights, batch["next_states"]).max(axis=1)  # (batch,)
    targets = batch["rewards"] + gamma * (1.0 - batch["dones"]) * bootstrap
    return np.array(np.mean((chosen - targets) ** 2), dtype=np.float32)


class _Workers:
    """Stands in for the two workers: the reference reads the target weights; the learner's
    loss, like the seeds', takes its TD target from the online weights."""

    def __init__(self, learner_reads_target):
        self.learner_reads_target = learner_reads_target

    def both(self, probe, weights, target_weights, batch, gamma):
        if probe == "target_gradient":
            return {"target": 0.0, "online": 1.0}, {"target": 0.0, "online": 1.0}
        learner_target = target_weights if self.learner_reads_target else weights
        return (_numpy_loss(weights, target_weights, batch, gamma),
                _numpy_loss(weights, learner_target, batch, gamma))


@pytest.mark.parametrize("seed", range(8))
def test_a_loss_that_ignores_the_target_network_fails_the_target_check_for_every_seed(seed):
    rng = np.random.default_rng(seed)
    with pytest.raises(AssertionError, match="the loss does not read the target network"):
        qlearning.expect_no_target_gradient(_Workers(learner_reads_target=False), rng,
                                            "dqn_loss(...).backward()", "detach it",
                                            "dqn_loss(...)", "target network")


@pytest.mark.parametrize("seed", range(8))
def test_a_loss_that_reads_the_target_network_passes_the_target_check_for_every_seed(seed):
    rng = np.random.default_rng(seed)
    qlearning.expect_no_target_gradient(_Workers(learner_reads_target=True), rng,
                                        "dqn_loss(...).backward()", "detach it",
                                        "dqn_loss(...)", "target network")


# --- task 5, judge side: a rate over several trainings, stopped once decided ---------------------


def _optimal_q_values(table):
    values = qlearning.optimal_values(table)
    return table.rewards + qlearning.JUDGE_GAMMA * (~table.terminal) * values[table.next_states]


class _TrainingWorkers:
    """Stands in for the two workers of the training check: the reference's training is
    optimal; the learner's trainings are optimal or not, in the order `pattern` says."""

    def __init__(self, pattern):
        self.table = qlearning.environment_table()
        self.pattern = list(pattern)
        self.trainings = 0  # the learner's
        self.notes = []

    def note(self, text):
        self.notes.append(text)

    def both(self, probe, seed):
        return _optimal_q_values(self.table), self.learner(probe, seed=seed)

    def learner(self, probe, seed):
        assert probe == "trained_q_values"
        optimal = self.pattern[self.trainings]
        self.trainings += 1
        return _optimal_q_values(self.table) if optimal else np.zeros_like(self.table.rewards)


def _judge_trainings(pattern, notes=None):
    workers = _TrainingWorkers(pattern)
    qlearning.expect_training_optimal(workers, np.random.default_rng(0),
                                      lambda seed: f"train(env, seed={seed})")
    if notes is not None:
        notes.extend(workers.notes)
    return workers.trainings


def test_the_training_check_passes_at_the_stated_rate_and_stops_once_it_is_met():
    needed, allowed = qlearning.TRAININGS_NEEDED, qlearning.TRAININGS - qlearning.TRAININGS_NEEDED
    assert _judge_trainings([True] * qlearning.TRAININGS) == needed
    assert _judge_trainings([False] * allowed + [True] * needed) == qlearning.TRAININGS


def test_a_passed_training_check_says_how_many_trainings_were_optimal():
    needed, allowed = qlearning.TRAININGS_NEEDED, qlearning.TRAININGS - qlearning.TRAININGS_NEEDED
    notes = []
    _judge_trainings([False] * allowed + [True] * needed, notes)
    assert notes == [f"Optimal from the start state in {needed} of {qlearning.TRAININGS} "
                     f"trainings; {needed} of {qlearning.TRAININGS} needed."], notes


def test_the_training_check_fails_below_the_stated_rate_and_says_both_rates():
    needed, allowed = qlearning.TRAININGS_NEEDED, qlearning.TRAININGS - qlearning.TRAININGS_NEEDED
    pattern = [True] + [False] * (allowed + 1) + [True] * qlearning.TRAININGS
    with pytest.raises(AssertionError) as failure:
        _judge_trainings(pattern)
    message = str(failure.value)
    assert (f"optimal from the start state in 1 of {allowed + 2} trainings; {needed} of "
            f"{qlearning.TRAININGS} needed") in message, message
    assert message.count("- seed=") == allowed + 1, message  # each failed training, described
    assert "was still walking after 100 steps" in message, message


# --- the judge's oracles ---------------------------------------------------------------------


def test_value_iteration_finds_the_six_step_path_of_frozen_lake():
    table = qlearning.environment_table()
    assert qlearning.shortest_path_steps(table) == 6
    values = qlearning.optimal_values(table)
    assert values[table.start] == pytest.approx(qlearning.JUDGE_GAMMA ** 5)


def test_the_optimality_check_accepts_the_optimal_q_values_and_rejects_a_detour():
    table = qlearning.environment_table()
    values = qlearning.optimal_values(table)
    next_values = (~table.terminal) * values[table.next_states]
    optimal_q = table.rewards + qlearning.JUDGE_GAMMA * next_values
    qlearning.expect_optimal_from_start("train()", optimal_q, table)
    with pytest.raises(AssertionError, match="reaches the goal in 6 steps"):
        qlearning.expect_optimal_from_start("train()", np.zeros_like(optimal_q), table)


def test_epsilon_greedy_bounds_accept_exact_shares_and_reject_inverted_ones():
    draws, epsilon, greedy = qlearning.ACTION_DRAWS, 0.2, 1
    shares = qlearning.epsilon_greedy_shares(4, greedy, epsilon)
    counts = np.round(shares * draws).astype(np.int64)
    counts[0] += draws - counts.sum()
    qlearning.expect_epsilon_greedy_counts("select_action", counts, 4, greedy, epsilon, draws)
    inverted = np.round(qlearning.epsilon_greedy_shares(4, greedy, 1 - epsilon) * draws)
    inverted[0] += draws - inverted.sum()
    with pytest.raises(AssertionError, match="the greedy action"):
        qlearning.expect_epsilon_greedy_counts("select_action", inverted, 4, greedy, epsilon,
                                               draws)


def test_the_judges_environment_oracle_imports_no_framework():
    code = ("import sys; from grader.topics import qlearning; qlearning.environment_table(); "
            "print([m for m in ('torch', 'jax', 'jaxlib', 'optax') if m in sys.modules])")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip() == "[]", f"the judge's oracle imported {done.stdout.strip()}"


# --- messages that name the mistake, judge side ------------------------------------------------


def _counts(shares, draws=qlearning.ACTION_DRAWS):
    counts = np.round(np.asarray(shares) * draws).astype(np.int64)
    counts[0] += draws - counts.sum()
    return counts


@pytest.mark.parametrize("epsilon, played, named", [
    (0.0, 1.0, "ignores epsilon and q_values"),
    (0.2, 1.0, "ignores epsilon and q_values"),
    (0.2, 0.0, "never explores"),
    (0.2, 0.8, "the comparison is inverted"),
])
def test_epsilon_greedy_shares_name_the_mistake_they_fit(epsilon, played, named):
    counts = _counts(qlearning.epsilon_greedy_shares(4, 2, played))
    with pytest.raises(AssertionError, match=named):
        qlearning.expect_epsilon_greedy_counts("select_action", counts, 4, 2, epsilon,
                                               qlearning.ACTION_DRAWS)


def test_jax_grad_given_a_value_is_explained():
    seeds_error = ("TypeError: differentiating with respect to argnums=1 requires at least 2 "
                   "positional arguments to be passed by the caller, but got only 1 positional "
                   "arguments.")
    advice = qlearning.grad_advice(seeds_error)
    assert "argument beyond those the call passed" in advice
    assert "`loss` is a value" in advice and "jax.grad(dqn_loss)" in advice
    assert "given a value" in qlearning.grad_advice("TypeError: Expected a callable value, got 1.0")
    assert qlearning.grad_advice("TypeError: unsupported operand type(s) for +") is None


def test_a_loss_from_the_online_network_without_masking_is_named():
    rng = np.random.default_rng(3)
    inputs = qlearning.draw_loss_inputs(rng)
    weights, batch, gamma = inputs["weights"], inputs["batch"], inputs["gamma"]
    want = qlearning.numpy_loss(weights, inputs["target_weights"], batch, gamma)
    diagnose = qlearning.diagnose_loss(inputs)
    seeds = qlearning.numpy_loss(weights, weights, batch, gamma, masked=False)
    assert "from the online network" in diagnose(np.float64(seeds), np.float64(want))
    assert "bootstrap past the end" in diagnose(np.float64(seeds), np.float64(want))
    online = qlearning.numpy_loss(weights, weights, batch, gamma)
    sentence = diagnose(np.array([online, 0.0]), np.array([want, 0.0]))  # train_step's losses
    assert "from the online network" in sentence and "past the end" not in sentence
