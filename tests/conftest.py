"""Shared fixtures: a CliRunner-driven `grade`, learner files made from the reference."""

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from grader.cli import cli

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def private_progress(tmp_path, monkeypatch):
    """Never touch the developer's own progress file."""
    monkeypatch.setenv("DLPREP_PROGRESS", str(tmp_path / "progress.json"))


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
    monkeypatch.setenv("DLPREP_ROOT", str(bank))
    return bank
