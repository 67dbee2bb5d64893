"""What `grade doctor` reports: the devices and versions the frameworks see, the limits this
machine lets the grader enforce, and where the practice state lives.

The frameworks are queried in fresh interpreters with the workers' environment
(`python -m grader.doctor FRAMEWORK` prints one JSON line), never in this process: the judge
imports no framework.
"""

import json
import subprocess
import sys
from pathlib import Path

FRAMEWORKS = ("torch", "jax")
QUERY_TIMEOUT_S = 120


def facts(bank):
    """Everything the doctor reports, as plain data."""
    from grader import __version__

    return {"grader": f"dlprep {__version__} on Python {sys.version.split()[0]} "
                      f"({sys.executable})",
            "frameworks": query_frameworks(), "limits": enforceable_limits(bank),
            "paths": paths(bank)}


def query_frameworks():
    """{framework: what a worker-like interpreter sees}, both queried at once."""
    from grader.workers import worker_environment

    package_root = str(Path(__file__).resolve().parent.parent)
    env = worker_environment("auto", package_root)
    running = {name: subprocess.Popen(
        [sys.executable, "-s", "-m", "grader.doctor", name],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
        for name in FRAMEWORKS}
    found = {}
    for name, process in running.items():
        try:
            out, err = process.communicate(timeout=QUERY_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
            found[name] = {"error": f"no answer within {QUERY_TIMEOUT_S} s"}
            continue
        try:
            found[name] = json.loads(out.strip().splitlines()[-1])
        except (ValueError, IndexError):
            last = (err.strip().splitlines() or ["no output"])[-1]
            found[name] = {"error": f"the query failed: {last}"}
    return found


def query(framework):
    """Runs in a fresh interpreter: print one JSON line about `framework`."""
    facts = {}
    try:
        from grader.worker import resolve_device

        if framework == "torch":
            import torch

            facts["version"] = torch.__version__
            facts["devices"] = ["cpu"] + [f"cuda:{index} ({torch.cuda.get_device_name(index)})"
                                          for index in range(torch.cuda.device_count())]
        else:
            import jax

            facts["version"] = jax.__version__
            facts["devices"] = []
            for platform in ("cpu", "gpu"):
                try:
                    facts["devices"] += [f"{device.platform}:{device.id} ({device.device_kind})"
                                         for device in jax.devices(platform)]
                except RuntimeError:  # no such backend here
                    pass
        device, name = resolve_device(framework, "auto")
        facts["auto"] = f"{device}: {name}"
    except Exception as exc:  # an install problem is a fact to report, not a crash
        facts["error"] = f"{type(exc).__name__}: {exc}"
    print(json.dumps(facts))


def enforceable_limits(bank):
    """Which of the workers' limits this machine lets the grader enforce."""
    from grader.containment import Containment, become_subreaper
    from grader.judge import Limits

    first = next(iter(bank.items.values()))
    limits = Limits(**first.limits)
    probe = Containment(limits.memory_mb)
    try:
        memory = probe.memory_note
        cgroup = probe.cgroup is not None
        freezer = probe.can_freeze
    finally:
        probe.release()
    subreaper = become_subreaper()
    return {
        "time": f"enforced: {limits.describe()} (per item in grader/catalog.yaml)",
        "memory": memory,
        "processes": "own process group per worker, killed after each run" + (
            "; a cgroup holds even processes that leave the group" if cgroup else
            "; orphans re-parented to the grader and killed" if subreaper else
            "; processes that leave the group (setsid) may survive"),
        "process count": (f"at most {probe.pids_limit} processes and threads per worker"
                          if probe.pids_limit else "not limited (no writable pids cgroup)"),
        "reference timing": ("your worker is frozen while the reference is timed"
                             if freezer else "your worker keeps running while the reference "
                             "is timed (no writable freezer cgroup)"),
        "sandbox": sandbox_fact(),
    }


def sandbox_fact():
    """What --sandbox auto gives here, and which protections hold; or why none does."""
    from grader import sandbox

    choice = sandbox.choose("auto")
    if choice.kind == "none":
        return (f"none: graded code runs as your user and sees your files ({choice.reason}). "
                "--require-sandbox refuses to grade here.")
    return (f"{choice.kind} ({choice.binary}): " + "; ".join(sandbox.PROTECTIONS))


def paths(bank):
    from grader import progress

    from grader import cache

    state = progress.state_dir(bank)
    return {"bank": str(bank.root), "catalog": str(bank.catalog_file),
            "items": len(bank.items),
            "progress file": str(progress.progress_file(bank)),
            "hints shown": str(state / "hints.json"),
            "reset backups": str(state / "backups"),
            "reference store (delete after an unsandboxed grading of an untrusted file)":
                str(cache.default_dir()),
            "your compilation caches (likewise)": str(state / cache.COMPILED)}


if __name__ == "__main__":
    query(sys.argv[1])
