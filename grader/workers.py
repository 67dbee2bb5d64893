"""The judge's side of a worker: start it, send requests under a deadline, read its output.

Nothing a worker sends is trusted: replies are read under a deadline with a size cap and
rebuilt by `grader.channel`; stdout and stderr are drained by threads that keep a short head
and count the rest, and a worker that prints past the cap is killed. A learner's compiled
programs reach its compilation cache on disk only through `export_compiled`, checked file by
file.
"""

import dataclasses
import glob
import os
import select
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from grader import channel, sandbox, verdicts
from grader.containment import Containment

POLL_S = 0.05
NO_SANDBOX = sandbox.Choice("none", reason="not asked for")
WORKDIR_PREFIX = "dlprep-"  # then the judge's pid, so stale ones can be found
EXPORT_LIMIT_S = 10  # for a learner's worker to send its compiled programs back
# A judge killed between an export's renames leaves a .new-/.old- folder beside the cache; an
# export takes seconds, so one this old is a leftover and the next export removes it
STALE_EXPORT_S = 3600
# One torch intra-op thread per worker, and OpenMP threads that sleep while they wait. A grading
# runs the learner's and the reference's workers at once, and a batch several gradings: with a
# thread per core in each, spinning OpenMP threads took the cores from each other, and 500 tiny
# SGD steps that take 0.2 s alone took 1.5-4.3 s with two or three such processes on 2 cores
# (0.15-0.4 s with one thread). Both sides run alike, so the time limits stay fair. JAX's own
# thread pool is not OpenMP's and did not slow down that way.
GRADING_THREADS = 1


@dataclasses.dataclass
class WorkerSpec:
    role: str  # "learner" or "reference"
    target: Path  # the file the worker imports
    display: str  # how messages name that file
    module: str  # the module name it is imported under (the item id)
    probes: Path
    framework: str
    device: str
    memory_mb: int
    output_cap: int = 1024 * 1024  # bytes of stdout + stderr before the worker is killed
    frame_cap: int = channel.DEFAULT_CAP
    cpu_devices: int = None  # host devices XLA creates (the item's cpu_devices)
    sandbox: object = NO_SANDBOX  # a grader.sandbox.Choice
    compile_cache: Path = None  # this worker's own JAX compilation cache (grader/cache.py)


class WorkerGone(Exception):
    """The worker can no longer answer: timeout, crash, memory, output limit or bad message."""

    def __init__(self, verdict, message):
        super().__init__(message)
        self.verdict = verdict
        self.message = message


class OutputLog:
    """The head of what workers printed (all workers of one side), and how much there was."""

    def __init__(self, keep=8 * 1024):
        self.keep = keep
        self.head = bytearray()
        self.total = 0
        self.lock = threading.Lock()

    def add(self, chunk):
        with self.lock:
            room = self.keep - len(self.head)
            if room > 0:
                self.head += chunk[:room]
            self.total += len(chunk)

    def text(self):
        return bytes(self.head).decode("utf-8", "replace")


