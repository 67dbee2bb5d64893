"""Hidden suite for distributed_torch.

Task 1 runs shard_batch in one process. Tasks 2 and 3 launch WORLD_SIZE ranks (gloo over CPU
processes; NCCL when there is a GPU per rank) in each worker, with the same freshly drawn
problem, and compare what every rank ended with against single-process full-batch gradient
descent run by the reference:

1. shard_batch gives rank r the r-th of world_size contiguous, equal blocks of rows.
2. make_train_step's step, called NUM_STEPS times on every rank with that rank's block: the
   weights equal full-batch training's, every rank ends with the same weights, and each step
   returns the loss of the rank's own block.
3. train(model, x, y, ...) on every rank with a whole batch whose rows outside the rank's own
   block are random rows drawn for that rank alone, twice (TRAIN_RUNS) with different such rows
   on fresh models: the weights equal full-batch training's on the real batch, every rank ends
   with the same weights, and each rank ends every run the same (it used its own block only).
   These are checks of values: nothing the rank's process records is trusted.

The checks of task 2 share one launch, and so do those of task 3. A rank that dies gets the
check "crashed"; a collective that some rank never joins ends after COLLECTIVE_TIMEOUT_S as a
"timeout"; either way the ranks are stopped.
"""

import numpy as np
import pytest

from grader.expect import expect_close
from grader.topics.distributed import (
    COLLECTIVE_TIMEOUT_S,
    RANKS_DEADLINE_S,
    STARTUP_TIMEOUT_S,
    TRAIN_RUNS,
    WORLD_SIZE,
    diagnose_block,
    draw_problem,
    expect_all_agree,
    expect_independent_of_foreign_rows,
    expect_ranks_finished,
    shared_run,
    views_with_foreign_rows,
)

TIMEOUTS = {"collective_timeout_s": COLLECTIVE_TIMEOUT_S, "startup_timeout_s": STARTUP_TIMEOUT_S,
            "deadline_s": RANKS_DEADLINE_S}


def torch_problem(rng):
    """draw_problem with the weight in nn.Linear's (out_features, in_features) layout."""
    problem = draw_problem(rng, WORLD_SIZE)
    problem["weight"] = np.ascontiguousarray(problem["weight"].T)  # (out, in)
    return problem


def launch(workers, rng, probe, call, rank_inputs):
    """(problem, full-batch weights, the reference's and the learner's per-rank results) of one
    launch per task; `rank_inputs(problem)` gives the probe's inputs."""

    def run():
        problem = torch_problem(rng)
        full_batch = workers.reference("full_batch_training", **problem)
        want, got = workers.both(probe, **rank_inputs(problem), **TIMEOUTS)
        expect_ranks_finished(want, call, "reference")
        expect_ranks_finished(got, call, "learner")
        return problem, full_batch, want["ranks"], got["ranks"]

    return shared_run(workers, probe, run)


def steps_call(problem):
    return (f"step = make_train_step(model, learning_rate={problem['learning_rate']:.4g}); "
            f"step(x_shard, y_shard) {problem['num_steps']} times on each of {WORLD_SIZE} ranks, "
            f"x.shape={problem['x'].shape}")


def train_call(problem):
    return (f"train(model, x.shape={problem['x'].shape}, y.shape={problem['y'].shape}, "
            f"learning_rate={problem['learning_rate']:.4g}, "
            f"num_steps={problem['num_steps']}) on each of {WORLD_SIZE} ranks, x and y holding "
            "the rank's own block and random rows elsewhere")


def steps_run(workers, rng):
    return launch(workers, rng, "steps_on_ranks", "make_train_step(model, learning_rate)",
                  lambda problem: dict(problem, world_size=WORLD_SIZE))


