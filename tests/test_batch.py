"""`grade batch`: a folder of candidates graded with one seed, resumably, each in its own judge.

One module-scoped batch of linear_regression_torch (the fastest item, ~5 s a grading) serves
most tests: alice hands in the reference, bob the bank's stub, carol a wrong variant (the loss
summed instead of averaged), dave the reference in a zip (inside a folder), and five candidates
whose submissions cannot be read: a link out of the folder, a file that is not UTF-8, a zip
with a `..` member (zip slip), a zip bomb, and a zip with a link. Tests that change the batch
(a changed submission, --regrade) run after the ones that only read it.
"""

import io
import json
import os
import shutil
import threading
import time
import zipfile
from pathlib import Path

import pytest

from grader import sandbox

ROOT = Path(__file__).resolve().parent.parent
ITEM = "linear_regression_torch"
REFERENCE = ROOT / "solutions" / ITEM / f"{ITEM}.py"
WRONG = REFERENCE.read_text() + """

def mse_loss(predictions, targets):
    return ((predictions - targets) ** 2).sum()  # summed, not averaged
"""
SANDBOXED = sandbox.choose("auto").kind == "bwrap"
SANDBOX_ARGS = [] if SANDBOXED else ["--sandbox", "none"]
needs_sandbox = pytest.mark.skipif(not SANDBOXED, reason="no bubblewrap sandbox starts here; "
                                   "an unsandboxed batch does not share reference results")


