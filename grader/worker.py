"""A worker: a fresh interpreter that imports one target file and runs probes on request.

Started by the judge as `python -s -m grader.worker REQUEST_FD REPLY_FD` (exec, never fork). It
waits for an `init` request before it imports anything, so the judge can place it in a cgroup
first. Every reply is a channel frame on the reply pipe; the learner's prints go to stdout and
stderr, which the judge captures separately.

Replies:
  {"op": "ready", "device": ..., "device_name": ..., "versions": {...}}
  {"op": "load_failed", "verdict": ..., "message": ...}   the target file did not import
  {"op": "no_device", "message": ...}                     --device cuda without a GPU
  {"op": "result", "value": ...}
  {"op": "fault", "verdict": ..., "message": ...}          the target's code failed
  {"op": "internal", "message": ...}                       the probe itself failed

A learner's worker with a compilation cache gets it as a read-only seed (`compile_seed`): the
trusted start-up copies it into the sandbox's /tmp before the learner's file is imported, and
`{"op": "export_compiled"}` answers {"op": "result", "value": {"names": [...], "blobs":
[uint8 arrays]}} with that folder's files, which the judge checks before it writes any of them
back (grader/workers.py: `WorkerProcess.export_compiled`).
"""

import importlib.util
import os
import stat
import sys
import tempfile
import traceback

from grader import channel
from grader.sandbox import LEARNER_COMPILE_BYTES, LEARNER_COMPILE_FILES, compiled_name_ok
from grader.probekit import Reject

PROBE_MODULE = "dlprep_probes"
MESSAGE_LINES = 8  # of an exception's own text; the learner's frames follow
EDGE_FRAMES = 3  # learner frames kept at each end of a deep traceback
COMPILE_CACHE_BYTES = 256 * 1024 * 1024  # JAX evicts its least recently used programs past it


def main():
    die_with_parent()
    request_fd, reply_fd = int(sys.argv[1]), int(sys.argv[2])
    requests = os.fdopen(request_fd, "rb", buffering=0)
    replies = os.fdopen(reply_fd, "wb", buffering=0)
    init = channel.read_frame(requests)
    if init is None:
        return
    hide_bank_from_imports()
    worker = Worker(init)
    channel.write_frame(replies, worker.start())
    if not worker.ready:
        return
    while True:
        request = channel.read_frame(requests)
        if request is None or request.get("op") == "exit":
            return
        if request.get("op") == "export_compiled":
            reply = worker.export_compiled()
        else:
            reply = worker.run_probe(request["probe"], request["inputs"])
        reply["seq"] = request["seq"]
        sys.stdout.flush()
        sys.stderr.flush()
        try:
            frame = channel.encode(reply)
        except channel.Unsendable as exc:
            frame = channel.encode({"op": "fault", "verdict": "failed", "seq": request["seq"],
                                    "message": "your code returned a value that is not an "
                                    f"array, a number or a dict or list of them ({exc})"})
        replies.write(frame)


