"""Q-learning, judge side: the inputs both twins draw, the epsilon-greedy statistics, and the
environment oracle (value iteration on FrozenLake's transition table).

The judge reads the transition table from Gymnasium itself rather than from a worker: the oracle
that decides a verdict then depends on nothing a worker sends, and Gymnasium is plain Python on
numpy (it imports no ML framework; tests/test_qlearning_variants.py checks that).
"""

import contextlib
import dataclasses
import functools
import math

import numpy as np

from grader.expect import expect_close, expect_keys, require_array
from grader.topics.common import draw_seed, shape_of
from grader.topics.diagnosis import (
    first_of,
    matches_another,
    near,
    offset_per_column,
    ratio_is_a_count,
    sign_flipped,
    step_scaled_by_learning_rate,
    step_sign_flipped,
    transposed,
)
from grader.verdicts import InternalFault, LearnerFault

ENV_ID = "FrozenLake-v1"
ENV_KWARGS = {"map_name": "4x4", "is_slippery": False}
JUDGE_GAMMA = 0.9  # any 0 < gamma < 1 gives the same optimal policy: the shortest safe path
ACTION_DRAWS = 10_000
SIGMAS = 6.0  # a correct epsilon-greedy share strays this far with probability ~2e-9
TRAININGS = 6  # task 5: trainings per grading, each from its own drawn seed
TRAININGS_NEEDED = 5  # of them must end optimal from the start state (the statement's rate)
TARGET_DRAWS = 6  # other target weights tried until the reference's loss clearly changes


# --- drawing inputs ------------------------------------------------------------------------------


def draw_network_sizes(rng):
    """(num_states, num_actions, hidden_size): 4..16 states, 2..5 actions, hidden 4..32."""
    return int(rng.integers(4, 17)), int(rng.integers(2, 6)), int(rng.integers(4, 33))


def draw_batch_sizes(rng, num_actions):
    """Three batch sizes, always: 1, num_actions (a max over the wrong axis then keeps the
    right shape, so only its values can tell), and one in 6..64 (never num_actions)."""
    return [1, num_actions, int(rng.integers(6, 65))]


def draw_weights(rng, num_states, num_actions, hidden_size):
    """Canonical (in, out) weights: {"fc1.weight": (S, H), "fc1.bias": (H,), "fc2.weight":
    (H, A), "fc2.bias": (A,)}, float32."""
    shapes = {"fc1.weight": (num_states, hidden_size), "fc1.bias": (hidden_size,),
              "fc2.weight": (hidden_size, num_actions), "fc2.bias": (num_actions,)}
    return {name: (rng.normal(size=shape) / math.sqrt(shape[0] if len(shape) == 2 else 1.0)
                   ).astype(np.float32) for name, shape in shapes.items()}


def draw_states(rng, batch, num_states):
    return rng.integers(0, num_states, size=batch).astype(np.int64)


def draw_dones(rng, batch):
    """0/1 float32; a batch of two or more holds at least one of each."""
    dones = (rng.random(batch) < 0.5).astype(np.float32)
    if batch >= 2:
        dones[rng.permutation(batch)[:2]] = [0.0, 1.0]
    return dones


def draw_gamma(rng):
    return float(rng.uniform(0.8, 0.99))


def draw_td_inputs(rng, batch, num_actions):
    return {
        "rewards": rng.normal(size=batch).astype(np.float32),
        "next_q_values": rng.normal(size=(batch, num_actions)).astype(np.float32),
        "dones": draw_dones(rng, batch),
        "gamma": draw_gamma(rng),
    }


def draw_transitions(rng, batch, num_states, num_actions):
    """A minibatch as a replay buffer returns it: indices int64, rewards and dones float32."""
    return {
        "states": draw_states(rng, batch, num_states),
        "actions": rng.integers(0, num_actions, size=batch).astype(np.int64),
        "rewards": rng.normal(size=batch).astype(np.float32),
        "next_states": draw_states(rng, batch, num_states),
        "dones": draw_dones(rng, batch),
    }


def draw_action_values(rng, num_actions):
    """Q-values of one state, float32, with one clear greedy action."""
    values = rng.normal(size=num_actions).astype(np.float32)
    greedy = int(rng.integers(0, num_actions))
    values[greedy] = values.max() + 1.0
    return values, greedy


def describe_batch(batch):
    return ", ".join(f"{name}.shape={array.shape}" for name, array in batch.items())


