"""Deep Q-learning in PyTorch.

Fill in the functions below; the statement (README.md next to this file) says what each one must
do and how it is checked. Everything is float32; states and actions are int64 indices. Grade with
`grade exercise qlearning_torch`.
"""

import copy

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


class QNetwork(nn.Module):
    """Task 1. Q(s, .) = fc2(relu(fc1(one_hot(s)))).

    Its only submodules are `self.fc1 = nn.Linear(num_states, hidden_size)` and
    `self.fc2 = nn.Linear(hidden_size, num_actions)`, so that its `state_dict()` holds exactly
    "fc1.weight" (hidden_size, num_states), "fc1.bias" (hidden_size,), "fc2.weight"
    (num_actions, hidden_size) and "fc2.bias" (num_actions,).
    """

    def __init__(self, num_states, num_actions, hidden_size):
        super().__init__()
        # TODO: remember num_states (for the one-hot encoding); create self.fc1 and self.fc2.
        raise NotImplementedError

    def forward(self, states):
        # TODO: (batch,) int64 states -> one-hot (batch, num_states) float32 -> fc1 -> ReLU
        #   -> fc2 -> (batch, num_actions).
        raise NotImplementedError


def build_q_network(num_states, num_actions, hidden_size=64):
    """Task 1. A Q-network.

    Args:
        num_states: int, the number of discrete states.
        num_actions: int, the number of discrete actions.
        hidden_size: int, the width of the hidden layer.

    Returns:
        A `QNetwork(num_states, num_actions, hidden_size)` (an `nn.Module`).
    """
    # TODO: return a QNetwork.
    raise NotImplementedError


def q_values(q_network, states):
    """Task 1. The Q-values of a batch of states.

    Args:
        q_network: a network from `build_q_network`.
        states: int64 tensor of shape (batch,), each in 0..num_states - 1.

    Returns:
        float32 tensor of shape (batch, num_actions).
    """
    # TODO: run the network on the states.
    raise NotImplementedError


def td_targets(rewards, next_q_values, dones, gamma):
    """Task 2. The TD targets: reward + gamma * max_a' Q_target(next_state, a'), without the
    bootstrap term where the episode ended.

    Args:
        rewards: float32 tensor of shape (batch,).
        next_q_values: float32 tensor of shape (batch, num_actions): the *target* network's
            Q-values of the next states.
        dones: float32 tensor of shape (batch,): 1.0 where the transition ended the episode
            (terminated), else 0.0.
        gamma: float, the discount factor.

    Returns:
        float32 tensor of shape (batch,).
    """
    # TODO: the best next value per transition (max over the actions), masked by dones.
    raise NotImplementedError


def dqn_loss(q_network, target_network, batch, gamma):
    """Task 3. The mean squared TD error of the actions taken.

    Args:
        q_network: the online network (the one that learns).
        target_network: the target network: its Q-values of next_states give the TD targets.
        batch: dict of tensors, each of shape (batch,): "states", "actions", "next_states"
            (int64), "rewards", "dones" (float32).
        gamma: float.

    Returns:
        A 0-d tensor: mean over the batch of (Q(states, actions) - td_targets) ** 2. Backward
        from it must give the target network no gradient.
    """
    # TODO: TD targets from the target network without autograd; the online network's
    #   Q-values of the actions taken (gather); their mean squared difference.
    raise NotImplementedError


def train_step(q_network, target_network, optimizer, batch, gamma):
    """Task 3. One optimiser step on dqn_loss.

    Args:
        q_network, target_network, batch, gamma: as for `dqn_loss`.
        optimizer: a torch.optim optimizer over q_network's parameters only.

    Returns:
        The loss before the update: a 0-d tensor (or a Python float).
    """
    # TODO: clear old gradients, compute the loss, backward, step; return the loss.
    raise NotImplementedError


def select_action(q_values, epsilon):
    """Task 4. Epsilon-greedy action selection, drawing from torch's random generator.

    Args:
        q_values: float32 tensor of shape (num_actions,): the Q-values of one state.
        epsilon: float in [0, 1].

    Returns:
        int: with probability epsilon, an action drawn uniformly from all num_actions (the
        greedy one included); otherwise the greedy action (argmax of q_values).
    """
    # TODO: torch.rand(()) < epsilon -> torch.randint; else argmax.
    raise NotImplementedError


def train(env, seed, device="cpu"):
    """Task 5. Deep Q-learning on a Gymnasium environment with discrete states and actions.

    Checked: the outcome only. At least 5 of 6 trainings (6 seeds) must return a network whose
    greedy policy is optimal from the start state (the statement's task 5 says why a rate).
    Suggested, since it makes DQN reliable here: a replay buffer, a target network synced with
    the online one every few steps, epsilon-greedy exploration that decays. Store `terminated`
    (not `truncated`) as done.

    Args:
        env: a Gymnasium environment (FrozenLake-v1, 4x4, not slippery, a 100-step time limit).
        seed: int: seed torch (torch.manual_seed), your replay sampling and env.reset(seed=...).
        device: "cpu" or "cuda": where the networks live.

    Returns:
        The trained online network (from `build_q_network`), on `device`.
    """
    # TODO: the training loop (see the statement for a plan and a budget).
    raise NotImplementedError
