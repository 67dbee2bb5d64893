"""Hint ladders: `grader/suites/<id>/hints.yaml`, per task from a nudge to a near-giveaway.

    tasks:
      1:
        - "first nudge"
        - "more concrete"
        - "near giveaway"

Which rungs the learner has seen is kept in `hints.json` next to the progress file, so each
rung is shown once, in order.
"""

import re

from grader import progress

MIN_RUNGS, MAX_RUNGS = 2, 4
TASK_MARKER = re.compile(r"@pytest\.mark\.task\(\s*(\d+)\s*\)")
QUESTION_TASK = re.compile(r"^\s+task:\s*(\d+)\s*$", re.MULTILINE)  # in a theory item's key


class HintsError(Exception):
    """A hints file that is missing or malformed; the message names the file and the fix."""


def hints_file(bank, item_id):
    return bank.suite_dir(item_id) / "hints.yaml"


def load(bank, item_id):
    """{task number: [rung, ...]} of one item, strictly validated."""
    import yaml

    path = hints_file(bank, item_id)
    shown = bank.display(path)
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise HintsError(f"{item_id} has no hints yet ({shown} is missing).") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise HintsError(f"cannot read {shown}: {exc}.") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise HintsError(f"{shown} is not valid YAML{where}: "
                         f"{getattr(exc, 'problem', None) or exc}.") from None
    if not isinstance(document, dict) or set(document) != {"tasks"} \
            or not isinstance(document["tasks"], dict) or not document["tasks"]:
        raise HintsError(f"{shown} must hold one key, `tasks`, mapping task numbers to lists "
                         "of hints.")
    ladders = {}
    for task, rungs in document["tasks"].items():
        if isinstance(task, bool) or not isinstance(task, int) or task < 1:
            raise HintsError(f"{shown}: task {task!r} is not a task number (1, 2, ...).")
        if not isinstance(rungs, list) or not MIN_RUNGS <= len(rungs) <= MAX_RUNGS or \
                not all(isinstance(rung, str) and rung.strip() for rung in rungs):
            raise HintsError(f"{shown}: task {task} needs a list of {MIN_RUNGS} to {MAX_RUNGS} "
                             "non-empty hints, from a nudge to a near-giveaway.")
        ladders[task] = [" ".join(rung.split()) for rung in rungs]
    return dict(sorted(ladders.items()))


def suite_tasks(bank, item_id):
    """The task numbers the item's checks use, read as text: the suite's task markers, or the
    `task:` of each question in a theory item's key (questions.yaml)."""
    suite = bank.suite_dir(item_id)
    numbers = set()
    for path in suite.glob("*.py"):
        numbers.update(int(number) for number in TASK_MARKER.findall(path.read_text("utf-8")))
    key = suite / "questions.yaml"
    if key.is_file():
        numbers.update(int(number) for number in QUESTION_TASK.findall(key.read_text("utf-8")))
    return numbers


class Seen:
    """How many rungs of each task's ladder the learner has seen, per item."""

    def __init__(self, bank):
        self.path = progress.state_dir(bank) / "hints.json"
        data = progress.read_state(self.path, "the record of hints shown",
                                   "the hints shown now are not remembered")
        self.readable = data is not None  # an unreadable file is never replaced
        self.data = data or {}

    def count(self, item_id, task):
        entry = self.data.get(item_id)
        value = entry.get(str(task), 0) if isinstance(entry, dict) else 0
        return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 \
            else 0

    def mark(self, item_id, task, count):
        entry = self.data.get(item_id)
        if not isinstance(entry, dict):
            entry = self.data[item_id] = {}
        entry[str(task)] = max(count, self.count(item_id, task))

    def save(self):
        if not self.readable:
            return
        try:
            progress.write_json(self.path, self.data)
        except OSError as exc:
            progress._warn(f"could not remember the hints shown in {self.path} "
                           f"({exc.strerror or exc})")
