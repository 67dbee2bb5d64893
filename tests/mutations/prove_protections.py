"""Prove that each protection of the grader has a test that fails without it.

For every mutation below (one protection removed, nothing else), this script copies the
checkout to a scratch folder, applies the mutation there, and runs the tests that guard it with
the copy first on PYTHONPATH (so `import grader`, in the tests and in the workers, is the copy).
A protection is proved when its tests pass on the unmutated copy and at least one fails on the
mutated one. The checkout itself is never modified.

    .venv/bin/python tests/mutations/prove_protections.py              # the working tree
    .venv/bin/python tests/mutations/prove_protections.py --from-head  # HEAD + these tests
    .venv/bin/python tests/mutations/prove_protections.py --only seq multi

It prints a table (protection | mutation | tests | result) and exits 1 when a mutation went
unnoticed, a mutation no longer applies (the protected code changed: update MUTATIONS), or the
baseline fails. Not collected by pytest (the name does not start with test_); it takes a few
minutes (every grading starts PyTorch workers).
"""

import argparse
import dataclasses
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OWN_FILES = ("tests/test_protections.py", "tests/test_channel.py",
             "tests/mutations/prove_protections.py")
IGNORED = shutil.ignore_patterns(".venv", ".git", "__pycache__", ".dlprep", "*.egg-info",
                                 ".pytest_cache", ".mypy_cache", ".ruff_cache")

P = "tests/test_protections.py::"
C = "tests/test_channel.py::"
FORMULA = P + "test_a_learner_calls_limit_is_factor_times_the_reference_between_floor_and_cap"


@dataclasses.dataclass
class Mutation:
    name: str
    protection: str
    path: str
    old: str
    new: str
    tests: tuple

    def describe(self):
        old = " ".join(self.old.split())
        new = " ".join(self.new.split())
        return f"{self.path}: `{old}` -> `{new}`"


MUTATIONS = [
    Mutation("form", "form_of: a learner result of another form reads failed",
             "grader/judge.py",
             'differs = form_of(reply["value"]) != self.timing.reference_form[probe]',
             "differs = False",
             (P + "test_a_result_with_a_renamed_key_is_failed_with_the_form_message_not_an_"
                  "internal_error",)),
    Mutation("cap-default", "channel size cap: the default", "grader/channel.py",
             "DEFAULT_CAP = 64 * 1024 * 1024", "DEFAULT_CAP = 1024 ** 4",
             (P + "test_the_default_frame_cap_is_at_most_64_mib_and_is_what_workers_use",
              P + "test_a_result_just_over_the_default_cap_gets_the_output_limit_verdict")),
    Mutation("cap-spec", "channel size cap: the workers' default", "grader/workers.py",
             "frame_cap: int = channel.DEFAULT_CAP", "frame_cap: int = 1024 ** 4",
             (P + "test_the_default_frame_cap_is_at_most_64_mib_and_is_what_workers_use",
              P + "test_a_result_just_over_the_default_cap_gets_the_output_limit_verdict")),
    Mutation("cap-read", "channel size cap: applied when reading a reply", "grader/workers.py",
             "channel.frame_length(prefix, self.spec.frame_cap)",
             "channel.frame_length(prefix, 2 ** 62)",
             (P + "test_a_result_just_over_the_default_cap_gets_the_output_limit_verdict",)),
    Mutation("dtype", "dtype whitelist on decode (anything but object)", "grader/channel.py",
             "    if dtype not in ALLOWED_DTYPES:\n        raise ProtocolError(",
             '    if np.dtype(dtype).kind == "O":\n        raise ProtocolError(',
             (C + "test_arrays_of_a_dtype_outside_the_whitelist_are_refused_on_decode",)),
    Mutation("seq", "reply sequence-number check", "grader/workers.py",
             'if reply.get("seq") != self.sequence:', "if False:",
             (P + "test_a_correct_result_forged_with_a_stale_sequence_number_is_not_accepted",)),
    Mutation("multi", "more than one message for one request", "grader/workers.py",
             "if len(buffer) > 8 + length:", "if False:",
             (P + "test_a_forged_result_in_front_of_the_real_reply_is_not_accepted",)),
    Mutation("killpg", "teardown: process-group kill", "grader/containment.py",
             "os.killpg(self.pgid, signal.SIGKILL)", "pass",
             (P + "test_the_process_group_kill_alone_ends_an_orphan_left_in_the_workers_group",)),
    Mutation("cgroup", "teardown: cgroup kill", "grader/containment.py",
             "        for group in self._groups():\n            group.kill()", "        pass",
             (P + "test_the_cgroup_kill_alone_ends_a_setsid_orphan",)),
    Mutation("sweep", "teardown: end-of-run orphan sweep", "grader/judge.py",
             "sweep_orphans(keep=children_before)", "pass",
             (P + "test_the_end_of_run_sweep_alone_ends_a_setsid_orphan",)),
    Mutation("limit-cap", "time limit formula: the cap", "grader/judge.py",
             "return min(self.cap_s, max(self.floor_s, self.factor * reference_s))",
             "return max(self.floor_s, self.factor * reference_s)",
             (FORMULA,)),
    Mutation("limit-floor", "time limit formula: the floor", "grader/judge.py",
             "return min(self.cap_s, max(self.floor_s, self.factor * reference_s))",
             "return min(self.cap_s, self.factor * reference_s)",
             (FORMULA,)),
    Mutation("limit-factor", "time limit formula: the factor", "grader/judge.py",
             "return min(self.cap_s, max(self.floor_s, self.factor * reference_s))",
             "return min(self.cap_s, max(self.floor_s, 10 * reference_s))",
             (FORMULA,)),
    Mutation("limit-use", "time limit: learner calls use the calibrated limit", "grader/judge.py",
             "session.limits.for_reference(reference_s)", "session.limits.cap_s",
             (P + "test_the_learners_call_gets_the_limit_calibrated_on_the_references_time",)),
]