# --- judging: epsilon-greedy ---------------------------------------------------------------------


def epsilon_greedy_shares(num_actions, greedy, epsilon):
    """The probability of each action: epsilon / A each, plus 1 - epsilon for the greedy one."""
    shares = np.full(num_actions, epsilon / num_actions)
    shares[greedy] += 1.0 - epsilon
    return shares


def expect_epsilon_greedy_counts(call, counts, num_actions, greedy, epsilon, draws):
    """Every action's share of `draws` lies within SIGMAS standard deviations of its probability
    (exactly 1 for the greedy action when epsilon is 0)."""
    counts = np.asarray(counts, dtype=np.float64)
    if counts.shape != (num_actions,) or counts.sum() != draws:
        raise AssertionError(
            f"Called `{call}` {draws} times. Counted {counts.sum():g} actions in "
            f"0..{num_actions - 1}, expected all {draws}: every action must be an int in "
            f"0..{num_actions - 1}."
        )
    shares = epsilon_greedy_shares(num_actions, greedy, epsilon)
    observed = counts / draws
    allowed = SIGMAS * np.sqrt(shares * (1.0 - shares) / draws)
    wrong = np.abs(observed - shares) > allowed
    if np.any(wrong):
        worst = int(np.argmax(np.abs(observed - shares) - allowed))
        what = "the greedy action" if worst == greedy else f"action {worst} (not greedy)"
        likely = epsilon_mistake(observed, num_actions, greedy, epsilon, draws)
        raise AssertionError(
            f"Called `{call}` {draws} times, each a fresh random draw. {what} was "
            f"chosen {observed[worst]:.4f} of the time, expected {shares[worst]:.4f} +- "
            f"{allowed[worst]:.4f} ({SIGMAS:g} standard deviations): with probability epsilon "
            f"pick any of the {num_actions} actions uniformly (the greedy one included), else "
            f"the greedy one. Observed shares {np.round(observed, 4).tolist()}, expected "
            f"{np.round(shares, 4).tolist()}.{f' Likely: {likely}.' if likely else ''}"
        )


def epsilon_mistake(observed, num_actions, greedy, epsilon, draws):
    """The epsilon-greedy mistake the observed shares fit, judge side, or None: always
    exploring (epsilon and q_values ignored), never exploring, or epsilon inverted."""

    def fits(other_epsilon):
        shares = epsilon_greedy_shares(num_actions, greedy, other_epsilon)
        allowed = SIGMAS * np.sqrt(shares * (1.0 - shares) / draws)
        return bool(np.all(np.abs(observed - shares) <= allowed))

    if epsilon < 1.0 and fits(1.0):
        return (f"every action comes up equally often, as if epsilon were 1: select_action "
                f"ignores epsilon and q_values (it always draws a random action)")
    if epsilon > 0.0 and fits(0.0):
        return "the greedy action every time, as if epsilon were 0: select_action never explores"
    if 0.0 < epsilon < 1.0 and abs(epsilon - 0.5) > 0.05 and fits(1.0 - epsilon):
        return (f"the shares of epsilon = {1.0 - epsilon:.3g}, not {epsilon:.3g}: the comparison "
                f"is inverted (explore when the draw is below epsilon)")
    return None


# --- judging: the environment oracle -------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Table:
    """A deterministic environment: next state, reward and termination per (state, action)."""

    next_states: np.ndarray  # (S, A) int
    rewards: np.ndarray  # (S, A) float
    terminal: np.ndarray  # (S, A) bool
    start: int
    max_steps: int


def make_env():
    """The environment of task 5, as the workers hand it to `train` (with its time limit)."""
    import gymnasium

    return gymnasium.make(ENV_ID, **ENV_KWARGS)


def environment_table():
    """FrozenLake's transition table, read from Gymnasium's env.unwrapped.P."""
    env = make_env()
    transitions = env.unwrapped.P
    num_states, num_actions = env.observation_space.n, env.action_space.n
    next_states = np.zeros((num_states, num_actions), dtype=np.int64)
    rewards = np.zeros((num_states, num_actions))
    terminal = np.zeros((num_states, num_actions), dtype=bool)
    for state in range(num_states):
        for action in range(num_actions):
            (probability, next_state, reward, done), = transitions[state][action]
            assert probability == 1.0, "the judge's oracle expects a deterministic environment"
            next_states[state, action], rewards[state, action] = next_state, reward
            terminal[state, action] = done
    start = int(np.argmax(env.unwrapped.initial_state_distrib))
    return Table(next_states, rewards, terminal, start, env.spec.max_episode_steps)


