"""Hidden suite for cnn_jax.

Each check runs one probe on the learner's module and on the reference solution with the same
freshly drawn inputs, and compares the two results here. Weights are drawn in the canonical
(PyTorch) layout and converted to JAX's (HWIO kernels, (in, out) dense weights, fc1 reading a
(height, width, channel) flatten) by grader/topics/cnn.py, which also splits off the state:
bn1's running statistics, drawn away from 0 and 1 so that the two modes give different logits.

1. build_model returns (params, state) with the reference's names, shapes, count and dtype,
   and every random array comes from a key of its own (same key: same params; another key:
   other params), checked on whatever names the learner chose.
2. forward(params, state, images, train) matches the reference for given weights: with
   train=False (batch sizes 1, 2..16, 17..128) it returns the state it was given; with
   train=True (2..16, 17..128) it returns the state moved by the reference's momentum step,
   and leaves the dicts it was given as they were (no hidden mutation).
3. loss_and_grads matches the reference's loss, every gradient, and the new state.
4. train_step is a jax.jit function that compiles on its first call only; one Adam step and
   three consecutive steps match the reference's params, state and losses; train_step returns
   the new state.
5. train's (params, state) reach 95% accuracy on the held-out digits: the reference's forward
   pass runs with train=False on them and the argmax is scored here (the held-out digits never
   reach the learner's worker); predict matches the reference's train=False logits for given
   weights. The threshold: with bn1 the reference reached 98.9% to 99.7% over 12 keys
   (benchmarks/cnn_training.py, busy 2-core machine); 95% leaves about 4 points.

A run's batch sizes (1, one in 2..16, one in 17..128) come from `run_rng`: every check of the
run uses those three (a check that needs one picks among them), and the Adam checks share the
largest and one learning rate, so a JAX worker compiles each function for a few shapes only,
and the next run of the same seed class finds them in its compilation cache. The values inside
the arrays are fresh for every check.
"""

import numpy as np
import pytest

from grader.expect import expect_close, expect_keys
from grader.topics.cnn import (
    adam_strays_note,
    check_training,
    digits_split,
    draw_batch_sizes,
    draw_images,
    draw_labels,
    draw_run_steps,
    draw_weights,
    expect_adam_weights_close,
    expect_arrays_close,
    expect_count_and_dtypes,
    expect_evaluation_logits,
    expect_shapes,
    expect_statistics_kept,
    expect_statistics_updated,
    jax_images,
    nest_params,
    pick_batch_size,
    shared_key_pairs,
    to_jax_layout,
)
from grader.topics.common import draw_seed
from grader.verdicts import InternalFault

LAYOUT_HINT = "kernels are HWIO (height, width, in, out), dense weights (in, out)"
STATE_FIX = "Build a new state dict and return it; the caller passes it to the next call."


def draw_batch(rng, batch):
    return jax_images(draw_images(rng, batch)), draw_labels(rng, batch)


def flat_state(state):
    return {f"{layer}.{name}": array for layer, arrays in state.items()
            for name, array in arrays.items()}


def forward_in_mode(workers, rng, batch, train):
    """forward(params, state, images, train) on both sides; (given state, call, want, got)."""
    params, state = to_jax_layout(draw_weights(rng))
    images = jax_images(draw_images(rng, batch))
    want, got = workers.both("forward_pass", params=params, state=state, images=images,
                             train=train)
    call = (f"jax.jit(forward, static_argnums=3)(params, state, images.shape={images.shape}, "
            f"{train})")
    return flat_state(state), call, want, got


def check_adam_steps(workers, rng, run_rng, tol, steps, check_params=True):
    params, state = to_jax_layout(draw_weights(rng))
    # every Adam check of the run steps one compiled program (one optimizer per learning rate)
    batch, learning_rate = draw_run_steps(run_rng)
    batches = [draw_batch(rng, batch) for _ in range(steps)]
    want, got = workers.both("adam_steps", params=params, state=state, batches=batches,
                             learning_rate=learning_rate)
    call = (f"train_step(optimizer, params, state, opt_state, images, labels) with "
            f"optimizer = make_optimizer({learning_rate:.4g})")
    if steps > 1:
        call = (f"{call}, {steps} times, each on the previous params, state and opt_state and a "
                f"new batch")
    if check_params:
        strays = expect_adam_weights_close(got["params"], want["params"], call,
                                           "params[{name!r}]", tol, learning_rate, steps)
        if strays:
            workers.note(adam_strays_note(strays))
        losses = "the returned loss" if steps == 1 else "the returned losses, in order"
        expect_close(got["losses"], want["losses"], f"{call}: {losses}", rtol=tol.rtol,
                     atol=tol.atol)
    expect_keys(got["statistics"], want["statistics"], f"{call}: the returned state")
    expect_statistics_updated(got["statistics"], want["statistics"], flat_state(state),
                              f"{call}: the returned state", rtol=tol.rtol, atol=tol.atol,
                              fix="train_step must return the state its forward pass returned.")