def zip_with(path, members):
    """A zip of (name, bytes) members; a name ending in '@link' becomes a symbolic link."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members:
            if name.endswith("@link"):
                info = zipfile.ZipInfo(name.removesuffix("@link"))
                info.external_attr = (0o120777 << 16)
                archive.writestr(info, data)
            else:
                archive.writestr(name, data)


def make_submissions(folder, stub_text):
    folder.mkdir()
    for name, text in (("alice", REFERENCE.read_text()), ("bob", stub_text),
                       ("carol", WRONG)):
        (folder / name).mkdir()
        (folder / name / f"{ITEM}.py").write_text(text)
    zip_with(folder / "dave.zip", [(f"dave/{ITEM}.py", REFERENCE.read_bytes()),
                                   ("dave/notes.txt", b"hello")])
    (folder / "eve").mkdir()
    (folder / "eve" / f"{ITEM}.py").symlink_to(REFERENCE)
    (folder / "frank").mkdir()
    (folder / "frank" / f"{ITEM}.py").write_bytes(b"x = '\xe9t\xe9'\n")
    zip_with(folder / "mallory.zip", [(f"{ITEM}.py", REFERENCE.read_bytes()),
                                      ("../escaped.py", b"print('out')\n")])
    zip_with(folder / "bomb.zip", [(f"{ITEM}.py", b"\0" * (8 * 1024 * 1024))])
    zip_with(folder / "linky.zip", [(f"{ITEM}.py@link", b"/etc/passwd")])


def run_batch(submissions, results, *args):
    """`grade batch` in this process (its judges are subprocesses); (exit code, output)."""
    from click.testing import CliRunner

    from grader.cli import cli

    result = CliRunner().invoke(
        cli, ["batch", str(submissions), "--out", str(results), "--items", ITEM, "--device",
              "cpu", "--jobs", "2", *SANDBOX_ARGS, *map(str, args)], catch_exceptions=False)
    return result.exit_code, result.output


def candidate(results, name):
    return json.loads((results / "candidates" / f"{name}.json").read_text())


def batch_record(results):
    return json.loads((results / "batch.json").read_text())


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    from grader.bank_stubs import bank_stub
    from grader.catalog import Bank

    base = tmp_path_factory.mktemp("batch")
    environment = {"DLPREP_CACHE": str(base / "cache"), "DLPREP_PROGRESS":
                   str(base / "progress.json")}
    saved = {key: os.environ.get(key) for key in environment}
    os.environ.update(environment)
    try:
        with bank_stub(Bank(), ITEM) as stub:
            make_submissions(base / "submissions", stub.path.read_text())
        code, output = run_batch(base / "submissions", base / "results")
        yield base / "submissions", base / "results", code, output
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def test_each_candidate_gets_the_verdict_of_their_submission(batch):
    _, results, code, output = batch
    assert code == 1, output  # some candidates' submissions could not be read
    verdicts = {name: candidate(results, name)["items"][ITEM]
                for name in ("alice", "bob", "carol", "dave")}
    assert verdicts["alice"]["status"] == "passed", verdicts["alice"]
    assert verdicts["dave"]["status"] == "passed", verdicts["dave"]
    assert verdicts["bob"]["score"] == 0
    assert {check["status"] for check in verdicts["bob"]["checks"]} == {"not_implemented"}
    carol = {check["name"]: check["status"] for check in verdicts["carol"]["checks"]}
    assert verdicts["carol"]["status"] == "failed" and "passed" in carol.values(), carol
    assert any("loss" in name and status == "failed" for name, status in carol.items()), carol


def test_a_candidate_record_holds_what_an_audit_needs(batch):
    submissions, results, _, _ = batch
    record = candidate(results, "alice")
    state = batch_record(results)
    assert record["seed"] == state["seed"] and record["device"] == "cpu"
    assert len(record["bank"]["digest"]) == 64 and record["grader_version"]
    assert record["sandbox"] == ("sandboxed" if SANDBOXED else "unsandboxed")
    report = record["items"][ITEM]
    import hashlib

    assert report["submission_sha256"] == hashlib.sha256(
        (submissions / "alice" / f"{ITEM}.py").read_bytes()).hexdigest()
    assert report["seed"] == state["seed"] and report["versions"] and report["checks"]
    assert report["mode"] == "assessment" and report["sandbox"]["kind"] in ("bwrap", "none")
    assert record["errors"] == []


def test_every_candidate_meets_the_same_seed(batch):
    _, results, _, _ = batch
    seeds = {candidate(results, name)["items"][ITEM]["seed"]
             for name in ("alice", "bob", "carol", "dave")}
    assert seeds == {batch_record(results)["seed"]}


@pytest.mark.parametrize("name, words", [
    ("eve", "symbolic link"),
    ("frank", "not UTF-8"),
    ("mallory", "climbs out of its folder"),
    ("bomb", "zip bomb"),
    ("linky", "symbolic link"),
])
def test_a_submission_that_cannot_be_read_gets_a_clear_error_and_is_not_graded(batch, name,
                                                                                words):
    _, results, _, _ = batch
    record = candidate(results, name)
    assert record["items"] == {}
    assert any(words in error["error"] for error in record["errors"]), record["errors"]


def test_a_zip_slip_member_is_never_written_outside_the_unpacked_folder(batch):
    submissions, results, _, _ = batch
    found = [path for path in submissions.parent.rglob("escaped.py")]
    assert found == []
    assert not (results / ".unpacked" / "mallory").exists()


@needs_sandbox
def test_reference_passes_compute_the_reference_results_and_no_candidate_grading_does(batch):
    _, results, _, _ = batch
    caches = {name: candidate(results, name)["items"][ITEM]["reference_cache"]
              for name in ("alice", "bob", "carol", "dave")}
    run = batch_record(results)["runs"][0]
    passes = run.get("reference_passes")
    assert passes and [entry["shard"] for entry in passes] == ["1/2", "2/2"], (
        f"a batch of one item with --jobs 2 ran the reference passes {passes}, expected "
        "two shards")
    assert all("error" not in entry for entry in passes), f"a pass failed: {passes}"
    checks = len(candidate(results, "alice")["items"][ITEM]["checks"])
    assert sum(entry["checks"] for entry in passes) == checks, (
        f"the passes ran {[entry['checks'] for entry in passes]} checks, expected the "
        f"suite's {checks} once each")
    assert sum(entry["reference_cache"]["misses"] for entry in passes) > 0, (
        f"the passes computed none of the reference's results: {passes}")
    assert all(stats["misses"] == 0 and stats["hits"] > 0 for stats in caches.values()), (
        f"after the passes every candidate's reference call should hit the store: {caches}")
    assert all(stats["reference_workers"] == 0 for stats in caches.values()), (
        f"a grading whose every reference call hit the store still started a reference "
        f"worker: {caches}")
    judges = list(caches.values()) + [entry["reference_cache"] for entry in passes]
    for count in ("hits", "misses", "reference_workers"):
        assert run["reference_cache"][count] == sum(stats[count] for stats in judges), (
            f"the run's {count} {run['reference_cache']} are not the sum of its judges' "
            f"(candidates and passes): {judges}")


def test_no_candidate_grading_starts_before_every_reference_pass_has_ended(tmp_path,
                                                                          monkeypatch):
    from grader.assessment.batch import (
        Batch,
        Job,
        Options,
        Outcome,
        ReferencePass,
        Submission,
    )
    from grader.catalog import Bank

    runner = Batch(Bank(), Options(tmp_path / "submissions", tmp_path / "results", jobs=2),
                   stream=io.StringIO())
    runner.state, runner.results = {"runs": []}, tmp_path
    events, lock = [], threading.Lock()

    def works(kind, name, seconds):
        with lock:
            events.append(("start", kind, name))
        time.sleep(seconds)
        with lock:
            events.append(("end", kind, name))

    passes = [ReferencePass(ITEM, index, 2, 60, tmp_path / "claims") for index in range(2)]
    monkeypatch.setattr(runner, "reference_passes", lambda jobs, count: passes)
    monkeypatch.setattr(runner, "run_pass", lambda shard: works(
        "pass", shard.index, 0.2 + 0.4 * shard.index) or {"shard": shard.index})
    monkeypatch.setattr(runner, "grade_one", lambda job: works(
        "grading", job.submission.candidate, 0.05) or Outcome(job, report={"status": "passed"}))
    monkeypatch.setattr(runner, "record", lambda outcome: None)
    run = runner.run([Job(Submission(f"candidate{number}", ITEM, tmp_path, "0"), 60)
                      for number in range(4)])
    last_pass_end = max(index for index, event in enumerate(events)
                        if event[:2] == ("end", "pass"))
    first_grading = min(index for index, event in enumerate(events) if event[1] == "grading")
    assert last_pass_end < first_grading, (
        f"a candidate's grading started while a reference pass ran: {events}")
    assert set(events[:2]) == {("start", "pass", 0), ("start", "pass", 1)}, (
        f"the two passes should run at once with --jobs 2: {events}")
    assert run["graded"] == 4 and run["reference_passes"] == [{"shard": 0}, {"shard": 1}], run
    assert not (tmp_path / "claims").exists(), "the passes' claims were left behind"


def test_reference_passes_share_the_checks_over_the_jobs_for_code_items_only(tmp_path):
    from grader.assessment.batch import Batch, Job, Options, Submission
    from grader.catalog import Bank

    bank = Bank()
    theory = next(item_id for item_id in bank.items if bank.item(item_id).kind == "theory")
    runner = Batch(bank, Options(tmp_path / "s", tmp_path / "r", jobs=2))
    runner.order = [ITEM, "cnn_torch", theory]
    jobs = {item_id: Job(Submission("alice", item_id, tmp_path / item_id, "0"), 60)
            for item_id in runner.order}

    def shards(*item_ids, count=2):
        return [(shard.item_id, shard.index, shard.count)
                for shard in runner.reference_passes([jobs[i] for i in item_ids], count)]

    assert shards(ITEM) == [(ITEM, 0, 2), (ITEM, 1, 2)]
    assert shards(ITEM, "cnn_torch") == [(ITEM, 0, 1), ("cnn_torch", 0, 1)]
    assert shards(ITEM, "cnn_torch", count=4) == [
        (ITEM, 0, 2), ("cnn_torch", 0, 2), (ITEM, 1, 2), ("cnn_torch", 1, 2)]
    folders = {shard.claims for shard in runner.reference_passes([jobs[ITEM]], 2)}
    assert len(folders) == 1, f"the passes of one item must share their claims: {folders}"
    assert shards(theory) == [], "a theory item has no reference to run"
    runner.unsandboxed = True
    assert shards(ITEM) == [], "an unsandboxed batch has no store to fill"


@pytest.mark.parametrize("extra", [["--file", str(REFERENCE)], []], ids=["a file", "no store"])
def test_a_reference_pass_without_its_store_or_with_a_file_is_a_usage_error(tmp_path, extra):
    from click.testing import CliRunner

    from grader.cli import cli

    store = [] if extra == [] else ["--reference-cache", str(tmp_path / "store")]
    result = CliRunner().invoke(cli, ["exercise", ITEM, "--reference-pass", str(tmp_path),
                                      *store, *extra])
    assert result.exit_code == 2, (
        f"grade exercise --reference-pass {tmp_path} {store + extra} exited "
        f"{result.exit_code}: {result.output}")
    assert "--reference-pass" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "store").exists()


def test_running_the_same_command_again_grades_nothing(batch):
    submissions, results, _, _ = batch
    before = {name: candidate(results, name)["items"][ITEM]["elapsed_s"]
              for name in ("alice", "bob", "carol", "dave")}
    code, output = run_batch(submissions, results)
    state = batch_record(results)
    assert code == 1, output
    assert state["runs"][-1]["graded"] == 0 and state["gradings"] == 4, state["runs"]
    assert {name: candidate(results, name)["items"][ITEM]["elapsed_s"]
            for name in before} == before


def test_another_seed_for_existing_results_is_refused(batch):
    submissions, results, _, _ = batch
    seed = batch_record(results)["seed"]
    code, output = run_batch(submissions, results, "--seed", (seed + 1) % 2**31)
    assert code == 2
    assert f"seed {seed}" in output and "another RESULTS folder" in output


def test_a_changed_submission_is_graded_again_and_the_others_are_not(batch):
    submissions, results, _, _ = batch
    graded_before = batch_record(results)["gradings"]
    shutil.copy(REFERENCE, submissions / "carol" / f"{ITEM}.py")  # carol fixed her loss
    code, output = run_batch(submissions, results)
    state = batch_record(results)
    assert state["runs"][-1]["graded"] == 1 and state["gradings"] == graded_before + 1, output
    assert candidate(results, "carol")["items"][ITEM]["status"] == "passed"


def test_regrade_grades_one_candidate_again(batch):
    submissions, results, _, _ = batch
    graded_before = batch_record(results)["gradings"]
    code, output = run_batch(submissions, results, "--regrade", "bob")
    assert batch_record(results)["gradings"] == graded_before + 1, output
    assert candidate(results, "bob")["items"][ITEM]["score"] == 0
    code, output = run_batch(submissions, results, "--regrade", "nobody")
    assert code == 2 and "no candidate 'nobody'" in output


def test_an_unsandboxed_batch_says_so_in_every_record_and_shares_no_results(tmp_path,
                                                                            monkeypatch):
    monkeypatch.setenv("DLPREP_CACHE", str(tmp_path / "cache"))
    submissions = tmp_path / "submissions"
    (submissions / "alice").mkdir(parents=True)
    shutil.copy(REFERENCE, submissions / "alice" / f"{ITEM}.py")
    from click.testing import CliRunner

    from grader.cli import cli

    result = CliRunner().invoke(cli, ["batch", str(submissions), "--out", str(tmp_path / "r"),
                                      "--items", ITEM, "--device", "cpu", "--sandbox", "none"])
    assert result.exit_code == 0, result.output
    assert "UNSANDBOXED" in result.stderr
    record = candidate(tmp_path / "r", "alice")
    assert record["sandbox"] == "unsandboxed" and "UNSANDBOXED" in record["sandbox_warning"]
    assert record["items"][ITEM]["sandbox"]["kind"] == "none"
    assert batch_record(tmp_path / "r")["sandbox"] == "unsandboxed"
    assert not (tmp_path / "cache").exists()


def test_a_folder_with_no_submission_is_a_usage_error_not_a_crash(tmp_path):
    code, output = run_batch(tmp_path / "missing", tmp_path / "r")
    assert code == 2 and "missing" in output


def test_zip_reading_refuses_a_member_that_expands_past_what_it_declares(tmp_path):
    """A zip whose header lies about a member's size is refused, not trusted."""
    from grader.assessment.batch import Candidate, Refused, read_zip

    data = b"a = 1\n" * 1000
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr(f"{ITEM}.py", data)
    raw = bytearray(buffer.getvalue())
    # the central directory's uncompressed size (offset 24 in its entry) claims 10 bytes
    central = raw.rfind(b"PK\x01\x02")
    raw[central + 24:central + 28] = (10).to_bytes(4, "little")
    (tmp_path / "liar.zip").write_bytes(bytes(raw))
    with pytest.raises(Refused):
        read_zip(tmp_path / "liar.zip", Candidate("liar", "zip"))


