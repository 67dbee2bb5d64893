"""Golden scenarios for the sandbox (issue 12): hostile learner files graded through the real
`grade exercise ID --file F --format json --device cpu` with DLPREP_SANDBOX=bwrap.

Each scenario asserts the verdicts AND that nothing happened outside the sandbox. Every attack
is built so that its success would be visible: the hunt for the reference starts from the stub
(a found reference passes every check; the control run without the sandbox proves it does),
the tampering file starts from the stub too (a rewritten suite would pass it), and the other
files are the reference plus an attack whose outcome the file prints (the report's
`output.head`) and the test checks on the host (hashes, a listener, the process tree).

Safety on a shared machine: the hostile code never writes a real file of the checkout or the
virtual environment (it writes only into a private bank copy, a private HOME and progress file,
and probes the real ones with O_CREAT|O_EXCL files it removes at once), never writes a sysctl
(it only opens them for writing and closes them), and, when it finds itself outside a sandbox
(in the test's own PID namespace), signals only descendants of the test process, never the test
process itself.
"""

import hashlib
import json
import os
import resource
import secrets
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

import process_tree
from grader import sandbox, verdicts
from grader.cli import cli

ROOT = Path(__file__).resolve().parent.parent
ITEM = "linear_regression_torch"
MEMORY_MIB = 4096  # the item's memory limit (grader/catalog.yaml default)
VERDICTS = {verdicts.PASSED, verdicts.FAILED, verdicts.NOT_IMPLEMENTED, verdicts.ERROR,
            verdicts.TIMEOUT, verdicts.MEMORY, verdicts.CRASHED, verdicts.OUTPUT_LIMIT}

_CHOICE = sandbox.choose("auto")
needs_bwrap = pytest.mark.skipif(
    _CHOICE.kind != "bwrap",
    reason=f"bubblewrap cannot start here (user namespaces refused?): {_CHOICE.reason}")


# --- helpers -----------------------------------------------------------------------------------

def grade_in_process(item_id, path, *args):
    """`grade exercise ITEM --file PATH --format json --device cpu ARGS` in this process."""
    result = CliRunner().invoke(cli, ["exercise", item_id, "--file", str(path), "--format",
                                      "json", "--device", "cpu", *map(str, args)],
                                catch_exceptions=False)
    try:
        return result.exit_code, json.loads(result.stdout)
    except ValueError:
        pytest.fail(f"`grade exercise {item_id} --file {path}` (exit {result.exit_code}) printed "
                    f"no JSON report: stdout {result.stdout[-1000:]!r}; stderr "
                    f"{result.stderr[-3000:]}")


def summary(report):
    checks = "; ".join(f"{c['name']}: {c['status']}" for c in report.get("checks", []))
    return (f"status {report.get('status')}, score {report.get('score')}/"
            f"{report.get('max_score')}, sandbox {report.get('sandbox')}, load_error "
            f"{report.get('load_error')!r}, internal_error {report.get('internal_error')!r}, "
            f"checks [{checks}], output {report.get('output', {}).get('head', '')[-3000:]!r}")


def tagged(report, tag):
    """The JSON the hostile file printed on its line `TAG {...}`, or None."""
    for line in report["output"]["head"].splitlines():
        if line.startswith(tag + " "):
            return json.loads(line[len(tag) + 1:])
    return None


def expect_complete(report, what):
    """A complete report: no internal error, a verdict for every check of the item."""
    assert report["sandbox"]["kind"] == "bwrap", f"{what}: ran without the sandbox: {summary(report)}"
    assert report["internal_error"] is None, f"{what}: internal error: {summary(report)}"
    assert report["status"] in ("passed", "failed"), (
        f"{what}: expected a complete report (status passed or failed), got {summary(report)}")
    assert len(report["checks"]) == 9 and all(c["status"] in VERDICTS for c in report["checks"]), (
        f"{what}: expected a verdict for each of the 9 checks of {ITEM}, got {summary(report)}")


def expect_all_passed(report, what):
    expect_complete(report, what)
    assert report["status"] == "passed" and report["score"] == report["max_score"], (
        f"{what}: the file is the reference plus an attack that should have bought nothing and "
        f"broken nothing, so every check should pass; got {summary(report)}")