def optimal_values(table, gamma=JUDGE_GAMMA, tolerance=1e-12):
    """V*(s) by value iteration: V(s) = max_a r(s, a) + gamma * (1 - terminal) * V(s')."""
    values = np.zeros(table.next_states.shape[0])
    while True:
        action_values = table.rewards + gamma * (~table.terminal) * values[table.next_states]
        new_values = action_values.max(axis=1)
        if np.max(np.abs(new_values - values)) < tolerance:
            return new_values
        values = new_values


def greedy_rollout(table, q_values, gamma=JUDGE_GAMMA):
    """(discounted return, visited states, how it ended) of the greedy policy from the start."""
    state, discounted, path = table.start, 0.0, [table.start]
    for step in range(table.max_steps):
        action = int(np.argmax(q_values[state]))
        discounted += gamma**step * table.rewards[state, action]
        reward, ended = table.rewards[state, action], table.terminal[state, action]
        state = int(table.next_states[state, action])
        path.append(state)
        if ended:
            outcome = "reached the goal" if reward > 0 else "fell into a hole"
            return discounted, path, f"{outcome} after {step + 1} steps"
    return discounted, path, f"was still walking after {table.max_steps} steps (the time limit)"


def shortest_path_steps(table, gamma=JUDGE_GAMMA):
    value = optimal_values(table, gamma)[table.start]
    return round(math.log(value, gamma)) + 1 if value > 0 else None


def is_optimal_from_start(q_values, table):
    """Whether the greedy policy of `q_values` (S, A) earns the optimal return from the start."""
    best = optimal_values(table)[table.start]
    return math.isclose(greedy_rollout(table, q_values)[0], best, rel_tol=1e-9, abs_tol=1e-12)


def expect_optimal_from_start(call, q_values, table):
    """The greedy policy of `q_values` (S, A) earns the optimal return from the start state."""
    values = optimal_values(table)
    achieved, path, outcome = greedy_rollout(table, q_values)
    if not is_optimal_from_start(q_values, table):
        raise AssertionError(
            f"Called `{call}`. The greedy policy of the trained network (argmax over its "
            f"Q-values) {outcome} from the start state {table.start}: states "
            f"{path[:20]}{' ...' if len(path) > 20 else ''}, a discounted return of "
            f"{achieved:.4f} (gamma {JUDGE_GAMMA}). The optimal policy, by value iteration on "
            f"the environment's transition table, reaches the goal in "
            f"{shortest_path_steps(table)} steps (return {values[table.start]:.4f}). Check the "
            f"TD targets, the target-network sync, exploration, and train for longer."
        )


# --- explaining an error: jax.grad given a value -------------------------------------------------

GRAD_OF_A_FUNCTION = (
    "`jax.grad(f, argnums=i)` takes a function `f` and differentiates it with respect to its "
    "positional argument number i (counted from 0); `grad(f)(params, ...)` then calls it. Give "
    "it the loss function itself and differentiate with respect to the params, the first "
    "argument: `jax.grad(dqn_loss)(params, target_params, batch, gamma)` (or "
    "`jax.value_and_grad`). In `grad(lambda x: loss(x), argnums=1)(params)`, `loss` is a value "
    "(the loss already computed), not a function, and `argnums=1` names a second argument the "
    "one-argument lambda does not have")
GRAD_MISTAKES = (
    # (what the error text holds, what the mistake is)
    ("differentiating with respect to argnums=",
     "`jax.grad` was asked for an argument beyond those the call passed"),
    ("Expected a callable value", "`jax.grad` was given a value where it needs a function"),
    ("Tracer' object is not callable", "an array (a traced value) was called as a function"),
    ("ArrayImpl' object is not callable", "an array was called as a function"),
)


def grad_advice(message):
    """What a JAX error about `grad` and argnums means, or None (judge side: reads text)."""
    for text, mistake in GRAD_MISTAKES:
        if text in message:
            return f"{mistake}. {GRAD_OF_A_FUNCTION}."
    return None