def make_copy(destination, from_head):
    if destination.exists():
        shutil.rmtree(destination)
    if from_head:
        destination.mkdir(parents=True)
        archive = subprocess.run(["git", "archive", "HEAD"], cwd=ROOT, capture_output=True,
                                 check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(destination)], input=archive, check=True)
        for name in OWN_FILES:  # the tests under proof, as they are now
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(ROOT / name, destination / name)
    else:
        shutil.copytree(ROOT, destination, ignore=IGNORED)


def environment(copy):
    env = {key: value for key, value in os.environ.items()
           if key not in ("DLPREP_ROOT", "PYTHONPATH", "DLPREP_PROGRESS")}
    env["PYTHONPATH"] = str(copy)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["COLUMNS"] = "400"  # pytest's short summary keeps more of each failure's message
    return env


def check_import(copy):
    done = subprocess.run([sys.executable, "-c", "import grader; print(grader.__file__)"],
                          cwd=copy, env=environment(copy), capture_output=True, text=True)
    where = done.stdout.strip()
    if not where.startswith(str(copy) + os.sep):
        raise SystemExit(f"`import grader` in {copy} found {where!r}: the copy is not the "
                         f"one under test ({done.stderr.strip()[-300:]})")


def run_tests(copy, tests, timeout_s):
    """(exit code, failed test names, seconds, output tail) of pytest on `tests` in `copy`."""
    started = time.monotonic()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-rfE", "-p", "no:cacheprovider",
             "-p", "no:randomly", *tests], cwd=copy, env=environment(copy),
            capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired as expired:
        output = (expired.stdout or b"").decode() if isinstance(expired.stdout, bytes) else \
            (expired.stdout or "")
        return None, [], time.monotonic() - started, output[-2000:]
    failed = re.findall(r"^(?:FAILED|ERROR) \S+?::(\S+)(?: - (.*))?$", done.stdout, re.M)
    return done.returncode, failed, time.monotonic() - started, done.stdout[-2000:]


def apply(mutation, copy):
    target = copy / mutation.path
    text = target.read_text()
    count = text.count(mutation.old)
    if count != 1:
        return f"the protected code changed: {mutation.old!r} occurs {count} times"
    target.write_text(text.replace(mutation.old, mutation.new))
    return None


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--from-head", action="store_true",
                        help="copy HEAD (plus this proof's tests) instead of the working tree")
    parser.add_argument("--only", nargs="*", help="mutation names (default: all)")
    parser.add_argument("--scratch", default=tempfile.gettempdir(),
                        help="where the copies go (default: the temp folder)")
    parser.add_argument("--timeout", type=int, default=600, help="seconds per pytest run")
    parser.add_argument("--skip-baseline", action="store_true")
    args = parser.parse_args()

    chosen = [m for m in MUTATIONS if not args.only or m.name in args.only]
    if args.only and len(chosen) != len(args.only):
        raise SystemExit(f"unknown mutation in {args.only}; known: "
                         f"{[m.name for m in MUTATIONS]}")
    scratch = Path(args.scratch) / f"dlprep-mutations-{os.getpid()}"
    pristine = scratch / "pristine"
    make_copy(pristine, args.from_head)
    check_import(pristine)
    ok = True
    try:
        if not args.skip_baseline:
            tests = sorted({test for m in chosen for test in m.tests})
            code, failed, seconds, tail = run_tests(pristine, tests, args.timeout * 2)
            print(f"baseline (no mutation): exit {code}, {len(tests)} test functions, "
                  f"{seconds:.0f} s", flush=True)
            if code != 0:
                print(f"the tests do not pass on the unmutated copy: "
                      f"{[name for name, _ in failed]}\n{tail}")
                return 1
        rows = []
        for mutation in chosen:
            copy = scratch / mutation.name
            shutil.copytree(pristine, copy)
            problem = apply(mutation, copy)
            if problem:
                rows.append((mutation, f"NOT APPLIED: {problem}"))
                ok = False
                continue
            code, failed, seconds, tail = run_tests(copy, mutation.tests, args.timeout)
            if code is None:
                result = f"caught: timed out after {seconds:.0f} s"
            elif code != 0 and failed:
                more = f" and {len(failed) - 1} more" if len(failed) > 1 else ""
                reason = " ".join(failed[0][1].split())[:240]
                result = (f"caught in {seconds:.0f} s: {failed[0][0]}{more} failed: "
                          f"{reason}").replace("|", "/")
            else:
                result = f"NOT CAUGHT: pytest exit {code}, {seconds:.0f} s"
                ok = False
                print(tail)
            rows.append((mutation, result))
            print(f"{mutation.name}: {result}", flush=True)
            shutil.rmtree(copy, ignore_errors=True)
        print()
        print("| protection | mutation | test(s) | result with the protection removed |")
        print("|---|---|---|---|")
        for mutation, result in rows:
            tests = "<br>".join(test.split("::")[-1] for test in mutation.tests)
            print(f"| {mutation.protection} | {mutation.describe()} | {tests} | {result} |")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
