"""Grading a theory item: one CheckResult per question, in the same Report as code items."""

import time

from grader import verdicts
from grader.report import CheckResult, Report
from grader.theory.answers import (AnswerProblem, AnswersProblem, _shown, is_right,
                                   load_answers, read_answer, read_answers_file)
from grader.theory.key import KeyProblem, load_key

NOT_LOADED = "not run: your answers file did not load"


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
