"""The `grade` command's contract: options, JSON schema, exit codes."""

import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REFERENCE = os.path.join(ROOT, "solutions", "linear_regression_torch",
                         "linear_regression_torch.py")


def test_an_unknown_id_is_a_usage_error_with_a_suggestion(grade):
    result = grade("exercise", "linear_regresion_torch")
    assert result.exit_code == 2, f"exit {result.exit_code}: {result.output}"
    assert "Did you mean linear_regression_torch" in result.output, result.output
    assert "Traceback" not in result.output


def test_a_missing_file_is_a_usage_error(grade, tmp_path):
    result = grade("exercise", "linear_regression_jax", "--file", tmp_path / "nowhere.py")
    assert result.exit_code == 2, f"exit {result.exit_code}: {result.output}"
    assert "does not exist" in result.output and "Traceback" not in result.output


def test_a_directory_given_as_the_file_is_a_usage_error(grade, tmp_path):
    result = grade("exercise", "linear_regression_jax", "--file", tmp_path)
    assert result.exit_code == 2 and "is not a file" in result.output, result.output


def test_a_bad_option_value_is_a_usage_error(grade):
    result = grade("exercise", "linear_regression_jax", "--device", "tpu")
    assert result.exit_code == 2, f"exit {result.exit_code}: {result.output}"


def test_the_json_report_carries_the_documented_fields(grade_json):
    code, report = grade_json("linear_regression_torch", "--file", REFERENCE, "--seed", "42")
    assert code == 0, f"exit {code}: {report}"
    for field in ("version", "exercise", "status", "score", "max_score", "device", "seed",
                  "checks"):
        assert field in report, f"the report lacks {field!r}: {sorted(report)}"
    assert report["seed"] == 42 and report["device"] == "cpu"
    assert report["status"] == "passed" and report["score"] == report["max_score"] > 0
    for check in report["checks"]:
        for field in ("name", "task", "status", "message", "time_s", "limit_s"):
            assert field in check, f"a check lacks {field!r}: {check}"
        assert check["limit_s"] >= 5, check


def test_the_stub_exits_1_with_not_implemented_checks(grade_json, pristine_stub):
    code, report = grade_json("linear_regression_jax", "--file",
                              pristine_stub("linear_regression_jax"))
    assert code == 1, f"exit {code}"
    statuses = {check["status"] for check in report["checks"]}
    assert statuses == {"not_implemented"}, statuses


def test_the_text_report_names_device_versions_and_seed(grade):
    result = grade("exercise", "linear_regression_torch", "--file", REFERENCE, "--seed", "5",
                   "--device", "cpu")
    assert result.exit_code == 0, result.output
    header = result.output.splitlines()[1]
    assert "device cpu" in header and "torch 2" in header and "seed 5" in header, header
    # not a terminal: no progress lines, no redrawn status line
    assert "starting workers" not in result.output and "\r" not in result.output


def test_output_writes_the_report_to_a_file(grade, tmp_path):
    target = tmp_path / "report.json"
    result = grade("exercise", "linear_regression_torch", "--file", REFERENCE, "--format",
                   "json", "--output", target, "--device", "cpu")
    assert result.exit_code == 0, result.output
    assert json.loads(target.read_text())["status"] == "passed"


def test_the_same_seed_draws_the_same_inputs(grade_json, learner_file):
    path = learner_file("linear_regression_torch",
                        extra="def mse_loss(predictions, targets):\n"
                              "    return ((predictions - targets) ** 2).sum()\n")
    first = grade_json("linear_regression_torch", "--file", path, "--seed", "99")[1]
    second = grade_json("linear_regression_torch", "--file", path, "--seed", "99")[1]
    messages = [[c["message"] for c in report["checks"]] for report in (first, second)]
    assert messages[0] == messages[1] and any(messages[0]), messages


def test_a_broken_reference_is_an_internal_error_not_the_learners(bank_copy, grade):
    bank = bank_copy
    broken = bank / "solutions/linear_regression_torch/linear_regression_torch.py"
    broken.write_text(broken.read_text() + "\ndef mse_loss(predictions, targets):\n"
                      "    raise RuntimeError('reference bug')\n")
    result = grade("exercise", "linear_regression_torch", "--file", REFERENCE,
                   "--format", "json", "--device", "cpu")
    report = json.loads(result.stdout)
    assert result.exit_code == 3, f"exit {result.exit_code}"
    internal = [c for c in report["checks"] if c["status"] == "internal_error"]
    assert internal and not any(c["status"] == "failed" for c in report["checks"]), report


def test_cuda_without_a_gpu_is_a_usage_error(grade):
    import shutil

    if shutil.which("nvidia-smi"):
        pytest.skip("this machine may have a GPU")
    result = grade("exercise", "linear_regression_torch", "--file", REFERENCE, "--device",
                   "cuda")
    assert result.exit_code == 2, f"exit {result.exit_code}: {result.output}"
    assert "sees no CUDA device" in result.output, result.output