class WorkerProcess:
    def __init__(self, spec, log):
        self.spec = spec
        self.log = log
        self.printed = 0
        self.over_output_cap = False
        self.containment = Containment(spec.memory_mb)
        self.workdir = tempfile.mkdtemp(prefix=f"{WORKDIR_PREFIX}{os.getpid()}-{spec.role}-")
        self.print_lock = threading.Lock()
        self.drains = []
        self.process = None
        self.started_at = None
        self.sequence = 0
        self.ready = False  # it answered `ready`: requests may follow

    # --- life cycle ----------------------------------------------------------------------------

    def start(self):
        """Exec a fresh interpreter and send it `init`; does not wait for it to be ready.

        In a sandbox the worker starts behind a shell that waits for one line on its stdin:
        the judge first moves that shell into the worker's cgroup, so bwrap and everything it
        starts are born inside the limits.
        """
        request_read, self.request_fd = os.pipe()
        self.reply_fd, reply_write = os.pipe()
        package_root = str(Path(__file__).resolve().parent.parent)
        spec, choice = self.spec, self.spec.sandbox
        env = choice.environment(worker_environment(spec.device, package_root, spec.cpu_devices,
                                                    threads=GRADING_THREADS))
        target, probes = str(spec.target), str(spec.probes)
        compile_cache, compile_seed = self._compile_cache(), None
        argv = [sys.executable] + sandbox.interpreter_flags() + [
            "-m", "grader.worker", str(request_read), str(reply_write)]
        if choice.kind != "none":
            learner = spec.role == "learner"  # its cache is a read-only seed, copied in
            view = sandbox.View(target=self._private_copy(spec.target) if learner
                                else spec.target, probes_dir=spec.probes.parent,
                                compile_cache=None if learner else compile_cache,
                                compile_seed=compile_cache if learner else None)
            target, probes = view.target_inside(), view.probes_inside(spec.probes.name)
            compile_cache, compile_seed = view.compile_cache_inside(), view.compile_seed_inside()
            argv = ["/bin/sh", "-c", 'read -r _ || exit 1; exec "$@" </dev/null', "sh"] + \
                choice.command(argv, view, spec.device)
        self.started_at = time.perf_counter()
        self.process = subprocess.Popen(
            argv, pass_fds=(request_read, reply_write),
            stdin=subprocess.DEVNULL if choice.kind == "none" else subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=self.workdir, env=env,
            start_new_session=True,
        )
        os.close(request_read)
        os.close(reply_write)
        os.set_blocking(self.request_fd, False)
        self.containment.adopt(self.process.pid)
        if self.process.stdin is not None:  # the shim is in the cgroup now: let it start bwrap
            try:
                self.process.stdin.write(b"go\n")
                self.process.stdin.close()
            except OSError:
                pass
        for stream in (self.process.stdout, self.process.stderr):
            drain = threading.Thread(target=self._drain, args=(stream,), daemon=True)
            drain.start()
            self.drains.append(drain)
        self._send({
            "op": "init", "target": target, "display": spec.display,
            "module": spec.module, "probes": probes,
            "framework": spec.framework, "device": spec.device,
            "compile_cache": compile_cache and str(compile_cache),
            "compile_seed": compile_seed,
        }, deadline=time.perf_counter() + 10)

    def _compile_cache(self):
        """The worker's own compilation cache folder (made, mode 0700), or None: none asked for,
        a learner's worker without a sandbox (its code would write to the user's disk
        unchecked), or it cannot be made (the worker then compiles everything)."""
        folder = self.spec.compile_cache
        if folder is None or self.spec.framework != "jax":
            return None
        if self.spec.role == "learner" and self.spec.sandbox.kind == "none":
            return None
        try:
            Path(folder).mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError:
            return None
        return Path(folder)

    def _private_copy(self, path):
        """The learner's file as the judge read it, in the judge's own folder (mode 0700): the
        worker imports exactly these bytes, whatever happens to the original later."""
        copy = Path(self.workdir) / "target" / Path(path).name
        copy.parent.mkdir(mode=0o700)
        shutil.copyfile(path, copy)
        return copy

    def await_ready(self, limit_s):
        """The worker's first reply (ready, load_failed, no_device or internal) and its time."""
        reply = self._receive(time.perf_counter() + limit_s, limit_s, "starting")
        self.ready = reply.get("op") == "ready"
        return reply, time.perf_counter() - self.started_at

    def request(self, message, limit_s, what):
        """Send one request and wait for its reply; (reply, seconds) measured by the judge.

        Every request carries a sequence number that the reply must echo, and the reply must be
        the only thing on the channel: anything else means the worker's code wrote to it.
        """
        if select.select([self.reply_fd], [], [], 0)[0]:
            if not os.read(self.reply_fd, 1):  # end of file: the worker died between requests
                raise self._gone_after_exit()
            raise self._malformed("bytes arrived on the channel between requests")
        self.sequence += 1
        start = time.perf_counter()
        deadline = start + limit_s
        self._send(dict(message, seq=self.sequence), deadline)
        reply = self._receive(deadline, limit_s, what)
        if reply.get("seq") != self.sequence:
            raise self._malformed("a reply to a request that was not made")
        return reply, time.perf_counter() - start

    def export_compiled(self):
        """Write a sandboxed learner worker's compiled programs back to its compilation cache on
        disk; True when the folder now holds them. Call it at the end of a grading, before
        `stop()`; a no-op (False) for any other worker, one without a cache, or one not alive
        and ready. It never raises, and waits at most EXPORT_LIMIT_S.

        Learner code ran in that process, so nothing of its reply is trusted: plain file names,
        1-D uint8 arrays, LEARNER_COMPILE_BYTES in all, or nothing is written; the files go to
        a fresh folder that then replaces the old one whole. A worker that does not answer in
        time, or garbles the channel, is stopped, as any request's would be.
        """
        spec = self.spec
        if (spec.role != "learner" or spec.sandbox.kind == "none" or not self.ready
                or self.process is None or self.process.poll() is not None):
            return False
        folder = self._compile_cache()
        if folder is None:
            return False
        try:
            reply, _ = self.request({"op": "export_compiled"}, EXPORT_LIMIT_S,
                                    "sending its compiled programs")
        except Exception:  # WorkerGone, or anything else: the grading's report never waits on it
            return False
        files = checked_export(reply)
        return files is not None and replace_folder(folder, files)

    def stop(self):
        """End the worker and everything it started; idempotent."""
        if self.process is None:
            return
        self.containment.kill_all()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        for drain in self.drains:  # the last prints belong to the report
            drain.join(timeout=2)
        for fd in (self.request_fd, self.reply_fd):
            try:
                os.close(fd)
            except OSError:
                pass
        self.containment.release()
        shutil.rmtree(self.workdir, ignore_errors=True)
        self.process = None

    # --- output --------------------------------------------------------------------------------

    def _drain(self, stream):
        while True:
            chunk = stream.read1(65536) if hasattr(stream, "read1") else stream.read(65536)
            if not chunk:
                return
            self.log.add(chunk)
            with self.print_lock:
                self.printed += len(chunk)
                over = self.printed > self.spec.output_cap and not self.over_output_cap
                self.over_output_cap |= over
            if over:
                self.containment.kill_all()

    # --- the channel ---------------------------------------------------------------------------

    def _send(self, message, deadline):
        data = memoryview(channel.encode(message))
        while data:
            self._check_alive(deadline, None, "reading its input")
            _, writable, _ = select.select([], [self.request_fd], [], POLL_S)
            if writable:
                try:
                    written = os.write(self.request_fd, data)
                except BrokenPipeError:
                    raise self._gone_after_exit() from None
                except BlockingIOError:
                    continue
                data = data[written:]

    def _receive(self, deadline, limit_s, what):
        buffer = bytearray()
        length = None
        while True:
            readable, _, _ = select.select([self.reply_fd], [], [], POLL_S)
            if readable:
                chunk = os.read(self.reply_fd, 1 << 20)
                if not chunk:
                    raise self._gone_after_exit()
                buffer += chunk
                if length is None and len(buffer) >= 8:
                    length = self._frame_length(bytes(buffer[:8]))
                if length is not None and len(buffer) >= 8 + length:
                    if len(buffer) > 8 + length:
                        raise self._malformed("more than one message for one request")
                    return self._decode(bytes(buffer[8:8 + length]))
                continue
            self._check_alive(deadline, limit_s, what)

    def _frame_length(self, prefix):
        try:
            return channel.frame_length(prefix, self.spec.frame_cap)
        except channel.FrameTooLarge as exc:
            self.stop()
            raise WorkerGone(verdicts.OUTPUT_LIMIT,
                             f"sent a result that is too large: {exc}") from None
        except channel.ProtocolError as exc:
            raise self._malformed(exc) from None

    def _decode(self, body):
        try:
            reply = channel.decode(body)
        except channel.ProtocolError as exc:
            raise self._malformed(exc) from None
        if not isinstance(reply, dict) or not isinstance(reply.get("op"), str):
            raise self._malformed("the reply is not a message")
        return reply

    def _malformed(self, reason):
        self.stop()
        return WorkerGone(verdicts.CRASHED, f"garbled the grader's channel ({reason}); "
                          "do not write to file descriptors you did not open")

    def _check_alive(self, deadline, limit_s, what):
        if self.over_output_cap or self.process.poll() is not None:
            raise self._gone_after_exit()
        if time.perf_counter() > deadline:
            self.stop()
            limit = f"{limit_s:.1f} s" if limit_s else "its limit"
            raise WorkerGone(verdicts.TIMEOUT, f"did not finish within {limit}")

    def _gone_after_exit(self):
        """Classify a worker that stopped answering: output limit, memory, signal or exit."""
        try:
            self.process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            pass
        code = self.process.returncode
        killed_by = sandbox.exit_signal(code, self.spec.sandbox)
        oom = killed_by == signal.SIGKILL and self.containment.oom_killed()
        self.stop()
        if self.over_output_cap:
            gone = WorkerGone(verdicts.OUTPUT_LIMIT, f"printed more than "
                              f"{self.spec.output_cap // 1024} KiB and was stopped")
        elif oom:
            gone = WorkerGone(verdicts.MEMORY, f"used more than the memory limit of "
                              f"{self.spec.memory_mb} MiB and was stopped")
        elif self.containment.pids_exhausted() and code != 0:
            gone = WorkerGone(verdicts.CRASHED, f"ended after it reached the limit of "
                              f"{self.containment.pids_limit} processes and threads")
        elif killed_by is not None:
            name = signal.Signals(killed_by).name if killed_by in signal.valid_signals() \
                else killed_by
            gone = WorkerGone(verdicts.CRASHED, f"was killed by signal {name}")
        else:
            gone = WorkerGone(verdicts.CRASHED, f"ended its process (exit status {code}) without "
                              "returning a result: os._exit(), or a crash in native code")
        return gone


