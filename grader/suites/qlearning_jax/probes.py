"""Probes for qlearning_jax: they run in a worker, next to the learner's or the reference's
module (`target`), and return plain results for the judge to compare.

Weights arrive in the canonical layout ("fc1.weight": (num_states, hidden), ...), which is also
the JAX twin's: params = {"fc1": {"weight", "bias"}, "fc2": {"weight", "bias"}}.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax

from grader.probekit import Reject, flatten_params, require_jax_array, to_jax
from grader.topics.qlearning import WEIGHT_NAMES, make_env


def _params(weights, device):
    params = {"fc1": {}, "fc2": {}}
    for name, array in weights.items():
        layer, kind = name.split(".")
        params[layer][kind] = to_jax(array, device)
    return params


def _weights(params, call, what):
    flat = flatten_params(params, call, what)
    if sorted(flat) != sorted(WEIGHT_NAMES):
        raise Reject(f"Called `{call}`. Returned {what} holding {sorted(flat)}, expected "
                     f"{sorted(WEIGHT_NAMES)} ({{'fc1': {{'weight', 'bias'}}, 'fc2': ...}}).")
    return flat


def _batch(batch, device):
    """Index arrays as int32 (JAX's default integer), the others as they are."""
    return {name: to_jax(array.astype(np.int32) if array.dtype.kind == "i" else array, device)
            for name, array in batch.items()}


def _scalar(value, call, what="the loss"):
    if not isinstance(value, jax.Array) or value.size != 1:
        shape = f" of shape {tuple(value.shape)}" if isinstance(value, jax.Array) else ""
        raise Reject(f"Called `{call}`. Returned {type(value).__name__}{shape} as {what}, "
                     f"expected a 0-d jax.Array.")
    return value.reshape(())


def network_shapes(target, device, seed, num_states, num_actions, hidden_size):
    """{"shapes": {name: [sizes]}, "dtypes": {name: "float32"}} of build_q_network's params."""
    key = to_jax(jax.random.key(seed), device)
    call = f"build_q_network(key, {num_states}, {num_actions}, {hidden_size})"
    params = target.build_q_network(key, num_states, num_actions, hidden_size)
    flat = flatten_params(params, call, "params")
    jax.block_until_ready(flat)
    return {"shapes": {name: list(array.shape) for name, array in flat.items()},
            "dtypes": {name: str(array.dtype) for name, array in flat.items()}}


def q_values_with_weights(target, device, weights, states):
    """q_values(params, states) for the given weights."""
    values = target.q_values(_params(weights, device), to_jax(states.astype(np.int32), device))
    return require_jax_array(values, "q_values(params, states)").block_until_ready()


def td_targets(target, device, rewards, next_q_values, dones, gamma):
    """td_targets(rewards, next_q_values, dones, gamma)."""
    values = target.td_targets(to_jax(rewards, device), to_jax(next_q_values, device),
                               to_jax(dones, device), gamma)
    call = "td_targets(rewards, next_q_values, dones, gamma)"
    return require_jax_array(values, call).block_until_ready()


def loss(target, device, weights, target_weights, batch, gamma):
    """dqn_loss(params, target_params, batch, gamma)."""
    call = "dqn_loss(params, target_params, batch, gamma)"
    value = target.dqn_loss(_params(weights, device), _params(target_weights, device),
                            _batch(batch, device), gamma)
    return _scalar(value, call).block_until_ready()


def target_gradient(target, device, weights, target_weights, batch, gamma):
    """The largest |d dqn_loss / d target_params| (0 behind a stop_gradient), and the largest
    |d dqn_loss / d params|."""
    call = "jax.grad(dqn_loss, argnums=(0, 1))(params, target_params, batch, gamma)"

    def loss_of(params, target_params):
        return _scalar(target.dqn_loss(params, target_params, _batch(batch, device), gamma), call)

    grads = jax.jit(jax.grad(loss_of, argnums=(0, 1)))(_params(weights, device),
                                                       _params(target_weights, device))
    online, targets = (flatten_params(tree, call, "gradients") for tree in grads)
    jax.block_until_ready((online, targets))

    def largest(flat):
        return max((float(jnp.max(jnp.abs(array))) for array in flat.values()), default=0.0)

    return {"target": largest(targets), "online": largest(online)}


def train_steps(target, device, weights, target_weights, batch, gamma, learning_rate, steps):
    """`steps` calls of jax.jit(partial(train_step, optimizer=optax.adam(learning_rate))), gamma
    traced, each fed the previous params and opt_state: losses, online and target weights."""
    call = ("jax.jit(functools.partial(train_step, optimizer=optimizer))"
            "(params, target_params, opt_state, batch, gamma)")
    optimizer = optax.adam(learning_rate)
    step = jax.jit(functools.partial(target.train_step, optimizer=optimizer))
    params = _params(weights, device)
    target_params = _params(target_weights, device)
    opt_state = optimizer.init(params)
    tensors = _batch(batch, device)
    losses = []
    for _ in range(steps):
        result = step(params, target_params, opt_state, tensors, gamma)
        if not isinstance(result, (tuple, list)) or len(result) != 3:
            raise Reject(f"Called `{call}`. Returned {type(result).__name__}, expected a triple "
                         f"(params, opt_state, loss).")
        params, opt_state, value = result
        losses.append(_scalar(value, call))
    online = _weights(params, call, "params")
    jax.block_until_ready((online, losses))
    return {"losses": np.asarray([np.asarray(value) for value in losses], dtype=np.float32),
            "online": online, "target": _weights(target_params, call, "target_params")}


def action_counts(target, device, q_values, epsilon, draws, seed):
    """How often select_action(key, q_values, epsilon) picked each action over `draws` fresh
    keys (jax.jit(jax.vmap(select_action)) over jax.random.split(jax.random.key(seed), draws))."""
    keys = to_jax(jax.random.split(jax.random.key(seed), draws), device)  # (draws,) keys
    select = jax.jit(jax.vmap(target.select_action, in_axes=(0, None, None)))
    actions = select(keys, to_jax(q_values, device), epsilon)
    call = f"jax.vmap(select_action)(keys, q_values, epsilon={epsilon:g})"
    actions = np.asarray(require_jax_array(actions, call).block_until_ready())
    num_actions = len(q_values)
    if actions.shape == (draws, 1):  # one action of shape (1,) per key: counted, as torch's
        actions = actions[:, 0]  # one-element tensors are (env.step needs int(action) then)
    if actions.shape != (draws,) or actions.dtype.kind not in "iu":
        raise Reject(f"Called `{call}` on {draws} keys. Returned {actions.dtype} of shape "
                     f"{actions.shape}, expected {draws} int actions: select_action must "
                     f"return one 0-d int array per key (shape ()), got "
                     f"{actions.dtype} of shape {actions.shape[1:]} per key.")
    return np.bincount(actions[(actions >= 0) & (actions < num_actions)],
                       minlength=num_actions).astype(np.int64)


def trained_q_values(target, device, seed):
    """train(jax.random.key(seed), env) on FrozenLake, then q_values(params, every state)."""
    env = make_env()
    key = to_jax(jax.random.key(seed), device)
    params = target.train(key, env)
    _weights(params, f"train(jax.random.key({seed}), env)", "params")
    states = to_jax(np.arange(env.observation_space.n, dtype=np.int32), device)  # (S,)
    values = target.q_values(params, states)
    return require_jax_array(values, "q_values(params, states)").block_until_ready()
