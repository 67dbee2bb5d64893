"""Each protection of the grader that no other test guards, with a test that fails without it.

Every test here feeds the grader hostile input (a real learner file graded in this process, or
a bare value for the pure parts) and asserts the verdict the protection is there to give:

- `form_of` (grader/judge.py): a result of another form than the reference's reads "failed";
- the channel's default size cap: a result just over it gets the output-limit verdict;
- the reply sequence number: a forged result with a stale number is not accepted;
- one message per request: a forged result in front of the real reply is not accepted;
- teardown, one layer at a time (process group, cgroup, end-of-run orphan sweep): a process the
  learner's code left behind is dead when the run ends, with the other layers switched off;
- the calibrated time limit `min(cap, max(floor, factor x reference time))`.

The dtype whitelist on decode is guarded in tests/test_channel.py. The proof that each of these
tests fails when its protection alone is removed is tests/mutations/prove_protections.py.

The learner files are the reference of linear_regression_torch with one thing made hostile, so
that every other check passes and the verdicts of the hostile one are what the test looks at.
"""

import os
import secrets
import signal
import textwrap
import time

import pytest

from grader import channel, containment, judge, verdicts
from grader.catalog import Bank
from grader.judge import CheckTiming, CheckWorkers, Limits
from grader.workers import WorkerSpec

ITEM = "linear_regression_torch"
TASK_LOSS, TASK_STEP, TASK_FIT = 2, 3, 4  # the tasks of the item's suite (see its docstring)
CAP_BOUND = 64 * 1024 * 1024  # the most bytes one reply may carry: the judge holds it whole


def grade_here(path):
    """Grade `path` in this process (so that monkeypatches apply); returns the Report."""
    return judge.grade(Bank(), ITEM, path, device="cpu", seed=20240614)


def checks_of_task(report, task):
    return [check for check in report.checks if check.task == task]


def describe(checks):
    return "; ".join(f"{check.name}: {check.status} ({check.message[:160]!r})"
                     for check in checks)


def expect_others_pass(report, hostile_task):
    """The checks of the other tasks pass: the learner file is the reference but for one part."""
    others = [check for check in report.checks if check.task != hostile_task]
    broken = [check for check in others if check.status != verdicts.PASSED]
    assert others and not broken, (
        f"grade({ITEM}) with only task {hostile_task} made hostile: the other checks should "
        f"pass, got {describe(broken) or 'no other checks'}")


# --- form_of: a result of another form than the reference's -------------------------------------


def test_a_result_with_a_renamed_key_is_failed_with_the_form_message_not_an_internal_error(
        learner_file):
    # The learner's file rewrites the suite's `sgd_steps` probe in its own worker so that the
    # result says "weights" where the reference's says "weight"; the suite then indexes
    # got["weight"] and trips with a KeyError, which only the form comparison can charge to
    # the learner.
    path = learner_file(ITEM, extra=textwrap.dedent("""
        import sys as _sys

        def _rename_a_key_of_sgd_steps():
            for module in list(_sys.modules.values()):
                if callable(getattr(module, "sgd_steps", None)) and \\
                        callable(getattr(module, "fit_weights", None)):
                    original = module.sgd_steps

                    def renamed(*args, **kwargs):
                        result = dict(original(*args, **kwargs))
                        result["weights"] = result.pop("weight")
                        return result

                    module.sgd_steps = renamed
                    print("TAMPERED: sgd_steps says 'weights' for 'weight'")

        _rename_a_key_of_sgd_steps()
    """))
    report = grade_here(path)
    assert "TAMPERED" in report.learner_output, (
        f"the learner file did not find the probes module to tamper with; it printed "
        f"{report.learner_output[-500:]!r}, expected a line starting TAMPERED")
    steps = checks_of_task(report, TASK_STEP)
    assert steps, f"grade({ITEM}) reported no checks of task {TASK_STEP}: {describe(report.checks)}"
    wrong = [check for check in steps if check.status != verdicts.FAILED
             or "did not have the form the reference's has" not in check.message
             or "KeyError" not in check.message]
    assert not wrong, (
        f"grade({ITEM}) with sgd_steps returning 'weights' instead of 'weight' gave "
        f"{describe(wrong)}; expected status 'failed' with the message that the result did not "
        "have the reference's form (KeyError), never an internal error")
    assert report.internal_error is None, report.internal_error
    expect_others_pass(report, TASK_STEP)


# --- the channel's size cap ---------------------------------------------------------------------


