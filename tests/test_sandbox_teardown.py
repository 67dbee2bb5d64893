"""The sandbox's PID namespace is a teardown layer of its own: with the process-group kill, the
cgroup kill and the end-of-run orphan sweep all disabled, a learner's setsid daemon still dies
with its sandbox. A control run, without the sandbox and without those layers, shows that the
same daemon survives, so the test can tell.

The test finds the daemon by parentage only: while it grades, the test process is a child
subreaper (prctl PR_SET_CHILD_SUBREAPER), so a descendant whose parent exits is re-parented to
it. A daemon that outlives its sandbox therefore becomes a child of the test process, which
had no children before the grading: every new child is the learner's, and is killed by pid.
A daemon the sandbox ends never shows up (it dies inside its PID namespace).
"""

import ctypes
import os
import signal
import time
from pathlib import Path

import pytest

import process_tree
from grader import containment, judge, sandbox
from grader.catalog import Bank

ROOT = Path(__file__).resolve().parent.parent
ITEM = "linear_regression_torch"
PR_SET_CHILD_SUBREAPER = 36

needs_bwrap = pytest.mark.skipif(sandbox.choose("auto").kind != "bwrap",
                                 reason="bubblewrap cannot start here: "
                                        f"{sandbox.choose('auto').reason}")

DAEMON = '''
import subprocess as _subprocess, sys as _sys
_subprocess.run(["/bin/sh", "-c",
                 "setsid " + _sys.executable + " -c 'import time; time.sleep(300)' &"])
'''


def new_children(before):
    """This process's live children that it did not have before (pids, from /proc)."""
    return [pid for pid in process_tree.children(os.getpid())
            if pid not in before and process_tree.alive(pid)]


def reap(pids):
    """Wait for children re-parented to us, so none stays a zombie of the test process."""
    for pid in pids:
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass


@pytest.fixture
def adopting_orphans():
    """The test process as a child subreaper while the test runs; its children before it."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        pytest.skip("this kernel does not let a process adopt its orphaned descendants")
    before = set(process_tree.children(os.getpid()))
    try:
        yield before
    finally:
        libc.prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)
        for pid in process_tree.children(os.getpid()):
            if pid not in before:  # anything adopted and left: ours, end it and reap it
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                reap([pid])


@pytest.fixture
def only_namespaces_left(monkeypatch):
    """No process-group kill, no cgroup kill, no orphan sweep: what holds is the sandbox."""
    monkeypatch.setattr(containment.Containment, "kill_all", lambda self: None)
    monkeypatch.setattr(judge, "sweep_orphans", lambda keep: None)
    monkeypatch.setattr(judge, "become_subreaper", lambda: False)


def grade_with_daemon(tmp_path, kind):
    reference = (ROOT / "solutions" / ITEM / f"{ITEM}.py").read_text()
    path = tmp_path / f"{ITEM}.py"
    path.write_text(reference + DAEMON)
    return judge.grade(Bank(), ITEM, path, device="cpu", sandbox_kind=kind)


def survivors_after(before, seconds):
    """The adopted children still alive after `seconds` (or as soon as none is left)."""
    deadline = time.monotonic() + seconds
    while new_children(before) and time.monotonic() < deadline:
        time.sleep(0.2)
    return new_children(before)


def end(pids):
    for pid in pids:  # our own children only, by pid
        os.kill(pid, signal.SIGKILL)
    reap(pids)


@pytest.mark.slow
@needs_bwrap
def test_the_sandbox_alone_ends_a_setsid_daemon_of_the_learner(tmp_path, adopting_orphans,
                                                               only_namespaces_left):
    report = grade_with_daemon(tmp_path, "bwrap")
    survivors = survivors_after(adopting_orphans, 20)
    end(survivors)
    assert report.sandbox["kind"] == "bwrap", f"graded with the sandbox: {report.sandbox}"
    assert report.status == "passed", (
        f"grading the reference plus a daemon gave {report.status}: "
        f"{[(c.name, c.status, c.message) for c in report.checks]}")
    assert not survivors, (f"with only the sandbox's PID namespace left, the learner's setsid "
                           f"daemon {survivors} still ran 20 s after the grading; expected it "
                           "to die with its sandbox")


@pytest.mark.slow
def test_without_the_sandbox_and_the_other_layers_the_daemon_survives(tmp_path,
                                                                      adopting_orphans,
                                                                      only_namespaces_left):
    report = grade_with_daemon(tmp_path, "none")
    time.sleep(1)  # the daemon's shell has exited: the daemon is adopted by now
    survivors = new_children(adopting_orphans)
    end(survivors)
    assert report.status == "passed", f"grading the reference plus a daemon: {report.status}"
    assert survivors, ("with every teardown layer disabled and no sandbox, the learner's "
                       "daemon was gone anyway: the sandbox test above would prove nothing")
