"""The practice commands: list, next, hint, solution, reset, doctor, watch, and the progress line
that long checks draw on a terminal."""

import io
import json
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from grader import hints, practice
from grader.catalog import Bank
from conftest import pristine_stub_text

ROOT = Path(__file__).resolve().parent.parent
ITEM = "linear_regression_torch"
TWIN = "linear_regression_jax"
REFERENCE = ROOT / "solutions" / ITEM / f"{ITEM}.py"


def write_progress(tmp_path, entries):
    (tmp_path / "progress.json").write_text(json.dumps(entries))


@pytest.fixture
def passed_item(grade, bank_copy, monkeypatch):
    """A bank copy whose learner file of ITEM is the reference, graded once (so: passed), named
    with --file as a relative path: it is still the learner's own file."""
    shutil.copy(REFERENCE, bank_copy / "exercises" / ITEM / f"{ITEM}.py")
    monkeypatch.chdir(bank_copy)
    result = grade("exercise", ITEM, "--device", "cpu", "--file", f"exercises/{ITEM}/{ITEM}.py")
    assert result.exit_code == 0, result.output
    return bank_copy


# list and next -------------------------------------------------------------------------------

def test_list_shows_a_summary_line_and_the_last_score_of_a_graded_item(grade, passed_item):
    listing = json.loads(grade("list", "--format", "json").stdout)
    rows = {row["id"]: row for row in listing["items"]}
    score, most = rows[ITEM]["last_score"].split("/")
    assert rows[ITEM]["status"] == "passed" and score == most and int(most) > 0, rows[ITEM]
    assert rows[TWIN]["last_score"] is None and rows[TWIN]["status"] == "not started"
    text = grade("list").output
    assert f"1 of {len(rows)} items passed" in text, text
    assert f"{score}/{most}" in next(line for line in text.splitlines() if ITEM in line)


def test_naming_your_own_stub_with_file_still_records_progress(grade, passed_item):
    rows = {row["id"]: row for row in json.loads(grade("list", "--format", "json").stdout)["items"]}
    assert rows[ITEM]["status"] == "passed", rows[ITEM]


def test_a_progress_entry_of_the_wrong_type_counts_as_not_started(grade, tmp_path):
    write_progress(tmp_path, {ITEM: {"status": 1, "score": True, "max_score": 3},
                              TWIN: {"status": "passed", "score": 3, "max_score": True},
                              "theory_speed": {"status": ["passed"]}})
    result = grade("list")
    assert result.exit_code == 0, result.output
    lines = {line.split()[0]: line for line in result.output.splitlines() if line[:1].isalpha()}
    assert "not started" in lines[ITEM] and "True" not in lines[ITEM], lines[ITEM]
    assert "passed" in lines[TWIN] and "/" not in lines[TWIN], lines[TWIN]
    assert "not started" in lines["theory_speed"], lines["theory_speed"]
    quiz = grade("quiz", "--list")
    assert quiz.exit_code == 0 and "not started" in quiz.output, quiz.output


def test_next_names_the_first_item_not_passed_and_how_to_start_it(grade, tmp_path):
    order = [row["id"] for row in json.loads(grade("list", "--format", "json").stdout)["items"]]
    write_progress(tmp_path, {order[0]: {"status": "passed", "score": 3, "max_score": 3}})
    result = grade("next")
    assert result.exit_code == 0, result.output
    first_line = result.output.splitlines()[0]
    assert first_line.startswith(f"Next: {order[1]} "), result.output
    assert f"grade exercise {order[1]}" in result.output or f"grade quiz {order[1]}" in \
        result.output, result.output


def test_next_keeps_twins_adjacent_and_says_when_everything_passed(grade, tmp_path):
    bank = Bank()
    order = [row["id"] for row in json.loads(grade("list", "--format", "json").stdout)["items"]]
    for item in bank.items.values():
        if item.twin:
            assert abs(order.index(item.id) - order.index(item.twin)) == 1, order
    write_progress(tmp_path, {item_id: {"status": "passed"} for item_id in order})
    result = grade("next")
    assert result.exit_code == 0 and f"All {len(order)} items passed" in result.output


def test_list_prints_its_summary_line_once(grade):
    result = grade("list")
    assert result.exit_code == 0 and result.output.count("items passed") == 1, result.output


