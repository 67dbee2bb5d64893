"""The judge: grade one file against one item's hidden suite.

`grade()` starts a learner worker and a reference worker in parallel, runs the suite's checks
with pytest in this process (the `SuitePlugin` gives them the `workers`, `rng`, `tol` and `device`
fixtures and collects the outcomes), stops every worker and returns a `Report`. This module
imports no framework; it never runs learner code itself.
"""

import contextlib
import copy
import dataclasses
import hashlib
import io
import os
import secrets
import time
import zlib
from pathlib import Path

import numpy
import pytest

from grader import sandbox, verdicts
from grader.containment import (
    become_subreaper,
    own_children,
    remove_stale_workdirs,
    sweep_orphans,
)
from grader.report import CheckResult, Report
from grader.topics.moved_names import with_advice
from grader.verdicts import InternalFault, LearnerFault
from grader.workers import NO_SANDBOX, OutputLog, WorkerGone, WorkerProcess, WorkerSpec

NOT_RUN = "not run: your file did not load"
HIDDEN_PARTS = ("solutions", "grader", ".git", ".dlprep")  # a graded link may not point there
SHAPE_SETS = 8  # the shapes a run's checks share come from one of this many draws (run_rng)
# float32 tolerances per device (GPU matrix products and convolutions may run in TF32)
TOLERANCES = {"cpu": (1e-4, 1e-5), "cuda": (2e-3, 2e-3)}


@dataclasses.dataclass(frozen=True)
class Tolerance:
    rtol: float
    atol: float


@dataclasses.dataclass(frozen=True)
class Limits:
    """How a learner call's time limit is set: min(cap, max(floor, factor x reference time))."""

    factor: float
    floor_s: float
    cap_s: float
    load_floor_s: float
    memory_mb: int

    def for_reference(self, reference_s):
        return min(self.cap_s, max(self.floor_s, self.factor * reference_s))

    def describe(self):
        return (f"{self.factor:g} x the reference's time, at least {self.floor_s:g} s, "
                f"at most {self.cap_s:g} s")


class Side:
    """One role's worker, restarted after it dies; a file that fails to load stays failed."""

    def __init__(self, spec, log):
        self.spec = spec
        self.log = log
        self.worker = None
        self.load_failure = None  # (verdict, message) once the target failed to import
        self.load_s = None
        self.ready_info = None
        self.memory_note = None
        self.starts = 0  # workers started (a batch's reference may need none)
        self.start_gone = None  # how the last worker ended if it died while starting

    def start(self):
        if self.worker is None and self.load_failure is None:
            self.starts += 1
            self.worker = WorkerProcess(self.spec, self.log)
            try:
                self.worker.start()
            except WorkerGone as gone:  # it died before it read its first request
                self.start_gone = gone
            self.memory_note = self.worker.containment.memory_note

    def await_ready(self, limit_s):
        """Wait for the worker started last; returns its ready message or records a failure."""
        self.start()
        if self.load_failure:
            return None
        try:
            if self.start_gone is not None:
                gone, self.start_gone = self.start_gone, None
                raise gone
            reply, self.load_s = self.worker.await_ready(limit_s)
        except WorkerGone as gone:
            self.worker = None
            self.ready_info = None
            self.load_failure = (gone.verdict, f"Your code {gone.message} while the file was "
                                               "being imported.")
            return None
        if reply["op"] == "ready":
            self.ready_info = reply
            return reply
        self.stop()
        self.ready_info = None
        if reply["op"] == "load_failed" and reply.get("verdict") in verdicts.LEARNER_VERDICTS:
            self.load_failure = (reply["verdict"], str(reply.get("message")))
            return None
        if self.spec.role == "learner":
            # The reference worker, with the same probes and device, started: whatever else
            # the learner's worker says came from the learner's file writing to the channel.
            self.load_failure = (verdicts.CRASHED, "your file wrote to the grader's channel "
                                 "while it was imported")
            return None
        return reply  # the reference's no_device or internal: the caller decides

    def call(self, probe, inputs, limit_s, load_limit_s):
        """Run a probe; (reply, seconds), or WorkerGone / LearnerFault."""
        if self.ready_info is None:
            reply = self.await_ready(load_limit_s)
            if reply is not None and reply["op"] != "ready":
                raise InternalFault(f"a restarted {self.spec.role} worker answered {reply}")
        if self.load_failure:
            raise self.not_loaded()
        try:
            reply, seconds = self.worker.request(
                {"op": "probe", "probe": probe, "inputs": inputs}, limit_s, f"`{probe}`")
        except WorkerGone:
            self.worker = None
            self.ready_info = None
            raise
        return reply, seconds

    def not_loaded(self):
        verdict, message = self.load_failure
        return LearnerFault(verdict, NOT_RUN + " (" + message.splitlines()[0] + ")")

    def stop(self):
        if self.worker is not None:
            self.worker.stop()
            self.worker = None
        self.ready_info = None


