"""The grader's one cache: reference results reused across the judge processes of a batch.

`grade batch` grades every submission of an item in its own judge process, all with the batch's
seed, so the reference meets the same inputs in each of them. `ReferenceStore` keeps the
reference's probe results on disk, content-addressed, so that the reference computes each of
them once per batch and every later judge reads it back:

- **Keys** (`Binding.key`): the SHA-256 of the item, the probe, the canonical bytes of its inputs
  (the channel encoding with dict keys sorted), the reference file's SHA-256, the digest of the
  code that runs it in the worker (the suite's probe files, grader/probekit.py,
  grader/worker.py), the framework versions and device as the reference worker's ready message
  reports them, the grading's seed and this machine's fingerprint (name, processor, cores). A
  call whose inputs come from the
  learner's output (the CNN's held-out accuracy runs the reference on the learner's weights)
  has other input bytes: a miss, computed as always.
- **Values**: the result as channel-encoded bytes (grader/channel.py), never a pickle, decoded
  by the same untrusting code that reads a worker's reply, with the reference call's measured
  seconds and the calibration time of the judge that measured them.
- **Honest limits**: a stored time was measured in another run, maybe on a quieter machine. The
  judge times a fixed calibration workload once per run, before any worker starts
  (`measure_calibration`: single-threaded numpy and interpreter work, the median of a few
  samples) and a stored time is read back scaled by
  (this run's calibration / the calibration stored with it): a machine twice as busy now gives
  the learner twice the stored time. Where the two calibrations differ more than
  `CALIBRATION_SPAN`-fold, the entry is not used and the reference runs again.
- **Trust**: only the judge reads and writes the store (workers run sandboxed and never see
  it); an entry is written to a temporary file and renamed into place, and holds its own key
  and a SHA-256 over its content. An entry that does not parse, whose digest does not match or
  that holds another key (a foreign entry) is deleted and rebuilt, never trusted. A grading whose
  workers run unsandboxed does not use the store at all (the judge drops it): their code could
  write to it.
- **Compiled programs**: `Binding.compile_dir` is the reference worker's own JAX compilation
  cache, a folder keyed by the item, the reference's and the worker code's digests, the device
  and the installed framework versions; only a sandboxed reference worker gets it (bound
  read-write into its sandbox, never into the learner's). A learner's compilation cache is that
  learner's alone: `learner_compile_dir` (self-study, the learner's own stub only, beside the
  progress file), none for another `--file` and none in an assessment. It is bound read-only,
  copied into the sandbox's /tmp and written back by the judge at the end of the grading,
  checked and capped (grader/workers.py, `WorkerProcess.export_compiled`).
- **Eviction**: the store is capped (`DLPREP_CACHE_MAX_MB`, default 512 MiB, compiled programs
  included); past the cap the least recently used entries go (a hit refreshes an entry's time).

The store lives in `$DLPREP_CACHE/reference`, else `$XDG_CACHE_HOME/dlprep/reference`, else
`~/.cache/dlprep/reference`.
"""

import hashlib
import json
import os
import platform
import statistics
import struct
import tempfile
import time
from pathlib import Path

from grader import channel

MAGIC = b"DLPREP-REFERENCE-1\n"
SCHEMA = 4  # 3: the single-threaded calibration workload; 4: workers on one torch thread
CALIBRATION_SPAN = 4.0  # a stored time is used only within this factor of today's machine
COMPILED = "compiled"  # the reference workers' compilation caches, inside the store's folder
FRAMEWORKS = ("torch", "jax", "jaxlib", "optax", "numpy")
DEFAULT_MAX_BYTES = 512 * 1024 * 1024
_LENGTH = struct.Struct(">I")


def default_dir():
    """Where the reference store lives (see the module's docstring)."""
    if os.environ.get("DLPREP_CACHE"):
        return Path(os.environ["DLPREP_CACHE"]) / "reference"
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "dlprep" / "reference"


def max_bytes():
    try:
        return int(float(os.environ["DLPREP_CACHE_MAX_MB"]) * 1024 * 1024)
    except (KeyError, ValueError):
        return DEFAULT_MAX_BYTES


def file_sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def canonical(value):
    """`value` with every dict's keys in sorted order, so equal inputs encode to equal bytes."""
    if isinstance(value, dict):
        return {key: canonical(value[key]) for key in sorted(value)}
    if isinstance(value, (list, tuple)):
        return [canonical(item) for item in value]
    return value


def inputs_digest(inputs):
    """The SHA-256 of the inputs' canonical channel encoding (Unsendable if they have none)."""
    return hashlib.sha256(channel.encode(canonical(inputs))).hexdigest()