def test_next_shows_the_twin_of_the_next_item_with_its_status(grade, tmp_path):
    write_progress(tmp_path, {TWIN: {"status": "failing", "score": 2, "max_score": 11}})
    result = grade("next")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith(f"Next: {ITEM} "), result.output
    assert lines[1].startswith(f"Twin: {TWIN} (") and "failing, last score 2/11" in lines[1] \
        and "in jax" in lines[1], result.output


def test_list_hint_and_doctor_honour_no_color(monkeypatch, tmp_path):
    from click.testing import CliRunner

    from grader import doctor
    from grader.cli import cli

    write_progress(tmp_path, {ITEM: {"status": "passed", "score": 1, "max_score": 1}})
    fake = {"grader": "dlprep", "frameworks": {"torch": {"error": "broken"}},
            "limits": {"time": "enforced"}, "paths": {"bank": "here"}}
    monkeypatch.setattr(doctor, "facts", lambda bank: fake)
    runner = CliRunner()
    for args in (["list"], ["hint", ITEM], ["doctor"]):
        coloured = runner.invoke(cli, args, color=True)  # as on a terminal
        assert "\033[" in coloured.output, (args, coloured.output)  # the test can fail
        monkeypatch.setenv("NO_COLOR", "1")
        plain = runner.invoke(cli, args, color=True)
        monkeypatch.delenv("NO_COLOR")
        assert plain.exit_code == 0 and "\033[" not in plain.output, (args, plain.output)


# hints --------------------------------------------------------------------------------------

def test_hints_come_one_rung_at_a_time_in_order_each_shown_once(grade):
    ladder = hints.load(Bank(), ITEM)[1]
    shown = [grade("hint", ITEM, "--task", 1).output for _ in ladder]
    for rung, (output, text) in enumerate(zip(shown, ladder), 1):
        assert f"Hint {rung} of {len(ladder)} for task 1" in output, output
        assert " ".join(output.split()).endswith(text), (output, text)
    result = grade("hint", ITEM, "--task", 1)
    assert result.exit_code == 0 and f"All {len(ladder)} hints for task 1" in result.output


def test_a_flag_in_the_record_of_hints_shown_counts_as_none_shown(grade, tmp_path):
    (tmp_path / "hints.json").write_text(json.dumps({ITEM: {"1": True}}))
    result = grade("hint", ITEM, "--task", 1)
    assert result.exit_code == 0 and "Hint 1 of" in result.output, result.output


def test_hint_starts_at_the_first_task_that_failed_last_time(grade, tmp_path):
    write_progress(tmp_path, {ITEM: {"status": "failing", "failing_tasks": [3, 4]}})
    result = grade("hint", ITEM)
    assert result.exit_code == 0 and "for task 3" in result.output, result.output


def test_hint_stays_on_a_failing_task_whose_hints_ran_out_and_says_so(grade, tmp_path):
    ladders = hints.load(Bank(), ITEM)
    write_progress(tmp_path, {ITEM: {"status": "failing", "failing_tasks": [1, 2]}})
    (tmp_path / "hints.json").write_text(json.dumps({ITEM: {"1": len(ladders[1])}}))
    result = grade("hint", ITEM)
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert f"All {len(ladders[1])} hints for task 1 of {ITEM} were shown and it still " \
           "failed last time" in text, text
    assert f"--task 1 --all" in text and f"`grade hint {ITEM} --task 2`" in text, text
    assert "Hint 1 of" not in text, text  # task 2's ladder is not started behind its back


def test_hint_says_so_when_it_moves_on_to_the_next_task(grade, tmp_path):
    ladders = hints.load(Bank(), ITEM)
    (tmp_path / "hints.json").write_text(json.dumps({ITEM: {"1": len(ladders[1])}}))
    result = grade("hint", ITEM)  # never graded: no failing task recorded
    text = " ".join(result.output.split())
    assert result.exit_code == 0 and "Hint 1 of" in text and "for task 2" in text, text
    assert "every hint for task 1 was shown" in text, text


def test_hint_all_shows_every_rung_of_every_task(grade):
    ladders = hints.load(Bank(), TWIN)
    output = " ".join(grade("hint", TWIN, "--all").output.split())
    for task, ladder in ladders.items():
        assert f"Task {task}" in output
        for text in ladder:
            assert text in output, text