def test_grading_records_progress_for_the_learners_own_file(grade, tmp_path):
    grade("exercise", "linear_regression_jax", "--device", "cpu")
    listing = json.loads(grade("list", "--format", "json").stdout)
    status = {row["id"]: row["status"] for row in listing["items"]}
    assert status["linear_regression_jax"] == "failing", status
    assert status["linear_regression_torch"] == "not started", status


def test_list_shows_every_item_of_the_catalog_and_none_passed_yet(grade):
    from grader.catalog import Bank

    item_ids = list(Bank().items)
    result = grade("list")
    assert result.exit_code == 0
    missing = [item_id for item_id in item_ids if item_id not in result.output]
    assert not missing, f"`grade list` left out {missing}:\n{result.output}"
    assert f"0 of {len(item_ids)} items passed" in result.output


def test_verify_holds_for_the_linear_regression_pair(grade):
    result = grade("verify", "linear_regression_torch", "linear_regression_jax", "--device",
                   "cpu")
    assert result.exit_code == 0, result.output
    assert result.output.count("yes") == 2, result.output


def test_help_is_instant_and_imports_no_framework():
    code = ("import sys, time; t = time.perf_counter(); from grader.cli import cli; "
            "from click.testing import CliRunner; r = CliRunner().invoke(cli, ['--help']); "
            "assert r.exit_code == 0; "
            "print(time.perf_counter() - t, [m for m in ('torch', 'jax', 'pytest') "
            "if m in sys.modules])")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    seconds, loaded = done.stdout.split(" ", 1)
    assert loaded.strip() == "[]", f"`grade --help` imported {loaded.strip()}"
    assert float(seconds) < 0.5, f"importing the CLI and printing help took {seconds} s"


def test_the_judge_never_imports_a_framework(grade_json):
    import sys

    grade_json("linear_regression_jax", "--file", REFERENCE.replace("torch", "jax"))
    loaded = [name for name in ("torch", "jax", "jaxlib", "optax") if name in sys.modules]
    assert not loaded, f"the judge process imported {loaded}"


def test_python_dash_m_grader_works():
    done = subprocess.run([sys.executable, "-m", "grader", "--help"], capture_output=True,
                          text=True, cwd=ROOT)
    assert done.returncode == 0 and "exercise" in done.stdout, done.stderr


def test_an_unwritable_output_path_is_a_usage_error(grade, tmp_path):
    result = grade("exercise", "linear_regression_torch", "--file", REFERENCE, "--device",
                   "cpu", "--output", tmp_path / "no" / "such" / "dir" / "report.json")
    assert result.exit_code == 2, f"exit {result.exit_code}: {result.output}"
    assert "cannot write" in result.output and "Traceback" not in result.output


def test_a_corrupt_progress_file_is_kept_aside_not_lost(grade, tmp_path):
    progress = tmp_path / "progress.json"
    for corrupt in ("{not json", "[1, 2]"):  # the second never overwrites the first
        progress.write_text(corrupt)
        result = grade("list")
        assert result.exit_code == 0, result.output
        assert "was not a JSON object: kept as progress.json." in result.stderr, result.stderr
    kept = sorted(path.read_text() for path in tmp_path.glob("progress.json.*.bad"))
    assert kept == ["[1, 2]", "{not json"], kept


def test_an_unreadable_progress_file_is_never_replaced(tmp_path, monkeypatch):
    import pathlib

    from grader import progress
    from grader.catalog import Bank
    from grader.report import Report

    path = tmp_path / "progress.json"
    path.write_text(json.dumps({"linear_regression_torch": {"status": "passed"}}))
    read_text = pathlib.Path.read_text

    def refuse(self, *args, **kwargs):
        if self == path:
            raise PermissionError(13, "Permission denied")
        return read_text(self, *args, **kwargs)

    monkeypatch.setattr(pathlib.Path, "read_text", refuse)
    report = Report(exercise="linear_regression_jax", file="lr.py", seed=1, limits="")
    progress.record(Bank(), report)
    monkeypatch.undo()
    assert json.loads(path.read_text()) == {"linear_regression_torch": {"status": "passed"}}


def test_output_into_a_closed_pipe_ends_quietly_with_141():
    reader, writer = os.pipe()
    os.close(reader)  # like `grade list | head -1` once head has exited
    try:
        done = subprocess.run([sys.executable, "-m", "grader", "list"], stdout=writer,
                              stderr=subprocess.PIPE, text=True, cwd=ROOT, timeout=60, check=False)
    finally:
        os.close(writer)
    assert done.returncode == 141 and done.stderr == "", (done.returncode, done.stderr)