def test_the_progress_bar_shows_done_failures_elapsed_and_estimate_on_a_terminal_only():
    from grader.assessment.batch import Progress

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    terminal, pipe = Terminal(), io.StringIO()
    for stream in (terminal, pipe):
        progress = Progress(3, stream)
        progress.start()
        progress.update(1, 1)
        progress.finish()
    drawn = terminal.getvalue()
    assert "1/3 graded" in drawn and "1 not passed" in drawn
    assert "elapsed" in drawn and "left" in drawn
    assert pipe.getvalue() == ""


def test_relative_submission_and_results_folders_grade_like_absolute_ones(tmp_path, monkeypatch):
    (tmp_path / "subs" / "alice").mkdir(parents=True)
    shutil.copy(REFERENCE, tmp_path / "subs" / "alice" / f"{ITEM}.py")
    monkeypatch.chdir(tmp_path)
    code, output = run_batch(Path("subs"), Path("results"))
    record = candidate(tmp_path / "results", "alice")
    assert code == 0 and record["items"][ITEM]["status"] == "passed", (
        f"grade batch subs --out results (relative, from {tmp_path}) exited {code}; alice: "
        f"{record.get('errors') or record['items'][ITEM]['status']}; expected the reference "
        f"to pass. Output: {output[-500:]}")