@dataclasses.dataclass
class CheckTiming:
    """What one check's worker calls left behind: times, limits, and the results' forms."""

    time_s: float = 0.0  # of the learner call that came closest to its limit
    limit_s: float = None  # that call's limit
    reference_s: dict = dataclasses.field(default_factory=dict)
    reference_form: dict = dataclasses.field(default_factory=dict)
    learner_form_differs: bool = False
    note: str = ""  # what a passed check says of how it passed ("optimal in 5 of 5 trainings")

    def add_call(self, seconds, limit_s):
        if self.limit_s is None or seconds / limit_s >= self.time_s / self.limit_s:
            self.time_s, self.limit_s = seconds, limit_s


def form_of(value):
    """The shape of a result's structure: dict keys, list lengths, kinds of leaves (not values).

    Probes build the same structure on both sides, so a learner result of another form can only
    come from the learner's code; a suite that trips over it is then judging the learner.
    """
    if isinstance(value, dict):
        return ("dict", tuple(sorted((key, form_of(item)) for key, item in value.items())))
    if isinstance(value, list):
        return ("list", tuple(form_of(item) for item in value))
    if isinstance(value, numpy.ndarray):
        return "array"
    return type(value).__name__


class CheckWorkers:
    """The `workers` fixture: runs probes in the reference and learner workers for one check."""

    def __init__(self, session, timing):
        self.session = session
        self.timing = timing
        self.answers = {}  # a reference pass's reference results of this check, by store key

    def note(self, text):
        """Say how the check passed (shown under a passed check; a failure's message wins)."""
        self.timing.note = str(text)

    def reference(self, probe, **inputs):
        side = self.session.reference
        cap_s = self.session.bounded(self.session.limits.cap_s, probe)
        self.session.on_call("reference", probe, None)
        # A batch's reference results, computed once by an earlier judge (grader/cache.py).
        cache, ready = self.session.reference_cache, self.session.reference_ready
        cached = cache.get(probe, inputs, ready) if cache and ready else None
        if cached is not None:
            value, seconds = cached
        else:
            try:
                with self.session.learner_paused():
                    try:
                        reply, seconds = side.call(probe, inputs, cap_s, cap_s)
                    except WorkerGone:  # killed from outside (the learner's code can signal it)
                        reply, seconds = side.call(probe, inputs, cap_s, cap_s)
            except (WorkerGone, LearnerFault) as exc:
                raise InternalFault(f"the reference failed running `{probe}`: {exc}") from None
            if reply["op"] != "result":
                raise InternalFault(f"the reference failed running `{probe}`: "
                                    f"{reply.get('message', reply)}")
            value = reply["value"]
            if cache and ready:
                self.session.check_reference_environment()
                cache.put(probe, inputs, ready, value, seconds)
        self.timing.reference_s[probe] = seconds
        self.timing.reference_form[probe] = form_of(value)
        if self.session.reference_pass and cache and ready:
            self.answers[cache.key(probe, inputs, ready)] = copy.deepcopy(value)
        return value

    def learner(self, probe, **inputs):
        session = self.session
        if session.reference_pass:
            return self.mirrored(probe, inputs)
        reference_s = self.timing.reference_s.get(probe)
        limit_s = session.bounded(session.limits.for_reference(reference_s)
                                  if reference_s is not None else session.limits.cap_s, probe)
        session.on_call("start", probe, limit_s)
        try:
            reply, seconds = session.learner.call(probe, inputs, limit_s, session.load_limit_s)
        except WorkerGone as gone:
            self.timing.add_call(limit_s if gone.verdict == verdicts.TIMEOUT else 0.0, limit_s)
            session.learner.start()  # a fresh worker warms up for the next check
            raise LearnerFault(gone.verdict, f"Your code {gone.message}.") from None
        finally:
            session.on_call("end", probe, limit_s)
        self.timing.add_call(seconds, limit_s)
        if reply["op"] == "result":
            if probe in self.timing.reference_form:
                differs = form_of(reply["value"]) != self.timing.reference_form[probe]
                self.timing.learner_form_differs |= differs
            return reply["value"]
        if reply["op"] == "fault" and reply.get("verdict") in verdicts.LEARNER_VERDICTS:
            raise LearnerFault(reply["verdict"], str(reply.get("message", "")))
        if reply["op"] == "internal" and probe not in self.timing.reference_s:
            raise InternalFault(f"the suite's probe `{probe}` failed: {reply.get('message')}")
        # The reference ran this probe without trouble: the learner's code made the difference
        # (it broke the worker, or wrote its own messages to the grader's channel).
        session.learner.stop()
        raise LearnerFault(verdicts.ERROR if reply["op"] == "internal" else verdicts.CRASHED,
                           "the check could not run your code: "
                           f"{str(reply.get('message', 'the worker answered out of turn'))[:500]}")

    def mirrored(self, probe, inputs):
        """A reference pass's learner call: the reference's result of the same call, made just
        before (a `both`). A learner call the reference did not make (the Q-learning checks'
        extra trainings) ends the check: its result would be the learner's own in a grading,
        and what follows it mostly takes that result as input, which no candidate shares."""
        key = self.session.reference_cache.key(probe, inputs, self.session.reference_ready)
        if key is None or key not in self.answers:
            raise LearnerFault(verdicts.ERROR, f"a reference pass stops at `{probe}`, a call "
                                               "the reference did not make")
        return copy.deepcopy(self.answers[key])

    def both(self, probe, **inputs):
        """(reference result, learner result) of the same probe on the same inputs."""
        if self.session.learner.load_failure:
            raise self.session.learner.not_loaded()
        return self.reference(probe, **inputs), self.learner(probe, **inputs)