def test_hint_rejects_an_unknown_id_and_an_unknown_task(grade):
    unknown = grade("hint", "linear_regresion_torch")
    assert unknown.exit_code == 2 and "Did you mean" in unknown.output, unknown.output
    task = grade("hint", ITEM, "--task", 99)
    assert task.exit_code == 2 and "no task 99" in task.output, task.output


def test_a_missing_or_malformed_hints_file_is_a_bank_error_naming_it(grade, bank_copy):
    hints_file = bank_copy / "grader" / "suites" / ITEM / "hints.yaml"
    shown = f"grader/suites/{ITEM}/hints.yaml"
    for content, message in (("tasks:\n  1: [only one rung]\n", "task 1 needs a list of 2 to 4"),
                             ("tasks: [unclosed\n", "not valid YAML at line"),
                             (None, "has no hints yet")):
        if content is None:
            hints_file.unlink()
        else:
            hints_file.write_text(content)
        result = grade("hint", ITEM)
        assert result.exit_code == 3 and message in result.output, result.output
        assert shown in result.output and "Traceback" not in result.output, result.output


@pytest.mark.parametrize("item_id", list(Bank().items))
def test_every_item_has_hints_for_every_task_its_suite_checks(item_id):
    bank = Bank()
    try:
        ladders = hints.load(bank, item_id)
    except hints.HintsError as exc:  # missing or malformed
        pytest.fail(str(exc))
    marked = hints.suite_tasks(bank, item_id)
    assert marked, f"the suite of {item_id} marks no task"
    missing, extra = sorted(marked - set(ladders)), sorted(set(ladders) - marked)
    assert not missing, f"{hints.hints_file(bank, item_id)} has no hints for task(s) {missing}"
    assert not extra, (f"{hints.hints_file(bank, item_id)} has hints for task(s) {extra}, which "
                       f"no check of {item_id} marks")


# solution -----------------------------------------------------------------------------------

def test_the_solution_is_refused_until_the_item_passed(grade):
    result = grade("solution", ITEM)
    assert result.exit_code == 2, result.output
    assert f"grade exercise {ITEM}" in result.output and "def " not in result.output


def test_the_solution_is_shown_after_a_pass(grade, passed_item):
    result = grade("solution", ITEM)
    assert result.exit_code == 0, result.output
    assert (passed_item / "solutions" / ITEM / f"{ITEM}.py").read_text().strip() in result.output


def test_the_solution_of_an_unknown_id_is_a_usage_error(grade):
    result = grade("solution", "cnn_pytorch")
    assert result.exit_code == 2 and "There is no exercise" in result.output


# reset --------------------------------------------------------------------------------------

def git(bank, *args):
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.org", *args],
                   cwd=bank, check=True, capture_output=True)


@pytest.fixture
def stub_digests(bank_copy):
    """The bank copy, with the digests of the original stubs."""
    shutil.copy(ROOT / practice.MANIFEST, bank_copy / practice.MANIFEST)
    return bank_copy


@pytest.fixture
def git_bank(stub_digests):
    bank_copy = stub_digests
    git(bank_copy, "init", "-q")
    git(bank_copy, "add", "exercises")
    git(bank_copy, "commit", "-q", "-m", "bank")
    return bank_copy


def test_reset_restores_the_stub_and_keeps_every_version_as_a_backup(grade, git_bank, tmp_path):
    stub = git_bank / "exercises" / ITEM / f"{ITEM}.py"
    original = stub.read_text()
    for attempt in ("first attempt\n", "second attempt\n"):
        stub.write_text(attempt)
        result = grade("reset", ITEM, "--yes")
        assert result.exit_code == 0, result.output
        assert stub.read_text() == original
    backups = sorted(path.read_text() for path in (tmp_path / "backups" / ITEM).iterdir())
    assert backups == ["first attempt\n", "second attempt\n"], backups


def test_reset_asks_first_and_changes_nothing_when_refused(git_bank, tmp_path):
    from click.testing import CliRunner

    from grader.cli import cli

    stub = git_bank / "exercises" / ITEM / f"{ITEM}.py"
    stub.write_text("my work\n")
    result = CliRunner().invoke(cli, ["reset", ITEM], input="n\n")
    assert result.exit_code == 0 and "Replace" in result.output, result.output
    assert result.output.rstrip().endswith("Nothing changed."), result.output
    closed = CliRunner().invoke(cli, ["reset", ITEM], input="")  # no answer at all
    assert closed.exit_code == 2 and "--yes" in closed.output, closed.output
    assert stub.read_text() == "my work\n" and not (tmp_path / "backups").exists()


