"""`grade quiz [ID]`: a theory item one question at a time, with the explanation after each."""

import textwrap

import click

from grader.cli.common import InternalError, UserError, find_item, load_bank, use_color
from grader.report import ExitCode


class QuizStopped(click.ClickException):
    """The input ended (Ctrl-D, end of a pipe) or Ctrl-C before the last question."""

    exit_code = ExitCode.INTERRUPTED


@click.command(epilog="""\b
Examples:
  grade quiz                      the first theory item you have not passed yet
  grade quiz theory_speed         one item, question by question
  grade quiz --list               the theory items and your progress
  printf 'b\\n[a, c]\\n' | grade quiz theory_graphs   answers from a pipe
""")
@click.argument("item_id", metavar="[ID]", required=False)
@click.option("--list", "show_list", is_flag=True, help="List the theory items and stop.")
def quiz(item_id, show_list):
    """Practise a theory item: answer each question, read why, get a score.

    Press Enter to skip a question. The score is recorded in your progress like `grade
    exercise` records it (a quiz stopped before the end records nothing).
    """
    from grader import progress, theory

    bank = load_bank()
    items = theory.theory_items(bank)
    done = progress.load(bank)
    if show_list or not items:
        _list(items, done)
        return
    if item_id is None:
        pending = [item for item in items if progress.status_of(done, item.id) != "passed"]
        if not pending:
            _list(items, done)
            click.echo("\nYou have passed every theory item: `grade quiz ID` practises one again.")
            return
        item_id = pending[0].id
        click.echo("(the first theory item you have not passed; `grade quiz --list` shows "
                   "them all)\n")
    item = find_item(bank, item_id)
    if item.kind != "theory":
        raise UserError(f"{item.id} is a coding exercise: `grade exercise {item.id}` grades "
                        "it. Quizzes: " + ", ".join(i.id for i in items) + ".")
    try:
        key = theory.load_key(bank, item.id)
    except theory.KeyProblem as exc:
        raise InternalError(f"the key of {item.id} is broken: {exc}") from None
    outcomes = _ask_all(key)
    report = theory.quiz_report(key, outcomes)
    colour = "green" if report.status == "passed" else "red"
    skipped = sum(outcome is None for outcome in outcomes.values())
    note = f" ({skipped} skipped)" if skipped else ""
    click.echo(click.style(f"Score {report.score}/{report.max_score} on {key.item_id}{note}.",
                           fg=colour, bold=True), color=use_color())
    progress.record(bank, report)
    raise SystemExit(int(report.exit_code))


def _list(items, done):
    from grader import progress

    if not items:
        click.echo("The bank has no theory items.")
        return
    width = max(len(item.id) for item in items)
    for item in items:
        status = progress.status_of(done, item.id)
        click.echo(f"{item.id.ljust(width)}  {status.ljust(11)}  {item.title}")


def _ask_all(key):
    from grader import theory

    outcomes = {}
    total = len(key.questions)
    click.echo(click.style(f"{key.item_id}: {key.title}", bold=True), color=use_color())
    click.echo(f"{total} questions. Press Enter to skip one; Ctrl-D or Ctrl-C stops.\n")
    for number, question in enumerate(key.questions, 1):
        _show(question, number, total, key)
        answer = _read(question, number, total)
        right = None if answer is None else theory.is_right(question, answer)
        outcomes[question.id] = right
        mark = {True: ("✓ Right.", "green"), False: ("✗ Not right.", "red"),
                None: ("– Skipped.", "yellow")}[right]
        click.echo(click.style(mark[0], fg=mark[1], bold=True)
                   + ("" if right else f" The answer: {question.shown_answer()}"),
                   color=use_color())
        for line in _paragraphs(question.explanation, "  "):
            click.echo(line)
        if question.see:
            click.echo("  See: " + ", ".join(question.see))
        click.echo("")
    return outcomes


def _show(question, number, total, key):
    from grader import theory

    task = key.tasks[question.task]["title"]
    click.echo(click.style(f"Question {number}/{total} · task {question.task}: {task}",
                           bold=True), color=use_color())
    click.echo(theory.question_header(question))
    for line in _paragraphs(question.prompt, "  "):
        click.echo(line)
    if question.code:
        click.echo("")
        for line in theory.code_lines(question):
            click.echo("    " + line)
    for letter, text in question.choices.items():
        click.echo("\n".join(textwrap.wrap(text, 92, initial_indent=f"    {letter}) ",
                                           subsequent_indent="       ")))


def _read(question, number, total):
    """The learner's answer in canonical form, or None to skip; asks again on a bad form."""
    from grader import theory

    while True:
        try:
            raw = click.prompt("your answer", default="", show_default=False,
                               prompt_suffix="> ")
        except click.Abort:
            raise QuizStopped(f"the quiz stopped at question {number} of {total}; nothing "
                              "was recorded.") from None
        try:
            return theory.read_answer(question, raw)
        except theory.AnswerProblem as exc:
            click.echo(f"  That answer cannot be read: {exc}. Try again, or press Enter to "
                       "skip.")


def _paragraphs(text, indent):
    lines = []
    for paragraph in text.strip().split("\n\n"):
        lines += textwrap.wrap(" ".join(paragraph.split()), 92, initial_indent=indent,
                               subsequent_indent=indent)
    return lines
