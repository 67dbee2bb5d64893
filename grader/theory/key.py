"""The key of a theory item: its questions, loaded from grader/suites/<id>/questions.yaml and
checked (a broken key is KeyProblem, a grader fault, never the learner's)."""

import dataclasses
import re

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


# the key ----------------------------------------------------------------------------------

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


def theory_items(bank):
    return [item for item in bank.items.values() if item.kind == "theory"]
