"""`grade gradescope ID... --out autograder.zip`: a Gradescope autograder bundle.

The zip is built, unpacked into a temporary root that stands for /autograder
($AUTOGRADER_ROOT), a submission is put in its submission/ folder and run_autograder runs with
the project's venv python first on PATH (so setup.sh need not run). results.json is checked
against Gradescope's documented fields (https://gradescope-autograders.readthedocs.io/en/latest/
specs/) and against `grade exercise` for the same file and seed.
"""

import json
import os
import shutil
import stat
import subprocess
import sys
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
SEED = 4242
VENV_BIN = Path(sys.executable).parent
SANDBOXED = sandbox.choose("auto").kind == "bwrap"
needs_sandbox = pytest.mark.skipif(not SANDBOXED, reason="no bubblewrap sandbox starts here")

TOP_FIELDS = {"score", "max_score", "execution_time", "output", "output_format", "visibility",
              "stdout_visibility", "tests"}
TEST_FIELDS = {"name", "number", "score", "max_score", "status", "output", "visibility"}
VISIBILITIES = {"hidden", "after_due_date", "after_published", "visible"}


def build(tmp_path, *args, items=(ITEM,)):
    from click.testing import CliRunner

    from grader.cli import cli

    out = tmp_path / "autograder.zip"
    result = CliRunner().invoke(cli, ["gradescope", *items, "--out", str(out), "--seed",
                                      str(SEED), "--device", "cpu", *args],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return out


def unpack(bundle, root):
    """Unpack as Gradescope does: the zip's top is /autograder/source; the scripts beside it."""
    root.mkdir()
    with zipfile.ZipFile(bundle) as archive:
        archive.extractall(root)
        for info in archive.infolist():
            mode = (info.external_attr >> 16) & 0o777
            if mode:
                os.chmod(root / info.filename, mode)
    return root


def run_autograder(root, submission_text, **env):
    folder = root / "submission"
    if folder.exists():
        shutil.rmtree(folder)
    (root / "results").mkdir(exist_ok=True)
    folder.mkdir()
    (folder / f"{ITEM}.py").write_text(submission_text)
    environment = dict(os.environ, AUTOGRADER_ROOT=str(root),
                       PATH=f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}", **env)
    done = subprocess.run([str(root / "run_autograder")], env=environment, capture_output=True,
                          text=True, timeout=600, cwd=root)
    assert done.returncode == 0, done.stderr
    return json.loads((root / "results" / "results.json").read_text())


def grade_exercise(path, *args):
    done = subprocess.run([sys.executable, "-m", "grader", "exercise", ITEM, "--file", str(path),
                           "--format", "json", "--seed", str(SEED), "--device", "cpu",
                           "--mode", "assessment", *args],
                          capture_output=True, text=True, timeout=600, cwd=ROOT)
    return json.loads(done.stdout)


def check_gradescope_fields(results):
    assert TOP_FIELDS <= set(results)
    assert isinstance(results["score"], (int, float))
    assert isinstance(results["max_score"], (int, float))
    assert isinstance(results["execution_time"], (int, float)) and results["execution_time"] > 0
    assert results["visibility"] in VISIBILITIES
    assert results["tests"]
    for test in results["tests"]:
        assert TEST_FIELDS <= set(test), test
        assert test["status"] in ("passed", "failed")
        assert test["visibility"] in VISIBILITIES
        assert isinstance(test["score"], (int, float)) and test["score"] <= test["max_score"]
    assert results["score"] == sum(test["score"] for test in results["tests"])
    assert results["max_score"] == sum(test["max_score"] for test in results["tests"])
    json.dumps(results)  # plain JSON


def agrees_with_grade_exercise(results, report):
    assert results["score"] == report["score"]
    assert results["max_score"] == report["max_score"]
    statuses = [("passed" if check["status"] == "passed" else "failed", check["score"])
                for check in report["checks"]]
    assert [(test["status"], test["score"]) for test in results["tests"]] == statuses
    titles = [f"{ITEM}: {check['title']}" for check in report["checks"]]
    assert [test["name"] for test in results["tests"]] == titles


def test_the_bundle_holds_setup_run_autograder_and_the_chosen_items_hidden_parts_only(tmp_path):
    bundle = build(tmp_path)
    with zipfile.ZipFile(bundle) as archive:
        names = set(archive.namelist())
        setup = archive.read("setup.sh").decode()
        run = archive.read("run_autograder").decode()
        modes = {info.filename: (info.external_attr >> 16) & 0o777 for info in archive.infolist()}
        catalog = archive.read("source/grader/catalog.yaml").decode()
        config = json.loads(archive.read("source/gradescope.json"))
    assert modes["setup.sh"] & stat.S_IXUSR and modes["run_autograder"] & stat.S_IXUSR
    assert setup.index("torch==2.13.0") < setup.index('-e "$ROOT/source"')
    assert "/autograder" in run and "AUTOGRADER_ROOT" in run
    assert f"source/grader/suites/{ITEM}/test_{ITEM}.py" in names
    assert f"source/solutions/{ITEM}/{ITEM}.py" in names
    assert "source/grader/cli/__init__.py" in names and "source/setup.cfg" in names
    hidden = [name for name in names
              if name.startswith(("source/grader/suites/", "source/solutions/",
                                  "source/exercises/"))
              and name.split("/")[3 if name.startswith("source/grader/") else 2] != ITEM
              and not name.endswith("pytest.ini")]
    assert hidden == []
    assert not any(name.startswith("source/grader/data/") for name in names)  # not needed
    assert not any("__pycache__" in name or name.startswith("source/.git") for name in names)
    assert "linear_regression_jax" not in catalog and "cnn_torch" not in catalog
    assert config["seed"] == SEED and config["items"] == [ITEM]
    assert config["container_is_the_sandbox"] is False


def test_a_cnn_bundle_carries_the_digits_its_suite_needs(tmp_path):
    bundle = build(tmp_path, items=("cnn_torch",))
    with zipfile.ZipFile(bundle) as archive:
        names = set(archive.namelist())
    assert "source/grader/data/digits/digits.csv.gz" in names
    assert not any(name.startswith("source/solutions/cnn_jax") for name in names)


@pytest.mark.slow  # four gradings, ~35 s
@needs_sandbox
def test_run_autograder_grades_a_correct_and_a_wrong_submission_as_grade_exercise_does(tmp_path):
    root = unpack(build(tmp_path), tmp_path / "autograder")
    correct = run_autograder(root, REFERENCE.read_text())
    check_gradescope_fields(correct)
    assert correct["score"] == correct["max_score"] > 0
    agrees_with_grade_exercise(correct, grade_exercise(REFERENCE))
    assert "sandbox: bwrap" in correct["output"]

    wrong_file = tmp_path / f"{ITEM}.py"
    wrong_file.write_text(WRONG)
    wrong = run_autograder(root, WRONG)
    check_gradescope_fields(wrong)
    assert 0 < wrong["score"] < wrong["max_score"] == correct["max_score"]
    assert any(test["status"] == "failed" and "loss" in test["name"] for test in wrong["tests"])
    agrees_with_grade_exercise(wrong, grade_exercise(wrong_file))


def test_a_container_where_no_sandbox_starts_refuses_to_grade_with_the_reason(tmp_path):
    root = unpack(build(tmp_path), tmp_path / "autograder")
    refused = run_autograder(root, REFERENCE.read_text(), DLPREP_SANDBOX="none")
    assert refused["score"] == 0
    assert refused["output"].startswith("grading refused")
    assert "turned off" in refused["output"]  # the sandbox module's reason, passed on
    assert "--container-is-the-sandbox" in refused["output"]
    assert refused["max_score"] == 9 and refused["tests"] == []


def test_a_bundle_built_with_container_is_the_sandbox_grades_and_says_so_in_every_report(
        tmp_path):
    root = unpack(build(tmp_path, "--container-is-the-sandbox"), tmp_path / "autograder")
    results = run_autograder(root, REFERENCE.read_text(), DLPREP_SANDBOX="none")
    check_gradescope_fields(results)
    assert results["score"] == results["max_score"] > 0
    note = "the container is the isolation boundary"
    assert note in results["output"]
    assert all(note in test["output"] for test in results["tests"])
    agrees_with_grade_exercise(results, grade_exercise(REFERENCE, "--sandbox", "none"))