def test_reset_finds_the_stub_behind_the_learners_own_commits(grade, git_bank):
    stub = git_bank / "exercises" / ITEM / f"{ITEM}.py"
    original = stub.read_text()
    shutil.copy(REFERENCE, stub)
    git(git_bank, "commit", "-q", "-am", "my solution")
    result = grade("reset", ITEM, "--yes")
    assert result.exit_code == 0 and stub.read_text() == original, result.output


def test_reset_does_not_take_a_committed_partial_solution_for_the_stub(grade, git_bank):
    stub = git_bank / "exercises" / ITEM / f"{ITEM}.py"
    original = stub.read_text()
    assert original.count("raise NotImplementedError") > 1  # one task done, others still stubs
    stub.write_text(original.replace("raise NotImplementedError", "return 42", 1))
    git(git_bank, "commit", "-q", "-am", "task 1")
    result = grade("reset", ITEM, "--yes")
    assert result.exit_code == 0 and "original stub again" in result.output, result.output
    assert stub.read_text() == original


def test_reset_without_the_stub_digests_is_a_bank_error_naming_the_file(grade, bank_copy):
    (bank_copy / "exercises" / ITEM / f"{ITEM}.py").write_text("my work\n")
    result = grade("reset", ITEM, "--yes")
    assert result.exit_code == 3 and "grader/stubs.sha256" in result.output, result.output


def test_reset_without_an_original_stub_or_of_an_unknown_id_is_a_usage_error(grade,
                                                                              stub_digests):
    untouched = grade("reset", ITEM, "--yes")  # known by its digest: no git needed
    assert untouched.exit_code == 0 and "already the original" in untouched.output
    (stub_digests / "exercises" / ITEM / f"{ITEM}.py").write_text("my work\n")
    result = grade("reset", ITEM, "--yes")  # the bank copy is not a git checkout
    assert result.exit_code == 2 and "no original stub" in result.output, result.output
    result = grade("reset", "linear_regression", "--yes")
    assert result.exit_code == 2 and "There is no exercise" in result.output


def test_reset_of_a_theory_item_renders_its_blank_answers_file_afresh(grade, bank_copy):
    answers = bank_copy / "exercises" / "theory_speed" / "theory_speed.yaml"
    original = answers.read_text()
    answers.write_text(original + "q1: true\n")
    result = grade("reset", "theory_speed", "--yes")  # no git needed: the key makes the stub
    assert result.exit_code == 0 and answers.read_text() == original, result.output


# doctor -------------------------------------------------------------------------------------

def test_doctor_reports_devices_versions_limits_and_paths(grade, tmp_path):
    result = grade("doctor", "--format", "json")
    assert result.exit_code == 0, result.output
    facts = json.loads(result.stdout)
    for name in ("torch", "jax"):
        found = facts["frameworks"][name]
        assert "error" not in found and found["version"] and found["devices"], found
        assert found["auto"].split(":")[0] in ("cpu", "cuda"), found
    assert facts["limits"]["memory"] and facts["limits"]["processes"]
    assert facts["paths"]["progress file"] == str(tmp_path / "progress.json")
    assert "torch" not in sys.modules and "jax" not in sys.modules


def test_doctor_rejects_an_unknown_format(grade):
    result = grade("doctor", "--format", "xml")
    assert result.exit_code == 2 and "xml" in result.output


# watch --------------------------------------------------------------------------------------

def start_watch(tmp_path, path, *extra):
    env = dict(os.environ, DLPREP_PROGRESS=str(tmp_path / "progress.json"))
    process = subprocess.Popen(  # Ctrl-C's usual handler: a background job may ignore SIGINT
        [sys.executable, "-c", "import signal; signal.signal(signal.SIGINT, "
         "signal.default_int_handler); from grader.cli import main; main()",
         "watch", ITEM, "--file", str(path), "--device", "cpu", *extra],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in process.stdout],
                     daemon=True).start()
    return process, lines


