"""The original stubs, for `grade reset`, and the backups a reset keeps of the learner's version.

A code item's original stub is known by its content, never by its look: `grader/stubs.sha256`
holds the SHA-256 of every code item's pristine stub, one `<digest>  exercises/ID/ID.py` line
each (the format `sha256sum -c grader/stubs.sha256` checks). A reset restores the version of the
stub in the bank's git history whose content has that digest, so a learner's own commits never
pass for the original, however much of the stub they still hold. A digest rather than a second
copy of every stub: one small file, nothing for an author to keep in step by hand beyond
`python -m grader.practice` after editing a stub (a test fails until they do). A bank that is
not a git checkout can still tell that a stub is untouched, but has nothing to restore from.

A theory item's stub (a blank answers file) is rendered afresh from its key.
"""

import datetime
import hashlib
import subprocess
import sys
from pathlib import Path

GIT_TIMEOUT_S = 20
MANIFEST = Path("grader") / "stubs.sha256"


class BankFault(Exception):
    """The bank cannot say what the original stub is (a missing or stale digest file)."""


class NoOriginal(Exception):
    """No copy of the original stub is at hand; the message says why and what to do."""


def manifest_file(bank):
    return bank.root / MANIFEST


def digest(content):
    return hashlib.sha256(content).hexdigest()


def manifest_text(bank):
    """What `grader/stubs.sha256` must hold: the digest of every code item's stub as it is."""
    lines = []
    for item in bank.items.values():
        if item.kind != "theory":
            stub = bank.stub_file(item.id)
            lines.append(f"{digest(stub.read_bytes())}  {stub.relative_to(bank.root).as_posix()}")
    return "\n".join(sorted(lines, key=lambda line: line.split("  ", 1)[1])) + "\n"


def original_digest(bank, item_id):
    """The SHA-256 of the pristine stub of a code item, from `grader/stubs.sha256`."""
    path = manifest_file(bank)
    relative = bank.stub_file(item_id).relative_to(bank.root).as_posix()
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise BankFault(f"cannot read {bank.display(path)} ({getattr(exc, 'strerror', exc)}), "
                        "which names the original stubs; restore it from a fresh clone of the "
                        "bank") from None
    for line in lines:
        found, _, name = line.partition("  ")
        if name.strip() == relative and len(found) == 64:
            return found
    raise BankFault(f"{bank.display(path)} has no digest for {relative}: the bank's author "
                    "must run `python -m grader.practice`")


def original_stub(bank, item):
    """The bytes of the original stub of `item`; NoOriginal or BankFault when they are unknown."""
    if item.kind == "theory":
        from grader import theory

        try:
            return theory.render_answers(theory.load_key(bank, item.id)).encode()
        except theory.KeyProblem as exc:
            raise BankFault(f"the key of {item.id} is broken: {exc}") from None
    wanted = original_digest(bank, item.id)
    stub = bank.stub_file(item.id)
    try:
        current = stub.read_bytes()
    except OSError:
        current = None
    if current is not None and digest(current) == wanted:
        return current
    found = _from_git_history(bank.root, stub, wanted)
    if found is None:
        raise NoOriginal(f"no original stub of {item.id} to restore: the bank at "
                         f"{bank.root.name}/ is not a git checkout whose history holds it. "
                         "Restore it from a fresh clone of the bank.")
    return found


def _from_git_history(root, stub, wanted):
    """The content of any version of `stub` in the git history (every ref) whose digest is
    `wanted`, or None (no git, no checkout, never committed)."""
    def git(*args):
        done = subprocess.run(["git", "-C", str(root), *args], capture_output=True,
                              timeout=GIT_TIMEOUT_S, check=False)
        return done.stdout if done.returncode == 0 else None

    try:
        top = git("rev-parse", "--show-toplevel")
        if not top:
            return None
        relative = stub.resolve().relative_to(top.decode().strip()).as_posix()
        log = git("log", "--all", "--format=", "--raw", "--no-abbrev", "--no-renames", "--",
                  relative) or b""
        blobs = []  # ":100644 100644 OLD NEW M<TAB>path": NEW is the version a commit made
        for line in log.decode(errors="replace").splitlines():
            fields = line.split()
            if line.startswith(":") and len(fields) >= 5 and fields[3].strip("0") \
                    and fields[3] not in blobs:
                blobs.append(fields[3])
        for blob in blobs:
            content = git("cat-file", "blob", blob)
            if content is not None and digest(content) == wanted:
                return content
    except (OSError, ValueError, subprocess.TimeoutExpired):
        return None
    return None


def backup_dir(bank, item_id):
    from grader import progress

    return progress.state_dir(bank) / "backups" / item_id


def keep_backup(folder, item_id, content, suffix):
    """Write `content` to a new file in `folder` (never over an earlier backup); its path.
    OSError when the folder cannot be written."""
    folder.mkdir(parents=True, exist_ok=True)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    attempt = 1
    while True:
        path = folder / f"{item_id}-{stamp}{'' if attempt == 1 else f'-{attempt}'}{suffix}"
        try:
            with open(path, "xb") as handle:
                handle.write(content)
            return path
        except FileExistsError:
            attempt += 1


def main(argv):
    """`python -m grader.practice [--check]`: write (or check) `grader/stubs.sha256`."""
    from grader.catalog import Bank

    bank = Bank()
    path = manifest_file(bank)
    wanted = manifest_text(bank)
    current = path.read_text(encoding="utf-8") if path.is_file() else None
    if "--check" in argv:
        print(f"{path} is {'up to date' if current == wanted else 'stale'}")
        return 0 if current == wanted else 1
    path.write_text(wanted, encoding="utf-8")
    print(f"{path}: {'unchanged' if current == wanted else 'written'}, "
          f"{wanted.count(chr(10))} stubs")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
