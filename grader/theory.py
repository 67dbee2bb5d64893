"""Theory items: a YAML answers file graded against a key, through the same Report as code items.

The key of item `theory_<subject>` is `grader/suites/<id>/questions.yaml` (hidden side): the
questions, their tasks, the right answers with accepted variants, and an explanation of each.
The learner's stub `exercises/<id>/<id>.yaml`, the statement `exercises/<id>/README.md`, the
reference answers `solutions/<id>/<id>.yaml` and the hints `grader/suites/<id>/hints.yaml` are
generated from the key (`python -m grader.theory` rewrites them; a test checks they are current).

Grading is pure data: no worker runs, nothing is imported from the answers file. One check per
question; a blank answer is "not implemented" (not answered), so a blank stub scores 0.
"""

import dataclasses
import difflib
import json
import re
import sys
import textwrap
import time

from grader import verdicts
from grader.report import CheckResult, Report

KIND_NAMES = {
    "single": "single choice",
    "multiple": "multiple choice",
    "truefalse": "true or false",
    "numeric": "number",
    "exact": "exact answer",
    "output": "predict the output",
    "bug": "spot the bug",
}
FORMATS = {
    "single": "one letter, e.g. b",
    "multiple": "every right letter, e.g. [a, c]",
    "truefalse": "true or false",
    "numeric": "a number",
    "exact": "the name or text, as you would type it",
    "output": "what the snippet prints, as text",
    "bug": "the number of the line with the bug",
}
QUESTION_KEYS = {"id", "name", "task", "kind", "prompt", "code", "choices", "answer", "accept",
                 "tolerance", "explanation", "see", "seeds", "points", "run"}
# `run` of a spot-the-bug question: how tests/test_theory.py runs its snippet. `before` and
# `after` wrap it into a program, which raises `raises` (an exception class name) as it stands,
# runs cleanly once the answer's line is replaced by `fix` (indented like that line), and still
# fails when `fix` replaces any line that is not a right answer instead.
RUN_KEYS = {"before", "after", "raises", "fix"}
REQUIRED_QUESTION_KEYS = {"id", "name", "task", "kind", "prompt", "answer", "explanation", "seeds"}
KEY_KEYS = {"title", "intro", "tasks", "questions"}
WIDTH = 92
NOT_LOADED = "not run: your answers file did not load"


class KeyProblem(Exception):
    """The bank's key of a theory item is broken: a grader fault, never the learner's."""


class AnswersProblem(Exception):
    """The learner's answers file cannot be read as a whole (the message names the line)."""


class AnswerProblem(Exception):
    """One answer has a form its question cannot take ("answer one letter of a, b, c")."""


@dataclasses.dataclass(frozen=True)
class Question:
    id: str
    name: str
    task: int
    kind: str
    prompt: str
    answer: object
    explanation: str
    code: str = ""
    choices: dict = dataclasses.field(default_factory=dict)
    accept: tuple = ()
    tolerance: float = 0.0
    see: tuple = ()
    seeds: tuple = ()
    points: int = 1
    run: dict = dataclasses.field(default_factory=dict)

    @property
    def check_name(self):
        return f"{self.id}_{self.name}"

    def shown_answer(self):
        """The right answer as a learner would write it."""
        if self.kind == "multiple":
            return "[" + ", ".join(sorted(self.answer)) + "]"
        if self.kind == "truefalse":
            return "true" if self.answer else "false"
        if self.kind == "single":
            return f"{self.answer}) {self.choices[self.answer]}"
        return str(self.answer)


@dataclasses.dataclass(frozen=True)
class Key:
    item_id: str
    title: str
    intro: str
    tasks: dict  # {number: {"title": str, "hints": [str]}}
    questions: tuple

    def question(self, question_id):
        return next((q for q in self.questions if q.id == question_id), None)


# the key ------------------------------------------------------------------------------------

def key_file(bank, item_id):
    return bank.suite_dir(item_id) / "questions.yaml"


