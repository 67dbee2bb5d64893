"""The sandbox's PID namespace is a teardown layer of its own: with the process-group kill, the
cgroup kill and the end-of-run orphan sweep all disabled, a learner's setsid daemon still dies
with its sandbox. A control run, without the sandbox and without those layers, shows that the
same daemon survives, so the test can tell.

The daemon carries a token drawn by the test in its command line: the test looks for it only to
see whether it still runs, and kills only a process that carries its own token.
"""

import os
import secrets
import signal
import time
from pathlib import Path

import pytest

from grader import containment, judge, sandbox
from grader.catalog import Bank

ROOT = Path(__file__).resolve().parent.parent
ITEM = "linear_regression_torch"

needs_bwrap = pytest.mark.skipif(sandbox.choose("auto").kind != "bwrap",
                                 reason="bubblewrap cannot start here: "
                                        f"{sandbox.choose('auto').reason}")

DAEMON = '''
import subprocess as _subprocess, sys as _sys
_subprocess.run(["/bin/sh", "-c",
                 "setsid " + _sys.executable + " -c 'import time; time.sleep(300)' {token} &"])
'''


def processes_with(token):
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                arguments = handle.read().split(b"\0")
            with open(f"/proc/{entry}/stat") as handle:
                state = handle.read().rsplit(")", 1)[-1].split()[0]
        except OSError:
            continue
        if token.encode() in arguments and state != "Z":
            found.append(int(entry))
    return found


def wait_until_gone(token, seconds):
    deadline = time.monotonic() + seconds
    while processes_with(token) and time.monotonic() < deadline:
        time.sleep(0.2)
    return processes_with(token)


@pytest.fixture
def only_namespaces_left(monkeypatch):
    """No process-group kill, no cgroup kill, no orphan sweep: what holds is the sandbox."""
    monkeypatch.setattr(containment.Containment, "kill_all", lambda self: None)
    monkeypatch.setattr(judge, "sweep_orphans", lambda keep: None)
    monkeypatch.setattr(judge, "become_subreaper", lambda: False)


def grade_with_daemon(tmp_path, kind):
    token = f"dlprep-daemon-{secrets.token_hex(8)}"
    reference = (ROOT / "solutions" / ITEM / f"{ITEM}.py").read_text()
    path = tmp_path / f"{ITEM}.py"
    path.write_text(reference + DAEMON.format(token=token))
    report = judge.grade(Bank(), ITEM, path, device="cpu", sandbox_kind=kind)
    return report, token


@pytest.mark.slow
@needs_bwrap
def test_the_sandbox_alone_ends_a_setsid_daemon_of_the_learner(tmp_path, only_namespaces_left):
    report, token = grade_with_daemon(tmp_path, "bwrap")
    survivors = wait_until_gone(token, 20)
    for pid in survivors:  # only our own daemon, known by our token
        os.kill(pid, signal.SIGKILL)
    assert report.sandbox["kind"] == "bwrap", f"graded with the sandbox: {report.sandbox}"
    assert report.status == "passed", (
        f"grading the reference plus a daemon gave {report.status}: "
        f"{[(c.name, c.status, c.message) for c in report.checks]}")
    assert not survivors, (f"with only the sandbox's PID namespace left, the learner's setsid "
                           f"daemon {survivors} still ran 20 s after the grading; expected it "
                           "to die with its sandbox")


@pytest.mark.slow
def test_without_the_sandbox_and_the_other_layers_the_daemon_survives(tmp_path,
                                                                      only_namespaces_left):
    report, token = grade_with_daemon(tmp_path, "none")
    survivors = wait_until_gone(token, 3)
    for pid in survivors:
        os.kill(pid, signal.SIGKILL)
    assert survivors, ("with every teardown layer disabled and no sandbox, the learner's "
                       "daemon was gone anyway: the sandbox test above would prove nothing")
