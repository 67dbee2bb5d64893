"""Golden scenarios: hostile or broken learner files, and the verdicts the grader must give.

Each learner file is the reference of linear_regression_torch with one thing broken, so every
other check still passes and the verdict of the broken one is what the test looks at.
"""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import process_tree
import pytest

from grader import sandbox

ITEM = "linear_regression_torch"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def by_status(report):
    statuses = {}
    for check in report["checks"]:
        statuses.setdefault(check["status"], []).append(check)
    return statuses


def checks_calling(report, function):
    """The checks whose message names `function` (those that failed because of it)."""
    return [check for check in report["checks"] if function in check["message"]]


def test_a_syntax_error_is_one_message_naming_the_line(grade_json, learner_file):
    path = learner_file(ITEM, source="import torch\n\ndef predict(model, x)\n    return x\n")
    code, report = grade_json(ITEM, "--file", path)
    assert code == 1, f"exit code {code}, expected 1"
    assert "SyntaxError" in report["load_error"] and "line 3" in report["load_error"], (
        f"load_error was {report['load_error']!r}, expected a SyntaxError at line 3")
    assert all(check["status"] == "error" for check in report["checks"]), report["checks"]
    assert all(check["message"].startswith("not run") for check in report["checks"])


def test_a_missing_function_is_named_in_the_checks_that_need_it(grade_json, learner_file):
    path = learner_file(ITEM, extra="del predict\n")
    code, report = grade_json(ITEM, "--file", path)
    missing = [c for c in report["checks"] if "does not define `predict`" in c["message"]]
    assert code == 1 and missing, f"exit {code}; checks: {report['checks']}"
    assert all(c["status"] == "error" for c in missing)
    assert any(c["status"] == "passed" for c in report["checks"]), "other checks should pass"


def test_an_exception_shows_the_learners_frames_only(grade_json, learner_file):
    path = learner_file(ITEM, extra=textwrap.dedent("""
        def mse_loss(predictions, targets):
            return helper(predictions)

        def helper(values):
            raise ValueError("shapes are off")
    """))
    code, report = grade_json(ITEM, "--file", path)
    failing = checks_calling(report, "ValueError: shapes are off")
    assert code == 1 and failing, f"exit {code}; checks: {report['checks']}"
    message = failing[0]["message"]
    assert failing[0]["status"] == "error"
    assert "in helper" in message and "in mse_loss" in message, message
    assert "probes.py" not in message and "grader" not in message, (
        f"the message leaks the hidden suite's frames: {message}")
    frames = [line for line in message.splitlines() if ", line " in line]
    assert [line.split(" in ")[-1] for line in frames] == ["mse_loss", "helper"], (
        f"expected exactly the learner's frames mse_loss then helper, got {frames}")
    assert not os.path.isabs(message.splitlines()[1].split(",")[0].strip()), message


@pytest.mark.parametrize("kind", ["none", "bwrap"])
def test_the_learners_torch_runs_one_thread_that_sleeps_while_it_waits(grade_json, learner_file,
                                                                      only_checks, monkeypatch,
                                                                      kind):
    # Two gradings at once, each with a worker per side and an OpenMP thread per core spinning
    # while it waited, made the reference's own 500-step fit time out at random on 2 cores.
    # In the sandbox the settings must get through its environment filter too.
    if kind == "bwrap" and sandbox.choose("auto").kind != "bwrap":
        pytest.skip(f"bubblewrap cannot start here: {sandbox.choose('auto').reason}")
    monkeypatch.setenv("DLPREP_SANDBOX", kind)
    only_checks("loss_is_a_zero_dimensional_tensor")
    path = learner_file(ITEM, extra=textwrap.dedent("""
        import os

        def mse_loss(predictions, targets):
            raise RuntimeError(f"threads={torch.get_num_threads()} "
                               f"wait={os.environ.get('OMP_WAIT_POLICY')}")
    """))
    code, report = grade_json(ITEM, "--file", path)
    messages = [check["message"] for check in report["checks"]]
    assert report["sandbox"]["kind"] == kind, f"graded in {report['sandbox']}, expected {kind}"
    assert code == 1 and any("RuntimeError: threads=" in m for m in messages), (
        f"exit {code}; expected the learner's mse_loss to raise its settings; got {messages}")
    assert any("threads=1 wait=PASSIVE" in m for m in messages), (
        f"mse_loss in the learner's worker saw {messages}; expected torch.get_num_threads() == 1 "
        f"and OMP_WAIT_POLICY=PASSIVE")


