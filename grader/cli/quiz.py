"""`grade quiz [ID]`: a theory item one question at a time, with the explanation after each."""

import textwrap

import click

from grader.cli.common import InternalError, UserError, find_item, load_bank, use_color
from grader.report import ExitCode


class Stopped(Exception):
    """The input ended (Ctrl-D, end of a pipe) or Ctrl-C before the last question."""

    def __init__(self, key_name):
        super().__init__(key_name)
        self.key_name = key_name  # "Ctrl-D" or "Ctrl-C"


@click.command(epilog="""\b
Examples:
  grade quiz                      the first theory item you have not passed yet
  grade quiz theory_speed         one item, question by question
  grade quiz theory_speed --resume   go on where you stopped, keeping your answers
  grade quiz --list               the theory items and your progress
  printf 'b\\n[a, c]\\n' | grade quiz theory_graphs   answers from a pipe
""")
@click.argument("item_id", metavar="[ID]", required=False)
@click.option("--list", "show_list", is_flag=True, help="List the theory items and stop.")
@click.option("--resume", is_flag=True,
              help="Go on at the question where your last quiz of ID stopped, with the "
                   "answers you gave before.")
def quiz(item_id, show_list, resume):
    """Practise a theory item: answer each question, read why, get a score.

    Press Enter to skip a question. The score is recorded in your progress like `grade
    exercise` records it. Ctrl-D or Ctrl-C stops: the answers given so far are kept and
    recorded as a partial attempt, and `--resume` goes on from there.
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
    saved = SavedAnswers(bank)
    outcomes = saved.get(key) if resume else {}
    if resume and not outcomes:
        click.echo(f"No stopped quiz of {key.item_id} to resume: starting at question 1.\n")
    try:
        _ask_all(key, outcomes)
    except (Stopped, KeyboardInterrupt) as stop:  # Ctrl-C may come between two prompts
        stop = stop if isinstance(stop, Stopped) else Stopped("Ctrl-C")
        _stopped(bank, key, outcomes, stop, saved, done)
    saved.forget(key.item_id)
    report = theory.quiz_report(key, outcomes)
    colour = "green" if report.status == "passed" else "red"
    skipped = sum(outcome is None for outcome in outcomes.values())
    note = f" ({skipped} skipped)" if skipped else ""
    click.echo(click.style(f"Score {report.score}/{report.max_score} on {key.item_id}{note}.",
                           fg=colour, bold=True), color=use_color())
    progress.record(bank, report)
    raise SystemExit(int(report.exit_code))


class SavedAnswers:
    """The answers of quizzes stopped before the end (`quiz.json` next to the progress file),
    {item id: {question id: true (right), false (wrong) or null (skipped)}}."""

    def __init__(self, bank):
        from grader import progress

        self.path = progress.state_dir(bank) / "quiz.json"
        data = progress.read_state(self.path, "the answers of stopped quizzes",
                                   "they cannot be resumed")
        self.readable = data is not None
        self.data = data or {}

    def get(self, key):
        """The saved outcomes of the key's questions (entries of another form are dropped)."""
        entry = self.data.get(key.item_id)
        ids = [question.id for question in key.questions]
        return {qid: entry[qid] for qid in ids
                if isinstance(entry, dict) and qid in entry and entry[qid] in (True, False, None)}

    def keep(self, item_id, outcomes):
        self.data[item_id] = dict(outcomes)
        self._save()

    def forget(self, item_id):
        if self.data.pop(item_id, None) is not None:
            self._save()

    def _save(self):
        from grader import progress

        if not self.readable:
            return
        try:
            progress.write_json(self.path, self.data)
        except OSError as exc:
            progress._warn(f"could not keep the quiz's answers in {self.path} "
                           f"({exc.strerror or exc})")


def _stopped(bank, key, outcomes, stop, saved, done):
    """Keep the answers given so far, record them as a partial attempt, say how to resume;
    exits 130 after Ctrl-C, 1 after the input ended (Ctrl-D)."""
    from grader import progress, theory
    from grader.report import plural

    total = len(key.questions)
    at = next(number for number, q in enumerate(key.questions, 1) if q.id not in outcomes)
    resume = f"`grade quiz {key.item_id} --resume` goes on at question {at}"
    if not outcomes:
        click.echo(f"\nStopped ({stop.key_name}) at question {at} of {total}, before any "
                   "answer: nothing to keep.")
    else:
        saved.keep(key.item_id, outcomes)
        report = theory.quiz_report(key, outcomes)
        kept = "recorded as a partial attempt"
        if progress.status_of(done, key.item_id) == "passed":
            kept = "kept (your earlier pass stays recorded)"
        else:
            progress.record(bank, report)
        click.echo(f"\nStopped ({stop.key_name}) at question {at} of {total}. Your "
                   f"{plural(len(outcomes), 'answer')} so far ({report.score} right) "
                   f"{'are' if len(outcomes) > 1 else 'is'} {kept}, score "
                   f"{report.score}/{report.max_score}; {resume}.")
    raise SystemExit(int(ExitCode.INTERRUPTED if stop.key_name == "Ctrl-C"
                         else ExitCode.NOT_ALL_PASSED))


def _list(items, done):
    from grader import progress

    if not items:
        click.echo("The bank has no theory items.")
        return
    width = max(len(item.id) for item in items)
    for item in items:
        status = progress.status_of(done, item.id)
        click.echo(f"{item.id.ljust(width)}  {status.ljust(11)}  {item.title}")


def _ask_all(key, outcomes):
    """Ask every question not in `outcomes` yet, adding each outcome as it is answered;
    Stopped when the input ends or on Ctrl-C."""
    from grader import theory

    total = len(key.questions)
    click.echo(click.style(f"{key.item_id}: {key.title}", bold=True), color=use_color())
    click.echo(f"{total} questions. Press Enter to skip one; Ctrl-D or Ctrl-C stops (your "
               "answers so far are kept).\n")
    if outcomes:
        click.echo(f"Resuming: {len(outcomes)} answered before, at question "
                   f"{len(outcomes) + 1}.\n")
    for number, question in enumerate(key.questions, 1):
        if question.id in outcomes:
            continue
        _show(question, number, total, key)
        answer = _read(question)
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


def _read(question):
    """The learner's answer in canonical form, or None to skip; asks again on a bad form."""
    from grader import theory

    while True:
        try:
            raw = click.prompt("your answer", default="", show_default=False,
                               prompt_suffix="> ")
        except click.Abort as exc:  # click turns both EOF and Ctrl-C into Abort
            interrupted = isinstance(exc.__context__, KeyboardInterrupt)
            raise Stopped("Ctrl-C" if interrupted else "Ctrl-D") from None
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
