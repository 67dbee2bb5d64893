"""grader/cache.py: the reference results a batch's judges share, never trusted blindly."""

import json
import os
import pickle
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from grader import cache
from grader.cache import ReferenceStore

ROOT = Path(__file__).resolve().parent.parent
ITEM = "linear_regression_torch"
READY = {"op": "ready", "device": "cpu", "device_name": "x86_64",
         "versions": {"python": "3.12.0", "torch": "2.13.0", "numpy": "2.0.0"}}
VALUE = {"weight": np.arange(6, dtype=np.float32).reshape(2, 3), "loss": 0.25,
         "steps": [1, 2, 3], "name": "fit"}


def binding(store, seed=7):
    return store.bind(ITEM, ROOT / "solutions" / ITEM / f"{ITEM}.py",
                      ROOT / "grader" / "suites" / ITEM, seed)


def entries(folder):
    return sorted(Path(folder).glob("*/*.entry"))


def test_a_stored_result_comes_back_equal_with_its_seconds(tmp_path):
    store = ReferenceStore(tmp_path)
    bound = binding(store)
    inputs = {"x": np.ones((4, 3), np.float32), "learning_rate": 0.1}
    assert bound.get("fit_weights", inputs, READY) is None
    bound.put("fit_weights", inputs, READY, VALUE, 1.25)
    value, seconds = bound.get("fit_weights", inputs, READY)
    assert seconds == 1.25
    assert value["weight"].dtype == np.float32 and np.array_equal(value["weight"],
                                                                  VALUE["weight"])
    assert value["loss"] == 0.25 and value["steps"] == [1, 2, 3] and value["name"] == "fit"
    assert store.stats() == {"hits": 1, "misses": 1, "rejected": 0, "rescaled": 0,
                             "reference_workers": None}


def test_the_key_changes_with_inputs_versions_device_and_seed_but_not_dict_order(tmp_path):
    store = ReferenceStore(tmp_path)
    x = np.ones((2, 2), np.float32)
    key = binding(store).key("p", {"x": x, "lr": 0.1}, READY)
    assert key == binding(store).key("p", {"lr": 0.1, "x": x.copy()}, READY)
    others = [
        binding(store).key("p", {"x": x + 1, "lr": 0.1}, READY),
        binding(store).key("p", {"x": x.astype(np.float64), "lr": 0.1}, READY),
        binding(store).key("q", {"x": x, "lr": 0.1}, READY),
        binding(store).key("p", {"x": x, "lr": 0.1}, dict(READY, device="cuda")),
        binding(store).key("p", {"x": x, "lr": 0.1},
                           dict(READY, versions=dict(READY["versions"], torch="2.14.0"))),
        binding(store, seed=8).key("p", {"x": x, "lr": 0.1}, READY),
    ]
    assert key not in others and len(set(others)) == len(others)


def test_an_entry_stored_under_an_earlier_schema_is_not_used(tmp_path, monkeypatch):
    # A schema bump retires times measured under other worker settings (4: one torch thread).
    store = ReferenceStore(tmp_path)
    inputs = {"x": np.ones((4, 3), np.float32)}
    monkeypatch.setattr(cache, "SCHEMA", cache.SCHEMA - 1)
    binding(store).put("fit_weights", inputs, READY, VALUE, 1.25)
    monkeypatch.setattr(cache, "SCHEMA", cache.SCHEMA + 1)
    got = binding(store).get("fit_weights", inputs, READY)
    assert got is None, (f"get after a schema bump returned {got!r} from an entry stored under "
                         f"the schema before; expected a miss")


@pytest.mark.parametrize("offset", [5, -1, -40])  # the magic, the payload, the header
def test_an_entry_with_a_flipped_byte_is_deleted_and_rebuilt(tmp_path, offset):
    store = ReferenceStore(tmp_path)
    bound = binding(store)
    bound.put("p", {"n": 1}, READY, VALUE, 0.5)
    (path,) = entries(tmp_path)
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))
    assert bound.get("p", {"n": 1}, READY) is None
    assert not path.exists() and store.rejected == 1
    bound.put("p", {"n": 1}, READY, VALUE, 0.5)
    assert bound.get("p", {"n": 1}, READY)[1] == 0.5


def test_a_foreign_entry_under_another_key_is_ignored_and_deleted(tmp_path):
    store = ReferenceStore(tmp_path)
    bound = binding(store)
    bound.put("p", {"n": 1}, READY, {"answer": 1.0}, 0.5)
    (original,) = entries(tmp_path)
    wanted = bound.key("p", {"n": 2}, READY)
    planted = store.path(wanted)
    planted.parent.mkdir(parents=True, exist_ok=True)
    planted.write_bytes(original.read_bytes())  # valid entry, but holds the key of {"n": 1}
    assert bound.get("p", {"n": 2}, READY) is None
    assert not planted.exists() and store.rejected == 1
    assert bound.get("p", {"n": 1}, READY)[0] == {"answer": 1.0}