def without_the_sandbox(monkeypatch):
    """Grade as with `--sandbox none`: these scenarios prove the layers that hold without the
    sandbox (process groups, cgroups, the orphan sweep, the judge's signal handling); in the
    sandbox the learner could not even reach what they attack (tests/test_sandbox.py)."""
    monkeypatch.setenv("DLPREP_SANDBOX", "none")


def run_judge(path, timeout_s):
    """`grade exercise` on `path` in a separate judge process, bounded in time."""
    try:
        return subprocess.run(
            [sys.executable, "-m", "grader", "exercise", ITEM, "--file", str(path), "--device",
             "cpu", "--format", "json"], capture_output=True, text=True, timeout=timeout_s,
            cwd=ROOT)
    except subprocess.TimeoutExpired:
        pytest.fail(f"grading did not end within {timeout_s} s")


def grade_in_subprocess(path, timeout_s):
    """Grade `path` in a separate judge process; (exit code, report, seconds)."""
    started = time.monotonic()
    done = run_judge(path, timeout_s)
    try:
        report = json.loads(done.stdout)
    except ValueError:
        pytest.fail(f"the judge (exit {done.returncode}) printed no report: stdout "
                    f"{done.stdout[-1000:]!r}; stderr {done.stderr[-3000:]}")
    return done.returncode, report, time.monotonic() - started


def test_an_endless_loop_times_out_and_the_run_still_ends_promptly(learner_file):
    path = learner_file(ITEM, extra="def mse_loss(predictions, targets):\n    while True:\n"
                                    "        pass\n")
    code, report, elapsed = grade_in_subprocess(path, timeout_s=900)
    timeouts = by_status(report).get("timeout", [])
    assert code == 1 and timeouts, f"exit {code}; checks: {report['checks']}"
    timed = [check for check in timeouts if check["limit_s"]]
    assert timed and all(check["time_s"] >= check["limit_s"] for check in timed), timeouts
    # a check with no limit never started: a restarted worker did not load in time (busy machine)
    assert all(check["message"].lower().startswith("not run") for check in timeouts
               if not check["limit_s"]), timeouts
    # Each timeout costs its limit plus a fresh learner worker (an interpreter and torch: up to
    # ~30 s on a busy machine); a run that waited for the 300 s cap anywhere still overruns.
    budget = sum(check["limit_s"] for check in timed) + 30 * len(timeouts) + 90
    assert elapsed < budget, f"grading took {elapsed:.0f} s, more than {budget:.0f} s"
    assert any(c["status"] == "passed" for c in report["checks"]), "a fresh worker serves the rest"


def test_os_exit_at_import_is_crashed_not_passed(grade_json, learner_file):
    path = learner_file(ITEM, extra="import os\nos._exit(0)\n")
    code, report = grade_json(ITEM, "--file", path)
    assert code == 1 and report["status"] == "failed", f"exit {code}, status {report['status']}"
    assert all(check["status"] == "crashed" for check in report["checks"]), report["checks"]
    assert report["score"] == 0


def test_os_exit_inside_a_function_crashes_only_that_check(grade_json, learner_file):
    path = learner_file(ITEM, extra="import os\ndef mse_loss(predictions, targets):\n"
                                    "    os._exit(0)\n")
    code, report = grade_json(ITEM, "--file", path)
    statuses = by_status(report)
    assert code == 1 and statuses.get("crashed"), f"exit {code}; checks: {report['checks']}"
    assert statuses.get("passed"), "the checks after the crash still run in a fresh worker"


def test_sys_exit_inside_a_function_is_an_error_not_a_pass(grade_json, learner_file):
    path = learner_file(ITEM, extra="import sys\ndef mse_loss(predictions, targets):\n"
                                    "    sys.exit(0)\n")
    code, report = grade_json(ITEM, "--file", path)
    exits = checks_calling(report, "called sys.exit(0)")
    assert code == 1 and exits, f"exit {code}; checks: {report['checks']}"
    assert all(check["status"] == "error" for check in exits)


