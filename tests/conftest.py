"""Shared fixtures: a CliRunner-driven `grade`, learner files made from the reference.

Conventions every test here keeps (issue 11):
- Slow tests: a test that takes 20 s or more alone on a 2-core machine (whole gradings of the
  CNN, Q-learning and distributed items, `grade verify` of such a pair) is marked
  `@pytest.mark.slow` by whoever writes it (setup.cfg); `bash scripts/test.sh` leaves them out,
  `bash scripts/test.sh --slow` runs them, CI runs both. Every protection and every item keeps
  at least one test in the default run. Before marking a test slow, prefer grading less: one
  named check (`only_checks`), or one grading that several tests assert on.
- Processes: a test looks at and signals only processes it started, found by parent pid
  (tests/process_tree.py), never by name or machine-wide; other test runs and learners'
  gradings share the machine.
- Load: the machine may be busy. No test depends on a quiet machine: time limits and waits
  have wide margins (or are stated relative to the limits the report gives), and a judge run
  in a subprocess that prints no report fails with its stderr.
- Stubs: a test that grades a stub grades the bank's own (`pristine_stub`), never
  `exercises/ID/ID.py` as a learner left it.
"""

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from grader.cli import cli

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def private_progress(tmp_path, monkeypatch):
    """Never touch the developer's own progress file, nor their cache folder."""
    monkeypatch.setenv("DLPREP_PROGRESS", str(tmp_path / "progress.json"))
    monkeypatch.setenv("DLPREP_CACHE", str(tmp_path / "cache"))


@pytest.fixture
def grade():
    """Run `grade ARGS...` in process; returns the click Result."""

    def run(*args):
        return CliRunner().invoke(cli, [str(arg) for arg in args], catch_exceptions=False)

    return run


@pytest.fixture
def grade_json(grade):
    """Run `grade exercise ID --format json ...`; returns (exit code, parsed report)."""

    def run(item_id, *args):
        result = grade("exercise", item_id, "--format", "json", "--device", "cpu", *args)
        try:
            return result.exit_code, json.loads(result.stdout)
        except ValueError:
            pytest.fail(f"`grade exercise {item_id}` (exit {result.exit_code}) printed no JSON "
                        f"report: stdout {result.stdout[-1000:]!r}; stderr "
                        f"{result.stderr[-3000:]}")

    return run


@pytest.fixture
def only_checks(bank_copy):
    """`only_checks(EXPR)`: the private bank's suites run only the checks pytest's -k EXPR
    selects. For tests about one named check: the others would take seconds each, and
    `grade verify` proves that the reference passes all of them."""

    def select(expression):
        ini = bank_copy / "grader" / "suites" / "pytest.ini"
        ini.write_text(ini.read_text() + f'addopts = -k "{expression}"\n')

    return select


@pytest.fixture
def pristine_stub():
    """`pristine_stub(item_id)`: the bank's own stub of an item, to grade instead of
    `exercises/ID/ID.py`, which a learner may have edited (see grader/bank_stubs.py)."""
    import contextlib

    from grader.bank_stubs import bank_stub
    from grader.catalog import Bank

    with contextlib.ExitStack() as stack:
        yield lambda item_id: stack.enter_context(bank_stub(Bank(), item_id)).path


@pytest.fixture
def learner_file(tmp_path):
    """A learner file: the reference of `item_id` with `extra` code appended (overrides)."""

    def make(item_id, extra="", source=None, name=None):
        reference = (ROOT / "solutions" / item_id / f"{item_id}.py").read_text()
        path = tmp_path / (name or f"{item_id}.py")
        path.write_text(reference + "\n" + extra if source is None else source)
        return path

    return make


@pytest.fixture
def bank_copy(tmp_path, monkeypatch):
    """A private copy of the bank (catalog, suites, exercises, solutions) that a test may break;
    `grade` uses it through DLPREP_ROOT."""
    import shutil

    bank = tmp_path / "bank"
    shutil.copytree(ROOT / "grader" / "suites", bank / "grader" / "suites")
    shutil.copy(ROOT / "grader" / "catalog.yaml", bank / "grader" / "catalog.yaml")
    for part in ("exercises", "solutions"):
        shutil.copytree(ROOT / part, bank / part)
    restore_pristine_stubs(bank)
    monkeypatch.setenv("DLPREP_ROOT", str(bank))
    return bank


def pristine_stub_text(item_id):
    """The text of the bank's own stub of an item (never a learner's edits to it)."""
    from grader.bank_stubs import bank_stub
    from grader.catalog import Bank

    with bank_stub(Bank(), item_id) as stub:
        return stub.path.read_text(encoding="utf-8")


def restore_pristine_stubs(bank_root):
    """The bank's own stubs in a copy of `exercises/`, whatever a learner did to the working
    ones in this checkout (grader/bank_stubs.py finds them)."""
    import shutil

    from grader.bank_stubs import bank_stub
    from grader.catalog import Bank

    source = Bank()
    for item_id in source.items:
        with bank_stub(source, item_id) as stub:
            copy = bank_root / source.stub_file(item_id).relative_to(source.root)
            if stub.path.resolve() != copy.resolve():
                shutil.copyfile(stub.path, copy)
