"""Hidden suite for qlearning_jax.

Each check runs one probe on the learner's module and on the reference solution with the same
freshly drawn inputs, and compares the two results here (tasks 4 and 5 against the judge's own
oracles):

1. build_q_network's params hold fc1 and fc2 with the reference's shapes, float32, and q_values
   matches the reference for given weights (batches of 1, num_actions and 6..64).
2. td_targets matches the reference, with mixed dones and with every transition terminal.
3. dqn_loss matches the reference for given params and target params; its gradient with
   respect to the target params is zero (stop_gradient) while the loss still reads them
   (changing only the target params changes it); train_step with optax.adam under
   jax.jit, once and three times in a row, gives the reference's losses and params and leaves
   the target params as they were.
4. select_action under jax.vmap over 10,000 fresh keys: epsilon 0 always picks the greedy
   action; epsilon 1 and a drawn epsilon give every action its share within 6 standard
   deviations.
5. train on FrozenLake (4x4, not slippery), the statement's rate over several trainings: of
   TRAININGS drawn seeds, at least TRAININGS_NEEDED trained params have a greedy policy that
   earns, from the start state, the optimal return found by value iteration here
   (grader/topics/qlearning.py); the reference trains once, for the time limit.

Every check draws the same kinds of cases whatever the seed, so a file's score does not depend
on the seed; task 5 judges a rate over several trainings so that a reliable training plan
passes and an unreliable one fails for (almost) every seed.
"""

import pytest

from grader.topics.common import draw_seed
from grader.topics.qlearning import (
    expect_epsilon_greedy,
    expect_loss,
    expect_network_shapes,
    expect_no_target_gradient,
    expect_q_values,
    expect_td_targets,
    expect_train_steps,
    expect_training_optimal,
)

LOSS = "dqn_loss(params, target_params, batch, gamma)"
STEP = ("jax.jit(partial(train_step, optimizer=optax.adam(lr)))"
        "(params, target_params, opt_state, batch, gamma)")
SELECT = "select_action(key, q_values, epsilon={epsilon:g})"


# --- task 1: the Q-network -----------------------------------------------------------------------


@pytest.mark.task(1)
def test_params_hold_fc1_and_fc2_with_the_reference_shapes_in_float32(workers, rng):
    seed = draw_seed(rng)
    expect_network_shapes(
        workers, rng, lambda states, actions, hidden:
        f"build_q_network(jax.random.key({seed}), {states}, {actions}, {hidden})",
        "weights are (in_features, out_features), applied as x @ weight + bias", seed=seed)


@pytest.mark.task(1)
def test_q_values_match_the_reference_for_given_weights(workers, rng, tol):
    expect_q_values(workers, rng, tol, "params")


# --- task 2: TD targets --------------------------------------------------------------------------


@pytest.mark.task(2)
def test_td_targets_match_the_reference(workers, rng, tol):
    expect_td_targets(workers, rng, tol)


@pytest.mark.task(2)
def test_td_targets_of_terminal_transitions_are_the_rewards(workers, rng, tol):
    expect_td_targets(workers, rng, tol, all_terminal=True)


# --- task 3: the loss and one optimiser step -----------------------------------------------------


@pytest.mark.task(3)
def test_loss_matches_the_reference_with_separate_target_params(workers, rng, tol):
    expect_loss(workers, rng, tol, LOSS)


@pytest.mark.task(3)
def test_the_loss_sends_no_gradient_to_the_target_params(workers, rng):
    expect_no_target_gradient(workers, rng,
                              f"jax.grad({LOSS}, argnums=(0, 1))",
                              "wrap it in jax.lax.stop_gradient", LOSS, "target params")


@pytest.mark.task(3)
def test_one_train_step_matches_the_reference(workers, rng, tol):
    expect_train_steps(workers, rng, tol, STEP, steps=1)


@pytest.mark.task(3)
def test_three_train_steps_match_the_reference_and_leave_the_target_params_alone(
        workers, rng, tol):
    expect_train_steps(workers, rng, tol, STEP, steps=3)


# --- task 4: epsilon-greedy ----------------------------------------------------------------------


@pytest.mark.task(4)
def test_epsilon_zero_always_picks_the_greedy_action(workers, rng):
    expect_epsilon_greedy(workers, rng, SELECT.format(epsilon=0.0), 0.0)


@pytest.mark.task(4)
def test_epsilon_one_picks_every_action_equally_often(workers, rng):
    expect_epsilon_greedy(workers, rng, SELECT.format(epsilon=1.0), 1.0)


@pytest.mark.task(4)
def test_epsilon_greedy_shares_match_epsilon(workers, rng):
    epsilon = float(rng.uniform(0.1, 0.4))
    expect_epsilon_greedy(workers, rng, SELECT.format(epsilon=epsilon), epsilon)


# --- task 5: training ----------------------------------------------------------------------------


@pytest.mark.task(5)
@pytest.mark.points(2)
def test_training_learns_a_greedy_policy_optimal_from_the_start_state(workers, rng):
    expect_training_optimal(workers, rng, lambda seed: f"train(jax.random.key({seed}), env)")
