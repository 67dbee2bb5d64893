"""Hostile learner code: fill the user's disk through the compilation cache folder.

Appended by tests/test_cache_attacks.py to a linear_regression_jax stub graded as the
learner's own (so that practice mode gives it a compilation cache). The sandbox's own temporary
folder is a tmpfs capped at 512 MiB; the worker's JAX compilation cache is a copy in that
folder of the learner's cache on disk, which is bound read-only (SEED_FOLDER). At import this
writes FILL_MIB MiB of junk into the JAX cache folder in 8 MiB files (stopping at the first
refusal), tries to plant one file in the read-only seed, and prints `DISK_FILL {json}`: the
folder, how many MiB it could write, and whether the seed took the planted file.
"""

import json as _fill_json
import os as _fill_os

import jax as _fill_jax

FILL_MIB = 600
SEED_FOLDER = "/sandbox/compiled-seed"


def _fill(folder):
    written, error = 0, None
    chunk = b"\0" * (8 << 20)
    try:
        for index in range(FILL_MIB // 8):
            with open(_fill_os.path.join(folder, f"filler-{index:04d}-cache"), "wb") as handle:
                handle.write(chunk)
            written += 8
    except OSError as exc:
        error = type(exc).__name__
    return {"own": folder, "written_mib": written, "error": error}


def _plant(folder):
    try:
        with open(_fill_os.path.join(folder, "planted-cache"), "wb") as handle:
            handle.write(b"PLANTED")
        return True
    except OSError:
        return False


_fill_folder = _fill_jax.config.jax_compilation_cache_dir
_fill_done = _fill(_fill_folder) if _fill_folder else {"own": None}
_fill_done["seed_planted"] = _plant(SEED_FOLDER)
print("DISK_FILL " + _fill_json.dumps(_fill_done), flush=True)
