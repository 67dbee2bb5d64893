"""The grader's caches attacked as a hostile candidate would (grader/cache.py, issue 17).

Each test grades a hostile learner file from tests/hostile/cache_*.py with the real grader in
the bubblewrap sandbox and asserts that the attack fails: the verdicts are right and nothing
the learner planted is used by a later grading. The reference-result store is shared by
self-study gradings and by every judge of a `grade batch`; the compilation caches are bound
into the sandboxes. Where an attack succeeds today, its test is marked xfail(strict) with the
hole in its reason: the grader's owner fixes it and removes the mark.
"""

import json
import os
import struct
import time
from pathlib import Path

import pytest

from grader import channel, judge, sandbox, verdicts
from grader.cache import MAGIC, ReferenceStore, measure_calibration
from grader.catalog import Bank

ROOT = Path(__file__).resolve().parent.parent
HOSTILE = ROOT / "tests" / "hostile"
TORCH_ITEM = "linear_regression_torch"
JAX_ITEM = "linear_regression_jax"
FORM_WORDS = {"shapes", "float32", "dimensional"}  # checks of form, which marker values pass
_CHOICE = sandbox.choose("auto")
needs_bwrap = pytest.mark.skipif(
    _CHOICE.kind != "bwrap",
    reason=f"the caches' trust lines are drawn by the sandbox, and bubblewrap cannot start "
           f"here: {_CHOICE.reason}")


def reference_text(item_id):
    return (ROOT / "solutions" / item_id / f"{item_id}.py").read_text()


def hostile(name, **parameters):
    """The text of tests/hostile/<name>.py with its module-level parameters set."""
    text = (HOSTILE / f"{name}.py").read_text()
    for parameter, value in parameters.items():
        line = next(line for line in text.splitlines() if line.startswith(f"{parameter} = "))
        text = text.replace(line, f"{parameter} = {value!r}", 1)
    return text


def write_learner(folder, item_id, *parts):
    """A learner file for `item_id` made of the given texts, in its own folder."""
    path = Path(folder) / f"{item_id}.py"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n\n".join(parts))
    return path


def printed(report, tag):
    """The JSON a hostile file printed on the line starting with `tag`, or None."""
    output = report["output"] if isinstance(report, dict) else None
    text = "\n".join([output.get("head", ""), output.get("tail", "")]) if output else report
    for line in text.splitlines():
        if line.startswith(tag + " "):
            return json.loads(line[len(tag) + 1:])
    return None


def store_files(folder):
    """{relative path: bytes} of every file in a store folder."""
    return {str(path.relative_to(folder)): path.read_bytes()
            for path in Path(folder).rglob("*") if path.is_file()}


def stored_value(name, data):
    """The channel bytes of the result a store file holds (an entry is rewritten, with the same
    result, where the reference ran again: a calibration too unlike the stored one), or the
    file's bytes where it is not a valid entry."""
    if not name.endswith(".entry"):
        return data
    found = ReferenceStore._parse(data, Path(name).stem)
    return data if found is None else channel.encode(found[0])


def statuses(report):
    return {check["name"]: check["status"] for check in report["checks"]}


# 1 and 4: the store is out of the learner's sight, and only the reference's results enter it

@needs_bwrap
def test_the_store_is_out_of_sight_and_no_learner_result_enters_it(tmp_path, monkeypatch,
                                                                   grade_json):
    """An honest grading fills the store; a hostile grading with the same seed (a re-grade,
    or the next candidate of a batch) hunts the store from inside the sandbox (reading the
    answers, overwriting entries, planting a forged one) and gives marker results, far too
    many rows among them; the store holds the same files and the same results (an entry
    is rewritten only where the reference ran again), and no marker: a later grading reads
    back only what the reference computed."""
    monkeypatch.setenv("DLPREP_SANDBOX", "bwrap")
    store_dir = tmp_path / "cache" / "reference"
    honest = write_learner(tmp_path / "honest", TORCH_ITEM, reference_text(TORCH_ITEM))
    arguments = ["--seed", 73]
    _, first = grade_json(TORCH_ITEM, "--file", honest, *arguments)
    assert first["status"] == verdicts.PASSED, first
    before = store_files(store_dir)
    assert any(name.endswith(".entry") for name in before), "the honest grading stored nothing"

    hunt = hostile("cache_store_hunt", HOST_PATHS=[str(tmp_path / "cache"), str(store_dir),
                                                   os.path.expanduser("~/.cache/dlprep")])
    attacker = write_learner(tmp_path / "hostile", TORCH_ITEM,
                             (HOSTILE / "cache_marker_learner.py").read_text(), hunt)
    _, attacked = grade_json(TORCH_ITEM, "--file", attacker, *arguments)
    reached = printed(attacked, "CACHE_HUNT")
    assert reached is not None, f"the hostile file did not run: {attacked}"
    assert reached["found"] == [] and reached["readable"] == [], \
        f"the learner found the reference-result store from inside the sandbox: {reached}"
    assert reached["overwritten"] == [], reached
    passed = {name for name, status in statuses(attacked).items() if status == verdicts.PASSED}
    assert attacked["status"] != verdicts.PASSED, attacked
    assert all(FORM_WORDS.intersection(name.split("_")) for name in passed), \
        f"marker results passed checks of values: {sorted(passed)}"

    after = store_files(store_dir)
    assert sorted(after) == sorted(before), (
        f"the hostile grading changed the store's files: added "
        f"{sorted(set(after) - set(before))}, removed {sorted(set(before) - set(after))}")
    changed = [name for name in before if stored_value(name, after[name])
               != stored_value(name, before[name])]
    assert not changed, f"the hostile grading changed stored results: {changed}"
    marker = 4242.4242
    traces = [struct.pack("<f", marker), struct.pack("<d", marker), b"PLANTED"]
    for name, data in after.items():
        assert not any(trace in data for trace in traces), f"{name} holds the learner's bytes"


