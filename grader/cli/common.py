"""What the commands share: errors the user can fix, the bank, output."""

import os

import click

from grader.report import ExitCode

DEVICES = ("auto", "cpu", "cuda")
SANDBOXES = ("auto", "bwrap", "none")


def sandbox_options(command):
    """The --sandbox and --require-sandbox options of the commands that grade code."""
    command = click.option(
        "--require-sandbox", is_flag=True,
        help="Refuse to grade (exit 2, with the reason) where no sandbox can start.")(command)
    return click.option(
        "--sandbox", "sandbox_kind", type=click.Choice(SANDBOXES), default=None,
        help="What graded code runs in: bwrap (bubblewrap: it sees its own file only, no "
             "network, no grader processes), none (runs as you), or auto: bwrap where it "
             "starts here [default: auto, or $DLPREP_SANDBOX].")(command)
BROKEN_PIPE = int(ExitCode.BROKEN_PIPE)


class UserError(click.ClickException):
    """A mistake the user can fix (unknown id, missing file): exit code 2."""

    exit_code = ExitCode.USAGE


class InternalError(click.ClickException):
    """A fault of the grader or the bank: exit code 3, never blamed on the learner."""

    exit_code = ExitCode.INTERNAL

    def format_message(self):
        return f"internal error: {self.message}"


class Interrupted(click.ClickException):
    """Grading stopped by SIGINT (Ctrl-C): exit 130; by SIGTERM or SIGHUP: 128 + its number."""

    exit_code = ExitCode.INTERRUPTED

    def __init__(self, message="grading was interrupted (Ctrl-C, or a signal sent by the graded "
                               "code); no result was recorded."):
        if STOPPED_BY:
            import signal

            name = signal.Signals(STOPPED_BY[-1]).name
            message = f"grading was stopped by {name}; its workers were ended and no result " \
                      "was recorded."
            self.exit_code = 128 + STOPPED_BY[-1]
        super().__init__(message)


STOPPED_BY = []  # the termination signal that stopped this process, if one did


def stop_on_termination():
    """Make SIGTERM and SIGHUP end a command as Ctrl-C does (workers killed, nothing half
    written), with exit status 143 or 129."""
    import signal

    def stop(signum, _frame):
        STOPPED_BY.append(signum)
        for name in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):  # the clean-up runs once
            signal.signal(name, signal.SIG_IGN)
        raise KeyboardInterrupt

    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, stop)


def load_bank():
    from grader.catalog import Bank, CatalogError

    try:
        return Bank()
    except CatalogError as exc:
        raise InternalError(f"the bank's catalog is broken: {exc}") from None


def find_item(bank, item_id):
    """The item, its id matched in any case (`CNN_JAX` is cnn_jax); a UserError if none."""
    from grader.catalog import UnknownItem

    same = [known for known in bank.items if known.lower() == item_id.lower()]
    try:
        return bank.item(same[0] if len(same) == 1 else item_id)
    except UnknownItem as exc:
        raise UserError(str(exc)) from None


def readable_file(path):
    """The path, if it is a readable regular file; a UserError that says what is wrong if not."""
    if not os.path.exists(path):
        raise UserError(f"{path} does not exist.")
    if not os.path.isfile(path):
        raise UserError(f"{path} is not a file.")
    try:
        with open(path, "rb"):
            pass
    except OSError as exc:
        raise UserError(f"{path} cannot be read: {exc.strerror}.") from None
    return path


def is_own_stub(bank, item_id, path):
    """Whether `path` is the learner's own stub of the item in the bank (named or not)."""
    return path is None or os.path.realpath(path) == os.path.realpath(bank.stub_file(item_id))


def writable_output(path, graded):
    """Refuse an --output path that cannot be written or would overwrite code, before grading."""
    if path is None:
        return None
    if path.endswith(".py") or os.path.realpath(path) == os.path.realpath(graded):
        raise UserError(f"--output {path} would overwrite a Python file: name the report "
                        "something like report.json or report.txt.")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise UserError(f"cannot write {path}: the folder {folder} does not exist.")
    if not os.access(folder, os.W_OK) or (os.path.exists(path) and not os.access(path, os.W_OK)):
        raise UserError(f"cannot write {path}: permission denied.")
    return path


def use_color():
    """False when NO_COLOR is set (https://no-color.org); else None: click colours a
    terminal and strips the styles from a pipe or a file."""
    return False if os.environ.get("NO_COLOR") else None


def echo(text="", **style):
    """click.echo of `text` styled with `style` (bold=True, fg="red"), honouring NO_COLOR."""
    click.echo(click.style(text, **style) if style else text, color=use_color())


def emit(text, output):
    """Print `text`, or write it to `output` and say so."""
    if output is None:
        click.echo(text, color=use_color())
        return
    import tempfile

    folder = os.path.dirname(os.path.abspath(output))
    try:  # whole or not at all: a temporary file beside it, then one rename
        descriptor, temporary = tempfile.mkstemp(prefix=".dlprep-", dir=folder)
        try:
            with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
                handle.write(click.unstyle(text) + "\n")
            os.replace(temporary, output)
        except BaseException:
            os.unlink(temporary)
            raise
    except OSError as exc:
        raise UserError(f"cannot write {output}: {exc.strerror}.") from None
    click.echo(f"Report written to {output}", err=True)