@contextlib.contextmanager
def explaining_grad_mistakes():
    """A learner's error that comes from giving `jax.grad` a value (or an argnums beyond the
    function's arguments) keeps its text, followed by what the mistake is."""
    try:
        yield
    except LearnerFault as fault:
        advice = grad_advice(fault.message)
        if advice is None or advice in fault.message:
            raise
        raise LearnerFault(fault.verdict, f"{fault.message}\n{advice}") from None


# --- diagnosing a mismatch (grader/topics/diagnosis.py) -----------------------------------------


def bootstrapped_past_the_end(got, want, next_q_values, dones, gamma):
    """The TD targets differ only where done=1, by exactly gamma x max next Q there."""
    if got.shape != want.shape or got.shape != dones.shape or not np.any(dones == 1):
        return None
    ended = dones == 1
    if not near(got[~ended], want[~ended]):
        return None
    bootstrap = gamma * np.asarray(next_q_values, dtype=np.float64).max(axis=1)  # (batch,)
    if near(got[ended] - want[ended], bootstrap[ended]) and not near(got, want):
        return (f"the targets differ only on the {int(ended.sum())} transitions with done=1, "
                f"each by exactly gamma x max next Q: the target bootstraps past the end of "
                f"the episode; multiply the bootstrap term by (1 - dones)")
    return None


def diagnose_q_values(weights):
    """What wrong Q-values of a network loaded with `weights` look like."""
    return first_of(functools.partial(offset_per_column, bias=weights["fc2.bias"]), transposed,
                    sign_flipped)


def diagnose_td_targets(next_q_values, dones, gamma):
    return first_of(functools.partial(bootstrapped_past_the_end, next_q_values=next_q_values,
                                      dones=dones, gamma=gamma), sign_flipped)


def numpy_q_values(weights, states):
    """Q-values of the canonical (in, out) weights, judge side: (batch, num_actions) float64."""
    weights = {name: np.asarray(array, dtype=np.float64) for name, array in weights.items()}
    one_hot = np.eye(weights["fc1.weight"].shape[0])[states]  # (batch, num_states)
    hidden = np.maximum(one_hot @ weights["fc1.weight"] + weights["fc1.bias"], 0.0)
    return hidden @ weights["fc2.weight"] + weights["fc2.bias"]  # (batch, num_actions)


def numpy_loss(weights, bootstrap_weights, batch, gamma, masked=True):
    """The DQN loss with the TD targets bootstrapped from `bootstrap_weights`, with or without
    the (1 - dones) mask: the reference's formula and the plausible other ones."""
    chosen = numpy_q_values(weights, batch["states"])[np.arange(len(batch["actions"])),
                                                      batch["actions"]]  # (batch,)
    bootstrap = numpy_q_values(bootstrap_weights, batch["next_states"]).max(axis=1)  # (batch,)
    mask = 1.0 - batch["dones"] if masked else 1.0
    targets = batch["rewards"] + gamma * mask * bootstrap  # (batch,)
    return np.mean((chosen - targets) ** 2)


ONLINE_TARGETS = ("the TD targets come from the online network (the one being trained), not "
                  "from the target network: bootstrap from the target network's Q-values of "
                  "next_states")
NO_MASK = ("the bootstrap term is added even where done=1: the targets bootstrap past the end "
           "of the episode; multiply it by (1 - dones)")


def loss_alternatives(inputs):
    """{sentence: loss} for the loss's plausible mistakes, on the check's own inputs."""
    weights, target_weights = inputs["weights"], inputs["target_weights"]
    batch, gamma = inputs["batch"], inputs["gamma"]
    return {
        f"it equals the loss with {ONLINE_TARGETS}":
            numpy_loss(weights, weights, batch, gamma),
        f"it equals the loss where {NO_MASK}":
            numpy_loss(weights, target_weights, batch, gamma, masked=False),
        f"it equals the loss where {ONLINE_TARGETS}, and where {NO_MASK}":
            numpy_loss(weights, weights, batch, gamma, masked=False),
    }


def diagnose_loss(inputs):
    """What a wrong loss (or the first loss train_step returns) on `inputs` looks like."""
    counts = {"the batch size": len(inputs["batch"]["rewards"])}
    alternatives = loss_alternatives(inputs)

    def first_loss(got, want):  # train_step's losses: only the first one is on these weights
        got, want = np.ravel(got)[:1].reshape(()), np.ravel(want)[:1].reshape(())
        return matches_another(got, want, alternatives)

    return first_of(first_loss, lambda got, want: ratio_is_a_count(got, want, counts),
                    sign_flipped)