def measure_calibration(samples=7, repeats=3):
    """Seconds a fixed piece of work takes in this process now (the median of `samples`, each
    `repeats` rounds, per round): elementwise numpy and an interpreter loop, what a probe's call
    is made of. Its ratio between two runs says how much faster or slower this machine is now
    than when a time was stored. The work is single-threaded on purpose: a multi-threaded
    matrix product's time on a loaded machine swings tenfold from one sample to the next
    (measured with stress-ng on 2 cores), while one thread's time follows its fair share."""
    import numpy

    vector = numpy.linspace(0.0, 1.0, 4096)
    times = []
    for _ in range(samples):
        started = time.perf_counter()
        for _ in range(repeats):
            value = vector
            for _ in range(40):
                value = numpy.tanh(value * 1.01 + 0.1)
            total = 0
            for number in range(20_000):
                total += number % 7
        times.append((time.perf_counter() - started) / repeats)
    return statistics.median(times)


def machine_fingerprint():
    """This machine's name, processor model and core count: what a stored time depends on."""
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as handle:
            for line in handle:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {"host": platform.node(), "processor": model, "cores": os.cpu_count()}


def installed_versions():
    """The installed framework versions, read from the packages' metadata (nothing imported)."""
    from importlib import metadata

    versions = {}
    for package in FRAMEWORKS:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            pass
    return versions


def learner_compile_dir(state_dir, item_id):
    """A self-study learner's own compilation cache, beside the progress file: only that
    learner's workers read and write it."""
    material = json.dumps(installed_versions(), sort_keys=True).encode()
    return Path(state_dir) / COMPILED / item_id / hashlib.sha256(material).hexdigest()[:16]


def self_study_caches(bank, item_id, own_file):
    """`judge.grade()`'s cache arguments in practice mode: the user's reference store, and,
    for the learner's own stub only, that learner's compilation cache beside the progress file.
    Another file (`--file cand.py`) gets none: it could plant compiled programs that the next
    file graded for the item would load. An assessment passes neither (a batch passes its own
    store)."""
    from grader import progress

    caches = {"reference_cache": ReferenceStore()}
    if own_file:
        caches["learner_cache_dir"] = learner_compile_dir(progress.state_dir(bank), item_id)
    return caches


def code_digest(suite_dir):
    """The SHA-256 of the code that runs a probe in the reference worker."""
    grader_dir = Path(__file__).resolve().parent
    files = sorted(path for path in Path(suite_dir).glob("*.py")
                   if not path.name.startswith("test_"))
    files += [grader_dir / "probekit.py", grader_dir / "worker.py"]
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.name.encode() + b"\0" + file_sha256(path).encode() + b"\n")
    return digest.hexdigest()