def test_ctrl_c_during_a_command_exits_130_not_1(grade, monkeypatch):
    from grader.races import compare

    def interrupted(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(compare, "run_side", interrupted)
    result = grade("race", "linear_regression", "--steps", "5")
    assert result.exit_code == 130 and "interrupted" in result.output, result.output
    assert "Aborted" not in result.output


def test_a_misspelt_id_in_the_wrong_case_gets_a_suggestion(grade):
    result = grade("exercise", "LINEAR_REGRESION_JAX")
    assert result.exit_code == 2 and "Did you mean linear_regression_jax" in result.output


@pytest.mark.parametrize("command", ["hint", "solution", "quiz"])
def test_an_id_is_matched_in_any_case(grade, command):
    item_id = "THEORY_SPEED" if command == "quiz" else "CNN_JAX"
    result = grade(command, item_id)
    assert "There is no exercise" not in result.output, result.output
    assert item_id.lower() in result.output, result.output


def test_a_function_called_with_the_wrong_arguments_is_reported_as_a_failed_call(
        grade_json, learner_file):
    path = learner_file("linear_regression_torch",
                        extra="def build_model(in_features, out_features, bias, depth):\n"
                              "    raise AssertionError('never called')\n")
    code, report = grade_json("linear_regression_torch", "--file", path, "--seed", "3")
    messages = [check["message"] for check in report["checks"] if check["status"] == "error"]
    assert code == 1 and messages, report
    called = [message for message in messages if "fit" not in message]  # the suite's calls
    assert called and all(message.startswith("calling `build_model(...)` failed: TypeError: ")
                          and "missing 2 required positional arguments" in message
                          for message in called), messages
    assert not any("could not be used" in message for message in messages), messages


def test_output_may_not_overwrite_the_graded_file(grade, learner_file):
    path = learner_file("linear_regression_torch")
    before = path.read_text()
    result = grade("exercise", "linear_regression_torch", "--file", path, "--output", path)
    assert result.exit_code == 2 and "would overwrite" in result.output, result.output
    assert path.read_text() == before


def test_an_unwritable_progress_file_still_prints_the_report(grade, tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("DLPREP_PROGRESS", str(blocker / "progress.json"))
    result = grade("exercise", "linear_regression_jax", "--device", "cpu", "--format", "json")
    assert result.exit_code == 1, f"exit {result.exit_code}: {result.output[-300:]}"
    assert json.loads(result.stdout)["status"] == "failed"
    assert "could not record progress" in result.stderr


def test_verify_prints_its_seed_for_replay(grade):
    result = grade("verify", "linear_regression_torch", "--device", "cpu", "--seed", "11")
    assert result.exit_code == 0 and "seed 11 (replay with --seed 11)" in result.output


def a_report(*statuses):
    from grader.report import CheckResult, Report

    report = Report(exercise="cnn_jax", file="cnn_jax.py", seed=1, limits="")
    report.checks = [CheckResult(name=f"check_{n}", task=1, status=status, message="",
                                 time_s=0.0, limit_s=None) for n, status in enumerate(statuses)]
    return report


def test_the_summary_counts_verdicts_in_the_plural_when_there_are_several():
    summary = a_report(*["error"] * 9, "timeout", "timeout", "output_limit", "failed",
                       "failed").to_text().splitlines()[-1]
    assert "9 errors, 2 timeouts, 1 output limit, 2 failed" in summary, summary
    single = a_report("error", "not_implemented", "not_implemented").to_text()
    assert "1 error, 2 not implemented" in single.splitlines()[-1], single


def test_a_file_that_did_not_load_counts_its_checks_not_run_in_the_singular_too():
    report = a_report("error")
    report.load_error = "SyntaxError"
    assert "(1 check not run)" in report.to_text(), report.to_text()


def test_a_practice_report_ends_with_the_next_step_and_only_when_asked():
    failed, passed = a_report("passed", "failed"), a_report("passed")
    assert failed.to_text(next_steps=True).splitlines()[-1].startswith(
        "Next: `grade hint cnn_jax`"), failed.to_text(next_steps=True)
    last = passed.to_text(next_steps=True).splitlines()[-1]
    assert "`grade solution cnn_jax`" in last and "`grade next`" in last, last
    for report in (failed, passed):  # an assessment turns them off
        assert "Next:" not in report.to_text() and "grade hint" not in report.to_json()
    broken = a_report("internal_error")
    assert "Next:" not in broken.to_text(next_steps=True)


def test_grade_exercise_ends_a_failed_text_report_with_a_hint_but_never_its_json(grade):
    text = grade("exercise", "theory_speed")
    assert text.exit_code == 1 and text.output.rstrip().splitlines()[-1].startswith(
        "Next: `grade hint theory_speed`"), text.output
    assert "starting workers" not in text.output  # not a terminal: no progress
    document = grade("exercise", "theory_speed", "--format", "json")
    assert "Next:" not in document.output and json.loads(document.stdout)["status"] == "failed"