def test_the_default_frame_cap_is_at_most_64_mib_and_is_what_workers_use():
    assert 1024 * 1024 <= channel.DEFAULT_CAP <= CAP_BOUND, (
        f"channel.DEFAULT_CAP is {channel.DEFAULT_CAP} bytes, expected between 1 MiB (results "
        f"of real probes fit) and {CAP_BOUND} bytes (the judge holds a whole reply in memory)")
    spec = WorkerSpec(role="learner", target=None, display="x", module="x", probes=None,
                      framework="torch", device="cpu", memory_mb=0)
    assert spec.frame_cap == channel.DEFAULT_CAP, (
        f"WorkerSpec(...).frame_cap is {spec.frame_cap}, expected channel.DEFAULT_CAP "
        f"({channel.DEFAULT_CAP})")


def test_frame_length_refuses_one_byte_over_the_default_cap_and_accepts_the_cap():
    import struct

    at_cap = channel.frame_length(struct.pack(">Q", channel.DEFAULT_CAP))
    assert at_cap == channel.DEFAULT_CAP, (
        f"frame_length(prefix of {channel.DEFAULT_CAP}) returned {at_cap}, expected the cap")
    with pytest.raises(channel.FrameTooLarge):
        channel.frame_length(struct.pack(">Q", channel.DEFAULT_CAP + 1))


def test_a_result_just_over_the_default_cap_gets_the_output_limit_verdict(learner_file):
    # mse_loss, called by the suite's `loss` probe, returns a well-formed float32 tensor whose
    # bytes alone fill the cap: with its header the frame is just over it. The judge must refuse
    # it from the length prefix, kill the worker and say the result was too large.
    values = min(channel.DEFAULT_CAP, CAP_BOUND) // 4
    path = learner_file(ITEM, extra=textwrap.dedent(f"""
        import sys as _sys
        _real_mse_loss = mse_loss

        def mse_loss(predictions, targets):
            caller = _sys._getframe(1).f_code
            if caller.co_name == "loss" and caller.co_filename.endswith("probes.py"):
                print("HUGE: returning {values} float32 values")
                return torch.zeros({values}, dtype=torch.float32)
            return _real_mse_loss(predictions, targets)
    """))
    report = grade_here(path)
    assert "HUGE" in report.learner_output, (
        f"the suite's loss probe never reached the huge result; the learner printed "
        f"{report.learner_output[-500:]!r}")
    losses = checks_of_task(report, TASK_LOSS)
    wrong = [check for check in losses if check.status != verdicts.OUTPUT_LIMIT
             or "too large" not in check.message]
    assert losses and not wrong, (
        f"grade({ITEM}) with mse_loss returning {values} float32 values ({values * 4} bytes, "
        f"the cap is {channel.DEFAULT_CAP}) gave {describe(wrong or losses)}; expected "
        "'output_limit' saying the result was too large")
    expect_others_pass(report, TASK_LOSS)


# --- forged replies on the channel ----------------------------------------------------------------

# Learner code that finds the request being served and the reply pipe: the worker's own stack
# holds both (its `request` and `replies`); the pipe's number is also the worker's argv[2].
FIND_CHANNEL = textwrap.dedent("""
    import os as _os
    import sys as _sys
    from grader import channel as _channel
    _real_fit = fit

    def _serving():
        seq = fd = None
        frame = _sys._getframe()
        while frame is not None:
            request = frame.f_locals.get("request")
            if seq is None and isinstance(request, dict) and isinstance(request.get("seq"), int):
                seq = request["seq"]
            replies = frame.f_locals.get("replies")
            if fd is None and hasattr(replies, "fileno"):
                fd = replies.fileno()
            frame = frame.f_back
        return seq, fd if fd is not None else int(_sys.argv[2])

    def _true_weights(x, y):
        model = _real_fit(x, y)
        return {"weight": model.linear.weight.detach().T.contiguous().cpu().numpy(),
                "bias": model.linear.bias.detach().cpu().numpy()}
""")


def expect_forgery_refused(report, forged, reason):
    assert "FORGING" in report.learner_output, (
        f"the learner file never wrote its forgery ({forged}); it printed "
        f"{report.learner_output[-500:]!r}")
    fits = checks_of_task(report, TASK_FIT)
    wrong = [check for check in fits if check.status != verdicts.CRASHED
             or "channel" not in check.message]
    assert fits and not wrong, (
        f"grade({ITEM}) with fit() writing {forged} to the reply pipe gave "
        f"{describe(wrong or fits)}; expected 'crashed', the channel garbled ({reason}): a "
        "result the worker did not send for this request must never be accepted")
    assert report.internal_error is None, report.internal_error
    expect_others_pass(report, TASK_FIT)


def test_a_correct_result_forged_with_a_stale_sequence_number_is_not_accepted(learner_file):
    # The forgery is the only message on the channel (the worker then exits) and carries the
    # right weights: only the sequence number tells it from a real reply.
    path = learner_file(ITEM, extra=FIND_CHANNEL + textwrap.dedent("""
        def fit(x, y):
            value = _true_weights(x, y)
            seq, fd = _serving()
            print(f"FORGING a result with seq {seq - 1} while seq {seq} is served", flush=True)
            _os.write(fd, _channel.encode({"op": "result", "value": value, "seq": seq - 1}))
            _os._exit(0)
    """))
    report = grade_here(path)
    expect_forgery_refused(report, "a correct result with the previous sequence number",
                           "a reply to a request that was not made")