class SuitePlugin:
    """A pytest plugin: the suite's fixtures, and one CheckResult per test."""

    def __init__(self, session):
        self.session = session
        self.results = []
        self.problems = []  # suite faults outside any check (collection errors)
        self._timing = {}
        self._faults = {}

    def pytest_configure(self, config):
        config.addinivalue_line("markers", "task(number): the statement's task this checks")
        config.addinivalue_line("markers", "points(number): this check's weight (default 1)")

    # fixtures ------------------------------------------------------------------------------

    @pytest.fixture
    def workers(self, request):
        return CheckWorkers(self.session, self._timing.setdefault(request.node.nodeid,
                                                                  CheckTiming()))

    @pytest.fixture
    def rng(self, request):
        return numpy.random.default_rng([self.session.seed,
                                         zlib.crc32(request.node.name.encode())])

    @pytest.fixture
    def run_rng(self):
        """A generator for the shapes of a run: every check gets one in the same state, so the
        shapes drawn from it are the same in every check of the run, and one of SHAPE_SETS
        states only, so that later runs meet shapes whose programs a compilation cache already
        holds. Values come from `rng`, fresh for every seed and check."""
        return numpy.random.default_rng([self.session.seed % SHAPE_SETS,
                                         zlib.crc32(b"shapes of the run")])

    @pytest.fixture
    def tol(self):
        return self.session.tolerance

    @pytest.fixture
    def device(self):
        return self.session.device

    # outcomes ------------------------------------------------------------------------------

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item, call):
        yield
        if call.excinfo is not None and item.nodeid not in self._faults:
            self._faults[item.nodeid] = (call.when, call.excinfo.value)

    def pytest_runtest_teardown(self, item):
        self.results.append(self._result(item))
        self.session.on_call("check", self.results[-1].title, self.results[-1].status)

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_protocol(self, item):
        """A reference pass runs the checks no other pass of its item has claimed."""
        if self.session.reference_pass and not claim(self.session.reference_pass, item.nodeid):
            return True  # another pass runs it: nothing to do or report here
        return None

    def pytest_collection_finish(self, session):
        self.session.start_clock(len(session.items))

    def pytest_collectreport(self, report):
        if report.failed:
            self.problems.append(f"the suite could not be collected: {report.longreprtext}")

    def _result(self, item):
        timing = self._timing.get(item.nodeid, CheckTiming())
        task = item.get_closest_marker("task")
        points = item.get_closest_marker("points")
        status, message = self._verdict(item)
        if task is None:
            status, message = verdicts.INTERNAL, "the suite's check has no task marker"
        return CheckResult(
            name=item.name.removeprefix("test_"),
            task=task.args[0] if task else None,
            status=status,
            message=message,
            time_s=round(timing.time_s, 4),
            limit_s=round(timing.limit_s, 4) if timing.limit_s else None,  # as time_s: a
            # timeout (time = limit) must never read as finishing under its limit
            points=points.args[0] if points else 1,
        )

    def _verdict(self, item):
        fault = self._faults.get(item.nodeid)
        if fault is None:
            timing = self._timing.get(item.nodeid)
            return verdicts.PASSED, timing.note if timing else ""
        when, exc = fault
        timing = self._timing.get(item.nodeid)
        if (timing and timing.learner_form_differs and when == "call"
                and not isinstance(exc, (LearnerFault, InternalFault, AssertionError))):
            return verdicts.FAILED, ("your code's result did not have the form the reference's "
                                     f"has, so it could not be checked ({type(exc).__name__}: "
                                     f"{str(exc)[:200]})")
        if isinstance(exc, LearnerFault):  # a missing framework name gets what exists instead
            return exc.verdict, with_advice(exc.message)
        if isinstance(exc, AssertionError) and when == "call":
            return verdicts.FAILED, str(exc)
        if isinstance(exc, InternalFault):
            return verdicts.INTERNAL, str(exc)
        return verdicts.INTERNAL, f"the suite raised {type(exc).__name__}: {exc}"