def read_until(lines, text, timeout_s=120):
    """Every line read until one containing `text` (a failure after `timeout_s`)."""
    seen, deadline = [], time.monotonic() + timeout_s
    while not seen or text not in seen[-1]:
        try:
            seen.append(lines.get(timeout=max(0.0, deadline - time.monotonic())))
        except queue.Empty:
            pytest.fail(f"no line with {text!r} within {timeout_s} s; read: {''.join(seen)}")
    return "".join(seen)


def test_watch_grades_again_when_the_file_is_saved(tmp_path):
    path = tmp_path / f"{ITEM}.py"
    path.write_text(pristine_stub_text(ITEM))
    process, lines = start_watch(tmp_path, path, "--max-runs", "2")
    try:
        first = read_until(lines, "Watching")
        assert "FAILED" in first and "PASSED" not in first, first
        shutil.copy(REFERENCE, path)
        assert process.wait(timeout=120) == 0
    finally:
        process.kill()
    second = read_until(lines, "PASSED", timeout_s=5)
    assert "FAILED" not in second, second


def test_ctrl_c_while_watching_stops_cleanly_with_exit_0(tmp_path):
    process, lines = start_watch(tmp_path, REFERENCE)
    try:
        read_until(lines, "Watching")
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0
    finally:
        process.kill()
    rest = read_until(lines, "Stopped watching", timeout_s=5)
    assert "Traceback" not in rest, rest


def test_watch_clears_a_terminal_before_each_run_even_without_colour(monkeypatch):
    from grader.cli import watch

    cleared = []
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setattr(watch.click, "clear", lambda: cleared.append(True))
    monkeypatch.setattr(sys, "stdout", FakeTerminal())
    bank = Bank()  # a theory item: graded without workers
    watch.grade_once(bank, "theory_speed", bank.stub_file("theory_speed"), "cpu", None, False)
    assert cleared and "theory_speed" in sys.stdout.getvalue()


def test_watch_shows_the_header_while_a_run_grades_not_a_blank_screen(monkeypatch):
    from grader import judge
    from grader.cli import watch

    terminal, on_screen = FakeTerminal(), []
    grade = judge.grade

    def grading(*args, **kwargs):
        on_screen.append(terminal.getvalue())  # what the learner sees while the run works
        return grade(*args, **kwargs)

    monkeypatch.setattr(watch.click, "clear", lambda: None)
    monkeypatch.setattr(sys, "stdout", FakeTerminal())
    monkeypatch.setattr(sys, "stderr", terminal)
    monkeypatch.setattr(judge, "grade", grading)
    bank = Bank()
    watch.grade_once(bank, "theory_speed", bank.stub_file("theory_speed"), "cpu", None, False)
    assert on_screen and "dlprep · theory_speed · exercises/theory_speed/theory_speed.yaml" \
        in on_screen[0], on_screen
    assert "grade hint theory_speed" in sys.stdout.getvalue()


def test_watch_rejects_an_unknown_id_and_a_missing_file(grade, tmp_path):
    assert grade("watch", "nope").exit_code == 2
    result = grade("watch", ITEM, "--file", tmp_path / "gone.py")
    assert result.exit_code == 2 and "does not exist" in result.output


# progress of long checks --------------------------------------------------------------------

class FakeTerminal(io.StringIO):
    def isatty(self):
        return True


def test_a_long_call_shows_elapsed_time_against_its_limit_on_a_terminal(monkeypatch):
    from grader.cli import elapsed

    monkeypatch.setattr(elapsed, "SHOW_AFTER_S", 0.2)
    monkeypatch.setattr(elapsed, "TICK_S", 0.1)
    terminal = FakeTerminal()
    progress = elapsed.Progress(terminal, color=False)
    progress.begin(ITEM, "lr.py", 7)
    progress("start", "train_then_predict", 42.0)
    time.sleep(0.6)
    progress("end", "train_then_predict", 42.0)
    progress.finish()
    drawn = terminal.getvalue()
    assert re.search(r"running your `train_then_predict`: \d+ s of its 42 s limit", drawn), drawn
    quiet = io.StringIO()  # not a terminal: nothing
    elapsed.Progress(quiet).begin(ITEM, "lr.py", 7)
    elapsed.Progress(quiet)("start", "fit", 5.0)
    time.sleep(0.3)
    assert quiet.getvalue() == ""


