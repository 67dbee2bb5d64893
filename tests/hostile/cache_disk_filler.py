"""Hostile learner code: fill the user's disk through the compilation cache folder.

Appended by tests/test_cache_attacks.py to a linear_regression_jax file. The sandbox's own
temporary folder is a tmpfs capped at 512 MiB; the worker's JAX compilation cache, in
practice mode a folder of the user's disk bound writable, may have no cap at all. At import
this writes FILL_MIB MiB of junk there in 8 MiB files (stopping at the first refusal) and
prints `DISK_FILL {json}`: the folder and how many MiB it could write.
"""

import json as _fill_json
import os as _fill_os

import jax as _fill_jax

FILL_MIB = 600


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


_fill_folder = _fill_jax.config.jax_compilation_cache_dir
print("DISK_FILL " + _fill_json.dumps(_fill(_fill_folder) if _fill_folder else {"own": None}),
      flush=True)
