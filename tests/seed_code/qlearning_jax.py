"""The seeds' own JAX Q-learning code, as a submission of qlearning_jax (a golden test).

Origin: the source documents the bank comes from (/work/shared/seeds/, document 002, question 3,
"implement a simple reinforcement learning algorithm (such as Q-Learning) with PyTorch and
JAX", the JAX answer). Its logic, hyperparameters and mistakes are kept: `q_learning`'s TD
target comes from the params being trained (no target params, no stop_gradient), without
terminal masking; the gradient is `grad(lambda x: loss(x), argnums=1)(w)`, `grad` of a lambda
that calls the loss's *value*, with respect to an argument the lambda does not have; the update
is plain SGD at 0.01 on the latest transition only (no replay, no optax); the action is
`random.randint(key, (1,), ...)`: shape (1,), uniform whatever epsilon and the Q-values, from
one key that is never split; gamma 0.99; 1,000 episodes.

Adapted only as far as the item's interface needs (tests/test_seed_code_qlearning.py):
- `w` becomes the interface's two-layer params (the seeds' single `(state_size, action_size)`
  matrix has no hidden layer), drawn with `random.normal` from the one key, biases zero;
- `cnn(state, w)`, which the seeds never define, is the MLP on one-hot states;
- `q_learning` is spread over the interface's functions on batches (the max over the actions
  per transition, `axis=1`, as the seeds take it for their one next state); `train_step` takes
  the interface's arguments and leaves `optimizer` and `opt_state` alone, as the seeds have none;
- what the seeds leave as `...` is filled in plainly: the environment (FrozenLake via `env`),
  `done = terminated or truncated`, `env.step(int(action[0]))`.
"""

import jax
import jax.numpy as jnp
from jax import grad, random

GAMMA = 0.99


def build_q_network(key, num_states, num_actions, hidden_size=64):
    return {
        "fc1": {"weight": random.normal(key, (num_states, hidden_size)),
                "bias": jnp.zeros(hidden_size)},
        "fc2": {"weight": random.normal(key, (hidden_size, num_actions)),
                "bias": jnp.zeros(num_actions)},
    }


def cnn(state, w):
    x = jax.nn.one_hot(state, w["fc1"]["weight"].shape[0])
    x = jax.nn.relu(x @ w["fc1"]["weight"] + w["fc1"]["bias"])
    return x @ w["fc2"]["weight"] + w["fc2"]["bias"]


def q_values(params, states):
    return cnn(states, params)


def td_targets(rewards, next_q_values, dones, gamma):
    return rewards + gamma * jnp.max(next_q_values, axis=1)


def dqn_loss(params, target_params, batch, gamma):
    action_values = cnn(batch["states"], params)
    chosen_action_value = jnp.take_along_axis(action_values, batch["actions"][:, None],
                                              axis=1)[:, 0]
    next_action_values = cnn(batch["next_states"], params)
    q_target = td_targets(batch["rewards"], next_action_values, batch["dones"], gamma)
    return jnp.mean(jnp.square(chosen_action_value - q_target))


# Q-Learning 算法
def train_step(params, target_params, opt_state, batch, gamma, optimizer):
    w = params
    loss = dqn_loss(w, target_params, batch, gamma)
    gradients = grad(lambda x: loss(x), argnums=1)(w)
    w = jax.tree.map(lambda p, g: p - 0.01 * g, w, gradients)
    return w, opt_state, loss


def select_action(key, q_values, epsilon):
    return random.randint(key, (1,), minval=0, maxval=q_values.shape[0])


# 训练过程
def train(key, env):
    state_size = env.observation_space.n
    action_size = env.action_space.n
    gamma = GAMMA
    w = build_q_network(key, state_size, action_size)

    for episode in range(1000):
        state, _ = env.reset()
        done = False
        while not done:
            action = random.randint(key, (1,), minval=0, maxval=action_size)
            next_state, reward, terminated, truncated, _ = env.step(int(action[0]))  # 计算奖励
            done = terminated or truncated  # 判断是否完成

            batch = {"states": jnp.array([state]), "actions": action,
                     "rewards": jnp.array([reward], dtype=jnp.float32),
                     "next_states": jnp.array([next_state]),
                     "dones": jnp.array([float(terminated)])}
            w, _, _ = train_step(w, w, None, batch, gamma, None)
            state = next_state
    return w
