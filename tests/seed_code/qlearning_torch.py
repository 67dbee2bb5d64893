"""The seeds' own PyTorch Q-learning code, as a submission of qlearning_torch (a golden test).

Origin: the source documents the bank comes from (/work/shared/seeds/, document 002, question 3,
"implement a simple reinforcement learning algorithm (such as Q-Learning) with PyTorch and
JAX", the PyTorch answer). Its logic, hyperparameters and mistakes are kept: the TD target
comes from the network being trained, with gradient (no target network); the bootstrap term is
added even after the episode ended (no terminal masking); every update uses only the latest
transition (no replay); exploration never decays; Adam at 1e-3; 1,000 episodes.

Adapted only as far as the item's interface needs (tests/test_seed_code_qlearning.py):
- the network sees a one-hot state (the seeds feed a 4-feature state vector) and takes its
  width from `hidden_size` (the seeds fix 64);
- the single transition's code is spread over the interface's functions, on batches: the max
  over the actions is taken per transition (`dim=1`), as the seeds do for their one next state;
- what the seeds leave as `...` is filled in plainly: the environment steps (FrozenLake via
  `env`), `done = terminated or truncated` ends the episode, the action is epsilon-greedy with a
  fixed epsilon of 0.1, gamma is the JAX answer's 0.99 (the PyTorch answer never sets it), and
  `train` seeds torch and the environment from `seed`; the loop moves `state` on to
  `next_state` (the seeds never reassign `state`, though their comment says "update the state");
- `train_step` returns the loss, `train` returns the network.
"""

import torch
import torch.nn as nn
import torch.optim as optim

GAMMA = 0.99
EPSILON = 0.1


# Q-Learning 算法
class QNetwork(nn.Module):
    def __init__(self, state_size, action_size, hidden_size=64):
        super(QNetwork, self).__init__()
        self.fc1 = nn.Linear(state_size, hidden_size)
        self.fc2 = nn.Linear(hidden_size, action_size)

    def forward(self, x):
        x = self.fc1(x)
        x = nn.functional.relu(x)
        x = self.fc2(x)
        return x


def build_q_network(num_states, num_actions, hidden_size=64):
    return QNetwork(num_states, num_actions, hidden_size)


def q_values(q_network, states):
    return q_network(nn.functional.one_hot(states, q_network.fc1.in_features).float())


def td_targets(rewards, next_q_values, dones, gamma):
    return rewards + gamma * torch.max(next_q_values, dim=1).values


def dqn_loss(q_network, target_network, batch, gamma):
    criterion = nn.MSELoss()
    action_values = q_values(q_network, batch["states"])
    q_target = td_targets(batch["rewards"], q_values(q_network, batch["next_states"]),
                          batch["dones"], gamma)
    q_expected = action_values.gather(1, batch["actions"].unsqueeze(1)).squeeze(1)
    return criterion(q_expected, q_target)


def train_step(q_network, target_network, optimizer, batch, gamma):
    loss = dqn_loss(q_network, target_network, batch, gamma)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss


def select_action(q_values, epsilon):
    if torch.rand(()) < epsilon:
        return int(torch.randint(q_values.shape[0], ()))
    return int(torch.argmax(q_values))


# 训练过程
def train(env, seed, device="cpu"):
    torch.manual_seed(seed)
    state_size = env.observation_space.n
    action_size = env.action_space.n
    model = QNetwork(state_size, action_size).to(device)
    criterion = nn.MSELoss()
    optimizer = optim.Adam(model.parameters(), lr=0.001)
    gamma = GAMMA
    env.reset(seed=seed)

    for episode in range(1000):
        state, _ = env.reset()  # 初始化状态
        done = False
        while not done:
            action_values = q_values(model, torch.tensor([state], device=device))
            action = select_action(action_values[0].detach(), EPSILON)  # 选择动作
            next_state, reward, terminated, truncated, _ = env.step(action)  # 计算奖励, 更新状态
            done = terminated or truncated  # 判断是否完成

            q_target = reward + gamma * torch.max(
                q_values(model, torch.tensor([next_state], device=device)))
            q_expected = action_values[0][action]

            loss = criterion(q_expected, q_target)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            state = next_state
    return model