class ReferenceStore:
    """The on-disk store; counts its hits, misses and rejected entries for the report."""

    def __init__(self, folder=None, limit_bytes=None, calibrate=measure_calibration):
        self.folder = Path(folder) if folder is not None else default_dir()
        self.limit_bytes = max_bytes() if limit_bytes is None else limit_bytes
        self.calibrate = calibrate  # the seam tests use to fake a faster or slower machine
        self._calibration_s = None
        self.hits = 0
        self.misses = 0
        self.rejected = 0  # corrupt or foreign entries deleted
        self.rescaled = 0  # entries not used: stored on a machine too unlike this one now
        self.reference_workers = None  # how many the grading started (set by the judge)

    def stats(self):
        return {"hits": self.hits, "misses": self.misses, "rejected": self.rejected,
                "rescaled": self.rescaled, "reference_workers": self.reference_workers}

    @property
    def calibration_s(self):
        """This run's calibration time, measured on first use (once per judge process)."""
        if self._calibration_s is None:
            self._calibration_s = float(self.calibrate())
        return self._calibration_s

    def bind(self, item_id, reference_file, suite_dir, seed):
        """The store as one grading uses it: keys of this item, reference and seed."""
        return Binding(self, {
            "schema": SCHEMA, "item": item_id, "reference_sha256": file_sha256(reference_file),
            "code": code_digest(suite_dir), "seed": seed, "machine": machine_fingerprint(),
        })

    def path(self, key):
        return self.folder / key[:2] / f"{key}.entry"

    # reading ------------------------------------------------------------------------------

    def get(self, key):
        """(value, seconds) stored under `key`, or None; a bad entry is deleted.

        The seconds are the stored time scaled to this machine as it is now (this run's
        calibration over the one stored with it); an entry stored on a machine more than
        CALIBRATION_SPAN times faster or slower than this one now is a miss."""
        path = self.path(key)
        try:
            data = path.read_bytes()
        except OSError:
            self.misses += 1
            return None
        found = self._parse(data, key)
        if found is None:
            self.rejected += 1
            self.misses += 1
            _unlink(path)
            return None
        value, seconds, stored_calibration = found
        scale = self.calibration_s / stored_calibration
        if not 1 / CALIBRATION_SPAN <= scale <= CALIBRATION_SPAN:
            self.rescaled += 1
            self.misses += 1
            return None
        try:
            os.utime(path)  # recently used: the last to be evicted
        except OSError:
            pass
        self.hits += 1
        return value, seconds * scale

    @staticmethod
    def _parse(data, key):
        try:
            if not data.startswith(MAGIC):
                return None
            start = len(MAGIC)
            (length,) = _LENGTH.unpack_from(data, start)
            header = json.loads(data[start + _LENGTH.size:start + _LENGTH.size + length])
            body = data[start + _LENGTH.size + length:]
            if (not isinstance(header, dict) or header.get("key") != key
                    or header.get("schema") != SCHEMA):
                return None
            seconds, calibration = header.get("seconds"), header.get("calibration_s")
            if not (_is_time(seconds) and _is_time(calibration) and calibration > 0):
                return None
            if header.get("sha256") != _entry_digest(key, seconds, body, calibration):
                return None
            if channel.frame_length(body[:8]) != len(body) - 8:
                return None
            return channel.decode(body[8:]), float(seconds), float(calibration)
        except (ValueError, TypeError, struct.error, channel.ProtocolError, RecursionError):
            return None

    # writing ------------------------------------------------------------------------------

    def put(self, key, value, seconds):
        """Store `value` (a decoded reference result), its seconds and this run's calibration;
        never raises on I/O."""
        try:
            body = channel.encode(value)
        except channel.Unsendable:
            return
        calibration = self.calibration_s
        header = json.dumps({"key": key, "schema": SCHEMA, "seconds": seconds,
                             "calibration_s": calibration,
                             "sha256": _entry_digest(key, seconds, body, calibration)}).encode()
        data = MAGIC + _LENGTH.pack(len(header)) + header + body
        path = self.path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            descriptor, temporary = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
            try:
                with os.fdopen(descriptor, "wb") as handle:
                    handle.write(data)
                os.replace(temporary, path)
            except BaseException:
                _unlink(Path(temporary))
                raise
        except OSError:
            return
        self.evict()

    def evict(self):
        """Delete the least recently used entries until the store fits its cap."""
        entries = []
        compiled = self.folder.glob(f"{COMPILED}/*/*")  # a reference worker's cached programs
        for path in list(self.folder.glob("*/*.entry")) + list(compiled):
            try:
                info = path.stat()
            except OSError:
                continue
            if not path.is_file():
                continue
            entries.append((info.st_mtime, info.st_size, path))
        total = sum(size for _, size, _ in entries)
        for _, size, path in sorted(entries):
            if total <= self.limit_bytes:
                break
            _unlink(path)
            total -= size


class Binding:
    """One grading's view of the store: keys made of the call and this grading's context."""

    def __init__(self, store, context):
        self.store = store
        self.context = context

    def key(self, probe, inputs, ready):
        """The entry's key for a reference call, or None when its inputs cannot be encoded.

        `ready` is the reference worker's ready message: its device, device name and framework
        versions, as the reference (never the learner) reports them."""
        try:
            digest = inputs_digest(inputs)
        except (channel.Unsendable, TypeError, ValueError):
            return None
        material = dict(self.context, probe=probe, inputs=digest,
                        device=ready.get("device"), device_name=ready.get("device_name"),
                        versions=ready.get("versions"))
        return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()

    def ready_key(self, device):
        """The key of the reference worker's ready message for a requested device."""
        material = dict(self.context, ready_for=device)
        return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()

    def get_ready(self, device):
        """(ready message, load seconds) an earlier grading of this batch stored, or None: with
        it a judge starts the reference worker only when a call misses the store."""
        found = self.store.get(self.ready_key(device))
        if found is None:
            return None
        ready, load_s = found
        if not (isinstance(ready, dict) and ready.get("op") == "ready"
                and isinstance(ready.get("device"), str)
                and isinstance(ready.get("versions"), dict)):
            return None
        return ready, load_s

    def put_ready(self, device, ready, load_s):
        self.store.put(self.ready_key(device), dict(ready), load_s)

    def compile_dir(self, device):
        """The reference worker's compilation cache for this item, reference and device, with
        the installed framework versions (the worker reports its own only once it is ready)."""
        material = dict(self.context, compiled_for=device, versions=installed_versions())
        material.pop("seed")  # compiled programs do not depend on the inputs' values
        digest = hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()
        return self.store.folder / COMPILED / digest[:32]

    def get(self, probe, inputs, ready):
        key = self.key(probe, inputs, ready)
        return None if key is None else self.store.get(key)

    def put(self, probe, inputs, ready, value, seconds):
        key = self.key(probe, inputs, ready)
        if key is not None:
            self.store.put(key, value, seconds)


def _is_time(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value < 1e6


def _entry_digest(key, seconds, body, calibration):
    digest = hashlib.sha256(f"{key}\n{seconds!r}\n{calibration!r}\n".encode())
    digest.update(body)
    return digest.hexdigest()


def _unlink(path):
    try:
        os.unlink(path)
    except OSError:
        pass
