"""Distributed training, judge side: the problem both twins draw, one run shared by the checks
that read it, and the verdicts on what the ranks (PyTorch) or devices (JAX) did.

The model is linear regression trained by full-batch gradient descent on the mean squared
error; data parallelism must reproduce that run exactly (within the tolerance), whichever way
the work is split.
"""

import weakref

import numpy as np

from grader import verdicts
from grader.verdicts import InternalFault, LearnerFault

NUM_STEPS = 3
WORLD_SIZE = 2  # PyTorch ranks; on CPU each is a process, on GPUs each has its own device
COLLECTIVE_TIMEOUT_S = 10.0  # how long a rank waits in a collective before it gives up
RANKS_DEADLINE_S = 45.0  # how long all ranks together may take; under every check's limit

_runs = weakref.WeakKeyDictionary()  # grading session -> {probe: (inputs, results) or a fault}


# --- drawing inputs ------------------------------------------------------------------------------


def draw_problem(rng, parts):
    """A regression problem whose batch splits evenly into `parts` blocks of 2..6 rows.

    The weight is in the canonical (in_features, out_features) layout; float32 throughout.
    """
    rows = parts * int(rng.integers(2, 7))
    in_features, out_features = int(rng.integers(1, 5)), int(rng.integers(1, 4))
    return {
        "weight": rng.normal(size=(in_features, out_features)).astype(np.float32),
        "bias": rng.normal(size=(out_features,)).astype(np.float32),
        "x": rng.normal(size=(rows, in_features)).astype(np.float32),
        "y": rng.normal(size=(rows, out_features)).astype(np.float32),
        "learning_rate": float(rng.uniform(0.05, 0.2)),
        "num_steps": NUM_STEPS,
    }


def blocks(array, parts):
    """The `parts` contiguous, equal blocks of rows that data parallelism hands out."""
    return np.split(array, parts)


# --- one run, read by several checks -------------------------------------------------------------


def shared_run(workers, name, run):
    """`run()` once per grading session and `name`; later checks reuse its result or fault.

    Launching ranks is the slow part of these suites: the checks that read the same launch
    (weights, agreement, rows seen) share it, and all get the same verdict when it failed.
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


def expect_rows_within_shard(seen, shard, call, rank):
    """Every row the rank's model was given comes from its shard, and every shard row came."""
    seen = np.asarray(seen)
    if seen.ndim != 2 or seen.shape[1] != shard.shape[1]:
        raise AssertionError(f"Called `{call}`. The model of rank {rank} was given inputs of "
                             f"shape {seen.shape}, expected rows of {shard.shape[1]} features.")
    foreign = [row for row in seen if not np.any(np.all(shard == row, axis=1))]
    if foreign:
        example = np.round(foreign[0].astype(np.float64), 4).tolist()
        raise AssertionError(
            f"Called `{call}`. The model of rank {rank} was given {len(foreign)} row(s) that "
            f"are not in its shard (rows {rank * len(shard)}..{(rank + 1) * len(shard) - 1} of "
            f"the batch), e.g. {example}: each rank must train on its own block "
            "of the batch only."
        )
    missing = [row for row in shard if not np.any(np.all(seen == row, axis=1))]
    if missing:
        raise AssertionError(
            f"Called `{call}`. The model of rank {rank} was never given {len(missing)} of the "
            f"{len(shard)} rows of its shard: each rank must train on its whole block."
        )