def test_huge_output_is_capped_and_the_judge_memory_stays_flat(tmp_path, learner_file):
    path = learner_file(ITEM, extra=textwrap.dedent("""
        import sys
        def mse_loss(predictions, targets):
            line = "x" * 1023 + "\\n"
            for _ in range(100 * 1024):  # 100 MB
                sys.stdout.write(line)
            return ((predictions - targets) ** 2).mean()
    """))
    probe = textwrap.dedent(f"""
        import json, resource, sys
        from grader.catalog import Bank
        from grader.judge import grade
        def peak_mib():  # this process's own peak: getrusage's survives fork and exec
            try:
                with open("/proc/self/status") as handle:
                    for line in handle:
                        if line.startswith("VmHWM:"):
                            return int(line.split()[1]) / 1024
            except OSError:
                pass
            return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        report = grade(Bank(), {ITEM!r}, {str(path)!r}, device="cpu", seed=7)
        print(json.dumps({{"report": report.to_dict(), "peak_mib": peak_mib()}}))
    """)
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          timeout=600, cwd=ROOT)
    assert done.stdout.strip(), f"the judge (exit {done.returncode}) printed nothing: " \
                                f"{done.stderr[-3000:]}"
    result = json.loads(done.stdout.splitlines()[-1])
    report = result["report"]
    limited = by_status(report).get("output_limit", [])
    assert limited, f"no output_limit verdict: {report['checks']}"
    per_worker = 1024 * 1024 + 256 * 1024  # the cap, plus what was in flight when it was hit
    assert report["output"]["bytes"] <= len(limited) * per_worker, (
        f"{report['output']['bytes']} bytes read for {len(limited)} capped workers")
    assert len(report["output"]["head"]) <= 8 * 1024
    assert result["peak_mib"] < 150, f"the judge peaked at {result['peak_mib']:.0f} MiB"


def test_monkeypatched_checkers_in_the_learner_file_do_not_make_a_pass(grade_json,
                                                                       learner_file):
    path = learner_file(ITEM, extra=textwrap.dedent("""
        import numpy.testing
        numpy.testing.assert_allclose = lambda *args, **kwargs: None
        numpy.allclose = lambda *args, **kwargs: True
        torch.allclose = lambda *args, **kwargs: True
        torch.testing.assert_close = lambda *args, **kwargs: None
        def mse_loss(predictions, targets):
            return ((predictions - targets) ** 2).mean() + 1.0
    """))
    code, report = grade_json(ITEM, "--file", path)
    failed = by_status(report).get("failed", [])
    assert code == 1 and failed, f"exit {code}; checks: {report['checks']}"
    assert any("mse_loss" in check["message"] for check in failed)


def test_an_object_whose_eq_is_always_true_fails(grade_json, learner_file):
    path = learner_file(ITEM, extra=textwrap.dedent("""
        class Agreeable:
            shape = ()
            dtype = torch.float32
            def __eq__(self, other):
                return True
            def __array__(self, *args, **kwargs):
                raise TypeError("no")
        def mse_loss(predictions, targets):
            return Agreeable()
    """))
    code, report = grade_json(ITEM, "--file", path)
    loss_checks = [c for c in report["checks"] if "mse_loss" in c["message"]]
    assert code == 1 and loss_checks, f"exit {code}; checks: {report['checks']}"
    assert all(check["status"] == "failed" for check in loss_checks), loss_checks


def test_a_pickle_payload_runs_nothing_in_the_judge(tmp_path, grade_json, learner_file):
    marker = tmp_path / "judge-was-here"
    path = learner_file(ITEM, extra=textwrap.dedent(f"""
        import os, pickle, struct
        class Payload:
            def __reduce__(self):
                return (os.system, ("touch {marker}",))
        def mse_loss(predictions, targets):
            blob = pickle.dumps(Payload())
            for fd in range(3, 64):  # whatever the channel is, write a pickle into it
                try:
                    os.write(fd, struct.pack(">Q", len(blob)) + blob)
                except OSError:
                    pass
            return Payload()
    """))
    code, report = grade_json(ITEM, "--file", path)
    assert not marker.exists(), "the pickle payload ran in the judge"
    assert code == 1 and report["status"] == "failed", f"exit {code}, {report['status']}"
    assert not any(c["status"] == "passed" and "mse_loss" in c["message"]
                   for c in report["checks"])