def load_key(bank, item_id):
    """The item's Key, or KeyProblem naming what is wrong with it."""
    import yaml

    path = key_file(bank, item_id)
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise KeyProblem(f"cannot read the key {bank.display(path)}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise KeyProblem(f"the key {bank.display(path)} is not valid YAML: {exc}") from None
    where = bank.display(path)
    if not isinstance(document, dict) or set(document) != KEY_KEYS:
        raise KeyProblem(f"{where} must have exactly {', '.join(sorted(KEY_KEYS))}")
    tasks = document["tasks"]
    if not isinstance(tasks, dict) or not tasks or not all(
            isinstance(n, int) and isinstance(t, dict) and set(t) == {"title", "hints"}
            and 2 <= len(t["hints"]) <= 4 for n, t in tasks.items()):
        raise KeyProblem(f"{where}: tasks map numbers to a title and 2 to 4 hints")
    questions = tuple(_question(entry, index, tasks, where)
                      for index, entry in enumerate(document["questions"] or []))
    ids = [q.id for q in questions]
    if not questions or len(set(ids)) != len(ids):
        raise KeyProblem(f"{where}: questions must be a non-empty list with unique ids")
    if [q.task for q in questions] != sorted(q.task for q in questions):
        raise KeyProblem(f"{where}: list the questions in the order of their tasks")
    if {q.task for q in questions} != set(tasks):
        raise KeyProblem(f"{where}: every task needs a question and every question a task")
    return Key(item_id=item_id, title=str(document["title"]), intro=str(document["intro"]),
               tasks=tasks, questions=questions)


def _question(entry, index, tasks, where):
    at = f"{where}: questions[{index}]"
    if not isinstance(entry, dict):
        raise KeyProblem(f"{at} must be a mapping")
    unknown = set(entry) - QUESTION_KEYS
    missing = REQUIRED_QUESTION_KEYS - set(entry)
    if unknown or missing:
        raise KeyProblem(f"{at}: unknown {sorted(unknown)}, missing {sorted(missing)}")
    if not re.fullmatch(r"q\d+", str(entry["id"])) or not re.fullmatch(r"[a-z0-9_]+",
                                                                        str(entry["name"])):
        raise KeyProblem(f"{at}: ids are q<number>, names snake_case")
    kind = entry["kind"]
    if kind not in KIND_NAMES or entry["task"] not in tasks:
        raise KeyProblem(f"{at}: kind must be one of {', '.join(KIND_NAMES)}, task one of "
                         f"{sorted(tasks)}")
    question = Question(
        id=entry["id"], name=entry["name"], task=entry["task"], kind=kind,
        prompt=str(entry["prompt"]).strip(), code=str(entry.get("code") or "").rstrip(),
        choices={str(k): str(v) for k, v in (entry.get("choices") or {}).items()},
        answer=entry["answer"], accept=tuple(entry.get("accept") or ()),
        tolerance=entry.get("tolerance", 0.0), explanation=str(entry["explanation"]).strip(),
        see=tuple(entry.get("see") or ()), seeds=tuple(entry["seeds"] or ()),
        points=entry.get("points", 1), run=dict(entry.get("run") or {}))
    if kind in ("single", "multiple"):
        letters = list(question.choices)
        if letters != list("abcdefgh"[:len(letters)]) or len(letters) < 2:
            raise KeyProblem(f"{at}: choices are lettered a, b, c, ... (at least two)")
        answer = question.answer if kind == "multiple" else [question.answer]
        if not isinstance(answer, list) or not answer or not set(answer) <= set(letters):
            raise KeyProblem(f"{at}: the answer must be letters of the choices")
        if kind == "multiple":
            question = dataclasses.replace(question, answer=frozenset(answer))
    elif kind == "truefalse" and not isinstance(question.answer, bool):
        raise KeyProblem(f"{at}: a true/false answer is true or false")
    elif kind == "numeric" and (isinstance(question.answer, bool)
                                or not isinstance(question.answer, (int, float))
                                or "tolerance" not in entry):
        raise KeyProblem(f"{at}: a numeric answer is a number, with a tolerance")
    elif kind in ("exact", "output") and not isinstance(question.answer, str):
        raise KeyProblem(f"{at}: an {kind} answer is a string")
    elif kind == "bug" and not (isinstance(question.answer, int)
                                and 1 <= question.answer <= len(question.code.splitlines())):
        raise KeyProblem(f"{at}: a spot-the-bug answer is a line number of its code")
    if kind in ("output", "bug") and not question.code:
        raise KeyProblem(f"{at}: a {KIND_NAMES[kind]} question needs code")
    if question.run and (kind != "bug" or not set(question.run) <= RUN_KEYS
                         or not {"raises", "fix"} <= set(question.run)
                         or not all(isinstance(v, str) for v in question.run.values())):
        raise KeyProblem(f"{at}: run belongs to a spot-the-bug question: text for raises and "
                         "fix, optionally before and after")
    if not question.seeds or not isinstance(question.points, int) or question.points < 1:
        raise KeyProblem(f"{at}: seeds must name the seed questions it covers; points >= 1")
    return question


# reading one answer -------------------------------------------------------------------------

TRUE_WORDS = {"true", "t", "yes", "y"}
FALSE_WORDS = {"false", "f", "no", "n"}


def read_answer(question, value):
    """The answer in canonical form, None when blank, or AnswerProblem saying what form it needs.

    `value` is a YAML value (list, bool, number, str) or the raw text typed in the quiz.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    kind = question.kind
    if kind == "single":
        return _letter(question, value)
    if kind == "multiple":
        parts = value if isinstance(value, list) else re.split(r"[\s,;]+", str(value).strip(
            " []"))
        if len(parts) == 1 and isinstance(parts[0], str) and len(parts[0].strip()) > 1 \
                and parts[0].strip().isalpha():
            parts = list(parts[0].strip())  # "ac"
        letters = frozenset(_letter(question, part) for part in parts if str(part).strip())
        return letters or None
    if kind == "truefalse":
        if isinstance(value, bool):
            return value
        word = str(value).strip().lower()
        if word in TRUE_WORDS | FALSE_WORDS:
            return word in TRUE_WORDS
        raise AnswerProblem(f"{question.id} is true or false: answer true or false "
                            f"(got {_shown(value)})")
    if kind == "numeric":
        if not isinstance(value, bool):
            try:
                return float(str(value).strip().replace("_", ""))
            except ValueError:
                pass
        raise AnswerProblem(f"{question.id} asks for a number (got {_shown(value)})")
    if kind == "bug":
        text = str(value).strip().lower().removeprefix("line").strip()
        if not isinstance(value, (bool, list, dict)) and text.isdigit():
            return int(text)
        raise AnswerProblem(f"{question.id} asks for one line number of its code, like 3 "
                            f"(got {_shown(value)})")
    if isinstance(value, (list, dict)):  # exact, output
        raise AnswerProblem(f"{question.id} asks for text: put your answer in quotes, like "
                            "\"[1, 2]\"")
    return _text(str(value), kind)


def _letter(question, value):
    letter = str(value).strip().lower().strip("().[]")
    if isinstance(value, str) and letter in question.choices:
        return letter
    letters = ", ".join(question.choices)
    how = "one letter" if question.kind == "single" else "letters"
    raise AnswerProblem(f"{question.id} is {KIND_NAMES[question.kind]}: answer {how} of "
                        f"{letters} (got {_shown(value)})")


def _text(text, kind):
    text = text.strip().strip("`").strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        text = text[1:-1]
    if kind == "output":
        return re.sub(r"\s+", "", text)
    return _named(re.sub(r"\s+", " ", text))


def _named(text):
    """What an exact answer names: `f(a)(b)` -> `f`, `keyword=value` -> `keyword=`.

    The name is asked for, so the arguments of a call written out are not graded; case is
    kept, since Python names are case-sensitive (`jax.jit`, never `JAX.JIT`).
    """
    while text.endswith(")"):
        depth, start = 0, None
        for at in range(len(text) - 1, -1, -1):
            depth += {")": 1, "(": -1}.get(text[at], 0)
            if depth == 0:
                start = at
                break
        head = text[:start].rstrip() if start else ""
        if not head or not (head[-1].isalnum() or head[-1] in "_)]"):
            break  # unbalanced, or a bare parenthesised text: not a call
        text = head
    keyword = re.fullmatch(r"([A-Za-z_][\w.]*) ?= ?\S.*", text)
    return f"{keyword.group(1)}=" if keyword else text


def _acronym(text):
    return re.fullmatch(r"[A-Z][A-Z0-9]+", text) is not None


def _shown(value):
    return json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else repr(value)


def is_right(question, answer):
    if question.kind == "numeric":
        return abs(answer - question.answer) <= question.tolerance
    if question.kind in ("exact", "output"):
        variants = {_text(str(text), question.kind)
                    for text in (question.answer, *question.accept)}
        # an acronym (DDP) is not code: it matches in any case; names of code match exactly
        return answer in variants or (question.kind == "exact" and any(
            _acronym(variant) and answer.lower() == variant.lower() for variant in variants))
    if question.kind == "bug":
        return answer in {question.answer, *question.accept}
    return answer == question.answer


# the answers file ---------------------------------------------------------------------------

@dataclasses.dataclass
class Given:
    """One answer as it stands in the file: its line, and its value."""

    line: int
    value: object


def read_answers_file(path):
    """The answers file's text; AnswersProblem past ANSWERS_CAP bytes (never read whole)."""
    with open(path, "rb") as handle:
        data = handle.read(ANSWERS_CAP + 1)
    if len(data) > ANSWERS_CAP:
        raise AnswersProblem(f"the answers file is larger than {ANSWERS_CAP // 1024} KiB; it "
                             "holds one short line per question")
    return data.decode("utf-8")


def load_answers(text, key):
    """{question id: Given} from the answers file's text, or AnswersProblem naming the line.

    Anchors and aliases are refused before anything is built: an answers file never needs
    them, and nested aliases can expand a small file into billions of nodes.
    """
    import yaml

    if len(text) > ANSWERS_CAP:
        raise AnswersProblem(f"the answers file is larger than {ANSWERS_CAP // 1024} KiB")
    try:
        for token in yaml.scan(text, Loader=yaml.SafeLoader):
            if isinstance(token, (yaml.AnchorToken, yaml.AliasToken)):
                raise AnswersProblem(f"line {token.start_mark.line + 1}: anchors and aliases "
                                     "(`&name`, `*name`) are not allowed in an answers file; "
                                     "write each answer out")
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        values = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise AnswersProblem(f"the answers file is not valid YAML: {_yaml_problem(exc)}. "
                             "Each answer is one line `q1: b` (a colon, then a space).") from None
    if root is None:
        return {}
    if not isinstance(root, yaml.MappingNode):
        raise AnswersProblem(f"line {root.start_mark.line + 1}: the answers file must be lines "
                             f"like `q1: b`, one per question, not a {type(values).__name__}")
    given, ids = {}, [q.id for q in key.questions]
    for key_node, value_node in root.value:
        name, line = str(key_node.value), key_node.start_mark.line + 1
        if name not in ids:
            raise AnswersProblem(f"line {line}: there is no question {name!r} in {key.item_id} "
                                 f"(they are {ids[0]} to {ids[-1]}).{_suggest(name, ids)}")
        if name in given:
            raise AnswersProblem(f"line {line}: {name} is answered twice (first on line "
                                 f"{given[name].line}); keep one")
        value = values[name]
        question = key.question(name)
        if question.kind in ("exact", "output") and isinstance(value_node, yaml.ScalarNode) \
                and value is not None:
            value = value_node.value  # the text as written: `1e-3`, `True`, `6.0` stay text
        given[name] = Given(line=line, value=value)
    return given


ANSWERS_CAP = 256 * 1024  # bytes of an answers file


def _yaml_problem(exc):
    """Where and what, from a PyYAML error: the line where the trouble started comes first."""
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    mark, context = getattr(exc, "problem_mark", None), getattr(exc, "context_mark", None)
    if context is not None and mark is not None and context.line != mark.line:
        return (f"line {context.line + 1}, column {context.column + 1}: {exc.context}, "
                f"{problem} (noticed at line {mark.line + 1})")
    if mark is not None:
        return f"line {mark.line + 1}, column {mark.column + 1}: {problem}"
    return problem


def _suggest(name, ids):
    plain = re.fullmatch(r"[qQ]?0*(\d+)", name)
    if plain and f"q{plain.group(1)}" in ids:
        return f" Did you mean q{plain.group(1)}?"
    close = difflib.get_close_matches(name, ids, n=1, cutoff=0.5)
    return f" Did you mean {close[0]}?" if close else ""


def grade(bank, item_id, path):
    """Grade the answers file at `path`; a Report like the judge's (no device, no seed)."""
    from pathlib import Path

    started = time.perf_counter()
    report = Report(exercise=item_id, file=bank.display(path), seed=None, limits=None)
    try:
        key = load_key(bank, item_id)
    except KeyProblem as exc:
        report.internal_error = str(exc)
        return report
    try:
        given = load_answers(read_answers_file(Path(path)), key)
    except (AnswersProblem, UnicodeDecodeError, OSError) as exc:
        report.load_error = (str(exc) if isinstance(exc, AnswersProblem)
                             else f"the answers file cannot be read as UTF-8 text ({exc})")
        report.checks = [_check(q, verdicts.ERROR, f"{NOT_LOADED} (see above)")
                         for q in key.questions]
    else:
        report.checks = [judge_answer(key, q, given.get(q.id)) for q in key.questions]
    report.elapsed_s = round(time.perf_counter() - started, 2)
    return report


def judge_answer(key, question, given):
    """The CheckResult of one question, from its Given (None when the file lacks it)."""
    if given is None or given.value is None or given.value == "":
        where = f"line {given.line} is blank" if given else f"{question.id} is not in the file"
        return _check(question, verdicts.NOT_IMPLEMENTED, f"not answered ({where})")
    try:
        answer = read_answer(question, given.value)
    except AnswerProblem as exc:
        return _check(question, verdicts.ERROR, f"line {given.line}: {exc}")
    if answer is None:
        return _check(question, verdicts.NOT_IMPLEMENTED, f"not answered (line {given.line})")
    if is_right(question, answer):
        return _check(question, verdicts.PASSED, "")
    return _check(question, verdicts.FAILED,
                  f"line {given.line}: you answered {_shown(given.value)}, which is not right. "
                  f"`grade hint {key.item_id}` gives a nudge; `grade quiz {key.item_id}` "
                  "explains each answer.")


def _check(question, status, message):
    return CheckResult(name=question.check_name, task=question.task, status=status,
                       message=message, time_s=0.0, limit_s=None, points=question.points)


def quiz_report(key, outcomes):
    """The Report of a quiz run: `outcomes` maps question ids to right / wrong / None (skipped)."""
    report = Report(exercise=key.item_id, file="quiz", seed=None, limits=None)
    for question in key.questions:
        outcome = outcomes.get(question.id)
        status = (verdicts.NOT_IMPLEMENTED if outcome is None
                  else verdicts.PASSED if outcome else verdicts.FAILED)
        report.checks.append(_check(question, status, "" if outcome else "in the quiz"))
    return report


# what is generated from the key -------------------------------------------------------------

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


def seeds_file(bank):
    return bank.root / "docs" / "theory_seeds.yaml"


def load_seeds(bank):
    """The seeds' theory questions: a list of {id, file, section, question, english}."""
    import yaml

    return yaml.safe_load(seeds_file(bank).read_text(encoding="utf-8"))["seeds"]


def seed_coverage(bank):
    """{seed question id: ["theory_x.q1", ...]} over every theory item's key."""
    coverage = {seed["id"]: [] for seed in load_seeds(bank)}
    for item in theory_items(bank):
        for question in load_key(bank, item.id).questions:
            for seed_id in question.seeds:
                coverage.setdefault(seed_id, []).append(f"{item.id}.{question.id}")
    return coverage


def render_seed_mapping(bank):
    """docs/theory_seed_mapping.md: each seed theory question and the questions that cover it."""
    coverage = seed_coverage(bank)
    lines = ["# The seeds' theory questions and the bank's questions that cover them", "",
             "Generated by `python -m grader.theory` from docs/theory_seeds.yaml and the keys "
             "(`seeds:` of each question in grader/suites/theory_*/questions.yaml); "
             "tests/test_theory.py checks that every seed question is covered.", "",
             "| seed | question (verbatim) | in English | covered by |", "|---|---|---|---|"]
    for seed in load_seeds(bank):
        covered = ", ".join(f"`{name}`" for name in coverage[seed["id"]]) or "**nothing**"
        lines.append(f"| {seed['id']} ({seed['file']} §{seed['section']}) | {seed['question']} "
                     f"| {seed['english']} | {covered} |")
    lines += ["", "Question ids read `<item>.<question>`: `grade quiz <item>` asks them, "
              "`exercises/<item>/` holds their statement and answers file."]
    return "\n".join(lines) + "\n"


def theory_items(bank):
    return [item for item in bank.items.values() if item.kind == "theory"]


def main(argv=None):
    """Rewrite the files generated from the keys: `python -m grader.theory [ID...]`."""
    from grader.catalog import Bank

    bank = Bank()
    files = {bank.root / "docs" / "theory_seed_mapping.md": render_seed_mapping(bank)}
    for item_id in (argv if argv is not None else sys.argv[1:]) or [
            item.id for item in theory_items(bank)]:
        files.update(generated_files(bank, item_id))
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        print(f"wrote {bank.display(path)}")


if __name__ == "__main__":
    main()