def test_a_forged_result_in_front_of_the_real_reply_is_not_accepted(learner_file):
    # Two frames with the current sequence number in one write, so the judge reads them
    # together: the forged correct weights, then the reply this wrong fit() really produced
    # (all zeros, as the worker would send it). Taking the first and dropping the rest would pass.
    path = learner_file(ITEM, extra=FIND_CHANNEL + textwrap.dedent("""
        def fit(x, y):
            value = _true_weights(x, y)
            real = {name: array * 0 for name, array in value.items()}
            seq, fd = _serving()
            print(f"FORGING a result in front of the real reply to seq {seq}", flush=True)
            _os.write(fd, _channel.encode({"op": "result", "value": value, "seq": seq})
                      + _channel.encode({"op": "result", "value": real, "seq": seq}))
            _os._exit(0)
    """))
    report = grade_here(path)
    expect_forgery_refused(report, "a forged result just before the real reply",
                           "more than one message for one request")


# --- teardown, one layer at a time --------------------------------------------------------------

# At import (once), the learner's worker forks a child that forks the escapee and exits, so the
# escapee is an orphan; with SETSID the child first leaves the worker's session and group. The
# escapee runs `sleep` under a name carrying the test's token (its argv[0]), so that the test
# looks at and kills only its own escapee, never a process that reused the pid; the worker goes
# on only once the escapee runs under that name.
ESCAPEE = textwrap.dedent("""
    import os as _os
    import time as _time
    _PID_FILE, _TOKEN = {pid_file!r}, {token!r}
    if not _os.path.exists(_PID_FILE):
        _child = _os.fork()
        if _child == 0:
            try:
                if {setsid!r}:
                    _os.setsid()
                if _os.fork() == 0:
                    with open(_PID_FILE + ".part", "w") as _handle:
                        _handle.write(str(_os.getpid()))
                    _os.rename(_PID_FILE + ".part", _PID_FILE)
                    _os.execvp("sleep", [_TOKEN, "300"])
            finally:
                _os._exit(0)
        _os.waitpid(_child, 0)
        _deadline = _time.monotonic() + 10
        while _time.monotonic() < _deadline:
            try:
                with open(_PID_FILE) as _handle, \\
                        open(f"/proc/{{_handle.read()}}/cmdline", "rb") as _cmdline:
                    if _cmdline.read().startswith(_TOKEN.encode()):
                        print("ESCAPEE RUNNING", flush=True)
                        break
            except OSError:
                pass
            _time.sleep(0.01)
""")


def alive(pid, token):
    """True while our escapee `pid` runs; a zombie (killed, not yet reaped) counts as dead, and
    so does a pid that no longer carries our token."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            if not handle.read().startswith(token.encode()):
                return False
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


@pytest.fixture
def escapee(learner_file, tmp_path, monkeypatch):
    """make(setsid) -> the learner file; after the test, the escapee is killed if it still runs."""
    monkeypatch.setenv("DLPREP_SANDBOX", "none")  # these layers alone, not the sandbox's PID ns
    pid_file = tmp_path / "escapee.pid"
    token = f"dlprep-escapee-{secrets.token_hex(6)}"

    class Escapee:
        def make(self, setsid):
            return learner_file(ITEM, extra=ESCAPEE.format(pid_file=str(pid_file), token=token,
                                                           setsid=setsid))

        def expect_dead_after(self, report, layer):
            assert report.load_error is None, report.load_error
            assert pid_file.exists() and "ESCAPEE RUNNING" in report.learner_output, (
                f"the learner file never saw its escapee run; it printed "
                f"{report.learner_output[-500:]!r}")
            pid = int(pid_file.read_text())
            deadline = time.monotonic() + 3
            while alive(pid, token) and time.monotonic() < deadline:
                time.sleep(0.05)
            assert not alive(pid, token), (
                f"grade({ITEM}) returned with the learner's escapee (pid {pid}) still running; "
                f"with only the {layer} on, it must be dead when the run ends")

    yield Escapee()
    if pid_file.exists():  # only the escapee our own learner file started, known by its token
        pid = int(pid_file.read_text())
        if alive(pid, token):
            os.kill(pid, signal.SIGKILL)
        try:
            os.waitpid(pid, os.WNOHANG)  # reap it if it was re-parented to us
        except ChildProcessError:
            pass


def without_cgroup(monkeypatch):
    monkeypatch.setattr(containment._Cgroup, "create",
                        classmethod(lambda cls, *args, **kwargs: None))


def without_group_kill(monkeypatch):
    """killpg kills the group's leader (the worker) only, not the rest of its group."""
    monkeypatch.setattr(containment.os, "killpg", lambda pgid, sig: os.kill(pgid, sig))


