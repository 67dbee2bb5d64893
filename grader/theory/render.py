"""What is generated from a key: the statement, the answers stub, the reference answers and the
hints (`python -m grader.theory` rewrites them; a test checks they are current)."""

import json
import textwrap

from grader.theory.answers import POLICY
from grader.theory.key import FORMATS, KIND_NAMES, load_key

WIDTH = 92


def _wrap(text, prefix):
    lines = []
    for paragraph in text.strip().split("\n\n"):
        wrapped = textwrap.wrap(" ".join(paragraph.split()), WIDTH - len(prefix)) or [""]
        lines += [(prefix + line).rstrip() for line in wrapped] + [prefix.rstrip()]
    return lines[:-1]


def code_lines(question):
    """The snippet with line numbers, as the statement, the stub and the quiz show it."""
    lines = question.code.splitlines()
    width = len(str(len(lines)))
    return [f"{number:>{width}} | {line}".rstrip() for number, line in enumerate(lines, 1)]


def question_header(question):
    points = f" · {question.points} points" if question.points > 1 else ""
    kind = question.kind
    return f"{question.id} · {KIND_NAMES[kind]}{points} (answer: {FORMATS[kind]})"


def _yaml_value(question):
    if question.kind in ("multiple", "truefalse"):
        return question.shown_answer()
    if question.kind in ("exact", "output"):
        return json.dumps(question.answer, ensure_ascii=False)
    return str(question.answer)


def render_answers(key, filled=False):
    """The answers file: the stub (blanks) or, filled, the reference answers."""
    lines = [f"# {key.item_id}: {key.title}. Your answers.",
             "# Write each answer after its question's colon: `q1: b`. Leave a blank to skip it.",
             "# Formats: single choice `b`; multiple choice `[a, c]`; true/false `true` or",
             "# `false`; a number `0.5`; names and printed output as text (quote text that",
             "# starts with [ { * & ! % @ or a backquote, or holds `: `); spot the bug: the",
             "# line number.",
             f"# Grade: grade exercise {key.item_id}   Practise: grade quiz {key.item_id}"]
    task = None
    for question in key.questions:
        if question.task != task:
            task = question.task
            title = f"# Task {task}: {key.tasks[task]['title']} "
            lines += ["", title + "-" * max(3, WIDTH - len(title))]
        lines += ["", f"# {question_header(question)}"] + _wrap(question.prompt, "#   ")
        if question.code:
            lines += ["#"] + ["#     " + line for line in code_lines(question)]
        for letter, text in question.choices.items():
            lines += textwrap.wrap(text, WIDTH, initial_indent=f"#     {letter}) ",
                                   subsequent_indent="#        ")
        lines.append(f"{question.id}: {_yaml_value(question)}" if filled else f"{question.id}:")
    return "\n".join(lines) + "\n"


def render_statement(key):
    """exercises/<id>/README.md: the questions (never the answers)."""
    lines = [f"# {key.item_id}: {key.title}", "", key.intro.strip(), "",
             "## How to answer", "",
             f"Write your answers in `{key.item_id}.yaml` in this folder (the questions are "
             "repeated there as comments), then run",
             "", "```bash", f"grade exercise {key.item_id}", "```", "",
             "Each question is one check; a blank answer counts as not answered. To practise "
             "one question at a time, with the explanation after each answer, run "
             f"`grade quiz {key.item_id}` instead. Answer formats:", "",
             "| kind | write |", "|---|---|"]
    lines += [f"| {KIND_NAMES[kind]} | {FORMATS[kind]} |" for kind in KIND_NAMES]
    lines += ["", "How answers are compared (one rule for every question, here and in the quiz): "
              + POLICY]
    task = None
    for question in key.questions:
        if question.task != task:
            task = question.task
            lines += ["", f"## Task {task}: {key.tasks[task]['title']}"]
        lines += ["", f"### {question_header(question)}", "", question.prompt]
        if question.code:
            lines += ["", "```text"] + code_lines(question) + ["```"]
        if question.choices:
            lines.append("")
            lines += [f"- **{letter})** {text}" for letter, text in question.choices.items()]
    return "\n".join(lines) + "\n"


def render_hints(key):
    lines = [f"# Hints for {key.item_id}: per task of the statement, from a nudge to a "
             "near-giveaway.", "tasks:"]
    for number, task in key.tasks.items():
        lines.append(f"  {number}:")
        lines += [f"    - {json.dumps(hint, ensure_ascii=False)}" for hint in task["hints"]]
    return "\n".join(lines) + "\n"


def generated_files(bank, item_id):
    """{path: text} of every file generated from the item's key."""
    key = load_key(bank, item_id)
    return {
        bank.statement_file(item_id): render_statement(key),
        bank.stub_file(item_id): render_answers(key),
        bank.solution_file(item_id): render_answers(key, filled=True),
        bank.suite_dir(item_id) / "hints.yaml": render_hints(key),
    }
