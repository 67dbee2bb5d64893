"""Deep Q-learning in JAX.

Fill in the functions below; the statement (README.md next to this file) says what each one must
do and how it is checked. Everything is float32; states and actions are int32 indices. Grade with
`grade exercise qlearning_jax`.
"""

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
import optax


def build_q_network(key, num_states, num_actions, hidden_size=64):
    """Task 1. The Q-network's parameters.

    Args:
        key: a jax.random key.
        num_states: int, the number of discrete states.
        num_actions: int, the number of discrete actions.
        hidden_size: int, the width of the hidden layer.

    Returns:
        {"fc1": {"weight": (num_states, hidden_size), "bias": (hidden_size,)},
         "fc2": {"weight": (hidden_size, num_actions), "bias": (num_actions,)}}, float32,
        initialised from `key` (for example uniform in [-1/sqrt(in), 1/sqrt(in)] per layer).
    """
    # TODO: split the key, one per layer; draw each layer's weight and bias.
    raise NotImplementedError


def q_values(params, states):
    """Task 1. Q(s, .) = relu(one_hot(s) @ fc1.weight + fc1.bias) @ fc2.weight + fc2.bias.

    Args:
        params: a dict from `build_q_network`.
        states: int array of shape (batch,), each in 0..num_states - 1.

    Returns:
        float32 array of shape (batch, num_actions).
    """
    # TODO: one-hot the states (num_states is params["fc1"]["weight"].shape[0]), then the MLP.
    raise NotImplementedError


def td_targets(rewards, next_q_values, dones, gamma):
    """Task 2. The TD targets: reward + gamma * max_a' Q_target(next_state, a'), without the
    bootstrap term where the episode ended.

    Args:
        rewards: float32 array of shape (batch,).
        next_q_values: float32 array of shape (batch, num_actions): the *target* params'
            Q-values of the next states.
        dones: float32 array of shape (batch,): 1.0 where the transition ended the episode
            (terminated), else 0.0.
        gamma: float (a traced scalar under jit).

    Returns:
        float32 array of shape (batch,).
    """
    # TODO: the best next value per transition (max over the actions), masked by dones.
    raise NotImplementedError


def dqn_loss(params, target_params, batch, gamma):
    """Task 3. The mean squared TD error of the actions taken.

    Args:
        params: the online params (the ones that learn).
        target_params: the target params: their Q-values of next_states give the TD targets.
        batch: dict of arrays, each of shape (batch,): "states", "actions", "next_states"
            (int32), "rewards", "dones" (float32).
        gamma: float.

    Returns:
        A 0-d array: mean over the batch of (Q(states, actions) - td_targets) ** 2. Its gradient
        with respect to target_params must be zero.
    """
    # TODO: TD targets from target_params behind jax.lax.stop_gradient; the online Q-values of
    #   the actions taken (jnp.take_along_axis); their mean squared difference.
    raise NotImplementedError


def train_step(params, target_params, opt_state, batch, gamma, optimizer):
    """Task 3. One optax step on dqn_loss; pure, and works under
    jax.jit(functools.partial(train_step, optimizer=optimizer)).

    Args:
        params, target_params, batch, gamma: as for `dqn_loss`.
        opt_state: the optimizer's state for params.
        optimizer: an optax.GradientTransformation (for example optax.adam(1e-2)).

    Returns:
        (new_params, new_opt_state, loss), where loss is the 0-d loss before the update.
    """
    # TODO: jax.value_and_grad(dqn_loss), optimizer.update, optax.apply_updates.
    raise NotImplementedError


def select_action(key, q_values, epsilon):
    """Task 4. Epsilon-greedy action selection; works under jax.jit and jax.vmap over keys.

    Args:
        key: a jax.random key, used for this draw only.
        q_values: float32 array of shape (num_actions,): the Q-values of one state.
        epsilon: float in [0, 1] (a traced scalar under jit).

    Returns:
        A 0-d int array: with probability epsilon, an action drawn uniformly from all num_actions
        (the greedy one included); otherwise the greedy action (argmax of q_values).
    """
    # TODO: split the key (one key per random decision); no Python `if` on traced values.
    raise NotImplementedError


def train(key, env):
    """Task 5. Deep Q-learning on a Gymnasium environment with discrete states and actions.

    Checked: the outcome only. At least 5 of 6 trainings (6 keys) must return params whose
    greedy policy is optimal from the start state (the statement's task 5 says why a rate).
    Suggested, since it makes DQN reliable here: a replay buffer, target params synced with the
    online ones every few steps, epsilon-greedy exploration that decays, a fresh key for every
    draw. Store `terminated` (not `truncated`) as done. Jit the update step and the action
    choice (each training's time limit is 10x the reference's, at least 20 s).

    Args:
        key: a jax.random key: initialise the params and drive exploration from it (derive the
            integer seeds of env.reset(seed=...) and of your replay sampling from it too).
        env: a Gymnasium environment (FrozenLake-v1, 4x4, not slippery, a 100-step time limit).

    Returns:
        The trained online params (a dict from `build_q_network`).
    """
    # TODO: the training loop (see the statement for a plan and a budget).
    raise NotImplementedError