# --- task 1: the parameters ----------------------------------------------------------------------


@pytest.mark.task(1)
def test_params_and_state_have_the_stated_names_and_shapes(workers, rng):
    seed = draw_seed(rng)
    want, got = workers.both("parameter_shapes", seed=seed)
    call = f"jax.jit(build_model)(jax.random.key({seed}))"
    expect_shapes(got["shapes"], want["shapes"], call, LAYOUT_HINT)


@pytest.mark.task(1)
def test_parameter_count_and_dtype_match_the_reference(workers, rng):
    seed = draw_seed(rng)
    want, got = workers.both("parameter_shapes", seed=seed)
    expect_count_and_dtypes(got, want, f"jax.jit(build_model)(jax.random.key({seed}))")


@pytest.mark.task(1)
def test_every_array_is_drawn_from_a_key_of_its_own(workers, rng):
    seed = draw_seed(rng)
    other_seed = seed + 1
    want, got = workers.both("params_from_keys", seed=seed, other_seed=other_seed)
    if shared_key_pairs(want[0]):
        raise InternalFault(f"the reference's params share keys: {shared_key_pairs(want[0])}")
    first, again, other = got
    call = f"jax.jit(build_model)(jax.random.key({seed}))"
    # the learner's own names, whatever they are: a reused key is named even when the names
    # differ from the statement's (the shape check says that)
    pairs = shared_key_pairs(first)
    if pairs:
        listed = ", ".join(f"{a!r} and {b!r}" for a, b in pairs[:3])
        listed += f" (and {len(pairs) - 3} more pairs)" if len(pairs) > 3 else ""
        raise AssertionError(
            f"Called `{call}`. The leading random numbers of {listed} rise and fall together: "
            f"they were drawn from the same key. Split the key (jax.random.split(key, n)) and "
            f"give every array its own.")
    for name in sorted(first):
        if name in again and not np.array_equal(first[name], again[name]):
            raise AssertionError(f"Called `{call}` twice. {name!r} differs between the two "
                                 f"calls: draw every array from the key you are given (no "
                                 f"numpy or global random state).")
    if all(name in other and np.array_equal(first[name], other[name]) for name in first):
        raise AssertionError(f"Called `{call}` and with jax.random.key({other_seed})."
                             f" Both returned the same params: draw them from the key.")
    expect_keys(first, want[0], call)


# --- task 2: the forward pass --------------------------------------------------------------------


@pytest.mark.task(2)
def test_logits_match_the_reference_in_evaluation_mode(workers, rng, run_rng, tol):
    for batch in draw_batch_sizes(run_rng):
        _, call, want, got = forward_in_mode(workers, rng, batch, train=False)
        expect_close(got["logits"], want["logits"],
                     f"{call}: the logits (bn1 reads the running statistics)",
                     rtol=tol.rtol, atol=tol.atol)


@pytest.mark.task(2)
def test_evaluation_mode_returns_the_running_statistics_unchanged(workers, rng, run_rng):
    given, call, want, got = forward_in_mode(workers, rng, pick_batch_size(rng, run_rng),
                                             train=False)
    expect_keys(got["statistics"], want["statistics"], f"{call}: the returned state")
    expect_statistics_kept(want["statistics"], given, call, "")
    expect_statistics_kept(got["statistics"], given, call,
                           "With train=False, return the state you were given.")


@pytest.mark.task(2)
def test_logits_match_the_reference_in_training_mode(workers, rng, run_rng, tol):
    # a batch of one has no batch statistics to speak of
    for batch in draw_batch_sizes(run_rng)[1:]:
        _, call, want, got = forward_in_mode(workers, rng, batch, train=True)
        expect_close(got["logits"], want["logits"],
                     f"{call}: the logits (bn1 reads the batch's mean and biased variance)",
                     rtol=tol.rtol, atol=tol.atol)


@pytest.mark.task(2)
def test_training_mode_returns_updated_running_statistics(workers, rng, run_rng, tol):
    given, call, want, got = forward_in_mode(workers, rng, pick_batch_size(rng, run_rng),
                                             train=True)
    expect_keys(got["statistics"], want["statistics"], f"{call}: the returned state")
    expect_statistics_updated(got["statistics"], want["statistics"], given, call,
                              rtol=tol.rtol, atol=tol.atol, fix=STATE_FIX)


@pytest.mark.task(2)
def test_forward_leaves_the_state_it_is_given_unchanged(workers, rng, run_rng):
    params, state = to_jax_layout(draw_weights(rng))
    images = jax_images(draw_images(rng, draw_batch_sizes(run_rng)[1]))
    want, got = workers.both("state_after_forward", params=params, state=state, images=images)
    if want["changed"]:
        raise InternalFault(f"the reference's forward changed its state in place: {want}")
    if got["changed"]:
        raise AssertionError(
            f"Called `forward(params, state, images.shape={images.shape}, True)` (not under "
            f"jax.jit). It wrote into the state dict it was given ({', '.join(got['changed'])} "
            f"replaced in place): hidden mutation, which jax.jit does not carry out of a traced "
            f"function and a caller does not expect. {STATE_FIX}")