def fake_report(item_id, candidate_name):
    """A judge's JSON report as the reports read it (no grading: only the order is tested)."""
    passed = candidate_name.startswith("a")
    return {"item": item_id, "status": "passed" if passed else "failed",
            "score": 2 if passed else 1, "max_score": 2,
            "checks": [{"name": f"{item_id}_fit", "title": "fit", "task": 1,
                        "status": "passed", "message": "", "time_s": 0.5, "limit_s": 30},
                       {"name": f"{item_id}_loss", "title": "loss", "task": 2,
                        "status": "passed" if passed else "failed",
                        "message": "" if passed else "loss is 4.0, expected 2.0",
                        "time_s": 0.1, "limit_s": 30}]}


def recorded_in(order, tmp_path, label):
    """A batch of two candidates x two items whose gradings end in `order` (no judge runs:
    each job's outcome is recorded as a finished grading would be); {file: text} written."""
    from grader.assessment.batch import Batch, Options, Outcome, write_reports
    from grader.catalog import Bank

    submissions = tmp_path / "submissions"
    if not submissions.exists():
        for name in ("ann", "ben"):
            (submissions / name).mkdir(parents=True)
            for item_id in ("linear_regression_torch", "linear_regression_jax"):
                (submissions / name / f"{item_id}.py").write_text(f"# {name} {item_id}\n")
    results = tmp_path / label
    runner = Batch(Bank(), Options(submissions, results, seed=5, device="cpu",
                                   sandbox_kind="none"))
    jobs = {(job.submission.candidate, job.submission.item_id): job
            for job in runner.prepare()}
    for candidate_name, item_id, failed in order:
        job = jobs[(candidate_name, item_id)]
        runner.record(Outcome(job, error="the grader failed (exit 3)") if failed else
                      Outcome(job, report=fake_report(item_id, candidate_name)))
    write_reports(results)
    texts = {}
    for path in sorted(results.rglob("*")):
        if path.is_file() and ".unpacked" not in path.parts and path.name not in (
                "batch.json", "report.html", "junit.xml"):  # these three hold times
            texts[path.relative_to(results).as_posix()] = path.read_text()
    junit = (results / "junit.xml").read_text()
    texts["junit.xml"] = "\n".join(line for line in junit.splitlines()
                                   if "timestamp=" not in line)
    return texts