def without_sweep(monkeypatch):
    monkeypatch.setattr(judge, "sweep_orphans", lambda keep: None)


def test_the_process_group_kill_alone_ends_an_orphan_left_in_the_workers_group(escapee,
                                                                            monkeypatch):
    without_cgroup(monkeypatch)
    without_sweep(monkeypatch)
    report = grade_here(escapee.make(setsid=False))
    escapee.expect_dead_after(report, "process-group kill")


def test_the_cgroup_kill_alone_ends_a_setsid_orphan(escapee, monkeypatch):
    probe = containment.Containment(64)
    has_cgroup = probe.cgroup is not None
    probe.release()
    if not has_cgroup:
        pytest.skip("no writable cgroup on this machine: the cgroup layer does not exist here")
    without_group_kill(monkeypatch)
    without_sweep(monkeypatch)
    report = grade_here(escapee.make(setsid=True))
    assert "enforced" in (report.memory or "") and "not" not in report.memory, report.memory
    escapee.expect_dead_after(report, "cgroup kill")


def test_the_end_of_run_sweep_alone_ends_a_setsid_orphan(escapee, monkeypatch):
    if not containment.become_subreaper():
        pytest.skip("this process cannot become a child subreaper: the sweep has no orphans")
    without_cgroup(monkeypatch)
    without_group_kill(monkeypatch)
    report = grade_here(escapee.make(setsid=True))
    escapee.expect_dead_after(report, "end-of-run orphan sweep")


# --- the calibrated time limit --------------------------------------------------------------------


@pytest.mark.parametrize("factor, floor_s, cap_s, reference_s, expected_s", [
    (10, 5, 300, 0.0, 5.0),  # the floor
    (10, 5, 300, 0.2, 5.0),
    (10, 5, 300, 0.5, 5.0),  # factor x time == floor
    (10, 5, 300, 2.0, 20.0),  # factor x time
    (10, 5, 300, 30.0, 300.0),  # factor x time == cap
    (10, 5, 300, 45.0, 300.0),  # the cap
    (3, 2, 50, 0.1, 2.0),
    (3, 2, 50, 4.0, 12.0),
    (3, 2, 50, 100.0, 50.0),
])
def test_a_learner_calls_limit_is_factor_times_the_reference_between_floor_and_cap(
        factor, floor_s, cap_s, reference_s, expected_s):
    limits = Limits(factor=factor, floor_s=floor_s, cap_s=cap_s, load_floor_s=60, memory_mb=1)
    got = limits.for_reference(reference_s)
    assert got == pytest.approx(expected_s), (
        f"Limits(factor={factor}, floor_s={floor_s}, cap_s={cap_s}).for_reference({reference_s})"
        f" returned {got}, expected min(cap, max(floor, factor x time)) = {expected_s}")


def test_the_catalogs_default_limits_are_factor_10_floor_5_s_cap_300_s():
    limits = Limits(**Bank().item(ITEM).limits)
    got = (limits.factor, limits.floor_s, limits.cap_s)
    assert got == (10, 5, 300), (
        f"Limits of {ITEM} from the catalog are (factor, floor_s, cap_s) = {got}, expected the "
        "README's defaults (10, 5, 300)")


def test_the_learners_call_gets_the_limit_calibrated_on_the_references_time():
    class FakeLearner:
        load_failure = None
        limits_given = []

        def call(self, probe, inputs, limit_s, load_limit_s):
            self.limits_given.append(limit_s)
            return {"op": "result", "value": 1.0}, 0.01

    class FakeSession(judge.Session):  # the real session's methods, without workers
        def __init__(self):
            self.limits = Limits(factor=4, floor_s=1, cap_s=100, load_floor_s=60, memory_mb=1)
            self.load_limit_s = 60
            self.learner = FakeLearner()
            self.on_call = lambda event, probe, limit_s: None
            self.deadline = None  # no overall limit: the calibrated one alone
            self.overall_limit_s = None
            self.reference_pass = None  # a grading, not a batch's reference pass

    timing = CheckTiming(reference_s={"loss": 3.0})
    CheckWorkers(FakeSession(), timing).learner("loss", x=1)
    assert FakeLearner.limits_given == [12.0], (
        f"CheckWorkers.learner('loss') after a reference call of 3.0 s with factor 4, floor 1 s, "
        f"cap 100 s gave the learner's call limits {FakeLearner.limits_given}, expected [12.0]")
    assert (timing.time_s, timing.limit_s) == (0.01, 12.0), (
        f"the check's timing recorded ({timing.time_s}, {timing.limit_s}), expected (0.01, 12.0)")
