"""`grade reset ID`: put the original stub back, keeping the learner's version as a backup.

The original stub of a code item comes from the bank's git history: the newest committed
version of `exercises/ID/ID.py` that is still a stub (it raises NotImplementedError), so a
learner who commits their own work in the clone still gets the original back. A bank that is not
a git checkout has no original to restore, and the command says so. A theory item's stub (a blank
answers file) is generated from its key, so it is rendered afresh.
"""

import datetime
import subprocess
from pathlib import Path

import click

from grader.cli.common import UserError, find_item, load_bank

STUB_MARK = "raise NotImplementedError"
GIT_TIMEOUT_S = 20


@click.command(epilog="""\b
Examples:
  grade reset linear_regression_jax          asks first; your version is kept as a backup
  grade reset linear_regression_jax --yes
""")
@click.argument("item_id", metavar="ID")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def reset(item_id, yes):
    """Restore the original stub of exercise ID; your version is kept as a backup."""
    from grader import progress

    bank = load_bank()
    item = find_item(bank, item_id)
    stub = bank.stub_file(item.id)
    original = theory_stub(bank, item.id) if item.kind == "theory" else original_stub(bank, stub)
    if original is None:
        why = ("its key cannot be read" if item.kind == "theory" else
               f"the bank at {bank.root.name}/ is not a git checkout holding {bank.display(stub)}")
        raise UserError(f"no original stub of {item.id} to restore: {why}. Restore it from a "
                        "fresh clone of the bank.")
    current = stub.read_bytes() if stub.is_file() else None
    if current == original:
        click.echo(f"{bank.display(stub)} is already the original stub; nothing to reset.")
        return
    backups = progress.state_dir(bank) / "backups" / item.id
    if current is not None:
        if not yes:
            click.confirm(f"Replace {bank.display(stub)} with the original stub? Your version "
                          f"is kept in {shown(backups)}/", abort=True)
        try:
            backup = keep_backup(backups, item.id, current, stub.suffix)
        except OSError as exc:
            raise UserError(f"cannot keep a backup in {shown(backups)} ({exc.strerror}); "
                            "nothing was changed.") from None
        click.echo(f"Your version is kept as {shown(backup)}")
    stub.parent.mkdir(parents=True, exist_ok=True)
    stub.write_bytes(original)
    click.echo(f"{bank.display(stub)} is the original stub again.")


def original_stub(bank, stub):
    """The bytes of the newest committed version of `stub` that is still a stub, or None."""
    def git(*args):
        done = subprocess.run(["git", "-C", str(bank.root), *args], capture_output=True,
                              timeout=GIT_TIMEOUT_S, check=False)
        return done.stdout if done.returncode == 0 else None

    try:
        top = git("rev-parse", "--show-toplevel")
        if not top:
            return None
        relative = stub.resolve().relative_to(top.decode().strip()).as_posix()
        commits = (git("log", "--format=%H", "-n", "50", "--", relative) or b"").split()
        for commit in commits:
            text = git("show", f"{commit.decode()}:{relative}")
            if text is not None and STUB_MARK.encode() in text:
                return text
    except (OSError, ValueError, subprocess.TimeoutExpired):
        return None
    return None


def shown(path):
    """A backup's path as the learner can find it: relative to here when below, else whole."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def theory_stub(bank, item_id):
    from grader import theory

    try:
        return theory.render_answers(theory.load_key(bank, item_id)).encode()
    except theory.KeyProblem:
        return None


def keep_backup(folder, item_id, content, suffix):
    """Write `content` to a new file in `folder` (never over an earlier backup); its path."""
    folder.mkdir(parents=True, exist_ok=True)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    for attempt in range(1, 1000):
        path = folder / f"{item_id}-{stamp}{'' if attempt == 1 else f'-{attempt}'}{suffix}"
        try:
            with open(path, "xb") as handle:
                handle.write(content)
            return path
        except FileExistsError:
            continue
    raise UserError(f"too many backups of {item_id} in {folder}; move some elsewhere.")
