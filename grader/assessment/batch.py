"""`grade batch`: grade a folder of candidates' submissions with one seed, resumably.

Layout: `SUBMISSIONS/<candidate>/<id>.py` (`<id>.yaml` for a theory item), or
`SUBMISSIONS/<candidate>.zip` holding those files (at its top, or in one top-level folder).
Every submission is read here once, checked (a regular file, no link, UTF-8, under a size cap;
a zip unpacked with caps on members and sizes, no absolute path, no `..`, no link) and copied
into `RESULTS/.unpacked/<candidate>/`, the copy that is graded and whose SHA-256 is recorded.
What cannot be read is a per-candidate error; the batch goes on.

Each grading is its own judge process, `python -m grader exercise ... --mode assessment`, in a
pool of `--jobs`: the judge's end-of-run sweep of its workers is per process, so no grading
touches another's. The judges share the reference's results through grader/cache.py:
reference passes (`grade exercise --reference-pass`: the reference alone; an item's passes
share its checks, each taking the next one no other has taken) compute them first, and no
candidate's grading starts before every pass ends, so no candidate's code runs while the
reference's times are measured; the candidates' judges read them back (where a pass failed,
its item's first candidate computes them, alone among its item's gradings). The similarity
check reads only the submissions, so it runs beside the candidates' judges at the lowest
priority. Every
finished grading is written at once to
`RESULTS/candidates/<candidate>.json`; `RESULTS/batch.json` holds the batch's seed, device,
bank digest and a record of every run, so the same command, run again, grades only what is
missing or changed.
"""

import collections
import concurrent.futures
import dataclasses
import hashlib
import json
import os
import re
import secrets
import shutil
import stat
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
import zlib
from pathlib import Path

import grader

SCHEMA = 1
MAX_FILE_BYTES = 1024 * 1024  # one submitted file
ZIP_MAX_MEMBERS = 256
ZIP_MAX_TOTAL_BYTES = 32 * 1024 * 1024  # uncompressed, all members
ZIP_MAX_RATIO = 100  # uncompressed / compressed, for members over 1 MiB
UNSANDBOXED = ("the candidates' code ran UNSANDBOXED (--sandbox none): it could read what the "
               "reviewer's account can read and signal its processes")
NAME = re.compile(r"^[^\x00-\x1f\x7f/\\.][^\x00-\x1f\x7f/\\]{0,127}$")


class BatchError(Exception):
    """A usage mistake (another seed for existing results, no submissions): exit 2."""


class Refused(Exception):
    """A submission that is not graded; the message says why, for the candidate's record."""


@dataclasses.dataclass
class Submission:
    candidate: str
    item_id: str
    path: Path  # the copy that is graded, in RESULTS/.unpacked/<candidate>/
    sha256: str


@dataclasses.dataclass
class Candidate:
    name: str
    source: str  # "folder" or "zip"
    submissions: dict = dataclasses.field(default_factory=dict)  # item id -> Submission
    errors: list = dataclasses.field(default_factory=list)

    def error(self, message, item=None, file=None):
        self.errors.append({"item": item, "file": file, "error": message})


# --- the bank ------------------------------------------------------------------------------


def bank_digest(bank):
    """SHA-256 over the catalog, the hidden suites and the references, files in sorted order."""
    root = bank.root
    files = [bank.catalog_file]
    for folder in (root / "grader" / "suites", root / "solutions"):
        files += [path for path in folder.rglob("*")
                  if path.is_file() and "__pycache__" not in path.parts]
    digest = hashlib.sha256()
    for path in sorted(files, key=lambda path: path.relative_to(root).as_posix()):
        content = hashlib.sha256(path.read_bytes()).hexdigest()
        digest.update(f"{path.relative_to(root).as_posix()}\0{content}\n".encode())
    return digest.hexdigest()


def bank_version(bank):
    """The bank's git commit (with "-dirty" when it has local changes), or None."""
    try:
        head = subprocess.run(["git", "-C", str(bank.root), "rev-parse", "--short=12", "HEAD"],
                              capture_output=True, text=True, timeout=10)
        if head.returncode != 0:
            return None
        dirty = subprocess.run(["git", "-C", str(bank.root), "status", "--porcelain", "--",
                                "grader/catalog.yaml", "grader/suites", "solutions"],
                               capture_output=True, text=True, timeout=10)
        return head.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return None


