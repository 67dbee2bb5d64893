"""Deep Q-learning in JAX (reference solution).

A Q-network on one-hot states as a params dict, TD targets from target params with terminal
masking, a loss whose target is a constant (`stop_gradient`), one optax Adam step, epsilon-greedy
action selection with a fresh key per draw, and training with a replay buffer and periodically
synced target params on Gymnasium's FrozenLake (4x4, not slippery). The environment steps in
Python; the action choice and the update step are jitted.
"""

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
import optax

HIDDEN_SIZE = 64
GAMMA = 0.9
LEARNING_RATE = 5e-3
BUFFER_SIZE = 5_000
BATCH_SIZE = 64
TOTAL_STEPS = 3_000
LEARNING_STARTS = 1_000  # steps of (mostly random) exploration before the first update
TARGET_SYNC_EVERY = 50
EPSILON_START, EPSILON_END, EPSILON_DECAY_STEPS = 1.0, 0.05, 2_000


def init_linear(key, in_features, out_features):
    weight_key, bias_key = jax.random.split(key)  # two new keys
    bound = 1.0 / math.sqrt(in_features)  # the same range as torch.nn.Linear
    weight = jax.random.uniform(
        weight_key, (in_features, out_features), minval=-bound, maxval=bound
    )  # (in_features, out_features)
    bias = jax.random.uniform(bias_key, (out_features,), minval=-bound, maxval=bound)  # (out,)
    return {"weight": weight, "bias": bias}


def build_q_network(key, num_states, num_actions, hidden_size=HIDDEN_SIZE):
    fc1_key, fc2_key = jax.random.split(key)  # one key per layer
    return {
        "fc1": init_linear(fc1_key, num_states, hidden_size),  # weight (num_states, hidden)
        "fc2": init_linear(fc2_key, hidden_size, num_actions),  # weight (hidden, num_actions)
    }


def q_values(params, states):
    num_states = params["fc1"]["weight"].shape[0]  # a static shape, fine under jit
    one_hot = jax.nn.one_hot(states, num_states)  # (batch, num_states)
    fc1, fc2 = params["fc1"], params["fc2"]
    hidden = jax.nn.relu(one_hot @ fc1["weight"] + fc1["bias"])  # (batch, hidden_size)
    return hidden @ fc2["weight"] + fc2["bias"]  # (batch, num_actions)


def td_targets(rewards, next_q_values, dones, gamma):
    next_values = jnp.max(next_q_values, axis=1)  # (batch,), the best action's value
    return rewards + gamma * (1.0 - dones) * next_values  # (batch,), no bootstrap after the end


def dqn_loss(params, target_params, batch, gamma):
    next_q_values = q_values(target_params, batch["next_states"])  # (batch, num_actions)
    targets = td_targets(batch["rewards"], next_q_values, batch["dones"], gamma)  # (batch,)
    targets = jax.lax.stop_gradient(targets)  # a constant: no gradient reaches target_params
    all_q_values = q_values(params, batch["states"])  # (batch, num_actions)
    chosen_q_values = jnp.take_along_axis(
        all_q_values, batch["actions"][:, None], axis=1
    )[:, 0]  # (batch,)
    return jnp.mean((chosen_q_values - targets) ** 2)  # ()


def train_step(params, target_params, opt_state, batch, gamma, optimizer):
    loss, grads = jax.value_and_grad(dqn_loss)(
        params, target_params, batch, gamma
    )  # (), a pytree shaped like params
    updates, opt_state = optimizer.update(grads, opt_state, params)  # like params, new state
    params = optax.apply_updates(params, updates)  # like params
    return params, opt_state, loss


def select_action(key, q_values, epsilon):
    explore_key, action_key = jax.random.split(key)  # one key per random decision
    explore = jax.random.uniform(explore_key) < epsilon  # (), bool
    random_action = jax.random.randint(action_key, (), 0, q_values.shape[0])  # (), any action
    return jnp.where(explore, random_action, jnp.argmax(q_values))  # (), int32


class ReplayBuffer:
    """A ring buffer of transitions; sample() draws a uniform minibatch as numpy arrays."""

    def __init__(self, capacity, generator):
        self.capacity = capacity
        self.generator = generator
        self.columns = {
            "states": np.zeros(capacity, dtype=np.int32),
            "actions": np.zeros(capacity, dtype=np.int32),
            "rewards": np.zeros(capacity, dtype=np.float32),
            "next_states": np.zeros(capacity, dtype=np.int32),
            "dones": np.zeros(capacity, dtype=np.float32),
        }
        self.size = 0
        self.position = 0

    def add(self, **transition):
        for name, value in transition.items():
            self.columns[name][self.position] = value
        self.position = (self.position + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)

    def sample(self, batch_size):
        indices = self.generator.integers(0, self.size, size=batch_size)  # (batch,)
        return {name: column[indices] for name, column in self.columns.items()}  # each (batch,)


def epsilon_at(step):
    fraction = min(1.0, step / EPSILON_DECAY_STEPS)
    return EPSILON_START + fraction * (EPSILON_END - EPSILON_START)


@jax.jit
def act(params, key, state, epsilon):
    state_q_values = q_values(params, state[None])[0]  # (num_actions,)
    return select_action(key, state_q_values, epsilon)  # ()


def train(key, env):
    init_key, buffer_key, key = jax.random.split(key, 3)
    seed = int(jax.random.randint(buffer_key, (), 0, 2**31 - 1))  # for numpy and the env
    params = build_q_network(init_key, env.observation_space.n, env.action_space.n)  # fc1, fc2
    target_params = params  # arrays are immutable: syncing is rebinding
    optimizer = optax.adam(LEARNING_RATE)
    opt_state = optimizer.init(params)
    step_fn = jax.jit(functools.partial(train_step, gamma=GAMMA, optimizer=optimizer))
    buffer = ReplayBuffer(BUFFER_SIZE, np.random.default_rng(seed))
    state, _ = env.reset(seed=seed)
    for step in range(TOTAL_STEPS):
        key, action_key = jax.random.split(key)  # a fresh key for every draw
        action = int(act(params, action_key, jnp.asarray(state), epsilon_at(step)))  # () -> int
        next_state, reward, terminated, truncated, _ = env.step(action)
        # only a real end stops bootstrapping; a time-limit cut (truncated) does not
        buffer.add(states=state, actions=action, rewards=reward, next_states=next_state,
                   dones=float(terminated))
        state = next_state
        if terminated or truncated:
            state, _ = env.reset()
        if step >= LEARNING_STARTS:
            params, opt_state, _ = step_fn(params, target_params, opt_state,
                                           buffer.sample(BATCH_SIZE))
            if step % TARGET_SYNC_EVERY == 0:
                target_params = params
    return params