# --- task 3: loss and gradients ------------------------------------------------------------------


@pytest.mark.task(3)
def test_loss_gradients_and_state_match_the_reference(workers, rng, run_rng, tol):
    params, state = to_jax_layout(draw_weights(rng))
    images, labels = draw_batch(rng, pick_batch_size(rng, run_rng))
    want, got = workers.both("loss_and_grads", params=params, state=state, images=images,
                             labels=labels)
    call = (f"jax.jit(loss_and_grads)(params, state, images.shape={images.shape}, "
            f"labels.shape={labels.shape})")
    expect_close(got["loss"], want["loss"], f"{call}: the loss", rtol=tol.rtol, atol=tol.atol)
    expect_arrays_close(got["grads"], want["grads"], call, "grads[{name!r}]", rtol=tol.rtol,
                        atol=tol.atol)
    expect_keys(got["statistics"], want["statistics"], f"{call}: the returned state")
    expect_statistics_updated(got["statistics"], want["statistics"], flat_state(state),
                              f"{call}: the returned state", rtol=tol.rtol, atol=tol.atol,
                              fix=STATE_FIX)


# --- task 4: Adam steps --------------------------------------------------------------------------


@pytest.mark.task(4)
def test_train_step_is_jit_compiled_once_and_reused(workers, rng, run_rng):
    params, state = to_jax_layout(draw_weights(rng))
    # the Adam checks' batch size and learning rate: the optimizer this check builds, and its
    # compiled step, serve them
    batch, learning_rate = draw_run_steps(run_rng)
    batches = [draw_batch(rng, batch) for _ in range(4)]
    want, got = workers.both("step_compilations", params=params, state=state, batches=batches,
                             learning_rate=learning_rate)
    if not want["jitted"] or not want["compilations"][0] or any(want["compilations"][1:]):
        # no compilation at the reference's first step: jax no longer reports the event the
        # probe counts, and every count would read 0
        raise InternalFault(f"the reference's train_step compiled as {want}")
    call = (f"train_step(optimizer, params, state, opt_state, images, labels) 4 times, "
            f"batch {batch}")
    if not got["jitted"]:
        raise AssertionError(
            f"Called `{call}`. train_step is not a jax.jit function, so every step runs op by "
            f"op: decorate it with @functools.partial(jax.jit, static_argnums=0).")
    later = got["compilations"][1:]
    if any(later):
        raise AssertionError(
            f"Called `{call}`. XLA compiled {got['compilations']} times at the four steps, "
            f"expected compilations at the first step only: something the step depends on "
            f"changes from call to call (a new optimizer, a Python number, a jax.jit inside "
            f"the step).")


@pytest.mark.task(4)
def test_one_adam_step_matches_the_reference(workers, rng, run_rng, tol):
    check_adam_steps(workers, rng, run_rng, tol, steps=1)


@pytest.mark.task(4)
def test_three_consecutive_adam_steps_match_the_reference(workers, rng, run_rng, tol):
    check_adam_steps(workers, rng, run_rng, tol, steps=3)


@pytest.mark.task(4)
def test_train_step_returns_the_updated_running_statistics(workers, rng, run_rng, tol):
    check_adam_steps(workers, rng, run_rng, tol, steps=1, check_params=False)


# --- task 5: training ----------------------------------------------------------------------------


def _evaluation_weights(flat):
    params, state = nest_params(flat)
    return {"params": params, "state": state, "train": False}


@pytest.mark.task(5)
def test_training_reaches_the_stated_accuracy_on_held_out_digits(workers, rng):
    train_images, train_labels, test_images, test_labels = digits_split()
    seed = draw_seed(rng)
    inputs = {"seed": seed, "train_images": jax_images(train_images), "train_labels": train_labels}
    call = (f"train(jax.random.key({seed}), images.shape={inputs['train_images'].shape}, "
            f"labels)")
    check_training(workers, "trained_params", inputs, call, jax_images(test_images), test_labels,
                   to_weights=_evaluation_weights)


@pytest.mark.task(5)
def test_predict_runs_in_evaluation_mode_with_the_running_statistics(workers, rng, run_rng, tol):
    params, state = to_jax_layout(draw_weights(rng))
    images = jax_images(draw_images(rng, pick_batch_size(rng, run_rng)))
    want, got = workers.both("predictions", params=params, state=state, images=images)
    call = f"predict(params, state, images.shape={images.shape})"
    expect_evaluation_logits(
        got, want,
        lambda: workers.reference("logits", params=params, state=state, images=images,
                                  train=True),
        call, tol, "Call forward(params, state, images, train=False) in predict.")
