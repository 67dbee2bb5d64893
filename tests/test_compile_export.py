"""A learner's compilation cache: copied into the sandbox, exported back checked and capped.

In self-study a learner's JAX worker gets its own compilation cache, bound read-only as a seed
(grader/sandbox.py: `View.compile_seed`): the worker copies at most LEARNER_COMPILE_BYTES of it
into its /tmp before the learner's file is imported, and `WorkerProcess.export_compiled`
(grader/workers.py) writes back only what it checked. These tests start learner workers as the
judge does and call the export directly.
"""

import os
import re
import time
from pathlib import Path

import numpy as np
import pytest

from grader import sandbox, workers
from grader.catalog import Bank
from grader.workers import OutputLog, WorkerProcess, WorkerSpec

ITEM = "linear_regression_jax"
_CHOICE = sandbox.choose("auto")
needs_bwrap = pytest.mark.skipif(
    _CHOICE.kind != "bwrap",
    reason=f"a learner's compilation cache is given only to sandboxed workers, and bubblewrap "
           f"cannot start here: {_CHOICE.reason}")

COMPILES = """
import os
import jax
import jax.numpy as jnp

jax.jit(lambda x: x * 2 + 1)(jnp.ones(3))
print("SEEN " + " ".join(sorted(os.listdir(jax.config.jax_compilation_cache_dir))), flush=True)
"""

FILLS = COMPILES + """
_folder = jax.config.jax_compilation_cache_dir
for _index in range(12):  # 96 MiB: past the cap
    with open(os.path.join(_folder, f"junk-{_index:02d}-cache"), "wb") as _handle:
        _handle.write(b"\\0" * (8 << 20))
os.symlink("/etc/passwd", os.path.join(_folder, "link-cache"))
open(os.path.join(_folder, "odd name"), "wb").write(b"x")
try:
    open("/sandbox/compiled-seed/planted-cache", "wb").write(b"PLANTED")
    print("SEED_WRITTEN", flush=True)
except OSError:
    pass
"""

LIES = COMPILES + """
import sys
import numpy as np

def _lie(self):
    return {"op": "result", "value": {"names": ["../escaped"],
                                      "blobs": [np.zeros(4, dtype=np.uint8)]}}

sys.modules["__main__"].Worker.export_compiled = _lie
"""


def learner_worker(tmp_path, source, cache, name="learner"):
    """A started, ready learner worker importing `source`, sandboxed, with `cache` as its
    compilation cache (the judge's spec for a self-study grading of the learner's own stub)."""
    target = tmp_path / name / f"{ITEM}.py"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(source)
    spec = WorkerSpec(role="learner", target=target, display=target.name, module=ITEM,
                      probes=Bank().suite_dir(ITEM) / "probes.py", framework="jax",
                      device="cpu", memory_mb=2048, sandbox=_CHOICE, compile_cache=cache)
    worker = WorkerProcess(spec, OutputLog(keep=64 * 1024))
    worker.start()
    reply, _ = worker.await_ready(120)
    assert reply["op"] == "ready", (reply, worker.log.text())
    return worker


def seen(worker):
    """The file names the worker's JAX compilation cache held when its file was imported."""
    match = re.search(r"^SEEN ?(.*)$", worker.log.text(), re.M)
    assert match, worker.log.text()
    return match.group(1).split()


def files_of(folder):
    return {path.name: path for path in Path(folder).iterdir()}


@needs_bwrap
def test_compiled_programs_go_out_checked_and_come_back_in_the_next_worker(tmp_path):
    cache = tmp_path / "state" / "compiled" / ITEM / "abc"
    first = learner_worker(tmp_path, COMPILES, cache, "first")
    try:
        assert first.export_compiled()
    finally:
        first.stop()
    exported = files_of(cache)
    assert any(name.endswith("-cache") for name in exported), exported
    assert (cache.stat().st_mode & 0o777) == 0o700
    assert [path.name for path in cache.parent.iterdir()] == ["abc"], "a temporary was left"

    second = learner_worker(tmp_path, COMPILES, cache, "second")
    try:
        assert set(exported) <= set(seen(second)), "the next worker was not given the programs"
        assert second.export_compiled()
    finally:
        second.stop()
    # the same program, in a worker whose copy of the cache lies in another folder, is loaded,
    # not compiled again and stored under a key of its own (a key that held the folder's path
    # would miss in every grading)
    assert set(files_of(cache)) == set(exported), "the next worker compiled the program again"


@needs_bwrap
def test_a_learner_cannot_write_past_the_cap_links_or_odd_names_to_the_users_disk(tmp_path):
    cache = tmp_path / "compiled" / "abc"
    worker = learner_worker(tmp_path, FILLS, cache)
    try:
        assert "SEED_WRITTEN" not in worker.log.text(), "the seed was writable"
        assert worker.export_compiled()
    finally:
        worker.stop()
    kept = files_of(cache)
    assert sum(path.stat().st_size for path in kept.values()) <= sandbox.LEARNER_COMPILE_BYTES
    assert all(sandbox.compiled_name_ok(name) and not path.is_symlink()
               for name, path in kept.items()), sorted(kept)
    assert "planted-cache" not in kept