class Worker:
    def __init__(self, init):
        self.target_path = os.path.realpath(init["target"])
        self.display = init["display"]
        self.module_name = init["module"]
        self.probes_path = init["probes"]
        self.framework = init["framework"]
        self.requested_device = init["device"]
        self.compile_cache = init.get("compile_cache")
        self.compile_seed = init.get("compile_seed")  # a learner's, read-only: copied to /tmp
        self.device = None
        self.probes = None
        self.target = None
        self.ready = False

    # --- start-up ----------------------------------------------------------------------------

    def start(self):
        try:
            # The framework is imported (and its compilation cache set) before the probes and
            # the target: the target's load time is then its own. A learner's seed is copied
            # now, before any of the learner's code runs.
            if self.compile_seed:
                self.compile_cache = seed_compile_cache(self.compile_seed)
            import_framework(self.framework, self.compile_cache,
                             LEARNER_COMPILE_BYTES if self.compile_seed else COMPILE_CACHE_BYTES,
                             optimizers=mentions_optimizers(self.target_path))
            self.probes = _import_file(PROBE_MODULE, self.probes_path)
            self.device, device_name = resolve_device(self.framework, self.requested_device)
        except NoDevice as exc:
            return {"op": "no_device", "message": str(exc)}
        except BaseException:  # the hidden suite is ours: any failure here is internal
            return {"op": "internal", "message": traceback.format_exc(limit=-3)}
        failure = self._load_target()
        if failure:
            return failure
        self.ready = True
        return {
            "op": "ready",
            "device": self.device,
            "device_name": device_name,
            "versions": framework_versions(),
        }

    def _load_target(self):
        try:
            with open(self.target_path, "rb") as handle:
                source = handle.read()
            code = compile(source, self.target_path, "exec")
        except SyntaxError as exc:
            return {"op": "load_failed", "verdict": "error", "message": self._syntax(exc)}
        except OSError as exc:
            return {"op": "load_failed", "verdict": "error",
                    "message": f"could not read {self.display}: {exc.strerror}"}
        sys.path.insert(0, os.path.dirname(self.target_path))
        module = type(sys)(self.module_name)
        module.__file__ = self.target_path
        sys.modules[self.module_name] = module
        try:
            exec(code, module.__dict__)
        except BaseException as exc:  # learner code: anything can come out of it
            return {"op": "load_failed", "verdict": "error",
                    "message": "importing your file failed: " + self._describe(exc)}
        self.target = module
        return None

    def _syntax(self, exc):
        where = f"line {exc.lineno}" if exc.lineno else "an unknown line"
        text = f"\n    {exc.text.rstrip()}" if exc.text and exc.text.strip() else ""
        return f"{type(exc).__name__} in {self.display}, {where}: {exc.msg}{text}"

    def export_compiled(self):
        """The learner's compiled programs for the judge to write back (it checks them all)."""
        names, blobs = [], []
        if self.compile_seed and self.compile_cache:
            names, blobs = compiled_files(self.compile_cache)
        return {"op": "result", "value": {"names": names, "blobs": blobs}}

    # --- probes --------------------------------------------------------------------------------

    def run_probe(self, name, inputs):
        probe = getattr(self.probes, name, None)
        if not callable(probe) or name.startswith("_"):
            return {"op": "internal", "message": f"the suite has no probe named {name!r}"}
        try:
            value = to_plain(probe(self.target, self.device, **inputs))
        except Reject as exc:
            return {"op": "fault", "verdict": "failed", "message": str(exc)}
        except BaseException as exc:  # learner code, or a probe tripping over its result
            return self._classify(exc)
        return {"op": "result", "value": value}

    def _classify(self, exc):
        frames = self._learner_frames(exc)
        if isinstance(exc, AttributeError) and exc.obj is self.target and not frames:
            return {"op": "fault", "verdict": "error",
                    "message": f"your file does not define `{exc.name}`"}
        if not frames:
            if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                return {"op": "fault", "verdict": "error", "message": self._describe(exc)}
            detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
            import re

            # Python refused the call's arguments ("build_model() missing 2 required positional
            # arguments"): the call failed, not its result; the signature is not the task's
            called = re.match(r"([A-Za-z_][\w.]*)\(\) (?:missing|takes|got)", str(exc))
            name = called.group(1).removesuffix(".__init__") if called else ""
            if isinstance(exc, TypeError) and callable(getattr(self.target, name.split(".")[0],
                                                               None)):
                return {"op": "fault", "verdict": "error",
                        "message": f"calling `{name}(...)` failed: {detail}"}
            return {"op": "fault", "verdict": "error",
                    "message": f"your code's result could not be used: {detail}"}
        if isinstance(exc, NotImplementedError):
            return {"op": "fault", "verdict": "not_implemented",
                    "message": f"`{frames[-1].name}` raised NotImplementedError"}
        return {"op": "fault", "verdict": "error", "message": self._describe(exc)}

    def _learner_frames(self, exc):
        frames = traceback.extract_tb(exc.__traceback__)
        return [frame for frame in frames if frame.filename == self.target_path]

    def _describe(self, exc):
        """The exception with the learner's own frames only, paths shown as the judge gave them."""
        if isinstance(exc, SystemExit):
            headline = f"called sys.exit({exc.code!r})"
        elif isinstance(exc, KeyboardInterrupt):
            headline = "raised KeyboardInterrupt"
        else:
            headline = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        lines = [line for line in headline.splitlines()
                 if "JAX_TRACEBACK_FILTERING" not in line and line.strip("-")]
        if len(lines) > MESSAGE_LINES:
            lines = lines[:MESSAGE_LINES] + [f"... ({len(lines) - MESSAGE_LINES} more lines)"]
        frames = self._learner_frames(exc)
        if len(frames) > 2 * EDGE_FRAMES:  # deep recursion: the first and last few tell it
            hidden = len(frames) - 2 * EDGE_FRAMES
            frames = frames[:EDGE_FRAMES] + [hidden] + frames[-EDGE_FRAMES:]
        for frame in frames:
            if isinstance(frame, int):
                lines.append(f"  ... {frame} more frames of your code ...")
                continue
            lines.append(f'  {self.display}, line {frame.lineno}, in {frame.name}')
            if frame.line:
                lines.append(f"    {frame.line}")
        return "\n".join(lines)


# --- helpers ---------------------------------------------------------------------------------


class NoDevice(Exception):
    pass


def die_with_parent():
    """Ask Linux to kill this worker when the judge dies, even by SIGKILL."""
    import ctypes
    import signal

    parent = os.getppid()
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL), 0, 0, 0)  # PDEATHSIG
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:  # the judge died before the request took effect
        os._exit(1)


def hide_bank_from_imports():
    """Drop the bank's root from sys.path once `grader` is imported.

    The root is on PYTHONPATH only so that `grader` can be imported; left there, it would let a
    learner file `import solutions...` (a namespace package) and hand in the reference's work.
    """
    bank_root = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))
    sys.path[:] = [entry for entry in sys.path
                   if os.path.realpath(entry or os.getcwd()) != bank_root]