def checked_export(reply):
    """{name: bytes} from a learner worker's `export_compiled` reply, or None where any part of
    it breaks a rule: names plain (`sandbox.compiled_name_ok`) and distinct, values 1-D uint8
    arrays, at most LEARNER_COMPILE_FILES files and LEARNER_COMPILE_BYTES in all."""
    import numpy as np

    value = reply.get("value") if reply.get("op") == "result" else None
    if not isinstance(value, dict) or set(value) != {"names", "blobs"}:
        return None
    names, blobs = value["names"], value["blobs"]
    if not (isinstance(names, list) and isinstance(blobs, list) and len(names) == len(blobs)
            and len(names) <= sandbox.LEARNER_COMPILE_FILES):
        return None
    files, total = {}, 0
    for name, blob in zip(names, blobs):
        if not sandbox.compiled_name_ok(name) or name in files:
            return None
        if not (isinstance(blob, np.ndarray) and blob.dtype == np.uint8 and blob.ndim == 1):
            return None
        total += blob.nbytes
        if total > sandbox.LEARNER_COMPILE_BYTES:
            return None
        files[name] = blob.tobytes()
    return files


def replace_folder(folder, files):
    """Replace `folder` by a fresh one (mode 0700) holding exactly `files` ({name: bytes}),
    written beside it first and then renamed in; True when done. Where anything fails the old
    folder stays as it was and nothing written is left behind."""
    folder = Path(folder)
    _sweep_stale_exports(folder)
    try:
        fresh = Path(tempfile.mkdtemp(prefix=f".{folder.name}.new-", dir=folder.parent))
    except OSError:
        return False
    try:
        for name, data in files.items():
            descriptor = os.open(fresh / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL
                                 | os.O_NOFOLLOW, 0o600)
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(data)
    except OSError:
        shutil.rmtree(fresh, ignore_errors=True)
        return False
    return _swap_in(fresh, folder)