# 2: compiled programs planted in a compilation cache

# Practice mode gives a learner compilation cache to the learner's own stub only: a file graded
# with --file (another candidate's, say) gets none, so it cannot plant programs for the next.


def poisoned_then_honest(tmp_path, grade_json, *mode):
    """Grade a correct file that poisons its compilation cache, then an honest file (another
    candidate's) with the same seed; (the poisoner's report, the honest one's report)."""
    poisoner = write_learner(tmp_path / "first", JAX_ITEM, reference_text(JAX_ITEM),
                             (HOSTILE / "cache_compile_poison.py").read_text())
    honest = write_learner(tmp_path / "second", JAX_ITEM, reference_text(JAX_ITEM),
                           (HOSTILE / "cache_compile_lister.py").read_text())
    _, poisoned = grade_json(JAX_ITEM, "--file", poisoner, "--seed", 88, *mode)
    _, graded = grade_json(JAX_ITEM, "--file", honest, "--seed", 88, *mode)
    return poisoned, graded


@pytest.mark.slow
@needs_bwrap
def test_a_file_graded_in_practice_mode_plants_no_program_for_the_next_file(
        tmp_path, monkeypatch, grade_json):
    monkeypatch.setenv("DLPREP_SANDBOX", "bwrap")
    poisoned, graded = poisoned_then_honest(tmp_path, grade_json)
    attack = printed(poisoned, "COMPILE_POISON")
    assert attack is not None, poisoned
    assert not attack["own"] and not attack["marker"], (
        f"a file graded with --file was given a compilation cache to poison: {attack}")
    seen = printed(graded, "COMPILE_SEEN")
    assert seen is not None, graded
    problems = []
    if seen["programs"]:
        problems.append(f"the next file's worker was given a compilation cache holding "
                        f"{seen['programs']} programs")
    if seen["planted"]:
        problems.append(f"the next file's worker was given the first file's compilation cache "
                        f"({seen['programs']} compiled programs): {seen['planted']}")
    if graded["status"] != verdicts.PASSED:
        failed = {name: status for name, status in statuses(graded).items()
                  if status != verdicts.PASSED}
        problems.append(f"an honest file failed after the first file poisoned the cache: "
                        f"{failed}")
    assert not problems, problems


@pytest.mark.slow
@needs_bwrap
def test_in_assessment_mode_no_compilation_cache_passes_from_one_file_to_the_next(
        tmp_path, monkeypatch, grade_json):
    monkeypatch.setenv("DLPREP_SANDBOX", "bwrap")
    poisoned, graded = poisoned_then_honest(tmp_path, grade_json, "--mode", "assessment")
    assert printed(poisoned, "COMPILE_POISON") is not None, poisoned
    seen = printed(graded, "COMPILE_SEEN")
    assert seen is not None and not seen["planted"] and not seen["programs"], seen
    assert graded["status"] == verdicts.PASSED, statuses(graded)


# 5: exhausting the user's disk

# A learner's compilation cache is bound read-only into its sandbox and copied into its /tmp
# (inside the 512 MiB cap); the judge writes back at most LEARNER_COMPILE_BYTES of it, checked
# (grader/workers.py: WorkerProcess.export_compiled).


