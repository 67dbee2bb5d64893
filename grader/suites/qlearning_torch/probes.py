"""Probes for qlearning_torch: they run in a worker, next to the learner's or the reference's
module (`target`), and return plain results for the judge to compare.

Weights arrive in the canonical (in, out) layout ("fc1.weight": (num_states, hidden), ...) and
are transposed here into nn.Linear's (out, in). Results go back in the canonical layout.
"""

import numpy as np
import torch
from torch import nn

from grader.probekit import Reject, require_tensor, synchronize, to_torch
from grader.topics.qlearning import WEIGHT_NAMES as NAMES
from grader.topics.qlearning import make_env


def _build(target, device, num_states, num_actions, hidden_size):
    call = f"build_q_network({num_states}, {num_actions}, {hidden_size})"
    network = target.build_q_network(num_states, num_actions, hidden_size)
    if not isinstance(network, nn.Module):
        raise Reject(
            f"Called `{call}`. Returned {type(network).__name__}, expected a torch.nn.Module."
        )
    return network.to(device)


def _network(target, device, weights):
    """A network from build_q_network, loaded with the canonical weights."""
    num_states, hidden_size = weights["fc1.weight"].shape
    num_actions = weights["fc2.weight"].shape[1]
    network = _build(target, device, num_states, num_actions, hidden_size)
    state = {name: to_torch(np.ascontiguousarray(array.T) if array.ndim == 2 else array, device)
             for name, array in weights.items()}
    try:
        network.load_state_dict(state)
    except RuntimeError as error:
        raise Reject(
            f"Called `build_q_network({num_states}, {num_actions}, {hidden_size})"
            f".load_state_dict(state)` with 'fc1.weight' ({hidden_size}, {num_states}), "
            f"'fc1.bias' ({hidden_size},), 'fc2.weight' ({num_actions}, {hidden_size}) and "
            f"'fc2.bias' ({num_actions},). It raised: {error}"
        ) from None
    return network


def _weights(network, call):
    """The network's weights in the canonical (in, out) layout, detached."""
    state = network.state_dict()
    if sorted(state) != sorted(NAMES):
        raise Reject(f"Called `{call}`. The network's state_dict holds {sorted(state)}, "
                     f"expected {sorted(NAMES)}.")
    return {name: (state[name].detach().T.contiguous() if state[name].ndim == 2
                   else state[name].detach()) for name in NAMES}


def _batch(batch, device):
    return {name: to_torch(array, device) for name, array in batch.items()}


def _loss_value(loss, call):
    if isinstance(loss, torch.Tensor) and loss.numel() == 1:
        return float(loss.detach().reshape(()).cpu())
    if isinstance(loss, (int, float)) and not isinstance(loss, bool):
        return float(loss)
    shape = f" of shape {tuple(loss.shape)}" if isinstance(loss, torch.Tensor) else ""
    raise Reject(f"Called `{call}`. Returned {type(loss).__name__}{shape}, expected the loss "
                 f"(a 0-d tensor).")


def _action(action, call, num_actions):
    if isinstance(action, torch.Tensor) and action.numel() == 1 and not action.is_floating_point():
        action = int(action.reshape(()).cpu())
    if (isinstance(action, (int, np.integer)) and not isinstance(action, bool)
            and 0 <= int(action) < num_actions):
        return int(action)
    raise Reject(f"Called `{call}`. Returned {action!r}, expected an int action in "
                 f"0..{num_actions - 1}.")


def network_shapes(target, device, num_states, num_actions, hidden_size):
    """{"shapes": {name: [sizes]}, "dtypes": {name: "float32"}} of build_q_network's state."""
    network = _build(target, device, num_states, num_actions, hidden_size)
    state = network.state_dict()
    return {
        "shapes": {name: list(tensor.shape) for name, tensor in state.items()},
        "dtypes": {name: str(tensor.dtype).removeprefix("torch.")
                   for name, tensor in state.items()},
    }


def q_values_with_weights(target, device, weights, states):
    """q_values(network, states) for a network loaded with the given weights."""
    network = _network(target, device, weights)
    values = target.q_values(network, to_torch(states, device))
    values = require_tensor(values, "q_values(q_network, states)").detach()
    synchronize(device)
    return values