def test_records_and_reports_are_the_same_whichever_grading_ends_first(tmp_path):
    gradings = [("ann", "linear_regression_torch", False), ("ann", "linear_regression_jax", False),
                ("ben", "linear_regression_torch", True), ("ben", "linear_regression_jax", True)]
    forward = recorded_in(gradings, tmp_path, "forward")
    backward = recorded_in(list(reversed(gradings)), tmp_path, "backward")
    assert "candidates/ann.json" in forward and "summary.csv" in forward, sorted(forward)
    ann = json.loads(forward["candidates/ann.json"])
    assert list(ann["items"]) == ["linear_regression_torch", "linear_regression_jax"], (
        f"ann's items in {list(ann['items'])}: expected the catalog's order")
    for name in sorted(set(forward) | set(backward)):
        assert forward.get(name) == backward.get(name), (
            f"{name} differs when the same gradings end in the opposite order:\n"
            f"{forward.get(name)}\n---\n{backward.get(name)}")


def test_a_batch_without_copydetect_says_the_similarity_check_did_not_run_and_is_no_fault(
        tmp_path, monkeypatch):
    """The extra `similarity` is optional: a batch without it names the install and exits as
    its gradings say (here 1: a submission that cannot be read), never as an internal error."""
    from grader.assessment import batch as batch_module
    from grader.assessment import similarity

    def missing():
        raise similarity.MissingExtra(f"similarity checks need the optional extra copydetect "
                                      f"(No module named 'copydetect'): run `{similarity.INSTALL}`")

    class InThisProcess:  # the check runs here, where copydetect is patched away
        def __init__(self, results):
            self.results = results

        def outcome(self):
            return tuple(batch_module.similarity_outcome(self.results))

        def stop(self):
            pass

    monkeypatch.setattr(similarity, "_copydetect", missing)
    monkeypatch.setattr(batch_module, "EarlySimilarity", InThisProcess)
    (tmp_path / "submissions" / "frank").mkdir(parents=True)
    (tmp_path / "submissions" / "frank" / f"{ITEM}.py").write_bytes(b"x = '\xe9t\xe9'\n")
    code, output = run_batch(tmp_path / "submissions", tmp_path / "results")
    assert code == 1, f"grade batch without copydetect exited {code}, expected 1:\n{output}"
    assert "similarity check did not run" in output and similarity.INSTALL in output, output
    assert "internal error" not in output, output
    assert (tmp_path / "results" / "summary.csv").exists(), output


