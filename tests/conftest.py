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
        return result.exit_code, json.loads(result.stdout)

    return run


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
