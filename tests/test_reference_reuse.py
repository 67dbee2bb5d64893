"""Reference results reused across gradings (grader/cache.py), with limits still set honestly.

A stored reference time was measured in another run, maybe on a quieter machine. The store
scales it by this run's calibration over the one stored with it; these tests fake a faster or
slower machine through the store's `calibrate` seam, never by sleeping.
"""

from pathlib import Path

import pytest

from grader import judge, sandbox
from grader.cache import CALIBRATION_SPAN, ReferenceStore
from grader.catalog import Bank
from grader.judge import Limits

ROOT = Path(__file__).resolve().parent.parent
ITEM = "linear_regression_torch"
READY = {"op": "ready", "device": "cpu", "device_name": "x86_64",
         "versions": {"python": "3.11.7", "torch": "2.13.0"}}
_CHOICE = sandbox.choose("auto")
needs_bwrap = pytest.mark.skipif(
    _CHOICE.kind != "bwrap",
    reason=f"the store is used only for sandboxed workers, and bubblewrap cannot start here: "
           f"{_CHOICE.reason}")


def fixed(seconds):
    return lambda: seconds


def bound(store, seed=3):
    return store.bind(ITEM, ROOT / "solutions" / ITEM / f"{ITEM}.py",
                      ROOT / "grader" / "suites" / ITEM, seed)


def test_a_stored_time_is_scaled_by_this_runs_calibration(tmp_path):
    quiet = ReferenceStore(tmp_path, calibrate=fixed(0.010))
    bound(quiet).put("fit", {"n": 1}, READY, {"loss": 0.5}, 2.0)
    busy = ReferenceStore(tmp_path, calibrate=fixed(0.030))  # the machine is 3x slower now
    value, seconds = bound(busy).get("fit", {"n": 1}, READY)
    assert value == {"loss": 0.5} and seconds == pytest.approx(6.0)
    fast = ReferenceStore(tmp_path, calibrate=fixed(0.005))
    assert bound(fast).get("fit", {"n": 1}, READY)[1] == pytest.approx(1.0)


def test_a_time_stored_on_a_far_faster_or_slower_machine_is_not_used(tmp_path):
    bound(ReferenceStore(tmp_path, calibrate=fixed(0.010))).put("fit", {"n": 1}, READY,
                                                                 {"loss": 0.5}, 2.0)
    for calibration in (0.010 * CALIBRATION_SPAN * 1.5, 0.010 / CALIBRATION_SPAN / 1.5):
        store = ReferenceStore(tmp_path, calibrate=fixed(calibration))
        assert bound(store).get("fit", {"n": 1}, READY) is None
        assert store.rescaled == 1 and store.misses == 1 and store.rejected == 0


def test_the_calibration_is_measured_once_per_store_and_is_positive(tmp_path):
    calls = []
    store = ReferenceStore(tmp_path, calibrate=lambda: calls.append(1) or 0.02)
    bound(store).put("p", {"n": 1}, READY, {"v": 1.0}, 0.1)
    bound(store).get("p", {"n": 1}, READY)
    assert len(calls) == 1
    from grader.cache import measure_calibration

    assert 0 < measure_calibration(samples=3) < 5


class Recorder:
    """The judge's on_call hook: every learner call's limit, in order."""

    def __init__(self):
        self.limits = []

    def __call__(self, event, probe, limit_s):
        if event == "start":
            self.limits.append((probe, limit_s))


def graded(folder, calibration, seed):
    recorder = Recorder()
    store = ReferenceStore(folder, calibrate=fixed(calibration))
    report = judge.grade(Bank(), ITEM, ROOT / "solutions" / ITEM / f"{ITEM}.py", device="cpu",
                         seed=seed, on_call=recorder, sandbox_kind="bwrap",
                         reference_cache=store)
    assert report.status == "passed", report.to_text(lambda text, **_: text)
    return recorder, store


@needs_bwrap
def test_a_cached_reference_time_sets_the_limit_for_the_machine_as_it_is_now(tmp_path):
    """A grading on a warm store runs no reference worker, and its learner limits follow this
    run's calibration: on a machine `slower` times slower than when the times were stored a
    call's limit is factor x stored time x `slower`, and on one that much faster, factor x
    stored time / `slower` (each within the item's floor and cap)."""
    stored_at, slower = 0.010, CALIBRATION_SPAN * 0.95
    first, _ = graded(tmp_path, stored_at, seed=21)
    slow, slow_store = graded(tmp_path, stored_at * slower, seed=21)
    fast, fast_store = graded(tmp_path, stored_at / slower, seed=21)
    for store in (slow_store, fast_store):
        assert store.reference_workers == 0 and store.misses == 0 and store.hits > 0
    assert [probe for probe, _ in slow.limits] == [probe for probe, _ in fast.limits]
    limits = Limits(**Bank().item(ITEM).limits)
    scaled = 0
    for (probe, slow_s), (_, fast_s) in zip(slow.limits, fast.limits):
        assert slow_s >= fast_s, (probe, slow_s, fast_s)
        if limits.floor_s < slow_s < limits.cap_s:  # set by the stored time: recover it
            stored_s = slow_s / limits.factor / slower
            expected = limits.for_reference(stored_s / slower)
            assert fast_s == pytest.approx(expected, rel=1e-6), (probe, slow_s, fast_s)
            scaled += 1
        else:
            assert fast_s == limits.for_reference(0.0) or slow_s == limits.cap_s, (
                probe, slow_s, fast_s)
    assert scaled >= 1, f"no call's limit was set by the reference's time: {slow.limits}"


@needs_bwrap
def test_a_self_study_regrade_reuses_the_store_and_rebuilds_a_corrupted_entry(
        tmp_path, monkeypatch, grade_json):
    monkeypatch.setenv("DLPREP_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("DLPREP_SANDBOX", "bwrap")
    learner = tmp_path / f"{ITEM}.py"
    learner.write_text((ROOT / "solutions" / ITEM / f"{ITEM}.py").read_text())
    arguments = [ITEM, "--file", str(learner), "--seed", "17"]
    _, first = grade_json(*arguments)
    assert first["status"] == "passed", first
    entries = sorted((tmp_path / "cache" / "reference").glob("*/*.entry"))
    assert entries, "a self-study grading stored nothing"
    stamps = {path: (path.stat().st_ino, path.stat().st_mtime_ns) for path in entries}
    victim = entries[0]
    data = bytearray(victim.read_bytes())
    data[-1] ^= 0xFF
    victim.write_bytes(bytes(data))
    _, second = grade_json(*arguments)
    assert second["status"] == "passed", second
    assert [c["status"] for c in second["checks"]] == [c["status"] for c in first["checks"]]
    assert ReferenceStore._parse(victim.read_bytes(), victim.stem) is not None, \
        "the corrupted entry was not rebuilt"
    assert bytes(data) != victim.read_bytes()
    # a hit leaves the entry's file in place and refreshes its time; a rebuilt one is new
    reused = [path for path in entries[1:] if path.stat().st_ino == stamps[path][0]
              and path.stat().st_mtime_ns != stamps[path][1]]
    assert reused, "the second grading read none of the stored results back"


def test_an_unsandboxed_grading_does_not_use_the_store(tmp_path):
    store = ReferenceStore(tmp_path, calibrate=fixed(0.01))
    report = judge.grade(Bank(), ITEM, ROOT / "solutions" / ITEM / f"{ITEM}.py", device="cpu",
                         seed=5, sandbox_kind="none", reference_cache=store)
    assert report.status == "passed"
    assert store.hits == store.misses == 0 and not list(Path(tmp_path).rglob("*.entry"))