def diagnose_step(before, learning_rate):
    """What wrong online weights after optimizer steps from `before` look like."""
    return first_of(
        lambda got, want: step_sign_flipped(got, want, before),
        lambda got, want: step_scaled_by_learning_rate(got, want, before, learning_rate),
        transposed)


# --- checks both twins run (the probes of both suites share names and inputs) -----------------

WEIGHT_NAMES = ("fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias")


def expect_network_shapes(workers, rng, call_of, layout_note, **extra):
    """build_q_network's parameters: the reference's names, shapes and dtypes, for three sizes.

    `call_of(num_states, num_actions, hidden_size)` spells the call in messages; `extra` goes to
    the probe (the JAX twin's key seed).
    """
    for _ in range(3):
        num_states, num_actions, hidden_size = draw_network_sizes(rng)
        want, got = workers.both("network_shapes", num_states=num_states,
                                 num_actions=num_actions, hidden_size=hidden_size, **extra)
        call = call_of(num_states, num_actions, hidden_size)
        expect_keys(got["shapes"], want["shapes"], call)
        expect_keys(got["dtypes"], want["dtypes"], call)
        for name, want_sizes in want["shapes"].items():
            got_shape, want_shape = shape_of(got["shapes"][name]), shape_of(want_sizes)
            if got_shape != want_shape:
                raise AssertionError(f"Called `{call}`. {name!r} has shape {got_shape}, "
                                     f"expected {want_shape} ({layout_note}).")
            if got["dtypes"][name] != want["dtypes"][name]:
                raise AssertionError(f"Called `{call}`. {name!r} is {got['dtypes'][name]}, "
                                     f"expected {want['dtypes'][name]}.")


def expect_weights_close(got, want, call, what, tol, diagnose_of=None):
    """`diagnose_of(name)`, when given, diagnoses a mismatch of the weight `name`."""
    expect_keys(got, want, f"{call}: {what}")
    for name in WEIGHT_NAMES:
        expect_close(got[name], want[name], f"{call}: {what} {name} (in the (in, out) layout)",
                     rtol=tol.rtol, atol=tol.atol,
                     diagnose=diagnose_of(name) if diagnose_of else None)


def expect_q_values(workers, rng, tol, network):
    num_states, num_actions, hidden_size = draw_network_sizes(rng)
    weights = draw_weights(rng, num_states, num_actions, hidden_size)
    for batch in draw_batch_sizes(rng, num_actions):
        states = draw_states(rng, batch, num_states)
        want, got = workers.both("q_values_with_weights", weights=weights, states=states)
        call = (f"q_values({network}, states.shape={states.shape}) with {num_states} states, "
                f"{num_actions} actions, hidden size {hidden_size}")
        expect_close(got, want, call, rtol=tol.rtol, atol=tol.atol,
                     diagnose=diagnose_q_values(weights))


def expect_td_targets(workers, rng, tol, all_terminal=False):
    num_actions = draw_network_sizes(rng)[1]
    for batch in draw_batch_sizes(rng, num_actions):
        inputs = draw_td_inputs(rng, batch, num_actions)
        if all_terminal:
            inputs["dones"] = np.ones(batch, dtype=np.float32)
        want, got = workers.both("td_targets", **inputs)
        call = (f"td_targets(rewards.shape={inputs['rewards'].shape}, "
                f"next_q_values.shape={inputs['next_q_values'].shape}, "
                f"dones={inputs['dones'].astype(int).tolist()}, gamma={inputs['gamma']:.4g})")
        expect_close(got, want, call, rtol=tol.rtol, atol=tol.atol,
                     diagnose=diagnose_td_targets(inputs["next_q_values"], inputs["dones"],
                                                  inputs["gamma"]))


def draw_loss_inputs(rng, batch=None):
    """Online and target weights (different), a minibatch and gamma."""
    num_states, num_actions, hidden_size = draw_network_sizes(rng)
    batch = batch or int(rng.integers(6, 65))
    return {
        "weights": draw_weights(rng, num_states, num_actions, hidden_size),
        "target_weights": draw_weights(rng, num_states, num_actions, hidden_size),
        "batch": draw_transitions(rng, batch, num_states, num_actions),
        "gamma": draw_gamma(rng),
    }


