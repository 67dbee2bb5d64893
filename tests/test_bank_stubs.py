"""The stub that `grade verify` and the tests grade is the bank's own, not the learner's desk."""

import shutil
import subprocess
from pathlib import Path

import pytest

from grader import practice
from grader.bank_stubs import bank_stub, stale_digests
from grader.catalog import Bank

ROOT = Path(__file__).resolve().parent.parent
ITEM = "linear_regression_torch"
REFERENCE = ROOT / "solutions" / ITEM / f"{ITEM}.py"


def git(bank, *args):
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.org", *args],
                   cwd=bank, check=True, capture_output=True)


@pytest.fixture
def committed_bank(bank_copy):
    """The private bank copy with its stub digests, as a git checkout with the stubs committed."""
    shutil.copy(ROOT / practice.MANIFEST, bank_copy / practice.MANIFEST)
    git(bank_copy, "init", "-q")
    git(bank_copy, "add", "exercises", "grader")
    git(bank_copy, "commit", "-q", "-m", "bank")
    return bank_copy


def stub_path(bank, item_id=ITEM):
    return bank / "exercises" / item_id / f"{item_id}.py"


def test_verify_grades_the_committed_stub_when_the_working_one_is_edited(grade,
                                                                         committed_bank):
    pristine = stub_path(committed_bank).read_bytes()
    shutil.copy(REFERENCE, stub_path(committed_bank))  # a learner solved it in place
    result = grade("verify", ITEM, "--device", "cpu")
    assert result.exit_code == 0 and result.output.count("yes") == 1, result.output
    assert (f"stub: exercises/{ITEM}/{ITEM}.py (as committed; your working copy is edited"
            in result.output), result.output
    assert "python -m grader.practice" in result.output, result.output
    assert stub_path(committed_bank).read_bytes() == REFERENCE.read_bytes() != pristine, (
        "verify must leave the learner's file as it was")


def test_an_untouched_stub_is_graded_where_it_is(committed_bank):
    with bank_stub(Bank(committed_bank), ITEM) as graded:
        assert graded.path == stub_path(committed_bank) and graded.pristine
        assert graded.note == f"exercises/{ITEM}/{ITEM}.py"


def test_an_edited_stub_is_graded_as_committed_and_the_copy_is_removed(committed_bank):
    pristine = stub_path(committed_bank).read_bytes()
    stub_path(committed_bank).write_text("def predict(model, x):\n    return x\n")
    with bank_stub(Bank(committed_bank), ITEM) as graded:
        assert graded.path != stub_path(committed_bank)
        assert graded.path.read_bytes() == pristine and graded.path.name == f"{ITEM}.py"
        assert "as committed; your working copy is edited" in graded.note, graded.note
        copy = graded.path
    assert not copy.exists(), "the temporary copy of the stub outlived its use"


def test_the_learners_own_commits_never_pass_for_the_stub(committed_bank):
    pristine = stub_path(committed_bank).read_bytes()
    shutil.copy(REFERENCE, stub_path(committed_bank))
    git(committed_bank, "commit", "-q", "-am", "my solution")
    with bank_stub(Bank(committed_bank), ITEM) as graded:
        assert graded.path.read_bytes() == pristine, graded.note


def test_a_stub_committed_without_new_digests_tells_the_author_to_update_them(committed_bank):
    pristine = stub_path(committed_bank).read_bytes()
    stub_path(committed_bank).write_text(stub_path(committed_bank).read_text() + "# edited\n")
    git(committed_bank, "commit", "-q", "-am", "author edits the stub, forgets the digests")
    with bank_stub(Bank(committed_bank), ITEM) as graded:
        assert graded.path.read_bytes() == pristine, "the stub the digests name is graded"
        assert "run `python -m grader.practice`" in graded.note, graded.note


def test_a_committed_stub_with_no_digest_is_graded_as_committed_and_the_author_told(
        committed_bank):
    manifest = committed_bank / practice.MANIFEST
    lines = manifest.read_text().splitlines(keepends=True)
    manifest.write_text("".join(line for line in lines if f"/{ITEM}/" not in line))
    stub_path(committed_bank).write_text(stub_path(committed_bank).read_text() + "# edited\n")
    git(committed_bank, "commit", "-q", "-am", "author edits the stub and drops its digest")
    stub_path(committed_bank).write_text("my own work\n")
    with bank_stub(Bank(committed_bank), ITEM) as graded:
        assert graded.path.read_text().endswith("# edited\n"), "HEAD's stub is graded"
        assert "digest is not in grader/stubs.sha256" in graded.note, graded.note
        assert "run `python -m grader.practice`" in graded.note, graded.note


def test_an_item_with_no_committed_stub_uses_the_working_file(bank_copy):
    shutil.copy(ROOT / practice.MANIFEST, bank_copy / practice.MANIFEST)  # no git at all
    stub_path(bank_copy).write_text(stub_path(bank_copy).read_text() + "# new task\n")
    with bank_stub(Bank(bank_copy), ITEM) as graded:
        assert graded.path == stub_path(bank_copy) and not graded.pristine
        assert "not committed yet" in graded.note and "grader.practice" in graded.note, (
            graded.note)


def test_an_edited_theory_stub_is_graded_as_rendered_from_its_key(bank_copy):
    item_id = "theory_speed"
    stub = bank_copy / "exercises" / item_id / f"{item_id}.yaml"
    blank = stub.read_bytes()
    stub.write_text(stub.read_text().replace("q1:", "q1: b", 1))
    assert stub.read_bytes() != blank, "the test's edit changed nothing"
    with bank_stub(Bank(bank_copy), item_id) as graded:
        assert graded.path.read_bytes() == blank, graded.note
        assert "your working copy is edited" in graded.note, graded.note


def test_every_stub_digest_names_the_committed_or_the_working_stub():
    stale = stale_digests(Bank(ROOT))
    assert not stale, "\n".join(stale)


def test_a_learners_edit_leaves_the_digests_current_and_an_authors_commit_does_not(
        committed_bank):
    stub_path(committed_bank).write_text("my own work\n")
    assert stale_digests(Bank(committed_bank)) == [], "a learner's edit counted"
    git(committed_bank, "commit", "-q", "-am", "an author changes the stub")
    stale = stale_digests(Bank(committed_bank))
    assert len(stale) == 1 and f"exercises/{ITEM}/{ITEM}.py" in stale[0], stale
    assert "run `python -m grader.practice`" in stale[0], stale
    (committed_bank / practice.MANIFEST).write_text(practice.manifest_text(Bank(committed_bank)))
    assert stale_digests(Bank(committed_bank)) == [], "updated digests still called stale"
