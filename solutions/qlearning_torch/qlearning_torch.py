"""Deep Q-learning in PyTorch (reference solution).

A Q-network on one-hot states, TD targets from a target network with terminal masking, the loss
and one Adam step that leave the target network without gradients, epsilon-greedy action
selection, and training with a replay buffer and a periodically synced target network on
Gymnasium's FrozenLake (4x4, not slippery).
"""

import copy

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

HIDDEN_SIZE = 64
GAMMA = 0.9
LEARNING_RATE = 5e-3
BUFFER_SIZE = 5_000
BATCH_SIZE = 64
TOTAL_STEPS = 3_000
LEARNING_STARTS = 1_000  # steps of (mostly random) exploration before the first update
TARGET_SYNC_EVERY = 50
EPSILON_START, EPSILON_END, EPSILON_DECAY_STEPS = 1.0, 0.05, 2_000


class QNetwork(nn.Module):
    """Q(s, .) = fc2(relu(fc1(one_hot(s)))); one output per action."""

    def __init__(self, num_states, num_actions, hidden_size):
        super().__init__()
        self.num_states = num_states
        self.fc1 = nn.Linear(num_states, hidden_size)
        self.fc2 = nn.Linear(hidden_size, num_actions)

    def forward(self, states):
        one_hot = F.one_hot(states, self.num_states).float()  # (batch, num_states)
        hidden = F.relu(self.fc1(one_hot))  # (batch, hidden_size)
        return self.fc2(hidden)  # (batch, num_actions)


def build_q_network(num_states, num_actions, hidden_size=HIDDEN_SIZE):
    return QNetwork(num_states, num_actions, hidden_size)


def q_values(q_network, states):
    return q_network(states)  # (batch, num_actions)


def td_targets(rewards, next_q_values, dones, gamma):
    next_values = next_q_values.max(dim=1).values  # (batch,), the best action's value
    return rewards + gamma * (1.0 - dones) * next_values  # (batch,), no bootstrap after the end


def dqn_loss(q_network, target_network, batch, gamma):
    with torch.no_grad():  # the TD target is a constant: no gradient reaches target_network
        next_q_values = q_values(target_network, batch["next_states"])  # (batch, num_actions)
        targets = td_targets(batch["rewards"], next_q_values, batch["dones"], gamma)  # (batch,)
    all_q_values = q_values(q_network, batch["states"])  # (batch, num_actions)
    chosen_q_values = all_q_values.gather(1, batch["actions"].unsqueeze(1)).squeeze(1)  # (batch,)
    return F.mse_loss(chosen_q_values, targets)  # ()


def train_step(q_network, target_network, optimizer, batch, gamma):
    loss = dqn_loss(q_network, target_network, batch, gamma)  # ()
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.detach()  # (), the loss before the update


def select_action(q_values, epsilon):
    if torch.rand(()) < epsilon:  # (), uniform in [0, 1): explore with probability epsilon
        return int(torch.randint(q_values.shape[0], ()))  # (), any action, the greedy one too
    return int(q_values.argmax())  # (), the greedy action


class ReplayBuffer:
    """A ring buffer of transitions; sample() draws a uniform minibatch as tensors."""

    def __init__(self, capacity, generator):
        self.capacity = capacity
        self.generator = generator
        self.columns = {
            "states": np.zeros(capacity, dtype=np.int64),
            "actions": np.zeros(capacity, dtype=np.int64),
            "rewards": np.zeros(capacity, dtype=np.float32),
            "next_states": np.zeros(capacity, dtype=np.int64),
            "dones": np.zeros(capacity, dtype=np.float32),
        }
        self.size = 0
        self.position = 0

    def add(self, **transition):
        for name, value in transition.items():
            self.columns[name][self.position] = value
        self.position = (self.position + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)

    def sample(self, batch_size, device):
        indices = self.generator.integers(0, self.size, size=batch_size)  # (batch,)
        return {name: torch.as_tensor(column[indices], device=device)
                for name, column in self.columns.items()}  # each (batch,)


def epsilon_at(step):
    fraction = min(1.0, step / EPSILON_DECAY_STEPS)
    return EPSILON_START + fraction * (EPSILON_END - EPSILON_START)


def train(env, seed, device="cpu"):
    torch.manual_seed(seed)
    num_states, num_actions = env.observation_space.n, env.action_space.n
    q_network = build_q_network(num_states, num_actions).to(device)
    target_network = copy.deepcopy(q_network)  # synced below every TARGET_SYNC_EVERY steps
    optimizer = torch.optim.Adam(q_network.parameters(), lr=LEARNING_RATE)
    buffer = ReplayBuffer(BUFFER_SIZE, np.random.default_rng(seed))
    state, _ = env.reset(seed=seed)
    for step in range(TOTAL_STEPS):
        with torch.no_grad():
            states = torch.tensor([state], device=device)  # (1,)
            state_q_values = q_values(q_network, states)[0]  # (num_actions,)
        action = select_action(state_q_values, epsilon_at(step))  # an int in 0..num_actions-1
        next_state, reward, terminated, truncated, _ = env.step(action)
        # only a real end stops bootstrapping; a time-limit cut (truncated) does not
        buffer.add(states=state, actions=action, rewards=reward, next_states=next_state,
                   dones=float(terminated))
        state = next_state
        if terminated or truncated:
            state, _ = env.reset()
        if step >= LEARNING_STARTS:
            train_step(q_network, target_network, optimizer,
                       buffer.sample(BATCH_SIZE, device), GAMMA)
            if step % TARGET_SYNC_EVERY == 0:
                target_network.load_state_dict(q_network.state_dict())
    return q_network