def test_a_pickle_in_the_store_is_never_unpickled(tmp_path):
    store = ReferenceStore(tmp_path)
    bound = binding(store)
    key = bound.key("p", {"n": 1}, READY)

    class Boom:
        def __reduce__(self):
            return (os.system, (f"touch {tmp_path / 'pwned'}",))

    store.path(key).parent.mkdir(parents=True)
    store.path(key).write_bytes(cache.MAGIC + pickle.dumps(Boom()))
    assert bound.get("p", {"n": 1}, READY) is None
    assert not (tmp_path / "pwned").exists() and not store.path(key).exists()


def test_the_least_recently_used_entries_go_past_the_size_cap(tmp_path):
    store = ReferenceStore(tmp_path, limit_bytes=10**9)
    bound = binding(store)
    big = {"a": np.zeros(10_000, np.float32)}  # ~40 kB an entry
    for n in range(3):
        bound.put("p", {"n": n}, READY, big, 0.1)
        past = time.time() - 100 + n
        os.utime(store.path(bound.key("p", {"n": n}, READY)), (past, past))
    assert bound.get("p", {"n": 0}, READY) is not None  # used: now the most recent
    store.limit_bytes = 3 * 41_000
    bound.put("p", {"n": 3}, READY, big, 0.1)
    assert not store.path(bound.key("p", {"n": 1}, READY)).exists()  # the least recent
    for n in (0, 2, 3):
        assert store.path(bound.key("p", {"n": n}, READY)).exists(), n


def test_the_store_lives_in_the_users_cache_folder_unless_told(monkeypatch, tmp_path):
    monkeypatch.delenv("DLPREP_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache.default_dir() == tmp_path / "xdg" / "dlprep" / "reference"
    monkeypatch.setenv("DLPREP_CACHE", str(tmp_path / "mine"))
    assert cache.default_dir() == tmp_path / "mine" / "reference"


def grade_with_store(folder, seed, item=ITEM, target=None):
    """`grade exercise ITEM --reference-cache FOLDER` in a judge process; its JSON report."""
    target = target or ROOT / "solutions" / item / f"{item}.py"
    done = subprocess.run(
        [sys.executable, "-m", "grader", "exercise", item, "--file", str(target),
         "--format", "json", "--seed", str(seed), "--device", "cpu", "--mode", "assessment",
         "--reference-cache", str(folder)], capture_output=True, text=True, timeout=900)
    try:
        return json.loads(done.stdout)
    except ValueError:
        pytest.fail(f"no report (exit {done.returncode}): {done.stderr[-3000:]}")


def test_a_grading_rebuilds_corrupted_entries_and_still_passes_the_reference(tmp_path):
    first = grade_with_store(tmp_path, seed=11)
    assert first["status"] == "passed" and first["reference_cache"]["misses"] > 0
    stored = entries(tmp_path)
    assert len(stored) == first["reference_cache"]["misses"]
    for path in stored:
        data = bytearray(path.read_bytes())
        data[-1] ^= 0xFF
        path.write_bytes(bytes(data))
    second = grade_with_store(tmp_path, seed=11)
    assert second["status"] == "passed"
    assert second["reference_cache"]["rejected"] == len(stored)
    # every stored entry was rejected and computed again; the only hits are the calls this run
    # repeats with the same inputs (a run's shapes come from a few draws), as in the first run
    assert second["reference_cache"]["hits"] == first["reference_cache"]["hits"]
    for path in entries(tmp_path):  # rebuilt, and whole
        assert ReferenceStore._parse(path.read_bytes(), path.stem) is not None
    # the limits come from the reference's times measured again in this run (a busy machine
    # makes them differ from the first run's, so they are not compared)
    assert all(check["limit_s"] for check in second["checks"])


@pytest.mark.slow
def test_the_cnn_reuses_the_reference_and_still_scores_the_learners_own_weights(tmp_path):
    """The held-out accuracy runs the reference's forward pass on the learner's weights: a call
    the store cannot answer for a learner who trained otherwise, which must still be run."""
    first = grade_with_store(tmp_path / "store", seed=5, item="cnn_torch")
    assert first["status"] == "passed", first
    other = tmp_path / "cnn_torch.py"  # correct, but its training draws other batches
    other.write_text((ROOT / "solutions" / "cnn_torch" / "cnn_torch.py").read_text() + """

_reference_train = train


def train(images, labels):
    torch.rand(1)  # one more draw: another order of batches, other weights
    return _reference_train(images, labels)
""")
    second = grade_with_store(tmp_path / "store", seed=5, item="cnn_torch", target=other)
    assert second["status"] == "passed", second
    stats = second["reference_cache"]
    assert stats["hits"] > 0 and stats["misses"] >= 1, stats  # the accuracy call ran