def test_the_similarity_check_runs_in_a_session_of_its_own_at_the_lowest_priority(tmp_path):
    pytest.importorskip("copydetect")
    from grader.assessment.batch import EarlySimilarity

    for name in ("alice", "bob"):
        (tmp_path / ".unpacked" / name).mkdir(parents=True)
        shutil.copy(REFERENCE, tmp_path / ".unpacked" / name / f"{ITEM}.py")
    early = EarlySimilarity(tmp_path)
    pid = early.process.pid  # it lives a second at least (imports)
    priority, session = os.getpriority(os.PRIO_PROCESS, pid), os.getsid(pid)
    group = Path(f"/proc/{pid}/autogroup")
    group = group.read_text() if group.exists() else "nice 19 (no autogroup here)"
    status, outputs = early.outcome()
    assert priority == 19, f"the similarity process ran at nice {priority}, expected 19"
    assert session == pid, "the similarity process shares a session (a scheduling group)"
    assert "nice 19" in group, f"its scheduling group is not at the lowest priority: {group}"
    assert status == "done" and str(tmp_path / "similarity.json") in outputs, (status, outputs)
    flagged = json.loads((tmp_path / "similarity.json").read_text())["flagged"]
    assert any({row["a"], row["b"]} == {"alice", "bob"} for row in flagged), (
        f"two copies of the reference were not flagged as a pair: {flagged}")