def own_stub_grading(grade_json, text, *arguments):
    """Grade `text` as the learner's own linear_regression_jax stub in the test's bank copy
    (so that practice mode gives it its compilation cache); the JSON report."""
    from grader.catalog import Bank

    Bank().stub_file(JAX_ITEM).write_text(text)
    _, report = grade_json(JAX_ITEM, *arguments)
    return report


def compiled_files(state_dir):
    """The files of the learner's compilation caches beside the progress file (the fixtures
    put it in tmp_path), nothing else (no temporary folders left)."""
    return [path for path in (Path(state_dir) / "compiled").rglob("*") if path.is_file()]


@needs_bwrap
def test_a_learner_writes_no_more_than_the_sandbox_cap_through_its_compilation_cache(
        tmp_path, monkeypatch, grade_json, bank_copy, pristine_stub):
    monkeypatch.setenv("DLPREP_SANDBOX", "bwrap")
    report = own_stub_grading(grade_json, "\n\n".join([
        Path(pristine_stub(JAX_ITEM)).read_text(),
        (HOSTILE / "cache_disk_filler.py").read_text()]), "--seed", 5)
    assert report.get("checks"), f"the grading ended without a report: {report}"
    fill = printed(report, "DISK_FILL")
    assert fill is not None and fill["own"], (
        f"the learner's own stub was given no compilation cache to fill: {fill}")
    assert not fill["seed_planted"], "the learner wrote into its cache folder on the user's disk"
    on_disk = sum(path.stat().st_size for path in compiled_files(tmp_path))
    assert on_disk <= sandbox.LEARNER_COMPILE_BYTES, (
        f"the learner's file left {on_disk >> 20} MiB in its compilation cache on the "
        f"user's disk, past the cap of {sandbox.LEARNER_COMPILE_BYTES >> 20} MiB: {fill}")
    assert not any(path.name == "planted-cache" for path in compiled_files(tmp_path))


@pytest.mark.slow
@needs_bwrap
def test_an_honest_learners_compiled_programs_come_back_in_its_next_grading(
        tmp_path, monkeypatch, grade_json, bank_copy):
    monkeypatch.setenv("DLPREP_SANDBOX", "bwrap")
    text = reference_text(JAX_ITEM) + "\n\n" + (HOSTILE / "cache_compile_lister.py").read_text()
    first = own_stub_grading(grade_json, text, "--seed", 6)
    assert first["status"] == verdicts.PASSED, statuses(first)
    kept = [path.name for path in compiled_files(tmp_path)]
    assert any(name.endswith("-cache") for name in kept), (
        f"the first grading wrote back no compiled program to the learner's cache: {kept}")
    second = own_stub_grading(grade_json, text, "--seed", 6)
    seen = printed(second, "COMPILE_SEEN")
    assert seen is not None and seen["programs"] > 0, (
        f"the second grading's worker was given none of the first's programs: {seen}")
    assert second["status"] == verdicts.PASSED, statuses(second)


# 2 and 1 in a batch: two candidates, one store, the first hostile

@pytest.mark.slow
@needs_bwrap
def test_a_hostile_candidate_of_a_batch_reaches_neither_the_store_nor_the_next_candidate(
        tmp_path, monkeypatch):
    from click.testing import CliRunner

    from grader.cli import cli

    monkeypatch.setenv("DLPREP_SANDBOX", "bwrap")
    store = tmp_path / "store"
    submissions = tmp_path / "submissions"
    hunt = hostile("cache_store_hunt", HOST_PATHS=[str(store), str(store / "reference"),
                                                   str(tmp_path / "cache")])
    write_learner(submissions / "alice", JAX_ITEM, reference_text(JAX_ITEM),
                  (HOSTILE / "cache_compile_poison.py").read_text(), hunt)
    write_learner(submissions / "bob", JAX_ITEM, reference_text(JAX_ITEM),
                  (HOSTILE / "cache_compile_lister.py").read_text())
    results = tmp_path / "results"
    monkeypatch.setenv("DLPREP_CACHE", str(store))
    outcome = CliRunner().invoke(
        cli, ["batch", str(submissions), "--out", str(results), "--items", JAX_ITEM,
              "--device", "cpu", "--jobs", "1", "--seed", "88"], catch_exceptions=False)
    records = {name: json.loads((results / "candidates" / f"{name}.json").read_text())
               ["items"][JAX_ITEM] for name in ("alice", "bob")}
    assert all("checks" in record for record in records.values()), outcome.output
    reached = printed(records["alice"], "CACHE_HUNT")
    assert reached is not None, records["alice"]
    assert reached["found"] == [] and reached["overwritten"] == [], reached
    for name, data in store_files(store).items():
        assert b"PLANTED" not in data and b"this learner was here" not in data, name
    assert records["bob"]["status"] == verdicts.PASSED, statuses(records["bob"])