def expect_loss(workers, rng, tol, call):
    for batch in (1, None):
        inputs = draw_loss_inputs(rng, batch)
        want, got = workers.both("loss", **inputs)
        expect_close(got, want, f"{call} with {describe_batch(inputs['batch'])}, "
                     f"gamma={inputs['gamma']:.4g}", rtol=tol.rtol, atol=tol.atol,
                     diagnose=diagnose_loss(inputs))


def expect_no_target_gradient(workers, rng, call, wall, loss_call, target_name):
    """The loss's gradient reaches the online network and not the target one, and the loss
    reads the target network (expect_loss_reads_the_target_network). `loss_call` spells the
    loss's call and `target_name` the target network ("target network", "target params")."""
    inputs = draw_loss_inputs(rng)
    want, got = workers.both("target_gradient", **inputs)
    if want["target"] != 0.0 or not want["online"] > 0.0:
        raise InternalFault(f"the reference's gradients were {want}")
    if not got["target"] == 0.0:
        raise AssertionError(
            f"Called `{call}`. The target network's parameters got gradients up to "
            f"|{got['target']:.3g}|, expected none: the TD target is a constant "
            f"({wall}), so only the online network learns from the loss."
        )
    if not got["online"] > 0.0:
        raise AssertionError(f"Called `{call}`. The online network's parameters got no "
                             f"gradient, expected some: the loss must depend on them.")
    expect_loss_reads_the_target_network(workers, rng, inputs, loss_call, target_name)


def expect_loss_reads_the_target_network(workers, rng, inputs, call, target_name):
    """The loss changes when only the target weights change: a loss that never reads the target
    network (TD targets from the online one) sends it no gradient either, and must not pass the
    gradient check for free."""
    num_states, hidden_size = inputs["target_weights"]["fc1.weight"].shape
    num_actions = inputs["target_weights"]["fc2.weight"].shape[1]
    want, got = workers.both("loss", **inputs)
    want, got = float(want), float(require_array(got, call))
    # Other target weights change the reference's loss by less than 0.1% in ~0.4% of draws (the
    # squared errors' changes cancel): draw again then, so that the check never hangs on luck.
    for _ in range(TARGET_DRAWS):
        other = dict(inputs,
                     target_weights=draw_weights(rng, num_states, num_actions, hidden_size))
        want_other, got_other = workers.both("loss", **other)
        want_other, got_other = float(want_other), float(require_array(got_other, call))
        if abs(want_other - want) > 1e-3 * max(1.0, abs(want)):
            break
    else:
        raise InternalFault(f"the reference's loss hardly changed with {TARGET_DRAWS} other "
                            f"target weights ({want}, last {want_other})")
    if not np.isfinite(got) or not abs(got_other - got) > 1e-5 * max(1.0, abs(got)):
        raise AssertionError(
            f"Called `{call}` twice with the same {describe_batch(inputs['batch'])}, gamma="
            f"{inputs['gamma']:.4g} and online weights, changing only the {target_name}'s "
            f"weights. Returned {got:.6g}, then {got_other:.6g}: the loss does not read the "
            f"{target_name}. Expected it to change, as the reference's did ({want:.6g}, then "
            f"{want_other:.6g}): the TD target is rewards + gamma x (1 - dones) x max over "
            f"actions of the {target_name}'s Q-values of next_states, not the online one's."
        )


def expect_train_steps(workers, rng, tol, call, steps, **extra):
    inputs = draw_loss_inputs(rng)
    learning_rate = float(rng.uniform(1e-3, 5e-2))
    with explaining_grad_mistakes():
        want, got = workers.both("train_steps", learning_rate=learning_rate, steps=steps,
                                 **inputs, **extra)
    call = (f"{call} with {describe_batch(inputs['batch'])}, gamma={inputs['gamma']:.4g}, "
            f"Adam lr={learning_rate:.4g}")
    if steps > 1:
        call = f"{call}, {steps} times in a row"
    # the losses first: the first one is the loss before any update, so a wrong loss is named
    # as such, not by the weights it moved
    losses = "the returned loss" if steps == 1 else "the returned losses, in order"
    expect_close(got["losses"], want["losses"], f"{call}: {losses}", rtol=tol.rtol, atol=tol.atol,
                 diagnose=diagnose_loss(inputs))
    expect_weights_close(got["online"], want["online"], call, "the online network afterwards", tol,
                         lambda name: diagnose_step(inputs["weights"][name], learning_rate))
    expect_weights_close(got["target"], want["target"], call,
                         "the target network afterwards (it must not change)", tol)