def test_a_check_is_claimed_by_the_first_pass_that_asks_and_only_by_it(tmp_path):
    from grader.judge import claim

    first = claim(tmp_path, "test_x.py::test_one")
    again = claim(tmp_path, "test_x.py::test_one")
    other = claim(tmp_path, "test_x.py::test_two")
    assert (first, again, other) == (True, False, True), (
        f"claim(test_one) twice, then claim(test_two) gave {(first, again, other)}, expected "
        "(True, False, True)")


@needs_sandbox
def test_a_reference_pass_fills_the_store_and_records_no_progress_for_the_learner(tmp_path,
                                                                                 monkeypatch):
    from click.testing import CliRunner

    from grader.cli import cli

    monkeypatch.setenv("DLPREP_PROGRESS", str(tmp_path / "progress.json"))
    (tmp_path / "claims").mkdir()
    result = CliRunner().invoke(cli, [
        "exercise", ITEM, "--reference-pass", str(tmp_path / "claims"), "--reference-cache",
        str(tmp_path / "store"), "--device", "cpu", "--seed", "7", "--format", "json"])
    report = json.loads(result.stdout)
    assert result.exit_code == 0 and report["status"] == "passed", result.output
    assert report["reference_cache"]["misses"] > 0 and report["file"].startswith("solutions"), (
        f"a reference pass should compute the reference's results: {report['file']}, "
        f"{report['reference_cache']}")
    assert len(list((tmp_path / "claims").iterdir())) == len(report["checks"]), (
        "a pass alone should claim every check it ran")
    assert not (tmp_path / "progress.json").exists(), (
        "a reference pass recorded progress, as if the learner had passed the item")


def test_a_similarity_process_that_fails_says_why_and_is_a_problem_not_a_crash(tmp_path):
    pytest.importorskip("copydetect")  # without it the outcome is a note, as tested above
    from grader.assessment.batch import EarlySimilarity, write_reports

    (tmp_path / "results").write_text("a file where the results folder should be\n")
    early = EarlySimilarity(tmp_path / "results")
    written, problems, _ = write_reports(tmp_path / "results", early)
    assert any(problem.startswith("similarity:") and "results" in problem
               for problem in problems), (
        f"write_reports with a similarity process that failed gave problems {problems}")


def test_where_an_items_pass_failed_its_first_grading_runs_alone_among_its_items(tmp_path,
                                                                                monkeypatch):
    from grader.assessment.batch import Batch, Job, Options, Outcome, Submission
    from grader.catalog import Bank

    runner = Batch(Bank(), Options(tmp_path / "submissions", tmp_path / "results", jobs=2),
                   stream=io.StringIO())
    runner.state, runner.results, runner.order = {"runs": []}, tmp_path, [ITEM]
    events, lock = [], threading.Lock()

    def grade(job):
        with lock:
            events.append(("start", job.submission.candidate))
        time.sleep(0.1)
        with lock:
            events.append(("end", job.submission.candidate))
        return Outcome(job, report={"status": "passed"})

    monkeypatch.setattr(runner, "run_pass", lambda shard: {
        "item": shard.item_id, "shard": f"{shard.index + 1}/{shard.count}",
        "error": "the reference worker did not start"})
    monkeypatch.setattr(runner, "grade_one", grade)
    monkeypatch.setattr(runner, "record", lambda outcome: None)
    run = runner.run([Job(Submission(name, ITEM, tmp_path, "0"), 60)
                      for name in ("alice", "bob", "carol")])
    assert events[:2] == [("start", "alice"), ("end", "alice")], (
        f"with its item's pass failed, the first grading should run alone among its item's: "
        f"{events}")
    assert run["graded"] == 3 and all("error" in entry for entry in run["reference_passes"])