def default_jobs():
    """min(cores, memory in GiB // 4), at least 1: a grading's two workers need ~4 GiB."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count() or 1
    try:
        memory_gib = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 2**30
    except (ValueError, OSError, AttributeError):
        memory_gib = 4
    return max(1, min(cores, memory_gib // 4))


# --- reading submissions -------------------------------------------------------------------


def item_files(bank, items):
    """{file name: item id} of the submissions the batch grades."""
    names = {}
    for item_id in items:
        names[bank.stub_file(item_id).name] = item_id
    return names


def discover(submissions_dir, unpack_dir, bank, items):
    """The candidates in SUBMISSIONS, their submissions read, checked and copied to unpack_dir."""
    wanted = item_files(bank, items)
    entries = {}
    for entry in sorted(os.scandir(submissions_dir), key=lambda entry: entry.name):
        if entry.name.startswith("."):
            continue
        name = entry.name[:-4] if entry.name.lower().endswith(".zip") else entry.name
        if entry.is_symlink():
            entries.setdefault(name, []).append(("link", entry))
        elif entry.is_dir(follow_symlinks=False):
            entries.setdefault(name, []).append(("folder", entry))
        elif entry.is_file(follow_symlinks=False) and entry.name.lower().endswith(".zip"):
            entries.setdefault(name, []).append(("zip", entry))
    candidates = []
    for name, found in entries.items():
        if not NAME.match(name):
            print(f"warning: {name!r} is skipped: a candidate's folder or zip needs a name of "
                  "printable characters (at most 128), not starting with a dot", file=sys.stderr)
            continue
        kinds = [kind for kind, _ in found]
        candidate = Candidate(name, "zip" if kinds == ["zip"] else "folder")
        candidates.append(candidate)
        target = Path(unpack_dir) / name
        if target.exists():
            shutil.rmtree(target)
        if len(found) > 1:
            candidate.error(f"both a folder {name}/ and {name}.zip were handed in; nothing was "
                            "graded: keep one of them")
            continue
        kind, entry = found[0]
        try:
            if kind == "link":
                raise Refused(f"{entry.name} is a symbolic link; links are refused: hand in the "
                              "folder or zip itself")
            files = (read_zip(entry.path, candidate) if kind == "zip"
                     else read_folder(entry.path, candidate))
        except Refused as refused:
            candidate.error(str(refused), file=entry.name)
            continue
        for file_name, data in sorted(files.items()):
            if file_name not in wanted:
                continue
            item_id = wanted[file_name]
            try:
                check_text(file_name, data)
            except Refused as refused:
                candidate.error(str(refused), item=item_id, file=file_name)
                continue
            target.mkdir(parents=True, exist_ok=True)
            path = target / file_name
            path.write_bytes(data)
            candidate.submissions[item_id] = Submission(name, item_id, path,
                                                        hashlib.sha256(data).hexdigest())
        if not candidate.submissions and not candidate.errors:
            listed = ", ".join(sorted(wanted)[:4]) + (", ..." if len(wanted) > 4 else "")
            candidate.error(f"no submission found: expected files named like {listed}")
    return candidates


def read_folder(folder, candidate):
    """{file name: bytes} of a candidate folder's top-level files; a link is an error."""
    files = {}
    for entry in sorted(os.scandir(folder), key=lambda entry: entry.name):
        if entry.is_symlink():
            candidate.error(f"{entry.name} is a symbolic link; links are refused (hand in the "
                            "file itself), so it was not graded", file=entry.name)
            continue
        if not entry.is_file(follow_symlinks=False):
            continue
        try:
            files[entry.name] = read_regular(entry.path)
        except Refused as refused:
            candidate.error(str(refused), file=entry.name)
    return files


def read_regular(path):
    """The bytes of a regular file, never through a link, at most MAX_FILE_BYTES."""
    name = os.path.basename(path)
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise Refused(f"{name} cannot be read: {exc.strerror}") from None
    with os.fdopen(descriptor, "rb") as handle:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            raise Refused(f"{name} is not a regular file")
        data = handle.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise Refused(f"{name} is larger than {MAX_FILE_BYTES // 1024} KiB; not graded")
    return data