def digest_tree(*paths):
    """{path: sha256} of every file under `paths` (and the paths themselves if files)."""
    found = {}
    for root in map(Path, paths):
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*")
                                                      if p.is_file() and "__pycache__" not in p.parts)
        for path in files:
            found[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def stub_source(pristine_stub):
    return Path(pristine_stub(ITEM)).read_text()


# --- hostile code, in pieces ---------------------------------------------------------------------

# Every folder a hostile file can think of as "the checkout might be here": parents of its own
# file, the cwd, sys.path, environment values, the editable-install finder in site-packages,
# the host paths /proc/self/mountinfo and /proc/1/cmdline reveal, every visible process's cwd and
# root, and a bounded walk of the file system for folders named `solutions` or `suites`.
ROOTS = r'''
import glob as _glob, json as _json, os as _os, re as _re, sys as _sys, time as _time

def _roots():
    roots = set()
    def add(path):
        if not isinstance(path, str) or not path.startswith("/"):
            return
        path = _os.path.normpath(path)
        while True:
            roots.add(path)
            parent = _os.path.dirname(path)
            if parent == path:
                return
            path = parent
    add(globals().get("__file__", "/"))
    add(_os.getcwd())
    for entry in _sys.path:
        add(entry)
    for value in _os.environ.values():
        for part in value.split(":"):
            add(part)
    for finder in _glob.glob(_sys.prefix + "/lib/python3*/site-packages/__editable__*finder.py"):
        try:
            for path in _re.findall(r"'(/[^']+)'", open(finder).read()):
                add(path)
        except OSError:
            pass
    try:
        for line in open("/proc/self/mountinfo"):
            fields = line.split()
            add(fields[3]); add(fields[4])
    except OSError:
        pass
    for pid in [p for p in _os.listdir("/proc") if p.isdigit()]:
        try:
            for arg in open(f"/proc/{pid}/cmdline", "rb").read().split(b"\0"):
                add(arg.decode(errors="replace"))
            add(_os.readlink(f"/proc/{pid}/cwd"))
        except OSError:
            pass
    roots |= {f"/proc/{pid}/root{r}" for r in list(roots)[:400]
              for pid in ("1", "self") if r != "/"}
    deadline = _time.monotonic() + 3
    for top, dirs, _files in _os.walk("/"):
        if _time.monotonic() > deadline:
            break
        if top.count("/") > 4 or top.startswith(("/proc", "/sys", "/dev", "/usr")):
            dirs[:] = []
            continue
        dirs[:] = [d for d in dirs if d not in ("site-packages", "node_modules", ".git")]
        if "solutions" in dirs or "suites" in dirs:
            add(top)
    return roots

_ROOTS = _roots()

def _find(relatives):
    found = []
    for root in sorted(_ROOTS):
        for relative in relatives:
            path = _os.path.join(root, relative)
            if _os.path.isfile(path) and _os.access(path, _os.R_OK):
                found.append(path)
    return found
'''

HUNT = ROOTS + r'''
_found = _find(["solutions/linear_regression_torch/linear_regression_torch.py"])
if _found:  # re-export the reference instead of solving
    exec(compile(open(_found[0]).read(), _found[0], "exec"), globals())
print("HUNT " + _json.dumps({"found": _found[:5], "places": len(_ROOTS)}), flush=True)
'''


def hunt_file(tmp_path, pristine_stub):
    path = tmp_path / f"{ITEM}.py"
    path.write_text(stub_source(pristine_stub) + "\n" + HUNT)
    return path


# --- scenario: hunting for the reference ---------------------------------------------------------

@needs_bwrap
def test_a_file_that_hunts_for_the_reference_finds_nothing_and_fails(tmp_path, pristine_stub,
                                                                      monkeypatch):
    monkeypatch.setenv("DLPREP_SANDBOX", "bwrap")
    path = hunt_file(tmp_path, pristine_stub)
    code, report = grade_in_process(ITEM, path)
    what = f"grade exercise {ITEM} --file <stub + a hunt for solutions/{ITEM}> (sandbox bwrap)"
    hunt = tagged(report, "HUNT")
    assert hunt is not None, f"{what}: the file did not report its hunt: {summary(report)}"
    assert hunt["found"] == [], (
        f"{what}: the reference was readable inside the sandbox at {hunt['found']}; expected "
        "no copy of solutions/ anywhere in the worker's view")
    assert hunt["places"] > 20, f"{what}: the hunt looked in only {hunt['places']} places"
    expect_complete(report, what)
    assert report["score"] == 0 and all(c["status"] == verdicts.NOT_IMPLEMENTED
                                        for c in report["checks"]), (
        f"{what}: expected every check 'not implemented' (it is the stub), got {summary(report)}")
    assert code == 1, f"{what}: expected exit code 1, got {code}"


@needs_bwrap
def test_the_same_hunt_passes_without_the_sandbox_so_the_hunt_is_real(tmp_path, pristine_stub,
                                                                       monkeypatch):
    monkeypatch.setenv("DLPREP_SANDBOX", "none")
    path = hunt_file(tmp_path, pristine_stub)
    code, report = grade_in_process(ITEM, path)
    what = f"grade exercise {ITEM} --file <stub + a hunt for solutions/{ITEM}> (sandbox none)"
    hunt = tagged(report, "HUNT")
    assert report["sandbox"]["kind"] == "none", f"{what}: {summary(report)}"
    assert hunt and hunt["found"], (
        f"{what}: without the sandbox the hunt should find the reference (the control that "
        f"proves the bwrap test can fail); it found nothing: {summary(report)}")
    assert code == 0 and report["status"] == "passed", (
        f"{what}: the re-exported reference should pass every check without the sandbox; got "
        f"{summary(report)}")


@needs_bwrap
def test_a_graded_file_that_is_a_symlink_to_the_reference_does_not_pass(tmp_path, pristine_stub,
                                                                         monkeypatch):
    """A submission (a git repository, a tarball) may hold a symlink instead of a file: the
    judge's private copy follows it, so the sandbox would receive the reference itself."""
    monkeypatch.setenv("DLPREP_SANDBOX", "bwrap")
    link = tmp_path / "submission" / f"{ITEM}.py"
    link.parent.mkdir()
    link.symlink_to(ROOT / "solutions" / ITEM / f"{ITEM}.py")
    result = CliRunner().invoke(cli, ["exercise", ITEM, "--file", str(link), "--format", "json",
                                      "--device", "cpu"], catch_exceptions=False)
    what = (f"grade exercise {ITEM} --file <a symlink to solutions/{ITEM}/{ITEM}.py> "
            f"(sandbox bwrap)")
    assert result.exit_code == 2 and "is a link to" in result.stderr, (
        f"{what} exited {result.exit_code}: {result.output[-600:]}; expected a usage error "
        "(exit 2) that says the file is a link into the bank")


# --- scenario: tampering with the bank, the progress file, HOME, site-packages -------------------

TAMPER = r'''
import errno as _errno, site as _site
_BANK, _REAL_ROOT, _PROGRESS, _FAKE_HOME, _TOKEN = {bank!r}, {real_root!r}, {progress!r}, {home!r}, {token!r}
_EXPOSED = _os.readlink("/proc/self/ns/pid") == {test_pidns!r}  # outside a sandbox: plant nothing on the host
_ALWAYS_PASS_SUITE = """
import pytest
@pytest.mark.task(1)
def test_model_holds_linear_weight_and_bias_with_the_reference_shapes(): pass
"""
_PLANTED = "print('PLANTED CODE RAN', flush=True)\n"
_done, _refused = [], {{}}

def _attempt(label, action):
    try:
        action()
        _done.append(label)
    except OSError as exc:
        _refused[label] = _errno.errorcode.get(exc.errno, str(exc.errno))

def _overwrite(path, text):
    def act():
        with open(path, "w") as handle:
            handle.write(text)
    return act

def _probe_create(folder):  # real checkout / venv: an O_EXCL file, removed at once
    def act():
        path = _os.path.join(folder, f".dlprep-sandbox-probe-{{_TOKEN}}")
        _os.close(_os.open(path, _os.O_WRONLY | _os.O_CREAT | _os.O_EXCL, 0o600))
        _os.unlink(path)
    return act

def _plant(folder):
    def act():
        _os.makedirs(_os.path.join(folder, "grader"), exist_ok=True)
        for name in ("__init__.py", "worker.py", "channel.py", "probekit.py"):
            _overwrite(_os.path.join(folder, "grader", name), _PLANTED)()
    return act

_item = "linear_regression_torch"
for _root in [_BANK] + sorted(r for r in _ROOTS if r.startswith(_BANK)) + ["/sandbox/lib"]:
    _attempt(f"suite test {{_root}}", _overwrite(f"{{_root}}/grader/suites/{{_item}}/test_{{_item}}.py", _ALWAYS_PASS_SUITE))
    _attempt(f"suite probes {{_root}}", _overwrite(f"{{_root}}/grader/suites/{{_item}}/probes.py", _PLANTED))
    _attempt(f"reference {{_root}}", _overwrite(f"{{_root}}/solutions/{{_item}}/{{_item}}.py", _PLANTED))
_attempt("sandbox probes", _overwrite("/sandbox/probes/probes.py", _PLANTED))
_attempt("sandbox target", _overwrite(f"/sandbox/target/{{_item}}.py", _PLANTED))
_attempt("sandbox grader worker", _overwrite("/sandbox/lib/grader/worker.py", _PLANTED))
_attempt("progress file", _overwrite(_PROGRESS, _json.dumps({{"items": {{}}, "pwned": True}})))
_attempt("fake home bashrc", _overwrite(_os.path.join(_FAKE_HOME, ".bashrc"), "echo pwned\n"))
if _os.path.exists(_os.path.join(_REAL_ROOT, "setup.cfg")):  # else: a folder of the sandbox's
    _attempt("real checkout", _probe_create(_REAL_ROOT))     # own /tmp, made for a bind under it
_attempt("real checkout solutions", _probe_create(f"{{_REAL_ROOT}}/solutions/{{_item}}"))
_attempt("real checkout suite", _probe_create(f"{{_REAL_ROOT}}/grader/suites/{{_item}}"))
for _folder in sorted(set(_site.getsitepackages() + [p for p in _sys.path if p.endswith("site-packages")])):
    _attempt(f"site-packages {{_folder}}", _probe_create(_folder))
for _folder in [] if _EXPOSED else sorted({{_os.getcwd(), "/tmp", _os.path.expanduser("~"), "/dev/shm"}}):
    _attempt(f"plant grader/ in {{_folder}}", _plant(_folder))
print("TAMPER " + _json.dumps({{"done": _done, "refused": _refused}}), flush=True)
'''


@needs_bwrap
def test_a_file_that_rewrites_the_bank_and_plants_modules_changes_nothing_outside(
        tmp_path, pristine_stub, bank_copy, monkeypatch):
    token = secrets.token_hex(6)
    home = tmp_path / "home"
    home.mkdir()
    (home / ".bashrc").write_text("# the reviewer's shell\n")
    progress = Path(os.environ["DLPREP_PROGRESS"])
    progress.write_text('{"items": {}}\n')
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("DLPREP_SANDBOX", "bwrap")
    path = tmp_path / f"{ITEM}.py"
    path.write_text(stub_source(pristine_stub) + "\n" + ROOTS + TAMPER.format(
        bank=str(bank_copy), real_root=str(ROOT), progress=str(progress), home=str(home),
        token=token, test_pidns=os.readlink("/proc/self/ns/pid")))
    venv_sites = sorted({p for p in sys.path if p.endswith("site-packages")})
    watched = [bank_copy / "grader" / "suites" / ITEM, bank_copy / "solutions" / ITEM,
               bank_copy / "exercises" / ITEM, ROOT / "grader" / "suites" / ITEM,
               ROOT / "solutions" / ITEM, progress, home]
    before = digest_tree(*watched)

    code, report = grade_in_process(ITEM, path)
    what = (f"grade exercise {ITEM} --file <stub + writes to the bank copy {bank_copy}, the "
            f"progress file, HOME, site-packages, planted grader/ packages> (sandbox bwrap)")
    tamper = tagged(report, "TAMPER")
    assert tamper is not None, f"{what}: the file did not report its attempts: {summary(report)}"
    own_tmpfs = ("plant grader/ in /tmp", "plant grader/ in /dev/shm")
    escaped = [label for label in tamper["done"] if label not in own_tmpfs]
    assert not escaped, (
        f"{what}: writes succeeded outside the sandbox's own temporary folders: {escaped}; "
        f"expected every one refused (read-only or not there)")
    assert len(tamper["refused"]) >= 10, f"{what}: too few attempts were made: {tamper}"
    assert "PLANTED CODE RAN" not in report["output"]["head"], f"{what}: {summary(report)}"
    expect_complete(report, what)
    assert report["score"] == 0 and all(c["status"] == verdicts.NOT_IMPLEMENTED
                                        for c in report["checks"]), (
        f"{what}: the verdicts of the stub should be unchanged (every check 'not implemented'), "
        f"got {summary(report)}")
    assert digest_tree(*watched) == before, (
        f"{what}: files on the host changed: "
        f"{sorted(set(digest_tree(*watched).items()) ^ set(before.items()))}")
    probes_left = [str(p) for folder in venv_sites + [str(ROOT)]
                   for p in Path(folder).glob(f".dlprep-sandbox-probe-{token}")]
    assert not probes_left, f"{what}: the file created {probes_left} on the host"

    honest = bank_copy / "solutions" / ITEM / f"{ITEM}.py"
    copy = tmp_path / "honest" / f"{ITEM}.py"
    copy.parent.mkdir()
    copy.write_text(honest.read_text())
    code, after = grade_in_process(ITEM, copy)
    assert code == 0 and after["status"] == "passed", (
        f"grade exercise {ITEM} --file <the reference> right after the tampering run: an honest "
        f"grading should pass every check, got {summary(after)}")


# --- scenario: signals and file descriptors of every process in sight ----------------------------

SIGNALS = r'''
import errno as _errno, json as _json, os as _os, signal as _signal
_TEST_PID, _TEST_PIDNS = {test_pid!r}, {test_pidns!r}
_attacked = []

def _ppid(pid):
    try:
        return int(open(f"/proc/{{pid}}/stat").read().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None

def _in_test_tree(pid):  # outside a sandbox: only what the test started, never the test itself
    seen = set()
    while pid and pid not in seen:
        seen.add(pid)
        pid = _ppid(pid)
        if pid == _TEST_PID:
            return True
    return False

def _attack():
    me = _os.getpid()
    exposed = _os.readlink("/proc/self/ns/pid") == _TEST_PIDNS
    visible = sorted(int(p) for p in _os.listdir("/proc") if p.isdigit())
    foreign, fds, sent = [], [], {{}}
    for pid in visible:
        if pid == me:
            continue
        try:
            line = open(f"/proc/{{pid}}/cmdline", "rb").read().replace(b"\0", b" ")[:120]
        except OSError:
            line = b"?"
        if b"bwrap" not in line and b"/sandbox/" not in line:
            foreign.append([pid, line.decode(errors="replace")])
        try:
            for fd in _os.listdir(f"/proc/{{pid}}/fd"):
                target = _os.readlink(f"/proc/{{pid}}/fd/{{fd}}")
                try:
                    _os.close(_os.open(f"/proc/{{pid}}/fd/{{fd}}", _os.O_RDONLY | _os.O_NONBLOCK))
                    fds.append([pid, fd, target])
                except OSError:
                    pass
        except OSError:
            pass
    targets = sorted(set(visible + [_os.getppid(), 1]) - {{me}})
    if exposed:
        targets = [pid for pid in targets if pid != _TEST_PID and _in_test_tree(pid)]
    for pid in targets:
        for signum in (_signal.SIGSTOP, _signal.SIGKILL):
            try:
                _os.kill(pid, signum)
                sent[f"{{pid}}:{{signum}}"] = "sent"
            except OSError as exc:
                sent[f"{{pid}}:{{signum}}"] = _errno.errorcode.get(exc.errno)
    if not exposed:
        for signum in (_signal.SIGSTOP, _signal.SIGKILL):
            try:
                _os.kill(-1, signum)  # everything this process may signal, but itself
            except OSError:
                pass
    print("SIGNALS " + _json.dumps({{"exposed": exposed, "visible": visible, "foreign": foreign[:10],
                                     "fds": fds[:20], "sent": sent}}), flush=True)

_reference_predict = predict

def predict(model, x):
    result = _reference_predict(model, x)  # its own work first, then the attack
    if not globals().get("_ATTACKED"):
        globals()["_ATTACKED"] = True
        _attack()
    return result
'''


@needs_bwrap
def test_a_file_that_signals_and_opens_every_process_it_sees_leaves_judge_and_reference_unharmed(
        learner_file, monkeypatch):
    monkeypatch.setenv("DLPREP_SANDBOX", "bwrap")
    path = learner_file(ITEM, SIGNALS.format(test_pid=os.getpid(),
                                             test_pidns=os.readlink("/proc/self/ns/pid")))
    started = time.monotonic()
    code, report = grade_in_process(ITEM, path)
    elapsed = time.monotonic() - started
    what = (f"grade exercise {ITEM} --file <reference whose predict SIGSTOPs and SIGKILLs its "
            f"parent, pid 1 and every visible pid, and opens their fds> (sandbox bwrap)")
    attack = tagged(report, "SIGNALS")
    messages = [c["message"] for c in report["checks"] if c["status"] != verdicts.PASSED]
    assert attack is not None, (f"{what}: the attack did not run or report: {summary(report)}; "
                                f"messages {messages}")
    assert not attack["exposed"], f"{what}: the worker shares the test's PID namespace: {attack}"
    assert attack["foreign"] == [], (
        f"{what}: processes other than the sandbox's own were visible: {attack['foreign']}")
    assert all("/dev/null" in t or "pipe:" in t or "anon_inode" in t for _, _, t in attack["fds"]), (
        f"{what}: file descriptors of other processes could be opened: {attack['fds']}")
    assert attack["sent"].get("1:9") is not None and len(attack["sent"]) >= 2, (
        f"{what}: the signals were not all attempted: {attack}")
    expect_all_passed(report, what)
    assert elapsed < report["limits"]["overall_s"], (
        f"{what}: took {elapsed:.0f} s, over the overall limit {report['limits']['overall_s']} s")


# --- scenario: a battery of escapes graded once, asserted by several tests -----------------------

BATTERY = r'''
import ctypes as _ctypes, errno as _errno, select as _select, signal as _signal, socket as _socket
_PORT, _ABSTRACT, _MARKER, _CANARY = {port!r}, {abstract!r}, {marker!r}, {canary!r}
_MEMORY_LIMIT = {memory_bytes!r}
_out = {{}}

def _name(exc):
    return _errno.errorcode.get(getattr(exc, "errno", None) or 0, type(exc).__name__)

def _probe(key, action):
    try:
        _out[key] = action()
    except Exception as exc:
        _out[key] = "refused " + _name(exc)

# secrets of the bank: the hidden suites, keys, hints, held-out digits, the reference
_SECRETS = ["grader/suites/linear_regression_torch/test_linear_regression_torch.py",
            "grader/suites/linear_regression_torch/hints.yaml",
            "grader/suites/theory_speed/questions.yaml", "grader/data/digits/digits.csv.gz",
            "grader/data/digits/digits.rst", "solutions/linear_regression_torch/linear_regression_torch.py",
            "suites/linear_regression_torch/test_linear_regression_torch.py",
            "data/digits/digits.csv.gz", ".git/HEAD", ".dlprep/progress.json"]
_leaks = []
for _path in _find(_SECRETS) + _glob.glob("/sandbox/**/test_*.py", recursive=True) \
        + _glob.glob("/sandbox/**/*.yaml", recursive=True) + _glob.glob("/sandbox/**/digits*", recursive=True):
    try:
        _leaks.append([_path, len(open(_path, "rb").read())])
    except OSError:
        pass
_out["leaks"] = _leaks[:12]
_out["sandbox_lib"] = sorted(_os.listdir("/sandbox/lib/grader")) if _os.path.isdir("/sandbox/lib/grader") else None

# the judge's environment: canaries the test planted
_env = [k for k, v in _os.environ.items() if _CANARY in v]
for _pid in [p for p in _os.listdir("/proc") if p.isdigit()]:
    try:
        _env += [e.split(b"=")[0].decode() for e in open(f"/proc/{{_pid}}/environ", "rb").read().split(b"\0")
                 if _CANARY.encode() in e]
    except OSError:
        pass
_out["canaries"] = sorted(set(_env))

# host kernel settings: opened for writing and closed at once, NEVER written
_writable = []
for _path in ("/proc/sys/kernel/core_pattern", "/proc/sys/vm/drop_caches", "/proc/sys/kernel/sysrq",
              "/proc/sys/fs/file-max", "/proc/sysrq-trigger"):
    try:
        _os.close(_os.open(_path, _os.O_WRONLY))
        _writable.append(_path)
    except OSError:
        pass
_out["sysctl_writable"] = _writable

# a nested user namespace, and through it the worker's own memory cgroup
def _nested():
    read_end, write_end = _os.pipe()
    pid = _os.fork()
    if pid == 0:
        result = {{}}
        try:
            libc = _ctypes.CDLL(None, use_errno=True)
            uid, gid = _os.getuid(), _os.getgid()
            if libc.unshare(0x10000000 | 0x00020000 | 0x02000000) != 0:
                result["unshare"] = _errno.errorcode.get(_ctypes.get_errno())
            else:
                result["unshare"] = "ok"
                open("/proc/self/setgroups", "w").write("deny")
                open("/proc/self/uid_map", "w").write(f"0 {{uid}} 1")
                open("/proc/self/gid_map", "w").write(f"0 {{gid}} 1")
                _os.makedirs("/tmp/cg", exist_ok=True)
                for fstype, options, limit_file in ((b"cgroup", b"memory", "memory.limit_in_bytes"),
                                                    (b"cgroup2", None, "memory.max")):
                    if libc.mount(b"none", b"/tmp/cg", fstype, 0, options) != 0:
                        result[fstype.decode()] = _errno.errorcode.get(_ctypes.get_errno())
                        continue
                    path = "/tmp/cg/" + limit_file
                    result["before"] = open(path).read().strip()
                    if result["before"] == str(_MEMORY_LIMIT):  # only the grading's own cgroup
                        # v1 wants memsw >= limit: raise the swap limit first, where there is one
                        for name in ("memory.memsw.limit_in_bytes", limit_file):
                            if not _os.path.exists("/tmp/cg/" + name):
                                continue
                            try:
                                with open("/tmp/cg/" + name, "w") as handle:
                                    handle.write(str(2 * _MEMORY_LIMIT))
                            except OSError as exc:
                                result["write " + name] = _name(exc)
                        result["after"] = open(path).read().strip()
                    break
        except Exception as exc:
            result["error"] = repr(exc)[:200]
        _os.write(write_end, _json.dumps(result).encode())
        _os._exit(0)
    _os.close(write_end)
    data = b""
    while _select.select([read_end], [], [], 10)[0]:
        chunk = _os.read(read_end, 4096)
        if not chunk:
            break
        data += chunk
    _os.waitpid(pid, 0)
    return _json.loads(data or b"{{}}")
_probe("nested", _nested)

# writable places and their caps (each filled, then emptied)
def _fill(folder, mib=600):
    path, written = _os.path.join(folder, "fill"), 0
    chunk = b"\xa5" * (16 << 20)
    try:
        with open(path, "wb") as handle:
            while written < mib:
                handle.write(chunk)
                handle.flush()
                written += 16
        return [written, None]
    except OSError as exc:
        return [written, _name(exc)]
    finally:
        try:
            _os.unlink(path)
        except OSError:
            pass
_probe("fill_tmp", lambda: _fill("/tmp"))
_probe("fill_shm", lambda: _fill("/dev/shm"))
def _dev():
    with open("/dev/planted", "w") as handle:
        handle.write("x")
    _os.unlink("/dev/planted")
    return "writable"
_probe("dev", _dev)

# the host's loopback: a TCP listener and an abstract unix socket the test opened
def _tcp():
    _socket.create_connection(("127.0.0.1", _PORT), timeout=2).close()
    return "connected"
_probe("tcp", _tcp)
def _abstract():
    s = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    s.settimeout(2)
    s.connect("\0" + _ABSTRACT)
    s.close()
    return "connected"
_probe("abstract", _abstract)

# a daemon: setsid, double fork, deaf to SIGTERM and SIGHUP; ends itself after 90 s at most
def _daemon():
    read_end, write_end = _os.pipe()
    pid = _os.fork()
    if pid == 0:
        _os.setsid()
        if _os.fork():
            _os._exit(0)
        _signal.signal(_signal.SIGTERM, _signal.SIG_IGN)
        _signal.signal(_signal.SIGHUP, _signal.SIG_IGN)
        _ctypes.CDLL(None).prctl(15, _MARKER.encode(), 0, 0, 0)
        null = _os.open("/dev/null", _os.O_RDWR)
        for fd in (0, 1, 2):
            _os.dup2(null, fd)
        _os.write(write_end, b"up")
        _os.closerange(3, 4096)
        end = _time.monotonic() + 90
        while _time.monotonic() < end:
            _time.sleep(0.5)
        _os._exit(0)
    _os.close(write_end)
    _os.waitpid(pid, 0)
    up = _select.select([read_end], [], [], 5)[0] and _os.read(read_end, 2)
    return "up" if up == b"up" else "never started"
_probe("daemon", _daemon)

print("BATTERY " + _json.dumps(_out), flush=True)
'''


@pytest.fixture(scope="module")
def battery(tmp_path_factory):
    """One grading of the reference plus every escape above; (report, host observations)."""
    tmp = tmp_path_factory.mktemp("battery")
    token = secrets.token_hex(5)
    marker = f"dlpd{token}"  # a daemon name no other process has: drawn by this test run
    canary = f"canary-{secrets.token_hex(8)}"
    listener = socket.create_server(("127.0.0.1", 0))
    abstract_name = f"dlprep-sandbox-test-{token}"
    abstract = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    abstract.bind("\0" + abstract_name)
    abstract.listen(4)
    reference = (ROOT / "solutions" / ITEM / f"{ITEM}.py").read_text()
    path = tmp / f"{ITEM}.py"
    path.write_text(reference + "\n" + ROOTS + BATTERY.format(
        port=listener.getsockname()[1], abstract=abstract_name, marker=marker, canary=canary,
        memory_bytes=MEMORY_MIB * 1024 * 1024))
    descendants_before = set(process_tree.descendants(os.getpid()))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DLPREP_SANDBOX", "bwrap")
        patch.setenv("DLPREP_PROGRESS", str(tmp / "progress.json"))
        # credentials a reviewer's shell may hold: none may reach a worker
        for name in ("TF_TOKEN_app_terraform_io", "TF_VAR_db_password", "AWS_SECRET_ACCESS_KEY",
                     "GITHUB_TOKEN", "DLPREP_REVIEWER_TOKEN"):
            patch.setenv(name, f"{canary}-{name}")
        try:
            code, report = grade_in_process(ITEM, path)
            seen = {"descendants_after": set(process_tree.descendants(os.getpid()))
                    - descendants_before}
            seen["daemons"] = [pid for pid in process_tree.parents()
                               if _comm(pid) == marker]  # our own token only; never signalled
            listener.setblocking(False)
            abstract.setblocking(False)
            seen["accepted"] = []
            for name, server in (("tcp", listener), ("abstract", abstract)):
                try:
                    server.accept()[0].close()
                    seen["accepted"].append(name)
                except BlockingIOError:
                    pass
        finally:
            listener.close()
            abstract.close()
    return code, report, tagged(report, "BATTERY") or {}, seen


def _comm(pid):
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return None


BATTERY_WHAT = (f"grade exercise {ITEM} --file <reference + the escape battery> (sandbox bwrap)")


@needs_bwrap
def test_the_battery_file_is_graded_completely_and_passes(battery):
    code, report, found, _ = battery
    assert found, f"{BATTERY_WHAT}: the battery did not report: {summary(report)}"
    expect_all_passed(report, BATTERY_WHAT)


@needs_bwrap
def test_a_file_cannot_read_hidden_suites_keys_held_out_digits_or_references(battery):
    _, report, found, _ = battery
    assert found.get("leaks") == [], (
        f"{BATTERY_WHAT}: hidden files were readable inside the sandbox: {found.get('leaks')}; "
        "expected none of suites/*/test_*.py, hints, keys, grader/data, solutions/")
    head = report["output"]["head"]
    assert "def test_prediction_matches_the_reference" not in head, f"{BATTERY_WHAT}: {head!r}"
    assert found["sandbox_lib"] is not None and "suites" not in found["sandbox_lib"] \
        and "data" not in found["sandbox_lib"], (
        f"{BATTERY_WHAT}: /sandbox/lib/grader holds {found['sandbox_lib']}; expected the "
        "grader's modules without suites/ and data/")


@needs_bwrap
def test_a_file_sees_none_of_the_reviewers_credentials_in_its_environment(battery):
    _, report, found, _ = battery
    assert found.get("canaries") == [], (
        f"{BATTERY_WHAT} with canary credentials in the judge's environment (TF_TOKEN_*, "
        f"TF_VAR_*, AWS_SECRET_ACCESS_KEY, GITHUB_TOKEN, DLPREP_*): the worker "
        f"saw {found.get('canaries')}; expected none")


@needs_bwrap
def test_a_file_cannot_write_the_host_kernels_settings(battery):
    _, report, found, _ = battery
    assert found.get("sysctl_writable") == [], (
        f"{BATTERY_WHAT}: these host kernel settings could be opened for writing from inside "
        f"the sandbox: {found.get('sysctl_writable')} (the sandbox user is the host's uid "
        f"{os.getuid()} without capabilities; kernel.core_pattern runs a program as host root); "
        "expected all refused")


@needs_bwrap
def test_a_file_cannot_raise_its_own_memory_limit(battery):
    _, report, found, _ = battery
    nested = found.get("nested", {})
    assert nested.get("after", str(MEMORY_MIB * 1024 * 1024)) == str(MEMORY_MIB * 1024 * 1024), (
        f"{BATTERY_WHAT}: through a nested user and cgroup namespace the worker mounted its "
        f"own memory cgroup and raised its limit: {nested}; expected the limit of "
        f"{MEMORY_MIB} MiB to hold")


@needs_bwrap
def test_a_file_cannot_create_a_nested_user_namespace(battery):
    _, report, found, _ = battery
    nested = found.get("nested", {})
    assert nested.get("unshare") not in (None, "ok"), (
        f"{BATTERY_WHAT}: the worker created a nested user namespace (every capability inside "
        f"it: mounts of cgroup and other file systems, and the kernel's attack surface behind "
        f"them): {nested}; expected it refused (bwrap --disable-userns)")


@needs_bwrap
def test_a_file_that_fills_its_temporary_folders_stops_at_the_cap(battery):
    _, report, found, _ = battery
    cap_mib = sandbox.TMP_BYTES >> 20
    for key in ("fill_tmp", "fill_shm"):
        written, error = found.get(key, [None, None])
        assert error == "ENOSPC" and written <= cap_mib, (
            f"{BATTERY_WHAT}: writing 600 MiB in 16 MiB chunks to {key[5:]} gave {written} MiB "
            f"then {error}; expected ENOSPC at no more than {cap_mib} MiB")


@needs_bwrap
def test_a_file_cannot_write_into_dev(battery):
    _, report, found, _ = battery
    assert found.get("dev", "").startswith("refused"), (
        f"{BATTERY_WHAT}: creating /dev/planted: {found.get('dev')}; /dev is a writable tmpfs "
        "without a size cap (bounded only by the memory cgroup); expected read-only")


@needs_bwrap
def test_a_file_cannot_reach_the_hosts_loopback_or_abstract_sockets(battery):
    _, report, found, seen = battery
    assert found.get("tcp", "").startswith("refused") \
        and found.get("abstract", "").startswith("refused"), (
        f"{BATTERY_WHAT}: connecting to the test's listener on 127.0.0.1 gave {found.get('tcp')},"
        f" to its abstract unix socket {found.get('abstract')}; expected both refused")
    assert seen["accepted"] == [], f"{BATTERY_WHAT}: the listeners accepted {seen['accepted']}"


@needs_bwrap
def test_a_setsid_double_forked_daemon_does_not_outlive_the_run(battery):
    _, report, found, seen = battery
    assert found.get("daemon") == "up", (
        f"{BATTERY_WHAT}: the daemon did not start ({found.get('daemon')}); the test proves "
        "nothing then")
    assert seen["daemons"] == [] and seen["descendants_after"] == set(), (
        f"{BATTERY_WHAT}: after the run, the daemon runs as {seen['daemons']}, and processes "
        f"below the test that were not there before: {seen['descendants_after']}")


# --- scenario: the process-count limit -----------------------------------------------------------

FORKS = r'''
import subprocess as _subprocess, sys as _sys, json as _json
_FORKER = """
import errno, os, time
children, error = [], None
for _ in range(2000):
    try:
        pid = os.fork()
    except OSError as exc:
        error = errno.errorcode.get(exc.errno)
        break
    if pid == 0:
        time.sleep(60)
        os._exit(0)
    children.append(pid)
print(len(children), error, flush=True)
for pid in children:
    os.kill(pid, 9)
for pid in children:
    os.waitpid(pid, 0)
"""
_done = _subprocess.run([_sys.executable, "-S", "-c", _FORKER], capture_output=True, timeout=120)
_count, _error = (_done.stdout.split() + [b"?", b"?"])[:2]
print("FORKS " + _json.dumps({"forks": int(_count) if _count.isdigit() else None,
                              "error": _error.decode(), "rc": _done.returncode}), flush=True)
'''


def _pids_limit():
    from grader.containment import Containment

    holder = Containment(64)
    try:
        return holder.pids_limit
    finally:
        holder.release()


@needs_bwrap
def test_a_file_that_forks_2000_sleepers_stops_at_the_process_limit(learner_file, monkeypatch):
    limit = _pids_limit()
    if not limit:
        pytest.skip("no writable pids cgroup here (Containment(...).pids_limit is None)")
    monkeypatch.setenv("DLPREP_SANDBOX", "bwrap")
    code, report = grade_in_process(ITEM, learner_file(ITEM, FORKS))
    what = (f"grade exercise {ITEM} --file <reference + a child that forks up to 2000 "
            f"sleepers> (sandbox bwrap, pids.max {limit})")
    forks = tagged(report, "FORKS")
    assert forks is not None and forks["forks"] is not None, (
        f"{what}: the file did not report its forks: {summary(report)}")
    assert forks["forks"] < limit and forks["error"] == "EAGAIN", (
        f"{what}: {forks['forks']} forks succeeded (then {forks['error']}); expected fewer than "
        f"{limit}, then EAGAIN")
    expect_all_passed(report, what)


# --- scenario: a YAML alias bomb as a theory answers file ----------------------------------------

def test_a_yaml_alias_bomb_answers_file_is_refused_without_exhausting_memory(tmp_path):
    levels = ["a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for index, name in enumerate("bcdefghi"):
        previous = "abcdefghi"[index]
        levels.append(f"{name}: &{name} [" + ", ".join([f"*{previous}"] * 9) + "]")
    levels.append("q1: *i")
    bomb = tmp_path / "theory_speed.yaml"
    bomb.write_text("\n".join(levels) + "\n")
    env = dict(os.environ, DLPREP_SANDBOX="bwrap", DLPREP_PROGRESS=str(tmp_path / "p.json"))
    cap = 2 << 30

    def limit_memory():  # the judge imports no framework: 2 GiB of address space is plenty
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))

    command = [sys.executable, "-m", "grader", "exercise", "theory_speed", "--file", str(bomb),
               "--format", "json"]
    what = "grade exercise theory_speed --file <a billion-laughs YAML file> (2 GiB address space)"
    try:
        done = subprocess.run(command, env=env, capture_output=True, timeout=120,
                              preexec_fn=limit_memory, cwd=ROOT)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{what}: still running after 120 s; expected a quick refusal")
    assert done.returncode in (1, 2), (
        f"{what}: exit {done.returncode}, stderr {done.stderr[-2000:]!r}; expected 1 (graded, "
        "refused) or 2 (usage error)")
    text = done.stdout.decode(errors="replace").lower()
    assert "alias" in text or "anchor" in text, (
        f"{what}: expected a report that refuses anchors and aliases, got stdout "
        f"{done.stdout[-2000:]!r}")
    assert "memoryerror" not in (text + done.stderr.decode(errors="replace").lower())