class Session:
    """Everything one grading run shares: workers, seed, device, limits."""

    def __init__(self, item, target, display, device, seed, bank, on_call=None,
                 sandbox_choice=None, reference_compile_dir=None, learner_compile_dir=None):
        self.item = item
        self.on_call = on_call or (lambda event, probe, limit_s: None)  # progress display
        self.seed = seed
        self.limits = Limits(**item.limits)
        self.load_limit_s = self.limits.cap_s
        suite = bank.suite_dir(item.id)
        spec = dict(module=item.id, probes=suite / "probes.py", framework=item.framework,
                    device=device, memory_mb=self.limits.memory_mb,
                    cpu_devices=item.cpu_devices,
                    sandbox=sandbox_choice or NO_SANDBOX)
        reference_file = bank.solution_file(item.id)
        self.reference = Side(WorkerSpec(role="reference", target=reference_file,
                                         display=bank.display(reference_file),
                                         compile_cache=reference_compile_dir, **spec),
                              OutputLog())
        self.learner = Side(WorkerSpec(role="learner", target=target, display=display,
                                       compile_cache=learner_compile_dir, **spec),
                            OutputLog())
        self.device = None
        self.tolerance = None
        self.deadline = None  # perf_counter() past which no call starts (the overall limit)
        self.reference_cache = None  # a grader.cache.Binding, in a batch
        self.reference_ready = None  # the reference worker's ready message (maybe from it)
        self.overall_limit_s = None
        self.reference_pass = None  # a folder of claims: fill a batch's store, grade nothing

    def bounded(self, limit_s, probe):
        """`limit_s`, shortened to what is left of the grading's overall limit."""
        if self.deadline is None:
            return limit_s
        left = self.deadline - time.perf_counter()
        if left <= 0:
            raise LearnerFault(verdicts.TIMEOUT, f"Not run: the grading's overall limit of "
                               f"{self.overall_limit_s:.0f} s was reached before `{probe}` "
                               "could be called.")
        return min(limit_s, left)

    @contextlib.contextmanager
    def learner_paused(self):
        """The learner's processes frozen while the reference is timed: nothing the learner's
        file started (a busy loop forked at import) runs beside the reference to inflate its
        times, and so the learner's limits, or the times a store keeps for later gradings.
        Where no freezer
        cgroup can be written the learner is left running (DESIGN: limits then hold only as
        well as the machine is quiet)."""
        worker = self.learner.worker  # one still loading is paused too: its load limit is
        # counted from when the judge waits for it, after this call
        frozen = worker is not None and worker.containment.freeze()
        try:
            yield
        finally:
            if frozen:
                worker.containment.thaw()

    def check_reference_environment(self):
        """A reference worker started late (after a stored ready message) must report the
        environment the stored results were keyed by."""
        live = self.reference.ready_info
        if live is not None and any(live.get(field) != self.reference_ready.get(field)
                                    for field in ("device", "device_name", "versions")):
            raise InternalFault("the reference worker's device or versions changed during the "
                                f"batch: {live} against {self.reference_ready}")

    def start_clock(self, checks):
        """The overall limit: every load limit and every check's cap, from now."""
        self.overall_limit_s = 2 * self.load_limit_s + checks * self.limits.cap_s
        self.deadline = time.perf_counter() + self.overall_limit_s