def train_run(workers, rng):
    def rank_inputs(problem):
        views = {name: views_with_foreign_rows(rng, problem[name], WORLD_SIZE, TRAIN_RUNS)
                 for name in ("x", "y")}  # (ranks, runs, batch, features)
        return {"weight": problem["weight"], "bias": problem["bias"], "rank_x": views["x"],
                "rank_y": views["y"], "learning_rate": problem["learning_rate"],
                "num_steps": problem["num_steps"]}

    return launch(workers, rng, "train_on_ranks", "train(model, x, y, learning_rate, num_steps)",
                  rank_inputs)


def expect_full_batch_weights(rank_result, full_batch, call, tol):
    for name in ("weight", "bias"):
        expect_close(rank_result[name], full_batch[name],
                     f"{call}: linear.{name} on rank 0 against single-process full-batch "
                     "gradient descent", rtol=tol.rtol, atol=tol.atol)


def weights_of(ranks, run=None):
    """Each rank's {"weight", "bias"}; of one run, for the train launch."""
    pick = (lambda array: array) if run is None else (lambda array: array[run])
    return [{"weight": pick(rank["weight"]), "bias": pick(rank["bias"])} for rank in ranks]


# --- task 1: each rank's shard -------------------------------------------------------------------


@pytest.mark.task(1)
def test_each_rank_gets_its_own_contiguous_block_of_the_batch(workers, rng):
    for world_size in (2, 4):
        problem = draw_problem(rng, world_size)
        x, y = problem["x"], problem["y"]
        want, got = workers.both("shards", x=x, y=y, world_size=world_size)
        for rank in range(world_size):
            call = f"shard_batch(x.shape={x.shape}, y.shape={y.shape}, rank={rank}, " \
                   f"world_size={world_size})"
            for name, batch in (("x", x), ("y", y)):
                expect_close(got[rank][name], want[rank][name], f"{call}: {name}_shard", rtol=0.0,
                             atol=0.0, diagnose=diagnose_block(batch, rank, world_size))


# --- task 2: one data-parallel step --------------------------------------------------------------


@pytest.mark.task(2)
def test_data_parallel_steps_match_full_batch_gradient_descent(workers, rng, tol):
    problem, full_batch, _, ranks = steps_run(workers, rng)
    expect_full_batch_weights(ranks[0], full_batch, steps_call(problem), tol)


@pytest.mark.task(2)
def test_every_rank_ends_the_steps_with_the_same_weights(workers, rng, tol):
    problem, _, _, ranks = steps_run(workers, rng)
    expect_all_agree(weights_of(ranks), steps_call(problem), "rank", tol.rtol, tol.atol)


@pytest.mark.task(2)
def test_each_step_returns_the_loss_of_the_ranks_own_block(workers, rng, tol):
    problem, _, reference_ranks, ranks = steps_run(workers, rng)
    for rank, (want, got) in enumerate(zip(reference_ranks, ranks)):
        expect_close(got["losses"], want["losses"],
                     f"{steps_call(problem)}: the losses returned on rank {rank}, in order",
                     rtol=tol.rtol, atol=tol.atol)


# --- task 3: training on every rank --------------------------------------------------------------


@pytest.mark.task(3)
def test_training_matches_full_batch_gradient_descent(workers, rng, tol):
    problem, full_batch, _, ranks = train_run(workers, rng)
    expect_full_batch_weights(weights_of(ranks, run=0)[0], full_batch, train_call(problem), tol)


@pytest.mark.task(3)
def test_every_rank_ends_training_with_the_same_weights(workers, rng, tol):
    problem, _, _, ranks = train_run(workers, rng)
    expect_all_agree(weights_of(ranks, run=0), train_call(problem), "rank", tol.rtol, tol.atol)


@pytest.mark.task(3)
def test_each_rank_trains_on_its_own_block_only(workers, rng, tol):
    problem, _, _, ranks = train_run(workers, rng)
    for rank in range(len(ranks)):
        runs = [weights_of(ranks, run=run)[rank] for run in range(TRAIN_RUNS)]
        expect_independent_of_foreign_rows(runs, train_call(problem), rank, tol.rtol, tol.atol)