def test_progress_shows_the_header_at_once_then_each_step_and_check_then_erases_itself(
        monkeypatch):
    from grader.cli import elapsed

    monkeypatch.setattr(elapsed, "TICK_S", 0.05)
    terminal = FakeTerminal()
    progress = elapsed.Progress(terminal, color=False)
    progress.begin("cnn_jax", "exercises/cnn_jax/cnn_jax.py", 1234)
    first = terminal.getvalue()
    assert first.startswith("\r\033[Kdlprep · cnn_jax · exercises/cnn_jax/cnn_jax.py\n"), \
        repr(first)
    assert "seed 1234 (replay with --seed 1234)\n" in first and "starting workers" in first
    events = [("phase", "loading the reference and your file", None),
              ("device", "cpu (x86_64)", None), ("phase", "loading your file", None),
              ("reference", "forward", None), ("start", "forward", 5.0),
              ("end", "forward", 5.0), ("check", "forward matches", "passed"),
              ("check", "train learns", "not_implemented")]
    for event in events:
        progress(*event)
    time.sleep(0.2)  # the ticker redraws the status line on its own
    drawn = terminal.getvalue()
    for text in ("loading the reference and your file", "device cpu (x86_64)\n",
                 "loading your file", "running the reference: `forward`",
                 "running your `forward`", "2 checked"):
        assert text in drawn, (text, drawn)
    assert re.search(r"\r\033\[K  ✓ passed +forward matches\n", drawn), drawn
    assert re.search(r"\r\033\[K  ✗ not implemented +train learns\n", drawn), drawn
    before = len(drawn)
    progress.finish()
    erase = terminal.getvalue()[before:]
    # the ticker may redraw the status line between `before` and finish(); then the erase of
    # header 2 + device + 2 checks
    redraws = re.fullmatch(r"(\r  … [^\n\r]*\033\[K)*(.*)", erase, re.S)
    assert redraws.group(2) == "\r\033[K\033[5A\033[J", repr(erase)
    time.sleep(0.2)
    assert len(terminal.getvalue()) == before + len(erase), "drawn after finish"


def test_grading_prints_the_header_before_the_judge_starts_and_never_into_a_pipe(
        monkeypatch):
    from grader import judge
    from grader.cli import elapsed

    seen, grade = [], judge.grade

    def grading(bank, item_id, path, device, seed, on_call):
        seen.append((terminal.getvalue(), seed))
        on_call("check", "first", "failed")
        return grade(bank, "theory_speed", path)  # no workers: the display is under test

    monkeypatch.setattr(judge, "grade", grading)
    monkeypatch.setenv("NO_COLOR", "1")
    bank = Bank()
    item = bank.item(ITEM)
    for terminal in (FakeTerminal(), io.StringIO()):
        elapsed.graded(bank, item, bank.stub_file("theory_speed"), "cpu", None, terminal)
    (on_terminal, seed), (in_pipe, _) = seen
    assert on_terminal.startswith("\r\033[Kdlprep · linear_regression_torch · ") \
        and f"seed {seed} " in on_terminal, on_terminal
    assert in_pipe == "" and seen[1][1] != seed  # a seed drawn for every run


def test_the_judge_reports_each_step_learner_call_and_check_as_it_happens():
    from grader import judge

    events = []
    report = judge.grade(Bank(), ITEM, REFERENCE, device="cpu", seed=1,
                         on_call=lambda event, name, value: events.append((event, name, value)))
    assert report.status == "passed"
    calls = [(event, name) for event, name, _ in events if event in ("start", "end")]
    starts = [name for event, name in calls if event == "start"]
    assert starts and [name for event, name in calls if event == "end"] == starts, calls
    assert all(calls[i][0] == "start" and calls[i + 1] == ("end", calls[i][1])
               for i in range(0, len(calls), 2)), calls
    phases = [name for event, name, _ in events if event == "phase"]
    assert phases[:2] == ["loading the reference and your file", "loading your file"], phases
    assert [event for event, _, _ in events].index("device") < [
        event for event, _, _ in events].index("check"), events
    checks = [(name, verdict) for event, name, verdict in events if event == "check"]
    assert checks == [(check.title, check.status) for check in report.checks], checks
    assert any(event == "reference" for event, _, _ in events), events