def test_a_process_that_leaves_the_group_is_killed_after_the_run(grade_json, learner_file,
                                                                 tmp_path, monkeypatch):
    without_the_sandbox(monkeypatch)  # it writes its pid where the test can read it
    pid_file = tmp_path / "escapee.pid"
    path = learner_file(ITEM, extra=textwrap.dedent(f"""
        import os, subprocess
        if not os.path.exists({str(pid_file)!r}):
            escapee = subprocess.Popen(["sleep", "300"], start_new_session=True)
            with open({str(pid_file)!r}, "w") as handle:
                handle.write(str(escapee.pid))
    """))
    grade_json(ITEM, "--file", path)
    pid = int(pid_file.read_text())
    deadline = time.monotonic() + 30  # killed in the run's clean-up: at once, unless very busy
    while time.monotonic() < deadline and alive(pid):
        time.sleep(0.1)
    assert not alive(pid), f"process {pid} outlived the grading run"


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.parametrize("junk", [b"\x00" * 8, b"\xff" * 16, b"not a frame at all"])
def test_junk_on_the_channel_is_a_verdict_not_a_judge_crash(grade_json, learner_file, junk):
    path = learner_file(ITEM, extra=textwrap.dedent(f"""
        import os
        def mse_loss(predictions, targets):
            for fd in range(3, 64):
                try:
                    os.write(fd, {junk!r})
                except OSError:
                    pass
            return ((predictions - targets) ** 2).mean()
    """))
    code, report = grade_json(ITEM, "--file", path)
    assert code == 1 and report["status"] == "failed", f"exit {code}, {report['status']}"
    assert by_status(report).get("passed"), "checks not touching mse_loss still pass"
    garbled = [c for c in report["checks"] if c["status"] not in ("passed", "failed")]
    assert garbled and all(c["status"] in ("crashed", "output_limit") for c in garbled), (
        f"junk on the channel should end the call at once, not by timeout: {garbled}")


def test_the_reference_cannot_be_imported_from_a_learner_file(grade_json, learner_file):
    path = learner_file(ITEM, source=textwrap.dedent("""
        from solutions.linear_regression_torch.linear_regression_torch import *  # noqa
    """))
    code, report = grade_json(ITEM, "--file", path)
    assert code == 1 and "ModuleNotFoundError" in (report["load_error"] or ""), (
        f"exit {code}; load_error {report['load_error']!r}")


def test_a_memory_hog_gets_the_memory_verdict_where_memory_is_enforced(bank_copy, grade_json,
                                                                       learner_file):
    catalog = bank_copy / "grader" / "catalog.yaml"
    catalog.write_text(catalog.read_text().replace("memory_mb: 4096", "memory_mb: 1024"))
    path = learner_file(ITEM, extra=textwrap.dedent("""
        import numpy
        def mse_loss(predictions, targets):
            hoard = numpy.ones(3 * 2**30 // 8)  # 3 GiB, every page touched
            return ((predictions - targets) ** 2).mean() + hoard[0] * 0
    """))
    code, report = grade_json(ITEM, "--file", path)
    if report["limits"]["memory"].startswith("not enforced"):
        pytest.skip("no writable cgroup here: memory is not enforced (and the report says so)")
    hogs = by_status(report).get("memory", [])
    assert code == 1 and hogs, f"exit {code}; checks: {report['checks']}"
    assert "1024 MiB" in hogs[0]["message"]
    assert by_status(report).get("passed"), "the other checks still run in a fresh worker"


@pytest.mark.parametrize("forged", [
    {"op": "internal", "message": "the grader broke"},
    {"op": "fault", "verdict": "internal_error", "message": "the grader broke"},
    {"op": "ready", "device": "cpu"},
    {"op": "result", "value": 0.0, "seq": 999},
])
@pytest.mark.parametrize("then", ["return", "exit"])
def test_forged_replies_on_the_channel_are_charged_to_the_learner(grade_json, learner_file,
                                                                  forged, then):
    # The forgery carries the sequence number of the request being served (read off the
    # worker's stack); with "exit" it is the only message on the channel.
    path = learner_file(ITEM, extra=textwrap.dedent(f"""
        import os, sys
        from grader import channel
        def current_seq():
            frame = sys._getframe()
            while frame:
                request = frame.f_locals.get("request")
                if isinstance(request, dict) and "seq" in request:
                    return request["seq"]
                frame = frame.f_back
        def mse_loss(predictions, targets):
            forged = dict({{"seq": current_seq()}}, **{forged!r})
            for fd in range(3, 64):
                try:
                    os.write(fd, channel.encode(forged))
                except OSError:
                    pass
            if {then!r} == "exit":
                os._exit(0)
            return ((predictions - targets) ** 2).mean()
    """))
    code, report = grade_json(ITEM, "--file", path)
    assert code == 1 and report["status"] == "failed", f"exit {code}; {report['checks']}"
    assert not any(c["status"] == "internal_error" for c in report["checks"]), report["checks"]


