"""`grade batch ... --scheduler ADDRESS`: the gradings of a batch on a Dask distributed cluster.

Imported only when --scheduler is given (Dask is the optional extra `cluster`). The client (the
reviewer's `grade batch`) reads, checks and copies the submissions as a local batch does, and
writes the same RESULTS folder; each (candidate, item) grading is one Dask task, `grade_remote`,
which runs on a worker: it writes the submission's bytes to a private temporary folder, runs the
judge as a subprocess there (`python -I -m grader exercise ... --mode assessment`, sandbox
required, the worker machine's own reference store), and returns one string: a JSON envelope
holding the judge's JSON report (or the reason there is none) and the machine that graded it.
What crosses the network: the item id, the seed, the device, the submission's name and bytes
(arguments), that string (result). The client parses it with json.loads; nothing a learner
produced is ever unpickled.

Failures: a grading that fails for the learner's reason (a crash, a hang, a wrong answer)
returns its report and is never retried. A judge that dies by a signal (its worker stopped)
raises, and Dask retries the task (`retries`); a worker that dies (killed, machine lost) makes
the scheduler give its task to another worker (Dask's allowed-failures). The client records a
task's result when its future completes, once per task key, so a result is never lost or
written twice. Reference results live in each worker machine's store only.
"""

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RETRIES = 2


def _worker_bank_digest():
    """The digest of the bank this worker's judge grades with, read for each task: a checkout
    updated under a running worker is seen at once (a few milliseconds against a grading)."""
    from grader.assessment.batch import bank_digest
    from grader.catalog import Bank

    return bank_digest(Bank())


def _die_with_parent():
    """In the judge, before exec: SIGTERM when the worker that started it dies (Linux)."""
    try:
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, int(signal.SIGTERM))  # PDEATHSIG
    except (OSError, AttributeError):
        pass


def grade_remote(item_id, file_name, data, seed, device, sandbox_kind, unsandboxed, timeout_s):
    """Run on a Dask worker: one grading in its own judge process; returns a JSON string."""
    from grader import cache

    started = time.monotonic()
    where = {"host": socket.gethostname(), "pid": os.getpid()}
    try:
        from distributed import get_worker

        where["worker"] = get_worker().address
    except (ImportError, ValueError):
        pass
    bank_digest = _worker_bank_digest()
    with tempfile.TemporaryDirectory(prefix="dlprep-task-") as work:
        path = Path(work) / os.path.basename(file_name)
        path.write_bytes(data)
        output = Path(work) / "report.json"
        command = [sys.executable, "-I", "-m", "grader", "exercise", item_id, "--file",
                   str(path), "--format", "json", "--output", str(output), "--seed", str(seed),
                   "--device", device, "--mode", "assessment"]
        if unsandboxed:
            command += ["--sandbox", "none"]
        else:
            if sandbox_kind:
                command += ["--sandbox", sandbox_kind]
            command += ["--require-sandbox", "--reference-cache", str(cache.default_dir())]
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, cwd=work, start_new_session=True,
                                   preexec_fn=_die_with_parent if sys.platform == "linux"
                                   else None)
        try:
            _, stderr = process.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            process.terminate()
            try:
                _, stderr = process.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                _, stderr = process.communicate()
            tail = stderr.decode("utf-8", "replace").strip()[-1500:]
            return json.dumps({"error": f"the grader did not finish within {timeout_s:.0f} s "
                                        f"and was stopped: {tail}", "graded_by": where})
        tail = stderr.decode("utf-8", "replace").strip()[-1500:]
        if process.returncode < 0:  # the judge was killed: the worker's trouble, retried
            raise RuntimeError(f"the judge was stopped by signal {-process.returncode} on "
                               f"{where['host']}: {tail}")
        try:
            report = output.read_text(encoding="utf-8")
        except OSError:
            return json.dumps({"error": f"the grader failed on this submission (exit "
                                        f"{process.returncode}): {tail or 'no message'}",
                               "graded_by": where})
    where["task_s"] = round(time.monotonic() - started, 3)
    return json.dumps({"report": report, "graded_by": where, "bank_digest": bank_digest})


def _outcome(job, text, digest):
    """The Outcome of a task's string: parsed as JSON, never unpickled."""
    from grader.assessment.batch import Outcome

    try:
        envelope = json.loads(text)
        if envelope.get("error"):
            return Outcome(job, error=f"{envelope['error']} (on {envelope['graded_by']})")
        report = json.loads(envelope["report"])
        if not isinstance(report, dict):
            raise ValueError("the report is not a JSON object")
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        return Outcome(job, error=f"the cluster returned no readable report ({exc})")
    if envelope.get("bank_digest") != digest:
        return Outcome(job, error=f"the worker {envelope['graded_by']} has another bank "
                                  f"(digest {envelope.get('bank_digest')}, here {digest}): "
                                  "install the same grader on every worker")
    report["graded_by"] = envelope["graded_by"]
    return Outcome(job, report=report)


def run(runner, jobs, address, echo=print):
    """Grade `jobs` of a prepared Batch on the cluster at `address`; the run's summary."""
    from distributed import Client, as_completed

    from grader.assessment.batch import Outcome, Progress, _now

    client = Client(address)
    try:
        link = client.dashboard_link
        echo(f"Dask cluster {address}: {len(client.scheduler_info().get('workers', {}))} "
             f"workers; dashboard: {link}")
        options = runner.options
        run = {"started": _now(), "scheduler": address, "graded": 0, "failed": 0,
               "judge_errors": 0,
               "reference_cache": {"hits": 0, "misses": 0, "rejected": 0, "rescaled": 0}}
        runner.state["runs"].append(run)
        progress = Progress(len(jobs), runner.stream)
        futures = {}
        for index, job in enumerate(jobs):
            submission = job.submission
            data = submission.path.read_bytes()
            key = (f"dlprep-{submission.candidate}-{submission.item_id}-"
                   f"{submission.sha256[:16]}-{index}-{os.getpid()}-{time.time_ns()}")
            future = client.submit(grade_remote, submission.item_id, submission.path.name, data,
                                   runner.state["seed"], options.device, options.sandbox_kind,
                                   runner.unsandboxed, job.timeout_s, key=key, pure=False,
                                   retries=RETRIES)
            futures[future] = job
        progress.start()
        try:
            for future in as_completed(list(futures)):
                job = futures.pop(future)
                try:
                    outcome = _outcome(job, future.result(), runner.digest)
                except Exception as exc:  # retries spent, or the cluster lost the task
                    outcome = Outcome(job, error=f"the cluster could not grade this "
                                                 f"submission: {type(exc).__name__}: {exc}")
                runner.record(outcome)
                runner._count(run, outcome)
                progress.update(run["graded"] + run["judge_errors"], run["failed"])
        except BaseException:
            for future in futures:
                future.cancel()
            raise
        finally:
            progress.finish()
            run["finished"] = _now()
            runner.state["gradings"] = runner.state.get("gradings", 0) + run["graded"]
            from grader.assessment.batch import write_json

            write_json(runner.results / "batch.json", runner.state)
        return run
    finally:
        client.close()
