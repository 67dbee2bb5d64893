"""Distributed training, judge side: the problem both twins draw, one run shared by the checks
that read it, and the verdicts on what the ranks (PyTorch) or devices (JAX) did.

The model is linear regression trained by full-batch gradient descent on the mean squared
error; data parallelism must reproduce that run exactly (within the tolerance), whichever way
the work is split.
"""

import weakref

import numpy as np

from grader import verdicts
from grader.topics.diagnosis import near
from grader.verdicts import InternalFault, LearnerFault

NUM_STEPS = 3
WORLD_SIZE = 2  # PyTorch ranks; on CPU each is a process, on GPUs each has its own device
COLLECTIVE_TIMEOUT_S = 10.0  # how long a rank waits in a collective before it gives up
STARTUP_TIMEOUT_S = 30.0  # how long a rank waits for the others to start (a loaded machine)
RANKS_DEADLINE_S = 45.0  # how long all ranks together may take; under every check's limit
TRAIN_RUNS = 2  # train() runs per rank, each with other rows outside the rank's block

_runs = weakref.WeakKeyDictionary()  # grading session -> {probe: (inputs, results) or a fault}


# --- drawing inputs ------------------------------------------------------------------------------


def draw_problem(rng, parts):
    """A regression problem whose batch splits evenly into `parts` blocks of 2..6 rows.

    The weight is in the canonical (in_features, out_features) layout; float32 throughout. Two
    outputs or more, always: with one, a loss summed over each row's outputs equals the mean
    over all elements, and a file reading the loss that way would pass or fail by the seed.
    """
    rows = parts * int(rng.integers(2, 7))
    in_features, out_features = int(rng.integers(1, 5)), int(rng.integers(2, 4))
    return {
        "weight": rng.normal(size=(in_features, out_features)).astype(np.float32),
        "bias": rng.normal(size=(out_features,)).astype(np.float32),
        "x": rng.normal(size=(rows, in_features)).astype(np.float32),
        "y": rng.normal(size=(rows, out_features)).astype(np.float32),
        "learning_rate": float(rng.uniform(0.05, 0.2)),
        "num_steps": NUM_STEPS,
    }


def views_with_foreign_rows(rng, array, parts, runs):
    """(parts, runs, *array.shape): `array` as each rank sees it in each run: its own block
    kept, every other row replaced by a random row drawn for that rank and run alone.

    Only a rank that trains on its own block and averages gradients with the others reproduces
    full-batch training on `array`, and ends the same whatever the other rows are.
    """
    size = len(array) // parts  # rows per block
    views = rng.normal(size=(parts, runs) + array.shape).astype(array.dtype)
    for rank in range(parts):
        own = slice(rank * size, (rank + 1) * size)
        views[rank, :, own] = array[own]  # (runs, size, features) <- (size, features)
    return views


# --- diagnosing a mismatch (grader/topics/diagnosis.py) -----------------------------------------


def diagnose_block(batch, rank, world_size):
    """What a wrong block of `batch` for `rank` looks like: the whole batch, or another rank's
    block."""
    size = len(batch) // world_size  # rows per rank

    def diagnose(got, want):
        if near(got, batch):
            return (f"it is the whole batch: rank {rank} of {world_size} must keep only rows "
                    f"[{rank * size}, {(rank + 1) * size}), so that the ranks split the work")
        for other in range(world_size):
            if other != rank and near(got, batch[other * size:(other + 1) * size]):
                return (f"it is rank {other}'s block, rows [{other * size}, "
                        f"{(other + 1) * size}): rank {rank} keeps rows [{rank * size}, "
                        f"{(rank + 1) * size})")
        return None

    return diagnose


# --- one run, read by several checks -------------------------------------------------------------


def shared_run(workers, name, run):
    """`run()` once per grading session and `name`; later checks reuse its result or fault.

    Launching ranks is the slow part of these suites: the checks that read the same launch
    (weights, agreement, independence of other rows) share it, and all get the same verdict
    when it failed.
    """
    cache = _runs.setdefault(workers.session, {})
    if name not in cache:
        try:
            cache[name] = ("result", run())
        except (LearnerFault, InternalFault, AssertionError) as fault:
            cache[name] = ("fault", fault)
    kind, value = cache[name]
    if kind == "fault":
        raise value
    return value