def _sweep_stale_exports(folder):
    """Remove the .new-/.old- folders that a judge killed mid-export left beside `folder`, once
    they are older than any export still in progress could be (STALE_EXPORT_S)."""
    cutoff = time.time() - STALE_EXPORT_S
    for kind in ("new", "old"):
        for path in folder.parent.glob(f"{glob.escape(f'.{folder.name}.{kind}-')}*"):
            try:
                status = path.lstat()
            except OSError:
                continue
            if stat.S_ISDIR(status.st_mode) and status.st_mtime < cutoff:
                shutil.rmtree(path, ignore_errors=True)


def _swap_in(fresh, folder):
    """Rename `fresh` to `folder`: the old one is moved aside first and removed after, or put
    back where the rename fails (then `fresh` goes)."""
    aside = None
    try:
        if os.path.lexists(folder):
            aside = Path(tempfile.mkdtemp(prefix=f".{folder.name}.old-", dir=folder.parent))
            os.rename(folder, aside / "cache")
        os.rename(fresh, folder)
    except OSError:
        shutil.rmtree(fresh, ignore_errors=True)
        if aside is not None:
            try:
                if os.path.lexists(aside / "cache"):
                    os.rename(aside / "cache", folder)
                os.rmdir(aside)
            except OSError:  # another grading put its folder in meanwhile: keep theirs
                shutil.rmtree(aside, ignore_errors=True)
        return False
    if aside is not None:
        shutil.rmtree(aside, ignore_errors=True)
    return True


def worker_environment(device, package_root, cpu_devices=None, threads=None):
    """The environment of a worker: our package importable, the device chosen before import.

    `cpu_devices` (an item's catalog field) makes XLA split the host into that many devices,
    so that JAX code can shard over several devices on a machine without GPUs. `threads` sets
    the OpenMP, MKL and OpenBLAS thread counts (torch's intra-op pool and numpy's BLAS) and
    makes OpenMP's idle threads sleep instead of spinning.
    """
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("PYTHON", "DLPREP_"))}
    env["PYTHONPATH"] = package_root
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["PYTHONUNBUFFERED"] = "1"
    env["XLA_PYTHON_CLIENT_PREALLOCATE"] = "false"  # two workers may share one GPU
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if device == "cpu":
        env["CUDA_VISIBLE_DEVICES"] = ""
        env["JAX_PLATFORMS"] = "cpu"
    if cpu_devices:  # set before jax is imported; GPUs, when used, stay as they are
        name = "--xla_force_host_platform_device_count"
        kept = [part for part in env.get("XLA_FLAGS", "").split() if not part.startswith(name)]
        env["XLA_FLAGS"] = " ".join(kept + [f"{name}={cpu_devices}"])
    if threads:
        for key in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
            env[key] = str(threads)
        env["OMP_WAIT_POLICY"] = "PASSIVE"
    return env
