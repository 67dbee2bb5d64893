"""The stub that bank checks grade: the bank's own, never a learner's edits.

`grade verify` and the project's tests prove that every stub fails its suite. A learner who
practises edits the stubs in `exercises/`, so those files are the bank's stubs only while they
are untouched. `bank_stub` picks, in this order:

1. the working stub, when its SHA-256 is the one `grader/stubs.sha256` names (for a theory item:
   when it is the blank answers file rendered from the key);
2. else the committed stub from the bank's git history (the version with that digest, else the
   one at HEAD), written to a temporary file;
3. else, for an item with no committed stub yet, the working file.

Each choice comes with a note for people saying which stub it is, and, when the working copy
differs from the digests, that a bank author who changed the stub on purpose runs
`python -m grader.practice` to update them.
"""

import contextlib
import dataclasses
import shutil
import subprocess
import tempfile
from pathlib import Path

from grader import practice

UPDATE_DIGESTS = ("if you changed the stub on purpose, run `python -m grader.practice` to "
                  "update grader/stubs.sha256")


@dataclasses.dataclass
class GradedStub:
    path: Path  # the file to grade
    note: str  # which stub it is, e.g. "exercises/x/x.py (as committed; ...)"
    pristine: bool  # the bank's original stub (False: a working file nothing vouches for)


@contextlib.contextmanager
def bank_stub(bank, item_id):
    """Context manager: the GradedStub of `item_id`; a temporary copy is removed on exit."""
    folder = tempfile.mkdtemp(prefix="dlprep-stub-")
    try:
        yield choose(bank, bank.item(item_id), Path(folder))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def choose(bank, item, folder):
    """The GradedStub of `item`; a copy that has to be written goes into `folder`."""
    working = bank.stub_file(item.id)
    shown = _display(bank, working)
    try:
        current = working.read_bytes()
    except OSError:
        current = None

    def copy(content, note):
        path = folder / working.name
        path.write_bytes(content)
        return GradedStub(path, f"{shown} ({note})", pristine=True)

    if item.kind == "theory":
        try:
            original = practice.original_stub(bank, item)
        except (practice.BankFault, practice.NoOriginal):
            return GradedStub(working, f"{shown} (its key is broken)", pristine=False)
        if current == original:
            return GradedStub(working, shown, pristine=True)
        return copy(original, "as rendered from its key; your working copy is edited")

    try:
        wanted = practice.original_digest(bank, item.id)
    except practice.BankFault:
        wanted = None
    if wanted is not None and current is not None and practice.digest(current) == wanted:
        return GradedStub(working, shown, pristine=True)
    committed = practice._from_git_history(bank.root, working, wanted) if wanted else None
    if committed is not None:
        return copy(committed, f"as committed; your working copy is edited: {UPDATE_DIGESTS}")
    at_head = _at_head(bank.root, working)
    if at_head is not None:  # committed, but with no digest: the digests are stale
        return copy(at_head, "as committed at HEAD; its digest is not in grader/stubs.sha256: "
                             "run `python -m grader.practice` to update it")
    why = "not committed yet" if current is not None else "missing"
    if wanted is not None and current is not None:
        why += f"; it differs from grader/stubs.sha256: {UPDATE_DIGESTS}"
    return GradedStub(working, f"{shown} ({why})", pristine=False)


def stale_digests(bank):
    """The code items' stubs whose digest in `grader/stubs.sha256` is neither that of the stub
    committed at HEAD nor that of the working file, with what to do about them.

    A learner's edits never make a digest stale (the committed stub still has it); a stub an
    author changed does, from the commit on, until they run `python -m grader.practice`; an
    author who has run it before committing is fine either way.
    """
    stale = []
    for item in bank.items.values():
        if item.kind == "theory":
            continue
        stub = bank.stub_file(item.id)
        try:
            wanted = practice.original_digest(bank, item.id)
        except practice.BankFault as fault:
            stale.append(str(fault))
            continue
        versions = [_at_head(bank.root, stub), stub.read_bytes() if stub.is_file() else None]
        if wanted not in {practice.digest(content) for content in versions if content is not None}:
            stale.append(f"{_display(bank, stub)}: its digest in grader/stubs.sha256 is stale: "
                         "run `python -m grader.practice` after editing a stub")
    return stale


def _at_head(root, stub):
    """The content of `stub` in the commit at HEAD of the bank's git checkout, or None."""
    def git(*args):
        done = subprocess.run(["git", "-C", str(root), *args], capture_output=True,
                              timeout=practice.GIT_TIMEOUT_S, check=False)
        return done.stdout if done.returncode == 0 else None

    try:
        top = git("rev-parse", "--show-toplevel")
        if not top:
            return None
        relative = stub.resolve().relative_to(Path(top.decode().strip()).resolve()).as_posix()
        return git("show", f"HEAD:{relative}")
    except (OSError, ValueError, subprocess.TimeoutExpired):
        return None


def _display(bank, path):
    try:
        return Path(path).resolve().relative_to(bank.root.resolve()).as_posix()
    except ValueError:
        return bank.display(path)