def td_targets(target, device, rewards, next_q_values, dones, gamma):
    """td_targets(rewards, next_q_values, dones, gamma)."""
    values = target.td_targets(to_torch(rewards, device), to_torch(next_q_values, device),
                               to_torch(dones, device), gamma)
    values = require_tensor(values, "td_targets(rewards, next_q_values, dones, gamma)").detach()
    synchronize(device)
    return values


def loss(target, device, weights, target_weights, batch, gamma):
    """dqn_loss(q_network, target_network, batch, gamma), as a number."""
    call = "dqn_loss(q_network, target_network, batch, gamma)"
    value = target.dqn_loss(_network(target, device, weights),
                            _network(target, device, target_weights), _batch(batch, device), gamma)
    value = _loss_value(value, call)
    synchronize(device)
    return np.array(value, dtype=np.float32)  # () array: the channel sends numpy scalars as floats


def target_gradient(target, device, weights, target_weights, batch, gamma):
    """dqn_loss(...).backward(): the largest |gradient| on the target network (0 for none),
    and whether the online network got any gradient at all."""
    call = "dqn_loss(q_network, target_network, batch, gamma)"
    q_network = _network(target, device, weights)
    target_network = _network(target, device, target_weights)
    value = target.dqn_loss(q_network, target_network, _batch(batch, device), gamma)
    value = require_tensor(value, call)
    if value.numel() != 1 or not value.requires_grad:
        raise Reject(f"Called `{call}`. Returned a tensor of shape {tuple(value.shape)} with "
                     f"requires_grad={value.requires_grad}, expected a 0-d loss that "
                     f"autograd can differentiate.")
    value.reshape(()).backward()
    synchronize(device)

    def largest(network):
        grads = [p.grad.detach().abs().max().item() for p in network.parameters()
                 if p.grad is not None]
        return max(grads, default=0.0)

    return {"target": float(largest(target_network)), "online": float(largest(q_network))}


def train_steps(target, device, weights, target_weights, batch, gamma, learning_rate, steps):
    """`steps` train_step calls with torch.optim.Adam(q_network.parameters(), lr): the losses,
    the online and target weights afterwards."""
    call = "train_step(q_network, target_network, optimizer, batch, gamma)"
    q_network = _network(target, device, weights)
    target_network = _network(target, device, target_weights)
    optimizer = torch.optim.Adam(q_network.parameters(), lr=learning_rate)
    tensors = _batch(batch, device)
    losses = [_loss_value(target.train_step(q_network, target_network, optimizer, tensors, gamma),
                          call) for _ in range(steps)]
    result = {"losses": np.asarray(losses, dtype=np.float32),
              "online": _weights(q_network, call), "target": _weights(target_network, call)}
    synchronize(device)
    return result


def action_counts(target, device, q_values, epsilon, draws, seed):
    """How often select_action(q_values, epsilon) picked each action in `draws` calls."""
    torch.manual_seed(seed)
    values = to_torch(q_values, device)
    call = f"select_action(q_values, epsilon={epsilon:g})"
    counts = np.zeros(len(q_values), dtype=np.int64)
    for _ in range(draws):
        counts[_action(target.select_action(values, epsilon), call, len(q_values))] += 1
    return counts


def trained_q_values(target, device, seed):
    """train(env, seed, device) on FrozenLake, then q_values(network, every state)."""
    if device == "cpu":
        torch.set_num_threads(1)  # tiny networks: threads cost more than they give on a shared CPU
    env = make_env()
    call = f"train(env, seed={seed}, device={device!r})"
    network = target.train(env, seed, device)
    if not isinstance(network, nn.Module):
        raise Reject(f"Called `{call}`. Returned {type(network).__name__}, expected the trained "
                     f"Q-network (a torch.nn.Module).")
    states = torch.arange(env.observation_space.n, device=device)  # (S,)
    with torch.no_grad():
        values = require_tensor(target.q_values(network, states), "q_values(network, states)")
    synchronize(device)
    return values.detach()
