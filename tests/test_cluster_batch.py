"""`grade batch ... --scheduler ADDRESS`: a batch graded on a Dask cluster.

A Dask scheduler and two one-thread workers are started as real processes on 127.0.0.1 (free
ports, no nanny: the pid started is the worker), each worker with its own reference store (a
machine of its own). Six submissions of two items (three candidates, each handing in
linear_regression_torch and linear_regression_jax: the reference, the bank's stub, a wrong
variant) are graded through them and by a local batch of the same seed; one worker is killed
by its pid while it grades, and every result still arrives once. Every process the test
started is stopped at the end, by its pid.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from grader import sandbox
from conftest import pristine_stub_text

pytest.importorskip("distributed", reason="the extra `cluster` (dask[distributed]) is needed")

ROOT = Path(__file__).resolve().parent.parent
ITEMS = ("linear_regression_torch", "linear_regression_jax")
WRONG_LOSS = """

def mse_loss(predictions, targets):
    return ((predictions - targets) ** 2).sum()  # summed, not averaged
"""
SEED = 777
SANDBOXED = sandbox.choose("auto").kind == "bwrap"
SANDBOX_ARGS = [] if SANDBOXED else ["--sandbox", "none"]


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def reference_text(item_id):
    return (ROOT / "solutions" / item_id / f"{item_id}.py").read_text()


def make_submissions(folder):
    """Three candidates, each handing in both items: six submissions."""
    for item_id in ITEMS:
        texts = {"ref": reference_text(item_id), "stub": pristine_stub_text(item_id),
                 "wrong": reference_text(item_id) + WRONG_LOSS}
        for name, text in texts.items():
            (folder / name).mkdir(parents=True, exist_ok=True)
            (folder / name / f"{item_id}.py").write_text(text)


def children(pid):
    """The pids whose parent is `pid` (from /proc)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as handle:
                    fields = handle.read().rsplit(")", 1)[1].split()
                if int(fields[1]) == pid:
                    found.append(int(entry))
            except (OSError, IndexError, ValueError):
                continue
    return found


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.fixture
def cluster(tmp_path):
    """(address, {name: worker Popen}): a scheduler and two workers, stopped afterwards."""
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    started = []
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    logs = tmp_path / "logs"
    logs.mkdir()

    def start(name, args, extra_env=None):
        log = open(logs / f"{name}.log", "wb")
        process = subprocess.Popen([sys.executable, "-m", *args], stdout=log,
                                   stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   env=dict(env, **(extra_env or {})), cwd=tmp_path)
        log.close()
        started.append(process)
        return process

    workers = {}
    try:
        start("scheduler", ["distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port",
                            str(port), "--dashboard-address", f"127.0.0.1:{free_port()}"])
        for name in ("w1", "w2"):
            workers[name] = start(name, ["distributed.cli.dask_worker", address, "--nthreads",
                                         "1", "--no-nanny", "--host", "127.0.0.1", "--name",
                                         name, "--no-dashboard", "--local-directory",
                                         str(tmp_path / name)],
                                  {"DLPREP_CACHE": str(tmp_path / f"cache-{name}")})
        from distributed import Client

        deadline = time.monotonic() + 90
        while True:
            try:
                with Client(address, timeout=5, set_as_default=False) as client:
                    if len(client.scheduler_info()["workers"]) == 2:
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, (logs / "w1.log").read_text()
            time.sleep(1)
        yield address, workers
    finally:
        for process in reversed(started):
            if process.poll() is None:
                process.terminate()
        for process in started:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def run_batch(submissions, results, *args):
    done = subprocess.run([sys.executable, "-m", "grader", "batch", str(submissions), "--out",
                           str(results), "--items", ",".join(ITEMS), "--device", "cpu", "--seed",
                           str(SEED), *SANDBOX_ARGS, *args],
                          capture_output=True, text=True, timeout=900, cwd=ROOT)
    return done.returncode, done.stdout + done.stderr


def verdicts(results):
    out = {}
    for path in sorted((results / "candidates").glob("*.json")):
        record = json.loads(path.read_text())
        assert record["errors"] == [], record["errors"]
        assert list(record["items"]) == list(ITEMS), list(record["items"])
        for item_id, report in record["items"].items():
            out[record["candidate"], item_id] = (
                report["status"], report["score"], report["max_score"],
                [(check["name"], check["status"]) for check in report["checks"]])
    return out


@pytest.mark.slow  # two batches of six gradings of two items and a cluster: minutes
def test_a_batch_on_a_dask_cluster_matches_a_local_batch_and_survives_a_killed_worker(
        tmp_path, cluster):
    address, workers = cluster
    submissions = tmp_path / "submissions"
    make_submissions(submissions)

    remote = tmp_path / "remote"
    batch = subprocess.Popen([sys.executable, "-m", "grader", "batch", str(submissions),
                              "--out", str(remote), "--items", ",".join(ITEMS), "--device", "cpu",
                              "--seed", str(SEED), "--scheduler", address, *SANDBOX_ARGS],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             cwd=ROOT)
    try:
        victim = workers["w1"]
        deadline = time.monotonic() + 120
        while not children(victim.pid):  # wait until w1 runs a judge, then kill w1
            assert batch.poll() is None and time.monotonic() < deadline, "w1 never graded"
            time.sleep(0.1)
        judges = children(victim.pid)
        os.kill(victim.pid, signal.SIGKILL)
        victim.wait(timeout=30)
        out, err = batch.communicate(timeout=600)
    finally:
        if batch.poll() is None:
            batch.kill()
            batch.wait()
    assert batch.returncode == 0, out + err
    assert "dashboard: http://127.0.0.1:" in err
    deadline = time.monotonic() + 60
    while any(alive(pid) for pid in judges):  # the killed worker's judge ended with it
        assert time.monotonic() < deadline, "a judge of the killed worker outlived it"
        time.sleep(0.5)

    state = json.loads((remote / "batch.json").read_text())
    assert state["runs"][-1]["graded"] == 6 and state["runs"][-1]["judge_errors"] == 0
    on_cluster = verdicts(remote)
    assert sorted(on_cluster) == sorted((name, item_id) for name in ("ref", "stub", "wrong")
                                        for item_id in ITEMS)
    graded_by = {json.loads((remote / "candidates" / f"{name}.json").read_text())
                 ["items"][item_id]["graded_by"]["worker"] for name, item_id in on_cluster}
    assert graded_by and all(worker.startswith("tcp://127.0.0.1:") for worker in graded_by)

    local = tmp_path / "local"
    code, output = run_batch(submissions, local, "--jobs", "2")
    assert code == 0, output
    assert on_cluster == verdicts(local)
    for item_id in ITEMS:
        ref, stub, wrong = (on_cluster[name, item_id] for name in ("ref", "stub", "wrong"))
        assert ref[0] == "passed" and wrong[0] != "passed", (item_id, ref, wrong)
        assert stub[1] < wrong[1] < ref[1], (item_id, stub, wrong, ref)

    # resuming sends nothing again
    code, output = run_batch(submissions, remote, "--scheduler", address)
    assert code == 0, output
    assert "3 candidates, 0 submissions to grade (6 graded before)" in output
    assert verdicts(remote) == on_cluster


def test_a_batch_without_scheduler_imports_nothing_of_dask():
    code = ("import sys, grader.cli, grader.assessment.batch, grader.cli.batch; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT, timeout=60)
    assert done.stdout.strip() == "[]", done.stdout + done.stderr