@needs_bwrap
def test_a_forged_export_leaves_the_cache_on_disk_as_it_was(tmp_path):
    cache = tmp_path / "compiled" / "abc"
    cache.mkdir(parents=True)
    (cache / "kept-cache").write_bytes(b"earlier")
    worker = learner_worker(tmp_path, LIES, cache)
    try:
        assert not worker.export_compiled()
    finally:
        worker.stop()
    assert {name: path.read_bytes() for name, path in files_of(cache).items()} == \
        {"kept-cache": b"earlier"}
    assert not (tmp_path / "compiled" / "escaped").exists()
    assert [path.name for path in cache.parent.iterdir()] == ["abc"]


def test_no_export_for_a_reference_or_unsandboxed_worker(tmp_path):
    spec = dict(target=tmp_path / "x.py", display="x.py", module=ITEM,
                probes=tmp_path / "probes.py", framework="jax", device="cpu", memory_mb=512,
                compile_cache=tmp_path / "compiled")
    for role, choice in (("reference", _CHOICE), ("learner", workers.NO_SANDBOX)):
        worker = WorkerProcess(WorkerSpec(role=role, sandbox=choice, **spec), OutputLog())
        try:
            assert worker.export_compiled() is False
        finally:
            worker.stop()
            os.rmdir(worker.workdir) if os.path.isdir(worker.workdir) else None
    unsandboxed = WorkerProcess(WorkerSpec(role="learner", sandbox=workers.NO_SANDBOX, **spec),
                                OutputLog())
    assert unsandboxed._compile_cache() is None  # no compile cache at all without a sandbox
    os.rmdir(unsandboxed.workdir)


def blob(size):
    return np.zeros(size, dtype=np.uint8)


@pytest.mark.parametrize("value", [
    {"names": ["../up"], "blobs": [blob(1)]},
    {"names": [".hidden"], "blobs": [blob(1)]},
    {"names": ["a/b"], "blobs": [blob(1)]},
    {"names": ["x" * 201], "blobs": [blob(1)]},
    {"names": ["twice", "twice"], "blobs": [blob(1), blob(1)]},
    {"names": ["wide"], "blobs": [np.zeros(2, dtype=np.uint16)]},
    {"names": ["square"], "blobs": [np.zeros((2, 2), dtype=np.uint8)]},
    {"names": ["short"], "blobs": []},
    {"names": ["big"], "blobs": [blob(sandbox.LEARNER_COMPILE_BYTES + 1)]},
    {"names": "a", "blobs": "b"},
    {"names": [], "blobs": [], "extra": 1},
])
def test_a_malformed_export_is_refused_whole(value):
    assert workers.checked_export({"op": "result", "value": value}) is None


def test_an_export_is_written_whole_or_not_at_all(tmp_path, monkeypatch):
    folder = tmp_path / "abc"
    folder.mkdir()
    (folder / "old-cache").write_bytes(b"old")
    files = workers.checked_export({"op": "result", "value": {
        "names": ["a-cache", "b-atime"], "blobs": [blob(3), blob(1)]}})
    assert workers.replace_folder(folder, files)
    assert {path.name: path.read_bytes() for path in folder.iterdir()} == \
        {"a-cache": b"\0\0\0", "b-atime": b"\0"}
    assert [path.name for path in tmp_path.iterdir()] == ["abc"]
    assert not workers.replace_folder(tmp_path / "gone" / "abc", files)

    rename = os.rename

    def refused(source, destination):  # the new folder cannot be renamed in
        if Path(source).name.startswith(".abc.new-"):
            raise OSError("refused")
        rename(source, destination)

    monkeypatch.setattr(workers.os, "rename", refused)
    assert not workers.replace_folder(folder, {"c-cache": b"c"})
    assert sorted(path.name for path in folder.iterdir()) == ["a-cache", "b-atime"]
    assert [path.name for path in tmp_path.iterdir()] == ["abc"]


def test_the_seed_copy_takes_plain_files_only_and_stops_at_the_cap(tmp_path, monkeypatch):
    from grader import worker

    seed = tmp_path / "seed"
    seed.mkdir()
    (seed / "a-cache").write_bytes(b"a" * 10)
    (seed / "b-cache").write_bytes(b"b" * 10)
    (seed / "c-cache").write_bytes(b"c" * 10)
    (seed / "odd name").write_bytes(b"x")
    (seed / ".hidden").write_bytes(b"x")
    (seed / "folder").mkdir()
    (seed / "link-cache").symlink_to(seed / "a-cache")
    os.mkfifo(seed / "pipe-cache")
    monkeypatch.setattr(worker, "LEARNER_COMPILE_BYTES", 25)
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)
    copy = Path(worker.seed_compile_cache(str(seed)))
    assert copy.parent == tmp_path / "tmp"
    assert {path.name: path.read_bytes() for path in copy.iterdir()} == \
        {"a-cache": b"a" * 10, "b-cache": b"b" * 10}


def test_an_export_sweeps_what_a_killed_judge_left_beside_the_cache_but_not_a_running_export(
        tmp_path):
    folder = tmp_path / "abc"
    left = {name: tmp_path / name for name in (".abc.new-dead", ".abc.old-dead", ".abc.new-busy",
                                                ".abd.new-other")}
    for path in left.values():
        (path / "cache").mkdir(parents=True)
        (path / "cache" / "x-cache").write_bytes(b"x")
    hours_ago = time.time() - 2 * workers.STALE_EXPORT_S
    for name in (".abc.new-dead", ".abc.old-dead", ".abd.new-other"):
        os.utime(left[name], (hours_ago, hours_ago))
    assert workers.replace_folder(folder, {"a-cache": b"a"})
    assert sorted(path.name for path in tmp_path.iterdir()) == [".abc.new-busy", ".abd.new-other",
                                                                "abc"]
