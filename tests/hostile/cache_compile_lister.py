"""Learner code that only looks: appended to an honest file, it prints the names in the JAX
compilation cache its worker was given (`COMPILE_SEEN {json}`: how many compiled programs,
and any file an earlier learner planted), so a test can tell whether an
earlier learner's files are in sight of a later grading."""

import json as _seen_json
import os as _seen_os

import jax as _seen_jax

_seen_folder = _seen_jax.config.jax_compilation_cache_dir
try:
    _seen_names = sorted(_seen_os.listdir(_seen_folder)) if _seen_folder else []
except OSError:
    _seen_names = []
print("COMPILE_SEEN " + _seen_json.dumps({
    "own": _seen_folder, "programs": sum(name.endswith("-cache") for name in _seen_names),
    "planted": [name for name in _seen_names if name.startswith("planted")]}), flush=True)
