"""Hidden suite for distributed_jax.

Every check builds a one-axis mesh named "data" (on CPU, and with only one GPU, over the
item's forced host devices; with two or more GPUs, over the GPUs) and compares with
single-device full-batch gradient descent run by the reference on the same freshly drawn
problem, whose batch splits evenly over the devices:

1. shard_batch puts the batch on the mesh with device i holding the i-th contiguous block of
   rows, and the values unchanged.
2. make_train_step's step, called NUM_STEPS times on the batch sharded here and replicated
   params: the weights equal full-batch training's, every device ends with a copy of the same
   weights, and each step returns the loss of the full batch before the update. Then one more
   step from params whose copy differs on every device: every copy must move by -learning_rate
   x the mean of the devices' block gradients (each taken at that device's own copy), which
   only a step that works per device and reduces across devices does; as a second sign, the
   compiled step's HLO (read inside the learner's worker, so not proof) holds an all-reduce.
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
    task. The steps probe also gets a copy of the params per device, all different."""

    def once():
        problem, devices = draw(workers, rng)
        full_batch = workers.reference("full_batch_training", **problem)
        extra = {}
        if probe == "steps":
            extra = {f"replica_{name}": rng.normal(size=(devices,) + problem[name].shape)
                     .astype(np.float32) for name in ("weight", "bias")}
        want, got = workers.both(probe, **problem, **extra)
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
def test_every_device_steps_with_the_gradient_combined_over_all_devices(workers, rng, tol):
    problem, _, want, got = run(workers, rng, "steps")
    call = (f"{steps_call(problem)}; then once more from params whose copy on device i is "
            "replica_weight[i], replica_bias[i]")
    updates, expected = got["replica_updates"], want["replica_updates"]
    if len(updates) != len(expected):
        raise AssertionError(
            f"Called `{call}`. Only {len(updates)} of the mesh's {len(expected)} devices hold a "
            "whole copy of the new weights, expected all of them: keep the params replicated.")
    for index, (update, expectation) in enumerate(zip(updates, expected)):
        for name in ("weight", "bias"):
            expect_close(
                update[name], expectation[name],
                f"{call}: how device {index}'s copy of params['linear'][{name!r}] moved, "
                "expected -learning_rate x the mean over devices of each device's block gradient "
                "(a step that works per device and combines the devices' gradients moves every "
                "copy by that same amount; one that gathers the batch or skips the reduction "
                "does not)", rtol=tol.rtol, atol=tol.atol)
    if got["reductions"] < 1:
        raise AssertionError(
            f"Called `{steps_call(problem)}`, then `.lower(...).compile().as_text()`. The "
            f"compiled step holds no cross-device reduction (all-reduce), expected at least one: "
            f"the gradient of the full batch needs every device's block."
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