# 3: limits that lie

class Timeline:
    """When the judge calibrated, started the learner, and timed the reference's calls."""

    def __init__(self):
        self.calibrations = []
        self.learner = None  # the judge's learner Side
        self.learner_started = None
        self.reference_calls = []  # (probe, learner CPU ticks before, after)
        self.calibration_s = []
        self.freezable = False  # whether the judge could pause the learner's worker

    def learner_cpu_ticks(self):
        """CPU time (clock ticks) the processes of the learner's worker cgroup have used, or
        None where the judge could not make one."""
        worker = self.learner and self.learner.worker
        group = worker and worker.containment.cgroup
        if group is None:
            return None
        ticks = 0
        for pid in group.pids():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            ticks += int(fields[11]) + int(fields[12])  # utime, stime
        return ticks

    def calibrate(self):
        started = time.monotonic()
        seconds = measure_calibration()
        self.calibrations.append((started, time.monotonic()))
        self.calibration_s.append(seconds)
        return seconds


@pytest.fixture(scope="module")
def spun(tmp_path_factory):
    """One cold-store grading of a correct torch file that burns CPU from its import on: when
    the judge calibrated and started the learner's worker (CLOCK_MONOTONIC), and how much CPU
    the learner's processes used during each reference call."""
    if _CHOICE.kind != "bwrap":
        pytest.skip(f"bubblewrap cannot start here: {_CHOICE.reason}")
    folder = tmp_path_factory.mktemp("spun")
    timeline = Timeline()
    original_start, original_call = judge.Side.start, judge.Side.call

    def start(side):
        if side.spec.role == "learner":
            timeline.learner = side
            if timeline.learner_started is None:
                timeline.learner_started = time.monotonic()
        return original_start(side)

    def call(side, probe, inputs, limit_s, load_limit_s):
        before = timeline.learner_cpu_ticks()
        try:
            return original_call(side, probe, inputs, limit_s, load_limit_s)
        finally:
            if side.spec.role == "reference":
                timeline.reference_calls.append((probe, before, timeline.learner_cpu_ticks()))
                worker = timeline.learner and timeline.learner.worker
                timeline.freezable = bool(worker and worker.containment.can_freeze)

    target = write_learner(folder / "spinner", TORCH_ITEM, reference_text(TORCH_ITEM),
                           (HOSTILE / "cache_calibration_spinner.py").read_text())
    store = ReferenceStore(folder / "store", calibrate=timeline.calibrate)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(judge.Side, "start", start)
        patch.setattr(judge.Side, "call", call)
        report = judge.grade(Bank(), TORCH_ITEM, target, device="cpu", seed=12,
                             sandbox_kind="bwrap", reference_cache=store)
    return report, timeline, store


IDLE_TICKS = 5  # CPU clock ticks an idle learner worker may use during a grading's reference calls
# The judge times its calibration before any worker starts, and freezes the learner's worker
# cgroup while it times the reference's calls (Session.learner_paused).


def test_the_calibration_is_timed_before_any_learner_code_can_run(spun):
    _, timeline, _ = spun
    assert timeline.calibrations and timeline.learner_started is not None, vars(timeline)
    calibrated = timeline.calibrations[0][0]
    assert calibrated < timeline.learner_started, (
        f"the judge's calibration started {calibrated - timeline.learner_started:.2f} s after "
        f"the learner's worker (its file burns CPU from import on)")


def test_no_stored_reference_time_was_measured_while_the_learners_code_ran(spun):
    _, timeline, store = spun
    assert store.misses and timeline.reference_calls, "the cold store computed nothing"
    measured = [(probe, before, after) for probe, before, after in timeline.reference_calls
                if before is not None and after is not None]
    if not measured:
        pytest.skip("the judge ran the learner's worker without a cgroup here")
    if not timeline.freezable:
        pytest.skip("no freezer cgroup is writable here: the judge cannot pause the learner")
    used = {}
    for probe, before, after in measured:
        used[probe] = used.get(probe, 0) + after - before
    ticks = sum(used.values())  # an idle honest worker: 0 or 1 (measured: 1 in 18 calls)
    assert ticks <= IDLE_TICKS, (
        f"the learner's processes used {ticks / os.sysconf('SC_CLK_TCK'):.2f} s of CPU while "
        f"the reference's calls, whose times the store keeps, were timed (by probe, in clock "
        f"ticks: {used}); an idle worker uses at most {IDLE_TICKS}")