# --- judging -------------------------------------------------------------------------------------


def expect_ranks_finished(outcome, call, role):
    """A launch's outcome is "ok", or the check gets the verdict of what went wrong.

    `role` is "learner" or "reference": the reference failing is the grader's fault.
    """
    kind, message = outcome["outcome"], outcome["message"]
    if kind == "ok":
        return
    if role == "reference":
        raise InternalFault(f"the reference failed running `{call}`: {kind}: {message}")
    if kind == "not_implemented":
        raise LearnerFault(verdicts.NOT_IMPLEMENTED, f"Called `{call}`. {message}")
    if kind == "error":
        raise LearnerFault(verdicts.ERROR, f"Called `{call}`. {message}")
    if kind == "failed":
        raise AssertionError(f"Called `{call}`. {message}.")
    if kind == "crashed":
        raise LearnerFault(verdicts.CRASHED, f"Called `{call}`. {message}; the other ranks "
                           "were stopped.")
    if kind == "collective":
        raise LearnerFault(verdicts.TIMEOUT, f"Called `{call}`. A collective did not complete, "
                           f"{message}\nEvery rank must call the same collectives in the same "
                           f"order (a rank waits at most {COLLECTIVE_TIMEOUT_S:g} s for its "
                           "peers); the ranks were stopped.")
    if kind == "startup":
        raise LearnerFault(verdicts.TIMEOUT, f"Called `{call}`. {message} (each loads your "
                           "file first; the machine may also be overloaded); the ranks were "
                           "stopped.")
    if kind == "timeout":
        raise LearnerFault(verdicts.TIMEOUT, f"Called `{call}`. {message}; the ranks were "
                           "stopped.")
    raise LearnerFault(verdicts.CRASHED, f"Called `{call}`. The ranks ended in an unknown way.")


def expect_all_agree(copies, call, what, rtol, atol):
    """Every copy (a dict of arrays, one per rank or device) equals the first one."""
    from grader.expect import require_array

    for index, copy in enumerate(copies[1:], start=1):
        for name, array in copy.items():
            first = copies[0][name]
            array = require_array(array, call)
            if array.shape != first.shape:
                raise AssertionError(f"Called `{call}`. {name!r} has shape {array.shape} on "
                                     f"{what} {index} but {first.shape} on {what} 0.")
            diff = np.abs(array.astype(np.float64) - first.astype(np.float64))
            wrong = ~(diff <= atol + rtol * np.abs(first.astype(np.float64)))  # NaN is wrong
            if np.any(wrong):
                raise AssertionError(
                    f"Called `{call}`. {name!r} on {what} {index} differs from {name!r} on "
                    f"{what} 0 in {int(np.count_nonzero(wrong))} of {array.size} values (max abs "
                    f"diff {float(np.max(diff)):.3g}, allowed {atol:g} + {rtol:g} x |value on "
                    f"{what} 0|): the gradients must be averaged across every {what}, so that "
                    "all take the same step."
                )


def expect_independent_of_foreign_rows(runs, call, rank, rtol, atol):
    """A rank's weights after each run (a dict of arrays per run) are the same, although every
    run showed it other rows outside its own block."""
    for index, run in enumerate(runs[1:], start=1):
        for name, array in run.items():
            first = runs[0][name].astype(np.float64)
            diff = np.abs(array.astype(np.float64) - first)
            wrong = ~(diff <= atol + rtol * np.abs(first))  # NaN is wrong
            if np.any(wrong):
                raise AssertionError(
                    f"Called `{call}` {len(runs)} times on fresh models. Rank {rank} ended run "
                    f"{index} with a different {name!r} than run 0 ({int(np.count_nonzero(wrong))}"
                    f" of {array.size} values, max abs diff {float(np.max(diff)):.3g}), expected "
                    f"the same: the two runs gave rank {rank} the same rows in its own block "
                    "and different random rows everywhere else, so its result depended on rows "
                    "outside its block. Each rank must train on its own block only."
                )