def check_text(name, data):
    """Refuse a submission that is not UTF-8 text, saying where."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise Refused(f"{name} is not UTF-8 text (byte 0x{data[exc.start]:02x} on line {line}): "
                      "save it as UTF-8 and hand it in again") from None
    if b"\0" in data:
        raise Refused(f"{name} holds a NUL byte: it is not a text file")


def read_zip(path, candidate):
    """{file name: bytes} of a candidate's zip, checked member by member before anything is read.

    Refused (the whole zip) for: not a zip, too many members, a member with an absolute path,
    `..`, a backslash or a link, a name given twice, more than the size caps uncompressed
    (declared or actual), a compression ratio of a zip bomb, encryption. Members may sit at the
    top or in one top-level folder; nested folders are ignored."""
    zip_name = os.path.basename(path)
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise Refused(f"{zip_name} is not a readable zip file ({exc})") from None
    with archive:
        members = archive.infolist()
        if len(members) > ZIP_MAX_MEMBERS:
            raise Refused(f"{zip_name} holds {len(members)} members, more than the "
                          f"{ZIP_MAX_MEMBERS} allowed; not graded")
        total, names, regular = 0, set(), []
        for info in members:
            member = info.filename
            parts = member.rstrip("/").split("/")
            if (member.startswith("/") or re.match(r"^[A-Za-z]:", member) or "\\" in member
                    or "\0" in member):
                raise Refused(f"{zip_name} holds a member with an absolute or unsafe path "
                              f"({member!r}); not unpacked, nothing graded")
            if ".." in parts:
                raise Refused(f"{zip_name} holds a member that climbs out of its folder "
                              f"({member!r}, path traversal); not unpacked, nothing graded")
            if stat.S_ISLNK(info.external_attr >> 16):
                raise Refused(f"{zip_name} holds a symbolic link ({member!r}); links are "
                              "refused: nothing graded")
            if member in names:
                raise Refused(f"{zip_name} holds {member!r} twice; nothing graded")
            names.add(member)
            total += info.file_size
            if (info.file_size > 1024 * 1024
                    and info.file_size > ZIP_MAX_RATIO * max(info.compress_size, 1)):
                raise Refused(f"{zip_name} looks like a zip bomb ({member!r} expands "
                              f"{info.file_size // max(info.compress_size, 1)} times); "
                              "not unpacked, nothing graded")
            if total > ZIP_MAX_TOTAL_BYTES:
                raise Refused(f"{zip_name} unpacks to more than {ZIP_MAX_TOTAL_BYTES // 2**20} "
                              "MiB; not unpacked, nothing graded")
            if info.flag_bits & 0x1:
                raise Refused(f"{zip_name} is encrypted; hand it in without a password")
            if not info.is_dir() and parts[0] != "__MACOSX":
                regular.append((parts, info))
        tops = {parts[0] for parts, _ in regular}
        strip = 1 if len(tops) == 1 and all(len(parts) == 2 for parts, _ in regular) else 0
        files = {}
        for parts, info in regular:
            if len(parts) != strip + 1:
                continue  # nested folders hold no submission
            name = parts[strip]
            if info.file_size > MAX_FILE_BYTES:
                candidate.error(f"{name} (in {zip_name}) is larger than "
                                f"{MAX_FILE_BYTES // 1024} KiB; not graded", file=name)
                continue
            try:
                with archive.open(info) as handle:
                    data = handle.read(MAX_FILE_BYTES + 1)
            except (zipfile.BadZipFile, zlib.error, EOFError, OSError, RuntimeError,
                    NotImplementedError) as exc:
                raise Refused(f"{zip_name}: {name} cannot be unpacked ({exc}); nothing "
                              "graded") from None
            if len(data) > MAX_FILE_BYTES or len(data) != info.file_size:
                raise Refused(f"{zip_name}: {name} unpacks to another size than it declares "
                              "(a zip bomb?); nothing graded")
            files[name] = data
        return files


# --- state ---------------------------------------------------------------------------------


def write_json(path, document):
    """Write whole or not at all: a temporary file beside it, then one rename."""
    path = Path(path)
    descriptor, temporary = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            json.dump(document, handle, indent=2)
            handle.write("\n")
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


def read_json(path):
    try:
        with open(path, encoding="utf-8") as handle:
            document = json.load(handle)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise BatchError(f"{path} cannot be read ({exc}); move it away to start over") from None
    if not isinstance(document, dict):
        raise BatchError(f"{path} is not a batch record; move it away to start over")
    return document


@dataclasses.dataclass
class Options:
    submissions: Path
    results: Path
    items: list = None  # None: every item found
    jobs: int = None
    seed: int = None
    device: str = "auto"
    regrade: list = dataclasses.field(default_factory=list)
    sandbox_kind: str = None  # None: auto with --require-sandbox; "none": unsandboxed
    cache_dir: Path = None  # None: grader.cache.default_dir()


@dataclasses.dataclass
class Job:
    submission: Submission
    timeout_s: float


@dataclasses.dataclass
class ReferencePass:
    """One of `count` judges that run an item's checks on the reference alone, each taking the
    next check no other has claimed in `claims`, to fill the batch's store before any
    candidate's code runs (`grade exercise --reference-pass CLAIMS`)."""

    item_id: str
    index: int
    count: int
    timeout_s: float
    claims: Path = None


