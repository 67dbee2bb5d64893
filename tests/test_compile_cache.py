"""Compiled programs reused between gradings, within strict trust lines (grader/cache.py).

The reference worker's JAX compilation cache belongs to the grader: bound read-write into the
reference's sandbox only, never into a learner's. A learner's cache is that learner's alone
(their own stub's, copied into the sandbox and written back checked and capped).
A hostile learner file that writes into every compilation cache it can name (its own, the
reference's by its host path, the user's cache folder) must leave the reference's untouched,
and the next grading must still give every verdict right.
"""

import hashlib
import json
import os
from pathlib import Path

import pytest

from grader import sandbox, verdicts

ROOT = Path(__file__).resolve().parent.parent
ITEM = "linear_regression_jax"
_CHOICE = sandbox.choose("auto")
needs_bwrap = pytest.mark.skipif(
    _CHOICE.kind != "bwrap",
    reason=f"the compilation caches are bound into sandboxes, and bubblewrap cannot start "
           f"here: {_CHOICE.reason}")

ATTACK = r'''

import json as _json
import os as _os

PLANTED = b"PLANTED BY THE LEARNER"


def _attack(folder):
    done = {"listed": None, "overwritten": 0, "planted": False, "errors": []}
    try:
        names = _os.listdir(folder)
        done["listed"] = len(names)
    except OSError as exc:
        done["errors"].append(type(exc).__name__)
        names = []
    for name in names:
        try:
            with open(_os.path.join(folder, name), "wb") as handle:
                handle.write(PLANTED)
            done["overwritten"] += 1
        except OSError as exc:
            done["errors"].append(type(exc).__name__)
    try:
        _os.makedirs(folder, exist_ok=True)
        with open(_os.path.join(folder, "jit_predict-planted-cache"), "wb") as handle:
            handle.write(PLANTED)
        done["planted"] = True
    except OSError as exc:
        done["errors"].append(type(exc).__name__)
    return done


_own = jax.config.jax_compilation_cache_dir
print("COMPILE_ATTACK " + _json.dumps({
    "own": _own, "own_attack": _attack(_own) if _own else None,
    "targets": {folder: _attack(folder) for folder in {folders!r}},
}), flush=True)
'''


def tree(folder):
    """{relative path: SHA-256} of the compiled programs in `folder` (not their access times)."""
    return {str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in Path(folder).rglob("*") if path.is_file()
            and not path.name.endswith("-atime")}


def attack_of(report):
    for line in report["output"]["head"].splitlines():
        if line.startswith("COMPILE_ATTACK "):
            return json.loads(line[len("COMPILE_ATTACK "):])
    return None


@pytest.mark.slow
@needs_bwrap
def test_a_learner_writing_into_compilation_caches_cannot_reach_the_references(
        tmp_path, monkeypatch, grade_json, bank_copy):
    """The learner grades their own stub (a bank copy's), the only file practice mode gives a
    compilation cache."""
    monkeypatch.setenv("DLPREP_SANDBOX", "bwrap")
    monkeypatch.setenv("DLPREP_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("DLPREP_PROGRESS", str(tmp_path / "state" / "progress.json"))
    reference_text = (ROOT / "solutions" / ITEM / f"{ITEM}.py").read_text()
    learner = bank_copy / "exercises" / ITEM / f"{ITEM}.py"
    learner.write_text(reference_text)

    _, first = grade_json(ITEM, "--seed", 41)
    assert first["status"] == verdicts.PASSED, first
    (reference_cache,) = (tmp_path / "cache" / "reference" / "compiled").iterdir()
    (learner_cache,) = (tmp_path / "state" / "compiled" / ITEM).iterdir()
    before = tree(reference_cache)
    assert before and tree(learner_cache), "the first grading compiled nothing into the caches"

    # the user's cache folder first: the attack makes the folders it names (in its own /tmp)
    targets = [str(tmp_path / "cache"), str(reference_cache), str(learner_cache),
               os.path.expanduser("~/.cache/dlprep")]
    learner.write_text(reference_text + ATTACK.replace("{folders!r}", repr(targets)))
    _, attacked = grade_json(ITEM, "--seed", 42)
    attack = attack_of(attacked)
    assert attack is not None, attacked
    # the attack is real: the learner's own cache (the same learner's folder) was overwritten
    assert attack["own"] and attack["own_attack"]["overwritten"] > 0, attack
    for folder in targets[:2]:  # out of sight; what it wrote there stayed in its own /tmp
        reached = attack["targets"][folder]
        assert reached["listed"] is None and reached["overwritten"] == 0, (folder, reached)
        assert not (Path(folder) / "jit_predict-planted-cache").exists(), folder
    assert attacked["status"] == verdicts.PASSED, attacked  # the attack is no check's business

    after = tree(reference_cache)
    assert all(after.get(name) == digest for name, digest in before.items()), \
        "a compiled program of the reference changed"
    for path in Path(reference_cache).rglob("*"):
        assert not path.is_file() or b"PLANTED" not in path.read_bytes(), path

    learner.write_text(reference_text)
    _, again = grade_json(ITEM, "--seed", 41)
    assert [(c["name"], c["status"]) for c in again["checks"]] == \
        [(c["name"], verdicts.PASSED) for c in first["checks"]], again


def test_the_reference_cache_is_keyed_by_the_reference_and_never_bound_for_the_learner(tmp_path):
    from grader.cache import ReferenceStore

    store = ReferenceStore(tmp_path, calibrate=lambda: 0.01)
    suite = ROOT / "grader" / "suites" / ITEM
    other = tmp_path / f"{ITEM}.py"
    other.write_text((ROOT / "solutions" / ITEM / f"{ITEM}.py").read_text() + "\n# edited\n")
    ours = store.bind(ITEM, ROOT / "solutions" / ITEM / f"{ITEM}.py", suite, 1)
    assert ours.compile_dir("cpu") == store.bind(
        ITEM, ROOT / "solutions" / ITEM / f"{ITEM}.py", suite, 2).compile_dir("cpu")
    assert ours.compile_dir("cpu") != store.bind(ITEM, other, suite, 1).compile_dir("cpu")
    assert ours.compile_dir("cpu") != ours.compile_dir("cuda")
    view = sandbox.View(target=other, probes_dir=suite)
    assert "--bind" not in sandbox.bwrap_arguments(view, "cpu")
    own = sandbox.View(target=other, probes_dir=suite, compile_cache=tmp_path / "mine")
    arguments = sandbox.bwrap_arguments(own, "cpu")
    index = arguments.index("--bind")
    assert arguments[index + 1:index + 3] == [str(tmp_path / "mine"), f"{sandbox.ROOT}/compiled"]
