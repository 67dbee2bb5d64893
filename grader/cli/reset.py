"""`grade reset ID`: put the original stub back, keeping the learner's version as a backup.

Which content is the original, and where it comes from, is grader/practice.py's business.
"""

from pathlib import Path

import click

from grader.cli.common import InternalError, UserError, find_item, load_bank


@click.command(epilog="""\b
Examples:
  grade reset linear_regression_jax          asks first; your version is kept as a backup
  grade reset linear_regression_jax --yes
""")
@click.argument("item_id", metavar="ID")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def reset(item_id, yes):
    """Restore the original stub of exercise ID; your version is kept as a backup."""
    from grader import practice

    bank = load_bank()
    item = find_item(bank, item_id)
    stub = bank.stub_file(item.id)
    try:
        original = practice.original_stub(bank, item)
    except practice.BankFault as exc:
        raise InternalError(str(exc)) from None
    except practice.NoOriginal as exc:
        raise UserError(str(exc)) from None
    try:
        current = stub.read_bytes() if stub.exists() else None
    except OSError as exc:
        raise UserError(f"cannot read {bank.display(stub)}: {exc.strerror}.") from None
    if current == original:
        click.echo(f"{bank.display(stub)} is already the original stub; nothing to reset.")
        return
    if current is not None:
        backups = practice.backup_dir(bank, item.id)
        if not yes and not confirmed(f"Replace {bank.display(stub)} with the original stub? "
                                     f"Your version is kept in {shown(backups)}/"):
            click.echo("Nothing changed.")
            return
        try:
            backup = practice.keep_backup(backups, item.id, current, stub.suffix)
        except OSError as exc:
            raise UserError(f"cannot keep a backup in {shown(backups)} ({exc.strerror}); "
                            "nothing was changed.") from None
        click.echo(f"Your version is kept as {shown(backup)}")
    try:
        stub.parent.mkdir(parents=True, exist_ok=True)
        stub.write_bytes(original)
    except OSError as exc:
        raise UserError(f"cannot write {bank.display(stub)}: {exc.strerror}.") from None
    click.echo(f"{bank.display(stub)} is the original stub again.")


def confirmed(question):
    """The learner's yes or no; Ctrl-C propagates (exit 130), closed input is a usage error."""
    try:
        return click.confirm(question, default=False)
    except click.Abort as exc:
        if isinstance(exc.__context__, EOFError):
            raise UserError("no answer to the question (the input is closed); nothing was "
                            "changed. `--yes` resets without asking.") from None
        raise


def shown(path):
    """A backup's path as the learner can find it: relative to here when below, else whole."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)