@dataclasses.dataclass
class Outcome:
    job: Job
    report: dict = None
    error: str = None


class Batch:
    def __init__(self, bank, options, stream=None):
        self.bank = bank
        self.options = options
        self.results = Path(options.results).absolute()  # the judges run elsewhere
        self.stream = stream or sys.stderr
        self.unsandboxed = options.sandbox_kind == "none"
        self.running = {}  # Popen objects this batch started and has not reaped
        self.lock = threading.Lock()
        self.stopping = threading.Event()

    # the plan ---------------------------------------------------------------------------

    def prepare(self):
        """Read batch.json (or start it), discover the candidates; the jobs to run."""
        options, bank = self.options, self.bank
        if not Path(options.submissions).is_dir():
            raise BatchError(f"{options.submissions} is not a folder of submissions")
        if self.results.resolve().is_relative_to(Path(options.submissions).resolve()):
            raise BatchError("RESULTS may not be inside SUBMISSIONS: it would be read as a "
                             "candidate")
        items = options.items or [item_id for item_id in bank.items]
        for item_id in items:
            if item_id not in bank.items:
                bank.item(item_id)  # raises UnknownItem with a suggestion
        self.results.mkdir(parents=True, exist_ok=True)
        (self.results / "candidates").mkdir(exist_ok=True)
        (self.results / ".tmp").mkdir(exist_ok=True)
        state = read_json(self.results / "batch.json")
        self.digest = bank_digest(bank)
        if state is None:
            seed = secrets.randbelow(2**31) if options.seed is None else options.seed
            state = {"version": SCHEMA, "seed": seed, "device": options.device,
                     "created": _now(), "gradings": 0, "runs": []}
        else:
            if options.seed is not None and options.seed != state.get("seed"):
                raise BatchError(
                    f"{self.results} holds a batch graded with seed {state.get('seed')}; "
                    f"--seed {options.seed} would give its candidates other inputs. Run the "
                    "same command without --seed (or with that seed) to resume, or choose "
                    "another RESULTS folder for a new batch.")
            if options.device != state.get("device"):
                raise BatchError(
                    f"{self.results} holds a batch graded with --device {state.get('device')}; "
                    f"resume it with that device, or choose another RESULTS folder.")
        state.update(bank={"version": bank_version(bank), "digest": self.digest},
                     grader_version=grader.__version__,
                     sandbox="unsandboxed" if self.unsandboxed else "sandboxed",
                     sandbox_warning=UNSANDBOXED if self.unsandboxed else None,
                     reference_cache=None if self.unsandboxed else str(self.cache_dir()))
        self.state = state
        write_json(self.results / "batch.json", state)  # the seed is kept from the start

        self.candidates = discover(options.submissions, self.results / ".unpacked", bank, items)
        found = set(options.items or []) | set(state.get("items") or [])
        found |= {item_id for candidate in self.candidates for item_id in candidate.submissions}
        self.order = [item_id for item_id in bank.items if item_id in found]
        state["items"] = self.order  # the reports' columns, whatever order gradings end in
        known = {candidate.name for candidate in self.candidates}
        for name in options.regrade:
            if name not in known:
                raise BatchError(f"--regrade {name}: there is no candidate {name!r} in "
                                 f"{options.submissions} (found: {', '.join(sorted(known))})")
        self.records, jobs = {}, []
        for candidate in self.candidates:
            record = None if candidate.name in options.regrade else read_json(
                self._record_path(candidate.name))
            done = (record or {}).get("items") or {}
            record = self._new_record(candidate, done)
            self.records[candidate.name] = record
            for item_id, submission in sorted(candidate.submissions.items()):
                previous = done.get(item_id)
                if (previous and previous.get("submission_sha256") == submission.sha256
                        and previous.get("bank_digest") == self.digest):
                    continue
                record["items"].pop(item_id, None)
                jobs.append(Job(submission, self._timeout_s(item_id)))
            write_json(self._record_path(candidate.name), self._ordered(record))
        write_json(self.results / "batch.json", state)
        return _interleave(jobs)

    def _ordered(self, record):
        """The record with its items in catalog order and its errors sorted, so its file is the
        same whichever of its gradings ends first (locally or on a cluster)."""
        rank = {item_id: index for index, item_id in enumerate(self.order)}
        record["items"] = dict(sorted(record["items"].items(),
                                      key=lambda pair: (rank.get(pair[0], len(rank)), pair[0])))
        record["errors"] = sorted(record["errors"], key=lambda error: (
            str(error.get("item") or ""), str(error.get("file") or ""), str(error.get("error"))))
        return record

    def _new_record(self, candidate, done):
        return {"candidate": candidate.name, "source": candidate.source,
                "items": dict(done), "errors": list(candidate.errors),
                "seed": self.state["seed"], "device": self.state["device"],
                "bank": self.state["bank"], "grader_version": grader.__version__,
                "sandbox": self.state["sandbox"], "sandbox_warning": self.state["sandbox_warning"]}

    def _record_path(self, name):
        return self.results / "candidates" / f"{name}.json"

    def _timeout_s(self, item_id):
        """A backstop past the judge's own overall limit: only a judge that hangs meets it."""
        item = self.bank.item(item_id)
        if item.kind == "theory":
            return 300
        suite = self.bank.suite_dir(item_id) / f"test_{item_id}.py"
        checks = suite.read_text(encoding="utf-8").count("\ndef test_")
        return (2 + 2 * checks) * item.limits["cap_s"] + 120

    def cache_dir(self):
        from grader import cache

        return Path(self.options.cache_dir) if self.options.cache_dir else cache.default_dir()

    # running ----------------------------------------------------------------------------

    def command(self, submission, output):
        options = self.options
        command = [sys.executable, "-I", "-m", "grader", "exercise", submission.item_id,
                   "--file", str(submission.path), "--format", "json", "--output", str(output),
                   "--seed", str(self.state["seed"]), "--device", options.device,
                   "--mode", "assessment"]
        if self.unsandboxed:
            return command + ["--sandbox", "none"]
        if options.sandbox_kind:
            command += ["--sandbox", options.sandbox_kind]
        return command + ["--require-sandbox", "--reference-cache", str(self.cache_dir())]

    def pass_command(self, reference_pass, output):
        command = [sys.executable, "-I", "-m", "grader", "exercise", reference_pass.item_id,
                   "--reference-pass", str(reference_pass.claims),
                   "--format", "json", "--output", str(output),
                   "--seed", str(self.state["seed"]), "--device", self.options.device,
                   "--mode", "assessment", "--require-sandbox",
                   "--reference-cache", str(self.cache_dir())]
        if self.options.sandbox_kind:
            command += ["--sandbox", self.options.sandbox_kind]
        return command

    def reference_passes(self, jobs, count=None):
        """The passes that fill the store for `jobs` first: `count` over the items, those of
        an item sharing a folder of claims (made by `run`)."""
        if self.unsandboxed:
            return []  # no store: every judge runs its own reference
        count = count or self.options.jobs or default_jobs()
        items = [item_id for item_id in self.order
                 if self.bank.item(item_id).kind != "theory"
                 and any(job.submission.item_id == item_id for job in jobs)]
        shards = max(1, count // len(items)) if items else 0
        claims = {item_id: self.results / ".tmp" / f"claims-{item_id}" for item_id in items}
        return [ReferencePass(item_id, index, shards, self._timeout_s(item_id), claims[item_id])
                for index in range(shards) for item_id in items]

    def run_pass(self, reference_pass):
        """Run one reference pass; its summary for batch.json, with an `error` where it failed
        (its item's first candidate then computes what it did not store: see `run`)."""
        started = time.perf_counter()
        outcome = self.grade_one(Job(None, reference_pass.timeout_s),
                                 self.pass_command(reference_pass, "{output}"))
        summary = {"item": reference_pass.item_id,
                   "shard": f"{reference_pass.index + 1}/{reference_pass.count}",
                   "seconds": round(time.perf_counter() - started, 2)}
        if outcome.report is not None:
            summary["checks"] = len(outcome.report.get("checks") or [])
            summary["reference_cache"] = outcome.report.get("reference_cache")
            if outcome.report.get("internal_error"):
                summary["error"] = str(outcome.report["internal_error"])[:1500]
        else:
            summary["error"] = outcome.error
        return summary

    def grade_one(self, job, template=None):
        """Run one judge process; an Outcome with its JSON report, or with an error."""
        submission = job.submission
        descriptor, output = tempfile.mkstemp(prefix="report-", suffix=".json",
                                              dir=self.results / ".tmp")
        os.close(descriptor)
        os.unlink(output)
        try:
            with self.lock:
                if self.stopping.is_set():
                    return Outcome(job, error="not graded: the batch was stopped")
                command = (self.command(submission, output) if template is None else
                           [str(output) if part == "{output}" else part for part in template])
                process = subprocess.Popen(
                    command, stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                    cwd=self.results / ".unpacked", start_new_session=True)
                self.running[id(process)] = process
            try:
                _, stderr = process.communicate(timeout=job.timeout_s)
                hung = False
            except subprocess.TimeoutExpired:
                hung = True
                _, stderr = self._end(process)
            finally:
                with self.lock:
                    self.running.pop(id(process), None)
            tail = stderr.decode("utf-8", "replace").strip()[-1500:]
            if hung:
                return Outcome(job, error=f"the grader did not finish within "
                                          f"{job.timeout_s:.0f} s and was stopped: {tail}")
            try:
                with open(output, encoding="utf-8") as handle:
                    report = json.load(handle)
            except (OSError, ValueError):
                return Outcome(job, error=f"the grader failed on this submission (exit "
                                          f"{process.returncode}): {tail or 'no message'}")
            return Outcome(job, report=report)
        finally:
            if os.path.exists(output):
                os.unlink(output)

    @staticmethod
    def _end(process):
        """Stop a judge this batch started: SIGTERM (it ends its workers), then SIGKILL."""
        process.terminate()
        try:
            return process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            return process.communicate()

    def stop_all(self):
        with self.lock:
            self.stopping.set()
            processes = list(self.running.values())
        for process in processes:
            if process.poll() is None:
                process.terminate()

    def record(self, outcome):
        submission = outcome.job.submission
        record = self.records[submission.candidate]
        if outcome.report is not None:
            entry = dict(outcome.report, submission_sha256=submission.sha256,
                         bank_digest=self.digest,
                         graded_file=submission.path.relative_to(self.results).as_posix())
            record["items"][submission.item_id] = entry
        else:
            record["errors"].append({"item": submission.item_id, "file": submission.path.name,
                                     "error": outcome.error})
        write_json(self._record_path(submission.candidate), self._ordered(record))

    def run(self, jobs, count=None, after_passes=None):
        """Grade `jobs`, `count` at a time; returns this run's summary (a dict). The reference
        passes run first, and no candidate's grading starts before all of them end: no
        candidate's code runs while the reference's times, which set every candidate's limits,
        are measured. Where an item's pass failed, its first candidate computes what the
        store lacks, as the only grading of its item at that time (its times may then be
        measured beside another item's candidate). `after_passes()` is called once they end."""
        count = count or self.options.jobs or default_jobs()
        progress = Progress(len(jobs), self.stream)
        run = {"started": _now(), "jobs": count, "graded": 0, "failed": 0, "judge_errors": 0,
               "reference_cache": {"hits": 0, "misses": 0, "rejected": 0, "rescaled": 0}}
        self.state["runs"].append(run)
        executor = concurrent.futures.ThreadPoolExecutor(max_workers=count)
        progress.start()
        try:
            passes = self.reference_passes(jobs, count)
            if passes:
                run["reference_passes"] = []
                for folder in {reference_pass.claims for reference_pass in passes}:
                    shutil.rmtree(folder, ignore_errors=True)  # a stopped run's claims
                    folder.mkdir(parents=True)
                try:
                    self._pool(executor, count, passes, self.run_pass,
                               run["reference_passes"].append)
                finally:
                    for folder in {reference_pass.claims for reference_pass in passes}:
                        shutil.rmtree(folder, ignore_errors=True)
                run["reference_passes"].sort(key=lambda entry: (str(entry.get("item")),
                                                                str(entry.get("shard"))))
                for entry in run["reference_passes"]:
                    self._count_store(run, entry.get("reference_cache"))
            if after_passes is not None:
                after_passes()
            failed = {entry["item"] for entry in run.get("reference_passes", [])
                      if "error" in entry}
            primed = {job.submission.item_id for job in jobs} - failed

            def graded(outcome):
                primed.add(outcome.job.submission.item_id)
                self.record(outcome)
                self._count(run, outcome)
                progress.update(run["graded"] + run["judge_errors"], run["failed"])

            self._pool(executor, count, jobs, self.grade_one, graded,
                       pick=lambda pending, running: _next_job(pending, primed, running))
        except BaseException:
            self.stop_all()
            executor.shutdown(wait=True, cancel_futures=True)
            raise
        finally:
            progress.finish()
            run["finished"] = _now()
            self.state["gradings"] = self.state.get("gradings", 0) + run["graded"]
            write_json(self.results / "batch.json", self.state)
        executor.shutdown(wait=True)
        return run

    @staticmethod
    def _pool(executor, count, tasks, function, done, pick=None):
        """`function(task)` for every task, `count` at a time; `done(result)` for each as it
        ends (in this thread). `pick(pending, running tasks)` takes the next task out of
        `pending` (None: none may start yet); by default the first."""
        pending, running = collections.deque(tasks), {}
        pick = pick or (lambda waiting, _: waiting.popleft())
        while pending or running:
            while len(running) < count and pending:
                task = pick(pending, list(running.values()))
                if task is None:
                    break
                running[executor.submit(function, task)] = task
            finished, _ = concurrent.futures.wait(
                running, timeout=0.5, return_when=concurrent.futures.FIRST_COMPLETED)
            for future in finished:
                del running[future]
                done(future.result())

    @staticmethod
    def _count(run, outcome):
        if outcome.report is None:
            run["judge_errors"] += 1
            run["failed"] += 1
            return
        run["graded"] += 1
        if outcome.report.get("status") != "passed":
            run["failed"] += 1
        Batch._count_store(run, outcome.report.get("reference_cache"))

    @staticmethod
    def _count_store(run, stats):
        """A judge's store counts (hits, results computed, workers started) into the run's."""
        for key, value in (stats or {}).items():
            if isinstance(value, int) and not isinstance(value, bool):  # counts, summed
                run["reference_cache"][key] = run["reference_cache"].get(key, 0) + value


def _next_job(pending, primed, running):
    """The first pending job whose item's results are stored, or whose item no running
    grading is computing (an item whose reference pass failed: its first grading computes
    them alone among its item's, and the others then read them)."""
    running_items = {job.submission.item_id for job in running}
    for index, job in enumerate(pending):
        item_id = job.submission.item_id
        if item_id in primed or item_id not in running_items:
            del pending[index]
            return job
    return None


def _interleave(jobs):
    """Jobs ordered item by item in turn, so that gradings at once are of different items
    (whose workers load different frameworks and programs)."""
    by_item = collections.OrderedDict()
    for job in jobs:
        by_item.setdefault(job.submission.item_id, []).append(job)
    ordered = []
    while any(by_item.values()):
        for queue in by_item.values():
            if queue:
                ordered.append(queue.pop(0))
    return ordered


def _now():
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


class Progress:
    """done / total, failures so far, elapsed and an estimate, on a terminal's stderr only."""

    def __init__(self, total, stream):
        self.total, self.stream = total, stream
        try:
            self.enabled = total > 0 and stream.isatty()
        except (AttributeError, ValueError):
            self.enabled = False
        self.done = self.failed = 0
        self.started = time.monotonic()
        self.stop = threading.Event()
        self.thread = None
        self.lock = threading.Lock()

    def start(self):
        if self.enabled:
            self.draw()
            self.thread = threading.Thread(target=self._tick, daemon=True)
            self.thread.start()

    def update(self, done, failed):
        self.done, self.failed = done, failed
        if self.enabled:
            self.draw()

    def _tick(self):
        while not self.stop.wait(1.0):
            self.draw()

    def draw(self):
        elapsed = time.monotonic() - self.started
        width = 16
        filled = width * self.done // max(self.total, 1)
        left = (f" · ~{_clock(elapsed / self.done * (self.total - self.done))} left"
                if self.done else "")
        text = (f"[{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total} graded · "
                f"{self.failed} not passed · {_clock(elapsed)} elapsed{left}")
        columns = shutil.get_terminal_size((80, 24)).columns - 1
        with self.lock:
            try:
                self.stream.write("\r" + text[:columns] + "\033[K")
                self.stream.flush()
            except (OSError, ValueError):
                self.enabled = False

    def finish(self):
        if not self.enabled:
            return
        self.stop.set()
        if self.thread is not None:
            self.thread.join(timeout=2)
        with self.lock:
            self.stream.write("\r\033[K")
            self.stream.flush()


def _clock(seconds):
    seconds = int(seconds)
    return f"{seconds // 60}:{seconds % 60:02d}"


# --- after the gradings --------------------------------------------------------------------


class EarlySimilarity:
    """grader.assessment.similarity.write_all in a process of its own, started once the
    reference passes end: it reads only the submissions `prepare` copied, so it need not wait
    for the gradings, and at the lowest priority it takes mostly the CPU the judges leave (a
    judge starting, a batch's last grading alone) instead of adding its seconds after the last
    grading. The judges run in sessions of their own, so where the kernel groups a session's
    processes for scheduling (autogroup), nice acts only within a group: the process gets its
    own session, and its group the lowest priority."""

    def __init__(self, results):
        self.stderr = tempfile.TemporaryFile()  # not a pipe: it would fill and stall the check
        self.process = subprocess.Popen(
            [sys.executable, "-I", "-m", "grader.assessment.batch", "similarity",
             str(Path(results).absolute())],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=self.stderr,
            start_new_session=True)  # out of the terminal's group: stop() ends it
        try:
            os.setpriority(os.PRIO_PROCESS, self.process.pid, 19)
            with open(f"/proc/{self.process.pid}/autogroup", "w", encoding="ascii") as group:
                group.write("19")
        except OSError:  # it ended already, or this system has no autogroup: nice alone
            pass

    def outcome(self):
        """("done", outputs), ("missing", message) or ("failed", message), once it ends."""
        stdout, _ = self.process.communicate()
        try:
            status, value = json.loads(stdout.decode("utf-8").strip().splitlines()[-1])
        except (ValueError, TypeError, IndexError):
            self.stderr.seek(0)
            tail = self.stderr.read().decode("utf-8", "replace").strip()[-1000:]
            return "failed", f"exit {self.process.returncode}: {tail or 'no message'}"
        finally:
            self.stderr.close()
        return status, value

    def stop(self):
        """End the process if it still runs (an interrupted batch); safe to call again."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.communicate()
        self.stderr.close()


def similarity_outcome(results):
    """similarity.write_all over RESULTS as [status, value]: ["done", outputs], ["missing",
    message] (the optional extra is not installed) or ["failed", message]."""
    from grader.assessment import similarity

    try:
        return ["done", [str(path) for path in similarity.write_all(Path(results))]]
    except similarity.MissingExtra as exc:
        return ["missing", str(exc)]
    except Exception as exc:  # said by write_reports, as if it ran there
        return ["failed", f"{type(exc).__name__}: {exc}"]


def write_reports(results, early=None):
    """Similarity (grader.assessment.similarity) and the reports (grader.assessment.reports),
    where those modules exist; returns (outputs written, problems, notes). A note is a check
    that did not run because its optional extra is not installed (the batch is complete
    without it); a problem is a fault. `early`, an EarlySimilarity started for the same
    RESULTS, gives the similarity check's outcome (waited for here)."""
    written, problems, notes = [], [], []
    try:
        from grader.assessment import similarity
    except ImportError:
        similarity = None
    try:
        from grader.assessment import reports
    except ImportError:
        reports = None
    missing_extra = getattr(similarity, "MissingExtra", ())
    for name, module in (("similarity", similarity), ("reports", reports)):
        function = getattr(module, "write_all", None)
        if function is None:
            continue
        try:
            if name == "similarity" and early is not None:
                status, outputs = early.outcome()
                if status == "missing":
                    raise similarity.MissingExtra(outputs)
                if status == "failed":
                    raise RuntimeError(outputs)
            else:
                outputs = function(Path(results))
        except missing_extra as exc:
            notes.append(f"the {name} check did not run: {exc}")
            continue
        except Exception as exc:  # a fault: said, not fatal to the other reports
            problems.append(f"{name}: {type(exc).__name__}: {exc}")
            continue
        written += [str(path) for path in outputs or []]
    return written, problems, notes


if __name__ == "__main__":
    if sys.argv[1:2] == ["similarity"] and len(sys.argv) == 3:
        print(json.dumps(similarity_outcome(sys.argv[2])))  # what EarlySimilarity reads
    else:
        raise SystemExit("usage: python -m grader.assessment.batch similarity RESULTS")