def _import_file(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def import_framework(framework, compile_cache=None, cache_bytes=COMPILE_CACHE_BYTES,
                     optimizers=False):
    """Import the item's framework; for JAX with a cache folder, keep every compiled program
    there (however small or quick to compile, JAX evicting past `cache_bytes`) and read it back
    in later runs. For PyTorch with `optimizers`, also what a first torch.optim optimizer imports
    (torch._dynamo: about 2 s on a CPU), so that its import counts in the load time and not in
    a timed call; a file that never builds one does not pay for it."""
    if framework == "torch":
        import torch  # noqa: F401

        if optimizers:
            import torch._dynamo  # noqa: F401
        return
    import jax

    if compile_cache:
        jax.config.update("jax_compilation_cache_dir", compile_cache)
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
        jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
        jax.config.update("jax_compilation_cache_max_size", cache_bytes)
        # By default XLA's own caches go in a folder inside the cache folder, and that path is
        # part of every program's key: a learner's cache, copied into a fresh folder each run,
        # then never hit (every program compiled again and stored under a new key)
        try:
            jax.config.update("jax_persistent_cache_enable_xla_caches", "none")
        except (AttributeError, ValueError):  # a JAX without the option keeps no such folder
            pass


def mentions_optimizers(path):
    """Whether the file's text names torch.optim (`torch.optim.SGD`, `from torch import optim`):
    a cheap guess, read before any of its code runs. A file that builds an optimizer without
    the word pays the import in its first call instead, inside the call's limit."""
    try:
        with open(path, "rb") as handle:
            return b"optim" in handle.read()
    except OSError:  # the load that follows says why
        return False


def seed_compile_cache(seed):
    """A fresh folder under the sandbox's /tmp holding a copy of the learner's read-only
    compilation cache `seed`: its plain files only (no links, no odd names), in name order
    until LEARNER_COMPILE_BYTES. The copy counts in the sandbox's tmpfs cap and memory limit,
    and what the learner writes to it reaches the user's disk only through the judge's checked
    export. A seed that cannot be read gives an empty folder: the worker compiles again."""
    folder = tempfile.mkdtemp(prefix="compiled-")
    try:
        for name, data in zip(*compiled_files(seed)):
            with open(os.path.join(folder, name), "xb") as handle:
                handle.write(data)
    except OSError:  # a full /tmp: what was copied is kept, the rest compiles again
        pass
    return folder


def compiled_files(folder):
    """(names, uint8 arrays) of the plain, non-empty files of `folder` with plain names, in
    name order, at most LEARNER_COMPILE_FILES files and LEARNER_COMPILE_BYTES in all (a file
    past what is left of the cap is left out)."""
    import numpy as np

    try:
        candidates = sorted(name for name in os.listdir(folder) if compiled_name_ok(name))
    except OSError:
        return [], []
    names, blobs, left = [], [], LEARNER_COMPILE_BYTES
    for name in candidates[:LEARNER_COMPILE_FILES]:
        data = read_plain_file(os.path.join(folder, name), left)
        if data:
            names.append(name)
            blobs.append(np.frombuffer(data, dtype=np.uint8))
            left -= len(data)
    return names, blobs


def read_plain_file(path, limit):
    """The bytes of the regular file at `path` (never through a link, never a FIFO), or None
    where it is not one, cannot be read or holds more than `limit` bytes."""
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        info = os.fstat(descriptor)
        if not stat.S_ISREG(info.st_mode) or info.st_size > limit:
            return None
        chunks, size = [], 0
        while size <= limit:
            chunk = os.read(descriptor, min(limit + 1 - size, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError:
        return None
    finally:
        os.close(descriptor)
    return b"".join(chunks) if size <= limit else None


def resolve_device(framework, requested):
    """("cpu" | "cuda", a human name) for the framework this item uses."""
    if framework == "torch":
        import torch

        has_gpu = torch.cuda.is_available()
        gpu_name = torch.cuda.get_device_name(0) if has_gpu else None
    else:
        import jax

        gpus = [device for device in jax.devices() if device.platform == "gpu"]
        has_gpu = bool(gpus)
        gpu_name = gpus[0].device_kind if gpus else None
    if requested == "cuda" and not has_gpu:
        raise NoDevice(f"--device cuda was asked for, but {framework} sees no CUDA device")
    if requested in ("cuda", "auto") and has_gpu:
        return "cuda", gpu_name
    import platform

    return "cpu", f"CPU ({platform.machine()}, {os.cpu_count()} cores)"


def framework_versions():
    from importlib import metadata

    versions = {"python": sys.version.split()[0]}
    for package in ("torch", "jax", "jaxlib", "optax", "numpy"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            pass
    return versions


def to_plain(value, depth=0):
    """Framework arrays to numpy, tuples to lists; everything else as it is (encode checks it)."""
    import numpy as np

    if depth > channel.MAX_DEPTH:
        return value
    module = type(value).__module__ or ""
    if module.startswith("torch") and hasattr(value, "detach"):
        return value.detach().cpu().numpy()
    if module.startswith(("jax", "jaxlib")) and hasattr(value, "block_until_ready"):
        return np.asarray(value)
    if isinstance(value, dict):
        return {key: to_plain(item, depth + 1) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_plain(item, depth + 1) for item in value]
    return value


if __name__ == "__main__":
    main()