def expect_epsilon_greedy(workers, rng, call, epsilon, **extra):
    num_actions = int(rng.integers(3, 6))
    values, greedy = draw_action_values(rng, num_actions)
    seed = draw_seed(rng)
    # the reference runs too, for the time limit; the shares are checked against the formula
    _, got = workers.both("action_counts", q_values=values, epsilon=epsilon,
                          draws=ACTION_DRAWS, seed=seed, **extra)
    got = require_array(got, call)
    expect_epsilon_greedy_counts(f"{call} with q_values={np.round(values, 3).tolist()}", got,
                                 num_actions, greedy, epsilon, ACTION_DRAWS)


def expect_training_optimal(workers, rng, call_of):
    """Task 5, an outcome over several trainings: the learner's training runs from TRAININGS
    drawn seeds, one after the other, and passes when at least TRAININGS_NEEDED of them end with
    a greedy policy optimal from the start state. One training is a coin that even a correct
    but less reliable plan can lose, and a broken one can win; a rate over several trainings is
    what makes a file's verdict the same whatever the grading seed. The trainings stop as soon
    as the verdict is decided (TRAININGS_NEEDED successes, or too many failures for them).

    The reference trains once, from the first seed: its time sets every training's time limit
    (the same run, the same device), and it must itself end optimal, or the check cannot judge.
    `call_of(seed)` spells the training call in messages.
    """
    table = environment_table()
    shape = table.next_states.shape
    seeds = [draw_seed(rng) for _ in range(TRAININGS)]
    outcomes = []  # (seed, optimal, what the greedy policy did, the states it visited)
    for seed in seeds:
        call = call_of(seed)
        with explaining_grad_mistakes():
            if not outcomes:  # the first training: the reference's too
                want, got = workers.both("trained_q_values", seed=seed)
                if not is_optimal_from_start(want, table):
                    raise InternalFault(f"the reference's `{call}` did not learn the optimal "
                                        f"policy, so this check cannot judge yours")
            else:
                got = workers.learner("trained_q_values", seed=seed)
        got = require_array(got, call)
        if got.shape != shape or not np.all(np.isfinite(got)):
            raise AssertionError(f"Called `{call}`, then q_values on every state. Returned "
                                 f"shape {got.shape}, expected {shape} of finite values.")
        _, path, outcome = greedy_rollout(table, got)
        outcomes.append((seed, is_optimal_from_start(got, table), outcome, path))
        optimal = sum(ok for _, ok, _, _ in outcomes)
        if optimal >= TRAININGS_NEEDED:
            workers.note(f"Optimal from the start state in {optimal} of {len(outcomes)} "
                         f"trainings; {TRAININGS_NEEDED} of {TRAININGS} needed.")
            return
        if len(outcomes) - optimal > TRAININGS - TRAININGS_NEEDED:
            break
    raise AssertionError(training_rate_message(call_of, outcomes, table))


def training_rate_message(call_of, outcomes, table):
    """Why the trainings missed the stated rate: the count, then each failed training."""
    optimal = sum(ok for _, ok, _, _ in outcomes)
    failed = [(seed, outcome, path) for seed, ok, outcome, path in outcomes if not ok]
    lines = [
        f"Called `{call_of('SEED')}` for {len(outcomes)} drawn seeds, then q_values on every "
        f"state. The greedy policy of the trained network (argmax over its Q-values) was optimal "
        f"from the start state in {optimal} of {len(outcomes)} trainings; {TRAININGS_NEEDED} of "
        f"{TRAININGS} needed (the trainings stop once {TRAININGS - TRAININGS_NEEDED + 1} have "
        f"failed). The optimal policy, by value iteration on the environment's transition "
        f"table, reaches the goal in {shortest_path_steps(table)} steps (return "
        f"{optimal_values(table)[table.start]:.4f}, gamma {JUDGE_GAMMA})."
    ]
    for seed, outcome, path in failed:
        lines.append(f"- seed={seed}: from the start state {table.start} it {outcome}: states "
                     f"{path[:12]}{' ...' if len(path) > 12 else ''}.")
    lines.append("Task 5 judges the outcome over several trainings, so a plan that learns only "
                 "sometimes fails it: check the TD targets (target network, done = terminated), "
                 "the replay minibatches, the target-network sync and the exploration schedule, "
                 "and give the buffer enough random steps to hold some rewarded transitions.")
    return "\n".join(lines)