@pytest.mark.parametrize("forged", [{"op": "internal", "message": "x"},
                                    {"op": "no_device", "message": "x"}])
def test_a_forged_start_up_reply_is_charged_to_the_learner(grade_json, learner_file, forged):
    path = learner_file(ITEM, extra=textwrap.dedent(f"""
        import os
        from grader import channel
        for fd in range(3, 64):
            try:
                os.write(fd, channel.encode({forged!r}))
            except OSError:
                pass
    """))
    code, report = grade_json(ITEM, "--file", path)
    assert code == 1 and report["status"] == "failed", f"exit {code}; {report}"
    assert report["internal_error"] is None


def test_workers_die_with_a_killed_judge(learner_file, tmp_path, monkeypatch):
    import signal

    without_the_sandbox(monkeypatch)  # the learner reports its pid through the test's folder

    pid_file = tmp_path / "worker.pid"
    path = learner_file(ITEM, extra=textwrap.dedent(f"""
        import os
        with open({str(pid_file)!r}, "w") as handle:
            handle.write(str(os.getpid()))
        while True:
            pass
    """))
    judge = subprocess.Popen([sys.executable, "-m", "grader", "exercise", ITEM, "--file",
                              str(path), "--device", "cpu"], cwd=ROOT,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    def written():  # the learner's file creates it, then writes it: wait for both
        return pid_file.exists() and pid_file.read_text().strip()

    deadline = time.monotonic() + 300
    while not written() and time.monotonic() < deadline and judge.poll() is None:
        time.sleep(0.1)
    if not written():
        judge.kill()
        judge.wait()
        pytest.fail(f"the learner's file was never imported (judge exit {judge.returncode})")
    worker = int(pid_file.read_text())
    judge.send_signal(signal.SIGKILL)
    judge.wait()
    deadline = time.monotonic() + 30
    while alive(worker) and time.monotonic() < deadline:
        time.sleep(0.1)
    if alive(worker):
        os.kill(worker, signal.SIGKILL)
        pytest.fail(f"worker {worker} outlived its killed judge")


def test_an_interrupt_sent_by_the_learner_never_reads_as_a_pass(learner_file, monkeypatch):
    without_the_sandbox(monkeypatch)  # in the sandbox the judge is out of its reach
    path = learner_file(ITEM, extra=textwrap.dedent("""
        import os, signal
        def mse_loss(predictions, targets):
            os.kill(os.getppid(), signal.SIGINT)
            return ((predictions - targets) ** 2).mean()
    """))
    done = run_judge(path, timeout_s=300)
    assert done.returncode == 130, f"exit {done.returncode}: {done.stdout[-500:]}"
    assert '"passed"' not in done.stdout and "interrupted" in done.stderr, done.stderr


IN_CALL = "dlprep-in-call"  # the name the learner's worker takes while its call waits


def test_killing_the_reference_worker_is_not_charged_to_the_grader(bank_copy, learner_file,
                                                                   tmp_path):
    """The test kills the reference side of the judge it started, while the learner's call
    runs: the judge's own child that holds the reference worker (the worker itself, or a shell
    or sandbox wrapping it), and with it every process below it. The judge restarts it for the
    checks that follow and the run passes. Nothing outside that judge's tree is touched."""
    catalog = bank_copy / "grader" / "catalog.yaml"  # the learner's call waits for the test
    text = catalog.read_text()
    assert "    floor_s: 5\n" in text, "the catalog's default floor moved: update this test"
    catalog.write_text(text.replace("    floor_s: 5\n", "    floor_s: 300\n", 1))
    path = learner_file(ITEM, extra=textwrap.dedent(f"""
        import ctypes, os, signal, time
        _resumed = []
        signal.signal(signal.SIGUSR1, lambda *_: _resumed.append(True))

        def _call_me(name):  # visible from outside the worker's sandbox, unlike a file
            try:
                with open("/proc/self/comm", "w") as handle:
                    handle.write(name)
            except OSError:
                ctypes.CDLL(None).prctl(15, name.encode(), 0, 0, 0)  # PR_SET_NAME

        def mse_loss(predictions, targets):
            if not _resumed:  # the first call waits until the test has killed the reference
                _call_me({IN_CALL!r})
                deadline = time.monotonic() + 240
                while not _resumed and time.monotonic() < deadline:
                    time.sleep(0.05)
                _call_me("python")
                _resumed.append(True)
            return ((predictions - targets) ** 2).mean()
    """))
    out, err = tmp_path / "judge.stdout", tmp_path / "judge.stderr"
    with open(out, "w") as stdout, open(err, "w") as stderr:
        judge = subprocess.Popen(
            [sys.executable, "-m", "grader", "exercise", ITEM, "--file", str(path), "--device",
             "cpu", "--format", "json"], cwd=ROOT, stdout=stdout, stderr=stderr)
    try:
        learner = wait_for_named_descendant(judge, IN_CALL, within_s=300, stderr=err)
        reference = reference_side(judge.pid, learner)
        doomed = [reference, *process_tree.descendants(reference)]
        os.kill(reference, signal.SIGKILL)
        deadline = time.monotonic() + 60
        while any(map(process_tree.alive, doomed)) and time.monotonic() < deadline:
            time.sleep(0.1)
        survivors = [pid for pid in doomed if process_tree.alive(pid)]
        assert not survivors, (f"killing the judge's reference child {reference} left "
                               f"{[(pid, process_tree.cmdline(pid)) for pid in survivors]}")
        os.kill(learner, signal.SIGUSR1)
        judge.wait(timeout=600)
    finally:
        if judge.poll() is None:
            judge.kill()
            judge.wait()
    report = judge_report(judge.returncode, out, err)
    assert report["internal_error"] is None, report["internal_error"]
    assert not by_status(report).get("internal_error"), report["checks"]
    assert judge.returncode == 0, (f"exit {judge.returncode}: a correct file still passes when "
                                   f"the reference is killed: {report['checks']}")


def wait_for_named_descendant(judge, name, within_s, stderr):
    """The pid of the process under `judge` whose thread took `name`."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        assert judge.poll() is None, (
            f"the judge ended (exit {judge.returncode}) before the learner's call: "
            f"{stderr.read_text()[-3000:]}")
        for pid in process_tree.descendants(judge.pid):
            if name in process_tree.thread_names(pid):
                return pid
        time.sleep(0.1)
    pytest.fail(f"no learner call began within {within_s} s")


def reference_side(judge_pid, learner):
    """The judge's child that holds the reference worker: of the judge's children that run a
    worker (themselves or below them, e.g. inside a sandbox), the one not holding `learner`."""
    learner_branch = [learner, *process_tree.ancestors(learner)]
    sides = [child for child in process_tree.children(judge_pid) if child not in learner_branch
             and any("grader.worker" in process_tree.cmdline(pid)
                     for pid in [child, *process_tree.descendants(child)])]
    assert len(sides) == 1, (
        f"expected one reference worker under the judge, found "
        f"{[(pid, process_tree.cmdline(pid)) for pid in sides]}")
    return sides[0]


def judge_report(code, out, err):
    """The JSON report a judge subprocess printed; a failure that shows its stderr if none."""
    try:
        return json.loads(out.read_text())
    except ValueError:
        pytest.fail(f"the judge (exit {code}) printed no report: stdout "
                    f"{out.read_text()[-1000:]!r}; stderr {err.read_text()[-3000:]}")


def test_a_deep_recursion_shows_a_short_traceback(grade_json, learner_file):
    path = learner_file(ITEM, extra="def mse_loss(predictions, targets):\n"
                                    "    return mse_loss(predictions, targets)\n")
    code, report = grade_json(ITEM, "--file", path)
    errors = checks_calling(report, "RecursionError")
    assert code == 1 and errors, f"exit {code}; checks: {report['checks']}"
    message = errors[0]["message"]
    assert "more frames of your code" in message and len(message.splitlines()) < 30, message


def test_control_characters_from_learner_code_are_escaped_in_the_text_report(grade,
                                                                             learner_file):
    path = learner_file(ITEM, extra="def mse_loss(predictions, targets):\n"
                                    "    print('\\x1b[2J cleared')\n"
                                    "    raise ValueError('\\x1b[31mred')\n")
    result = grade("exercise", ITEM, "--file", path, "--device", "cpu")
    assert result.exit_code == 1, result.output
    assert "\x1b" not in result.output and "\\x1b[31mred" in result.output, result.output[-800:]


def test_no_worker_folder_is_left_behind(grade_json, learner_file):
    import glob
    import tempfile

    path = learner_file(ITEM, extra="open('scratch.txt', 'w').write('learner was here')\n")
    grade_json(ITEM, "--file", path)
    left = glob.glob(os.path.join(tempfile.gettempdir(), f"dlprep-{os.getpid()}-*"))
    assert not left, f"worker folders left behind: {left}"