def grade(bank, item_id, target, device="auto", seed=None, on_call=None, sandbox_kind=None,
          require_sandbox=False, reference_cache=None, learner_cache_dir=None,
          reference_pass=None):
    """Grade `target` (a path) against the item's hidden suite; returns a Report.

    `sandbox_kind` (auto, bwrap, none; default $DLPREP_SANDBOX or auto) says what workers run
    in; a sandbox that cannot start, when bwrap or `require_sandbox` demands one, is a usage
    error in the report (nothing ran).

    `on_call(event, probe, limit_s)`, if given, is called with "start" and "end" around every
    learner call (a progress display); it must not raise. `reference_cache` (a
    grader.cache.ReferenceStore; `grade batch` passes one) reuses the reference's results of a
    batch's earlier gradings (or a learner's earlier gradings with the same seed), and their
    measured times scaled to this machine now; with it a sandboxed reference worker also keeps
    its compiled programs there. Unsandboxed workers could write to the store: it is then not
    used. `learner_cache_dir` is the learner's own compilation cache (self-study only: see
    `grader.cache.self_study_caches`). A theory item's answers file is graded
    against its key by grader/theory/: nothing of the learner's runs, so no workers start.

    `reference_pass` (a folder), with a `reference_cache`, grades nothing: it runs the checks
    that no other pass sharing the folder has claimed (see `claim`), with the reference
    answering the learner's calls it has just made itself (see `CheckWorkers.mirrored`), so
    that the store holds the reference's results before `grade batch` grades any candidate
    (`target` should be the reference file; no learner worker starts).
    """
    item = bank.item(item_id)
    if item.kind == "theory":
        from grader import theory

        return theory.grade(bank, item_id, target)
    seed = secrets.randbelow(2**31) if seed is None else seed
    given, target = Path(target).absolute(), Path(target).resolve()
    report = Report(exercise=item.id, file=bank.display(target), seed=seed,
                    limits=Limits(**item.limits).describe(), framework=item.framework)
    hidden = [bank.root / part for part in HIDDEN_PARTS]
    if given != target and any(target.is_relative_to(part) for part in hidden):
        report.usage_error = (f"{given} is a link to {bank.display(target)}, a hidden file of "
                              "the bank; grade the submitted file itself, not a link")
        return report
    try:
        choice = sandbox.choose(sandbox_kind)
    except sandbox.Unavailable as exc:
        report.usage_error = str(exc)
        return report
    report.sandbox = choice.describe()
    if require_sandbox and choice.kind == "none":
        report.usage_error = (f"grading needs a sandbox (--require-sandbox), and none can "
                              f"start: {choice.reason}")
        return report
    binding = None
    if reference_cache is not None and choice.kind != "none":  # a grader.cache.ReferenceStore
        binding = reference_cache.bind(item.id, bank.solution_file(item.id),
                                       bank.suite_dir(item.id), seed)
        binding.store.calibration_s  # timed now, before any worker (or learner code) runs
    session = Session(item, target, bank.display(target), device, seed, bank, on_call, choice,
                      reference_compile_dir=binding and binding.compile_dir(device),
                      learner_compile_dir=learner_cache_dir)
    session.reference_cache = binding
    if reference_pass is not None:
        if binding is None:
            report.usage_error = "a reference pass needs a sandboxed reference store"
            return report
        session.reference_pass = reference_pass
    remove_stale_workdirs()
    subreaper = become_subreaper()
    children_before = own_children()  # a test process's own children are never swept
    started = time.perf_counter()
    try:
        _run(session, bank, report)
        if session.learner.worker is not None:  # a self-study learner keeps what it compiled
            session.learner.worker.export_compiled()
    finally:
        session.learner.stop()
        session.reference.stop()
        if subreaper:
            sweep_orphans(keep=children_before)
        report.learner_output = session.learner.log.text()
        report.learner_output_bytes = session.learner.log.total
        report.overall_limit_s = session.overall_limit_s
        if session.reference_cache:
            session.reference_cache.store.reference_workers = session.reference.starts
        report.elapsed_s = round(time.perf_counter() - started, 2)
    return report


