"""Theory items: a YAML answers file graded against a key, through the same Report as code items.

The key of item `theory_<subject>` is `grader/suites/<id>/questions.yaml` (hidden side): the
questions, their tasks, the right answers with accepted variants, and an explanation of each.
The learner's stub `exercises/<id>/<id>.yaml`, the statement `exercises/<id>/README.md`, the
reference answers `solutions/<id>/<id>.yaml` and the hints `grader/suites/<id>/hints.yaml` are
generated from the key (`python -m grader.theory` rewrites them; a test checks they are current).

Grading is pure data: no worker runs, nothing is imported from the answers file. One check per
question; a blank answer is "not implemented" (not answered), so a blank stub scores 0.

One module per responsibility, re-exported here (`from grader import theory; theory.grade(...)`):

- `key`: the key's questions, loaded and checked;
- `answers`: one answer read and matched (the answer-form policy), the answers file read;
- `grading`: the Report of an answers file or of a quiz;
- `render`: the statement, stub, reference answers and hints generated from a key;
- `seeds`: which bank questions cover each question of the source documents.
"""

from grader.theory.answers import (ANSWERS_CAP, Given, is_right, load_answers, read_answer,
                                   read_answers_file)
from grader.theory.grading import NOT_LOADED, grade, judge_answer, quiz_report
from grader.theory.key import (FORMATS, KIND_NAMES, AnswerProblem, AnswersProblem, Key,
                               KeyProblem, Question, key_file, load_key, theory_items)
from grader.theory.render import (WIDTH, code_lines, generated_files, question_header,
                                  render_answers, render_hints, render_statement)
from grader.theory.seeds import load_seeds, render_seed_mapping, seed_coverage, seeds_file

__all__ = ["ANSWERS_CAP", "FORMATS", "KIND_NAMES", "NOT_LOADED", "WIDTH", "AnswerProblem",
           "AnswersProblem", "Given", "Key", "KeyProblem", "Question", "code_lines", "grade",
           "generated_files", "is_right", "judge_answer", "key_file", "load_answers",
           "load_key", "load_seeds", "question_header", "quiz_report", "read_answer",
           "read_answers_file", "render_answers", "render_hints", "render_seed_mapping",
           "render_statement", "seed_coverage", "seeds_file", "theory_items"]
