"""Hidden suite for cnn_jax.

Each check runs one probe on the learner's module and on the reference solution with the same
freshly drawn inputs, and compares the two results here. Weights are drawn in the canonical
(PyTorch) layout and converted to JAX's (HWIO kernels, (in, out) dense weights, fc1 reading a
(height, width, channel) flatten) by grader/topics/cnn.py.

1. build_model's params have the reference's names, shapes, count and dtype, and every array
   comes from a key of its own (same key: same params; another key: other params).
2. forward matches the reference for given weights, batch sizes 1, 2..16 and 17..128.
3. loss_and_grads matches the reference's loss and every gradient.
4. One Adam step and three consecutive steps match the reference; train_step is a jax.jit
   function that compiles on its first call only.
5. train's params reach 93% accuracy on the held-out digits: the reference's forward pass runs
   on them and the argmax is scored here (the held-out digits never reach the learner's
   worker); predict matches the reference for given weights.
"""

import numpy as np
import pytest

from grader.expect import expect_close, expect_keys
from grader.topics.cnn import (
    adam_atol,
    check_training,
    digits_split,
    draw_batch_sizes,
    draw_images,
    draw_labels,
    draw_learning_rate,
    draw_weights,
    expect_arrays_close,
    expect_count_and_dtypes,
    expect_shapes,
    jax_images,
    nest_params,
    shared_key_pairs,
    to_jax_layout,
)
from grader.topics.common import draw_seed
from grader.verdicts import InternalFault

LAYOUT_HINT = "kernels are HWIO (height, width, in, out), dense weights (in, out)"


def draw_batch(rng, batch):
    return jax_images(draw_images(rng, batch)), draw_labels(rng, batch)


def check_adam_steps(workers, rng, tol, steps):
    weights = to_jax_layout(draw_weights(rng))
    batch = int(rng.integers(2, 65))  # one shape for every step: one compilation
    batches = [draw_batch(rng, batch) for _ in range(steps)]
    learning_rate = draw_learning_rate(rng)
    want, got = workers.both("adam_steps", weights=weights, batches=batches,
                             learning_rate=learning_rate)
    call = (f"train_step(optimizer, params, opt_state, images, labels) with "
            f"optimizer = make_optimizer({learning_rate:.4g})")
    if steps > 1:
        call = f"{call}, {steps} times, each on the previous params and opt_state and a new batch"
    expect_arrays_close(got["params"], want["params"], call, "params[{name!r}]", rtol=tol.rtol,
                        atol=adam_atol(tol, learning_rate))
    losses = "the returned loss" if steps == 1 else "the returned losses, in order"
    expect_close(got["losses"], want["losses"], f"{call}: {losses}", rtol=tol.rtol, atol=tol.atol)


# --- task 1: the parameters ----------------------------------------------------------------------


@pytest.mark.task(1)
def test_params_have_the_stated_names_and_shapes(workers, rng):
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
    expect_keys(first, want[0], call)
    for name in sorted(first):
        if not np.array_equal(first[name], again[name]):
            raise AssertionError(f"Called `{call}` twice. {name!r} differs between the two "
                                 f"calls: draw every array from the key you are given (no "
                                 f"numpy or global random state).")
    if all(np.array_equal(first[name], other[name]) for name in first):
        raise AssertionError(f"Called `{call}` and with jax.random.key({other_seed})."
                             f" Both returned the same params: draw them from the key.")
    pairs = shared_key_pairs(first)
    if pairs:
        listed = ", ".join(f"{a!r} and {b!r}" for a, b in pairs[:3])
        listed += f" (and {len(pairs) - 3} more pairs)" if len(pairs) > 3 else ""
        raise AssertionError(
            f"Called `{call}`. The leading random numbers of {listed} rise and fall together: "
            f"they were drawn from the same key. Split the key (jax.random.split(key, n)) and "
            f"give every array its own.")


# --- task 2: the forward pass --------------------------------------------------------------------


@pytest.mark.task(2)
def test_logits_match_the_reference_for_given_weights(workers, rng, tol):
    for batch in draw_batch_sizes(rng):
        weights = to_jax_layout(draw_weights(rng))
        images = jax_images(draw_images(rng, batch))
        want, got = workers.both("logits", weights=weights, images=images)
        expect_close(got, want, f"jax.jit(forward)(params, images.shape={images.shape})",
                     rtol=tol.rtol, atol=tol.atol)


# --- task 3: loss and gradients ------------------------------------------------------------------


@pytest.mark.task(3)
def test_loss_and_gradients_match_the_reference(workers, rng, tol):
    weights = to_jax_layout(draw_weights(rng))
    images, labels = draw_batch(rng, int(rng.integers(2, 65)))
    want, got = workers.both("loss_and_grads", weights=weights, images=images, labels=labels)
    call = (f"jax.jit(loss_and_grads)(params, images.shape={images.shape}, "
            f"labels.shape={labels.shape})")
    expect_close(got["loss"], want["loss"], f"{call}: the loss", rtol=tol.rtol, atol=tol.atol)
    expect_arrays_close(got["grads"], want["grads"], call, "grads[{name!r}]", rtol=tol.rtol,
                        atol=tol.atol)


# --- task 4: Adam steps --------------------------------------------------------------------------


@pytest.mark.task(4)
def test_one_adam_step_matches_the_reference(workers, rng, tol):
    check_adam_steps(workers, rng, tol, steps=1)


@pytest.mark.task(4)
def test_three_consecutive_adam_steps_match_the_reference(workers, rng, tol):
    check_adam_steps(workers, rng, tol, steps=3)


@pytest.mark.task(4)
def test_train_step_is_jit_compiled_once_and_reused(workers, rng):
    weights = to_jax_layout(draw_weights(rng))
    batch = int(rng.integers(2, 65))
    batches = [draw_batch(rng, batch) for _ in range(4)]
    want, got = workers.both("step_compilations", weights=weights, batches=batches,
                             learning_rate=1e-3)
    if not want["jitted"] or not want["compilations"][0] or any(want["compilations"][1:]):
        # no compilation at the reference's first step: jax no longer reports the event the
        # probe counts, and every count would read 0
        raise InternalFault(f"the reference's train_step compiled as {want}")
    call = f"train_step(optimizer, params, opt_state, images, labels) 4 times, batch {batch}"
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


# --- task 5: training ----------------------------------------------------------------------------


@pytest.mark.task(5)
def test_training_reaches_the_stated_accuracy_on_held_out_digits(workers, rng):
    train_images, train_labels, test_images, test_labels = digits_split()
    seed = draw_seed(rng)
    inputs = {"seed": seed, "train_images": jax_images(train_images), "train_labels": train_labels}
    call = (f"train(jax.random.key({seed}), images.shape={inputs['train_images'].shape}, "
            f"labels)")
    check_training(workers, "trained_params", inputs, call, jax_images(test_images), test_labels,
                   to_weights=nest_params)


@pytest.mark.task(5)
def test_predict_matches_the_reference_for_given_weights(workers, rng, tol):
    weights = to_jax_layout(draw_weights(rng))
    images = jax_images(draw_images(rng, int(rng.integers(2, 65))))
    want, got = workers.both("predictions", weights=weights, images=images)
    expect_close(got, want, f"predict(params, images.shape={images.shape})", rtol=tol.rtol,
                 atol=tol.atol)