def _run(session, bank, report):
    stored = (session.reference_cache.get_ready(session.learner.spec.device)
              if session.reference_cache else None)
    if stored is None:  # else the reference worker starts at the first call the store misses
        session.reference.start()
    if session.reference_pass:
        pass  # no learner worker: the reference answers for it
    elif stored is not None or not session.reference_cache:
        session.learner.start()  # loads beside the reference; else once the reference is
        # ready, so that nothing the learner's file runs at import inflates the reference's
        # load time a store keeps for later gradings
    session.on_call("phase", "loading the reference and your file", None)
    if stored is not None:
        reference_ready, session.reference.load_s = stored
    else:
        reference_ready = session.reference.await_ready(session.limits.cap_s)
        if reference_ready is not None and reference_ready["op"] == "ready" \
                and session.reference_cache:
            session.reference_cache.put_ready(session.learner.spec.device, reference_ready,
                                              session.reference.load_s)
    if reference_ready is None or reference_ready["op"] == "internal":
        failure = session.reference.load_failure
        detail = (reference_ready or {}).get("message") or (failure[1] if failure else "")
        report.internal_error = f"the reference worker did not start: {detail}"
        return
    if reference_ready["op"] == "no_device":
        report.usage_error = reference_ready["message"]
        return
    session.reference_ready = reference_ready
    session.device = reference_ready["device"]
    session.tolerance = Tolerance(*TOLERANCES[session.device])
    session.load_limit_s = min(session.limits.cap_s,
                               max(session.limits.load_floor_s,
                                   session.limits.factor * session.reference.load_s))
    report.device = session.device
    report.device_name = reference_ready["device_name"]
    report.versions = reference_ready["versions"]
    session.on_call("device", f"{session.device} ({report.device_name})", None)
    session.on_call("phase", "loading your file", None)
    if not session.reference_pass:
        session.learner.await_ready(session.load_limit_s)
    report.memory = session.learner.memory_note or session.reference.memory_note
    if session.learner.load_failure:
        report.load_error = with_advice(session.learner.load_failure[1])
    plugin = SuitePlugin(session)
    session.on_call("phase", "collecting the checks", None)
    log = io.StringIO()
    with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
        outcome = pytest.main(_pytest_args(bank.suite_dir(session.item.id)), plugins=[plugin])
    if outcome == pytest.ExitCode.INTERRUPTED:
        raise KeyboardInterrupt  # pytest swallowed it: a half-run suite must not read as passed
    report.checks = plugin.results
    ran_none = not plugin.results and not session.reference_pass  # (a pass may find every
    # check claimed by the item's other passes)
    if plugin.problems or ran_none:
        report.internal_error = "; ".join(plugin.problems) or (
            "the suite ran no check:\n" + log.getvalue()[-2000:])


def claim(folder, nodeid):
    """Whether this process is the first to claim the check `nodeid` in `folder`: passes of an
    item sharing a folder take its checks one at a time, in order, so that a pass whose checks
    were quick takes more of them, whatever each one costs."""
    name = hashlib.sha256(nodeid.encode()).hexdigest()[:32]
    try:
        descriptor = os.open(Path(folder) / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except (FileExistsError, FileNotFoundError):  # claimed, or the batch is stopping (it
        return False  # removes the folder)
    os.close(descriptor)
    return True


def _pytest_args(suite_dir):
    return [
        str(suite_dir), "-q", "--assert=plain", "--noconftest", "-p", "no:cacheprovider",
        "-p", "no:randomly", "--import-mode=importlib", "-s",
        "-c", str(suite_dir.parent / "pytest.ini"), "--rootdir", str(suite_dir.parent),
    ]
