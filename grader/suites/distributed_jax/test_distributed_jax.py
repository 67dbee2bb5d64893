"""Hidden suite for distributed_jax.

Every check builds a one-axis mesh named "data" over all devices (on CPU, the item's forced
host devices; on GPUs, the real ones) and compares with single-device full-batch gradient
descent run by the reference on the same freshly drawn problem, whose batch splits evenly
over the devices:

1. shard_batch puts the batch on the mesh with device i holding the i-th contiguous block of
   rows, and the values unchanged.
2. make_train_step's step, called NUM_STEPS times on the batch sharded here and replicated
   params: the weights equal full-batch training's, every device ends with a copy of the same
   weights, the compiled step holds a cross-device reduction (all-reduce), and each step
   returns the loss of the full batch before the update.
3. train(params, x, y, mesh, ...) from unsharded inputs: the weights equal full-batch
   training's, and every device ends with a copy of the same weights.

The checks of task 2 share one run, and so do those of task 3.
"""

import numpy as np
import pytest

from grader.expect import expect_close, expect_equal
from grader.topics.distributed import (
    draw_problem,
    expect_all_agree,
    shared_run,
)


def draw(workers, rng):
    devices = shared_run(workers, "device_count", lambda: workers.reference("device_count"))
    return draw_problem(rng, devices), devices


def run(workers, rng, probe):
    """(problem, full-batch weights, the reference's and the learner's results), one run per
    task."""

    def once():
        problem, _ = draw(workers, rng)
        full_batch = workers.reference("full_batch_training", **problem)
        want, got = workers.both(probe, **problem)
        return problem, full_batch, want, got

    return shared_run(workers, probe, once)


def steps_call(problem):
    return (f"step = make_train_step(mesh, learning_rate={problem['learning_rate']:.4g}); "
            f"step(params, x, y) {problem['num_steps']} times, x.shape={problem['x'].shape} "
            "sharded by rows over 'data'")


def train_call(problem):
    return (f"train(params, x.shape={problem['x'].shape}, y.shape={problem['y'].shape}, mesh, "
            f"learning_rate={problem['learning_rate']:.4g}, num_steps={problem['num_steps']})")


def expect_full_batch_weights(got, full_batch, call, tol):
    for name in ("weight", "bias"):
        expect_close(got[name], full_batch[name],
                     f"{call}: params['linear'][{name!r}] against single-device full-batch "
                     "gradient descent", rtol=tol.rtol, atol=tol.atol)


def expect_every_device_agrees(got, call, tol):
    if len(got["copies"]) != got["devices"]:
        raise AssertionError(
            f"Called `{call}`. Only {len(got['copies'])} of the mesh's {got['devices']} devices "
            f"hold a whole copy of the new weights, expected all of them: keep the params "
            f"replicated over the mesh (PartitionSpec() / out_specs=P())."
        )
    expect_all_agree(got["copies"], call, "device", tol.rtol, tol.atol)


# --- task 1: the sharded batch -------------------------------------------------------------------


@pytest.mark.task(1)
def test_each_device_holds_its_own_contiguous_block_of_the_batch(workers, rng):
    problem, devices = draw(workers, rng)
    x, y = problem["x"], problem["y"]
    want, got = workers.both("shards", x=x, y=y)
    call = f"shard_batch(x.shape={x.shape}, y.shape={y.shape}, mesh of {devices} devices)"
    for name in ("x", "y"):
        rows = np.asarray(got[f"{name}_rows"])
        if rows.shape == want[f"{name}_rows"].shape and not np.array_equal(
                rows, want[f"{name}_rows"]):
            held = [None if start < 0 else f"{start}:{stop}" for start, stop in rows.tolist()]
            expected = [f"{start}:{stop}" for start, stop in want[f"{name}_rows"].tolist()]
            raise AssertionError(
                f"Called `{call}`. The rows of {name} held by the mesh's devices, in order, "
                f"are {held}, expected {expected}: split the batch by rows over the mesh axis "
                "'data' (NamedSharding(mesh, PartitionSpec('data')))."
            )
        expect_equal(rows, want[f"{name}_rows"], f"{call}: rows of {name} per device")


@pytest.mark.task(1)
def test_the_sharded_batch_holds_the_same_values(workers, rng):
    problem, devices = draw(workers, rng)
    x, y = problem["x"], problem["y"]
    want, got = workers.both("shards", x=x, y=y)
    call = f"shard_batch(x.shape={x.shape}, y.shape={y.shape}, mesh of {devices} devices)"
    expect_equal(got["x"], want["x"], f"{call}: x_sharded")
    expect_equal(got["y"], want["y"], f"{call}: y_sharded")


# --- task 2: one data-parallel step --------------------------------------------------------------


@pytest.mark.task(2)
def test_data_parallel_steps_match_full_batch_gradient_descent(workers, rng, tol):
    problem, full_batch, _, got = run(workers, rng, "steps")
    expect_full_batch_weights(got, full_batch, steps_call(problem), tol)


@pytest.mark.task(2)
def test_every_device_ends_the_steps_with_the_same_weights(workers, rng, tol):
    problem, _, _, got = run(workers, rng, "steps")
    expect_every_device_agrees(got, steps_call(problem), tol)


@pytest.mark.task(2)
def test_the_compiled_step_reduces_across_devices(workers, rng):
    problem, _, _, got = run(workers, rng, "steps")
    if got["reductions"] < 1:
        raise AssertionError(
            f"Called `{steps_call(problem)}`, then `.lower(...).compile().as_text()`. The "
            f"compiled step holds no cross-device reduction (all-reduce), expected at least one: "
            f"the gradient of the full batch needs every device's block. A step that gathers "
            f"the batch onto one device, or never combines the devices' work, is not data "
            f"parallel."
        )


@pytest.mark.task(2)
def test_each_step_returns_the_loss_of_the_full_batch(workers, rng, tol):
    problem, _, want, got = run(workers, rng, "steps")
    expect_close(got["losses"], want["losses"],
                 f"{steps_call(problem)}: the losses returned, in order",
                 rtol=tol.rtol, atol=tol.atol)


# --- task 3: training ----------------------------------------------------------------------------


@pytest.mark.task(3)
def test_training_matches_full_batch_gradient_descent(workers, rng, tol):
    problem, full_batch, _, got = run(workers, rng, "train_run")
    expect_full_batch_weights(got, full_batch, train_call(problem), tol)


@pytest.mark.task(3)
def test_every_device_ends_training_with_the_same_weights(workers, rng, tol):
    problem, _, _, got = run(workers, rng, "train_run")
    expect_every_device_agrees(got, train_call(problem), tol)
