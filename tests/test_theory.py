"""Theory items: the keys pass and blank stubs fail, every seed theory question is covered,
bad answers files are named by line, and `grade quiz` works from a pipe and from a terminal."""

import json
import os
import re
import select
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from grader import theory
from grader.bank_stubs import bank_stub
from grader.catalog import Bank

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT.parent / "shared" / "seeds"  # the seed documents, beside the checkout when at hand


@pytest.fixture(scope="module")
def bank():
    return Bank(root=ROOT)


@pytest.fixture(scope="module")
def keys(bank):
    return {item.id: theory.load_key(bank, item.id) for item in theory.theory_items(bank)}


def typed(question):
    """The right answer as a learner types it at the quiz prompt."""
    if question.kind == "multiple":
        return " ".join(sorted(question.answer))
    if question.kind == "truefalse":
        return "true" if question.answer else "false"
    return str(question.answer)


def wrong(question):
    """A well-formed answer that is not right."""
    if question.kind in ("single", "multiple"):
        return next(letter for letter in question.choices if letter not in question.answer)
    if question.kind == "truefalse":
        return "false" if question.answer else "true"
    if question.kind in ("numeric", "bug"):
        return str(next(n for n in range(1, 99) if n not in {question.answer,
                                                               *question.accept}))
    return "not the answer"


# the bank ------------------------------------------------------------------------------------

def test_the_bank_has_the_eight_theory_topics_and_at_least_30_questions_of_every_kind(keys):
    subjects = {"speed", "graphs", "autodiff", "ecosystem", "deployment", "why_pytorch",
                "why_jax", "choosing"}
    assert {f"theory_{subject}" for subject in subjects} <= set(keys), sorted(keys)
    questions = [q for key in keys.values() for q in key.questions]
    assert len(questions) >= 30, f"{len(questions)} questions"
    assert {q.kind for q in questions} == set(theory.KIND_NAMES), {q.kind for q in questions}


def test_verify_holds_for_every_theory_item(grade, keys):
    result = grade("verify", *keys)
    assert result.exit_code == 0, result.output
    assert result.output.count(" yes") == len(keys), result.output


def test_the_generated_statement_stub_reference_hints_and_mapping_are_up_to_date(bank, keys):
    def as_in_the_bank(item_id, path):  # a learner's answers in the stub are not the bank's
        if path != bank.stub_file(item_id):
            return path.read_text(encoding="utf-8") if path.is_file() else None
        with bank_stub(bank, item_id) as stub:
            return stub.path.read_text(encoding="utf-8")

    stale = [bank.display(path) for item_id in keys
             for path, text in theory.generated_files(bank, item_id).items()
             if as_in_the_bank(item_id, path) != text]
    mapping = ROOT / "docs" / "theory_seed_mapping.md"
    if mapping.read_text(encoding="utf-8") != theory.render_seed_mapping(bank):
        stale.append("docs/theory_seed_mapping.md")
    assert not stale, f"regenerate with `python -m grader.theory`: {stale}"


def test_the_stub_and_statement_hold_no_answer_or_explanation(bank, keys):
    for item_id, key in keys.items():
        given = theory.load_answers(bank.stub_file(item_id).read_text(), key)
        assert {q.id for q in key.questions} == set(given), item_id
        assert all(g.value is None for g in given.values()), f"{item_id}: the stub has answers"
        public = bank.stub_file(item_id).read_text() + bank.statement_file(item_id).read_text()
        for question in key.questions:
            opening = " ".join(question.explanation.split())[:60]
            assert opening not in " ".join(public.split()), f"{item_id}.{question.id} explained"


def test_the_hints_cover_every_task_of_each_item(bank, keys):
    from grader import hints

    for item_id, key in keys.items():
        assert set(hints.load(bank, item_id)) == set(key.tasks), item_id


# the seeds' questions --------------------------------------------------------------------------

def test_every_seed_theory_question_maps_to_an_existing_question(bank):
    seeds = theory.load_seeds(bank)
    coverage = theory.seed_coverage(bank)
    known = {seed["id"] for seed in seeds}
    assert len(known) == len(seeds) == 16, [seed["id"] for seed in seeds]
    strays = sorted(set(coverage) - known)
    assert not strays, f"questions name seed ids that are not in docs/theory_seeds.yaml: {strays}"
    uncovered = [seed_id for seed_id in known if not coverage[seed_id]]
    assert not uncovered, f"no question covers {uncovered}"
    for names in coverage.values():
        for name in names:
            if "." not in name:  # a coding item that implements a coding question
                assert bank.items[name].kind != "theory", name
                continue
            item_id, question_id = name.split(".")
            assert theory.load_key(bank, item_id).question(question_id), name


def test_each_coding_question_of_the_documents_maps_to_its_twin_items_and_theory_questions(bank):
    coding = [seed for seed in theory.load_seeds(bank) if seed.get("kind") == "coding"]
    assert len(coding) == 4, coding
    coverage = theory.seed_coverage(bank)
    for seed in coding:
        items = seed["items"]
        assert len(items) == 2 and {bank.items[i].framework for i in items} == {"torch", "jax"}, \
            seed
        questions = [name for name in coverage[seed["id"]] if "." in name]
        assert questions, f"no theory question is credited to {seed['id']} ({seed['english']})"
    mapping = (ROOT / "docs" / "theory_seed_mapping.md").read_text(encoding="utf-8")
    for seed in coding:
        row = next(line for line in mapping.splitlines() if line.startswith(f"| {seed['id']} "))
        assert all(f"`{item}`" in row for item in seed["items"]), row


@pytest.mark.skipif(not SEEDS.is_dir(), reason="the seed documents are not beside the checkout")
def test_the_list_of_seed_questions_matches_the_seed_documents(bank):
    found = []
    for path in sorted(SEEDS.glob("*.txt")):
        text, _, coding = path.read_text(encoding="utf-8").partition("算法编程题库")
        found += [(path.name, q.strip()) for q in re.findall(r"\*\*题目：\*\*\s*(.+)", text)]
        found += [(path.name, q.strip()) for q in re.findall(r"^\d+\. \*\*(.+？)\*\*", text,
                                                             re.MULTILINE)]
        found += [(path.name, q.strip()) for q in re.findall(r"^\d+\. \*\*(.+)\*\*$", coding,
                                                             re.MULTILINE)]
    listed = [(seed["file"], seed["question"]) for seed in theory.load_seeds(bank)]
    assert sorted(found) == sorted(listed)


# grading an answers file ------------------------------------------------------------------------

def test_the_key_passes_with_one_check_per_question_in_the_documented_json(grade_json, bank,
                                                                              keys):
    key = keys["theory_autodiff"]
    code, report = grade_json("theory_autodiff", "--file",
                              bank.solution_file("theory_autodiff"))
    assert code == 0, report
    assert report["status"] == "passed" and report["version"] == 1
    assert report["score"] == report["max_score"] == sum(q.points for q in key.questions)
    assert [c["name"] for c in report["checks"]] == [q.check_name for q in key.questions]
    for check, question in zip(report["checks"], key.questions):
        assert check["task"] == question.task and check["status"] == "passed", check
        assert set(check) >= {"name", "title", "task", "status", "message", "time_s",
                              "limit_s", "points", "score"}, check


def test_the_blank_stub_scores_zero_with_not_answered_checks(grade_json, pristine_stub):
    code, report = grade_json("theory_why_jax", "--file", pristine_stub("theory_why_jax"))
    assert code == 1 and report["score"] == 0, report
    assert {c["status"] for c in report["checks"]} == {"not_implemented"}
    assert all(c["message"].startswith("not answered (line ") for c in report["checks"])


def test_accepted_variants_and_other_spellings_pass(bank, keys, tmp_path):
    key = keys["theory_autodiff"]
    answers = {"q1": "'`jacfwd`'", "q2": "A)", "q3": "no", "q4": "'9'", "q5": "1.2e1",
               "q6": "line 9", "q7": 7, "q8": "b", "q9": 8, "q10": "line 8",
               "q11": 8}
    path = tmp_path / "answers.yaml"
    path.write_text("".join(f"{qid}: {value}\n" for qid, value in answers.items()))
    report = theory.grade(bank, key.item_id, path)
    assert report.status == "passed", [(c.name, c.status, c.message) for c in report.checks]


def test_a_wrong_answer_fails_its_check_only_and_names_its_line(bank, keys, tmp_path):
    key = keys["theory_why_jax"]
    lines = [f"{q.id}: {json.dumps(typed(q))}" for q in key.questions]
    target = key.questions[0]
    lines[0] = f"{target.id}: {json.dumps(wrong(target))}"
    path = tmp_path / "answers.yaml"
    path.write_text("\n".join(lines) + "\n")
    report = theory.grade(bank, key.item_id, path)
    statuses = [c.status for c in report.checks]
    assert statuses == ["failed"] + ["passed"] * (len(statuses) - 1), statuses
    assert report.checks[0].message.startswith("line 1: you answered"), report.checks[0].message


@pytest.mark.parametrize("text, where, says", [
    ("q1: jax.jacfwd\nq2 a\nq3: [\n", "line 2", "not valid YAML"),
    ('q1: "open\n', "line 1", "not valid YAML"),
    ("q1: jax.jacfwd\nq12: a\n", "line 2", "there is no question 'q12'"),
    ("q1: jax.jacfwd\nQ2: a\n", "line 2", "Did you mean q2"),
    ("q2: a\nq2: b\n", "line 2", "answered twice"),
    ("- a\n- b\n", "line 1", "must be lines like `q1: b`"),
])
def test_a_malformed_answers_file_is_named_with_its_line_not_a_traceback(grade, tmp_path,
                                                                         text, where, says):
    path = tmp_path / "answers.yaml"
    path.write_text(text)
    result = grade("exercise", "theory_autodiff", "--file", path)
    assert result.exit_code == 1, f"exit {result.exit_code}: {result.output}"
    assert "did not load" in result.output and where in result.output, result.output
    assert says in result.output and "Traceback" not in result.output, result.output


@pytest.mark.parametrize("answer, says", [
    ("q2: [a, b]", "answer one letter of a, b, c, d"),
    ("q3: maybe", "answer true or false"),
    ("q5: twelve", "asks for a number"),
    ("q6: {line: 9}", "asks for one line number"),
    ("q4: [9.0]", "put your answer in quotes"),
    ("q2: e", "answer one letter of a, b, c, d"),
])
def test_an_answer_of_the_wrong_type_is_an_error_on_its_line(bank, tmp_path, answer, says):
    path = tmp_path / "answers.yaml"
    path.write_text("q1: jax.jacfwd\n" + answer + "\n")
    report = theory.grade(bank, "theory_autodiff", path)
    qid = answer.split(":")[0]
    check = next(c for c in report.checks if c.name.startswith(qid + "_"))
    assert check.status == "error" and check.message.startswith("line 2: "), check
    assert says in check.message, check.message
    assert report.checks[0].status == "passed" and report.load_error is None


def test_an_empty_answers_file_counts_every_question_as_not_answered(grade_json, tmp_path):
    path = tmp_path / "answers.yaml"
    path.write_text("# nothing yet\n")
    code, report = grade_json("theory_deployment", "--file", path)
    assert code == 1 and {c["status"] for c in report["checks"]} == {"not_implemented"}


def test_a_broken_key_is_an_internal_error_not_the_learners(bank_copy, grade):
    key = bank_copy / "grader" / "suites" / "theory_speed" / "questions.yaml"
    key.write_text(re.sub(r"kind: \w+", "kind: essay", key.read_text(), count=1))
    result = grade("exercise", "theory_speed", "--format", "json")
    assert result.exit_code == 3, f"exit {result.exit_code}: {result.output}"
    assert "kind must be one of" in json.loads(result.stdout)["internal_error"]


def test_grading_the_own_answers_file_records_progress_and_list_shows_it(grade, bank_copy):
    stub = bank_copy / "exercises" / "theory_choosing" / "theory_choosing.yaml"
    stub.write_text((bank_copy / "solutions" / "theory_choosing" / "theory_choosing.yaml")
                    .read_text())
    assert grade("exercise", "theory_choosing").exit_code == 0
    listing = grade("list", "--format", "json")
    assert listing.exit_code == 0, listing.output
    rows = {row["id"]: row for row in json.loads(listing.stdout)["items"]}
    assert rows["theory_choosing"]["status"] == "passed", rows["theory_choosing"]
    assert rows["theory_speed"]["framework"] == "both"
    assert grade("list").exit_code == 0


# the quiz --------------------------------------------------------------------------------------

def test_the_quiz_driven_by_piped_input_explains_scores_and_records(grade, keys, tmp_path):
    from click.testing import CliRunner

    from grader.cli import cli

    key = next(key for key in keys.values()  # one whose first answer can be unreadable
               if key.questions[0].kind in ("single", "truefalse", "numeric", "bug"))
    first = key.questions[0]
    lines = ["not an answer", typed(first), wrong(key.questions[1]), ""]
    lines += [typed(q) for q in key.questions[3:]]
    result = CliRunner().invoke(cli, ["quiz", key.item_id], input="\n".join(lines) + "\n")
    assert result.exit_code == 1, result.output
    assert "That answer cannot be read" in result.output
    assert result.output.count("✓ Right.") == len(key.questions) - 2, result.output
    assert "✗ Not right. The answer: " + key.questions[1].shown_answer() in result.output
    assert "– Skipped." in result.output
    assert " ".join(first.explanation.split())[:50] in " ".join(result.output.split())
    score = len(key.questions) - 2
    assert f"Score {score}/{len(key.questions)} on {key.item_id} (1 skipped)." in result.output
    recorded = json.loads((tmp_path / "progress.json").read_text())[key.item_id]
    assert recorded["status"] == "failing" and recorded["score"] == score, recorded


def test_a_quiz_whose_input_ends_keeps_the_answers_as_a_partial_attempt_and_resumes(
        keys, tmp_path):
    from click.testing import CliRunner

    from grader.cli import cli

    key = keys["theory_graphs"]
    result = CliRunner().invoke(cli, ["quiz", "theory_graphs"],
                                input=typed(key.questions[0]) + "\n")
    assert result.exit_code == 1, result.output  # Ctrl-D: a way out, not an error
    text = " ".join(result.output.split())
    assert "Error" not in result.output and "Traceback" not in result.output, result.output
    assert "Stopped (Ctrl-D) at question 2 of" in text and "1 answer so far (1 right)" in text
    assert "`grade quiz theory_graphs --resume` goes on at question 2" in text, text
    recorded = json.loads((tmp_path / "progress.json").read_text())["theory_graphs"]
    assert recorded["status"] == "failing" and recorded["score"] == 1, recorded
    rest = [typed(q) for q in key.questions[1:]]
    resumed = CliRunner().invoke(cli, ["quiz", "theory_graphs", "--resume"],
                                 input="\n".join(rest) + "\n")
    total = len(key.questions)
    assert resumed.exit_code == 0, resumed.output
    assert "Question 1/" not in resumed.output and f"Question 2/{total}" in resumed.output
    assert f"Score {total}/{total} on theory_graphs." in resumed.output, resumed.output
    assert json.loads((tmp_path / "progress.json").read_text())["theory_graphs"]["status"] \
        == "passed"
    again = CliRunner().invoke(cli, ["quiz", "theory_graphs", "--resume"], input="")
    assert "No stopped quiz of theory_graphs to resume" in again.output  # used up


def test_ctrl_c_in_the_quiz_keeps_the_answers_given_and_exits_130(keys, tmp_path, monkeypatch):
    from click.testing import CliRunner

    from grader.cli import cli, quiz

    key = keys["theory_speed"]
    answers = iter([typed(key.questions[0]), KeyboardInterrupt])

    def prompt(*args, **kwargs):
        answer = next(answers)
        if answer is KeyboardInterrupt:
            try:
                raise KeyboardInterrupt
            except KeyboardInterrupt:
                raise quiz.click.Abort() from None  # as click.prompt does
        return answer

    monkeypatch.setattr(quiz.click, "prompt", prompt)
    result = CliRunner().invoke(cli, ["quiz", "theory_speed"])
    assert result.exit_code == 130 and "Stopped (Ctrl-C) at question 2" in result.output
    assert "Error" not in result.output, result.output
    saved = json.loads((tmp_path / "quiz.json").read_text())
    assert saved == {"theory_speed": {key.questions[0].id: True}}, saved


def test_nothing_a_learner_reads_in_a_theory_item_speaks_of_seeds(bank, keys):
    for item_id, key in keys.items():
        shown = [key.title, key.intro] + [text for task in key.tasks.values()
                                          for text in [task["title"], *task["hints"]]]
        for question in key.questions:
            shown += [question.name, question.prompt, question.explanation,
                      *question.choices.values(), *question.see]
        shown += [bank.statement_file(item_id).read_text(), bank.stub_file(item_id).read_text()]
        found = [text for text in shown if re.search(r"\bseeds?\b|\bseed'|\bseeds'", text,
                                                     re.IGNORECASE)]
        assert not found, f"{item_id}: {found}"


def test_quiz_without_an_id_starts_the_first_theory_item_not_passed(grade, keys):
    first = next(iter(keys))
    result = grade("quiz", "--list")
    assert result.exit_code == 0 and first in result.output, result.output
    from click.testing import CliRunner

    from grader.cli import cli

    result = CliRunner().invoke(cli, ["quiz"], input="")
    assert f"{first}: {keys[first].title}" in result.output, result.output


def test_quiz_on_a_coding_exercise_is_a_usage_error(grade):
    result = grade("quiz", "linear_regression_jax")
    assert result.exit_code == 2 and "grade exercise linear_regression_jax" in result.output


def test_the_quiz_runs_in_a_pseudo_terminal(keys, tmp_path):
    import pty

    key = keys["theory_ecosystem"]
    answers = [typed(q) for q in key.questions]
    env = dict(os.environ, DLPREP_PROGRESS=str(tmp_path / "progress.json"), NO_COLOR="1",
               DLPREP_ROOT=str(ROOT))
    leader, follower = pty.openpty()
    process = subprocess.Popen([sys.executable, "-m", "grader", "quiz", key.item_id],
                               stdin=follower, stdout=follower, stderr=follower, env=env,
                               cwd=ROOT, start_new_session=True)
    os.close(follower)
    seen, sent, deadline = b"", 0, time.monotonic() + 60
    try:
        while time.monotonic() < deadline and process.poll() is None:
            ready, _, _ = select.select([leader], [], [], 0.5)
            if ready:
                try:
                    seen += os.read(leader, 65536)
                except OSError:  # the terminal closed: the quiz ended
                    break
            if sent < len(answers) and seen.count(b"your answer> ") > sent:
                os.write(leader, answers[sent].encode() + b"\n")  # typed, echoed by the tty
                sent += 1
        process.wait(timeout=max(1, deadline - time.monotonic()))
    finally:
        if process.poll() is None:
            process.kill()
        os.close(leader)
    text = seen.decode(errors="replace")
    assert process.returncode == 0, text[-2000:]
    total = len(key.questions)
    assert f"Score {total}/{total} on {key.item_id}." in text, text[-2000:]
    recorded = json.loads((tmp_path / "progress.json").read_text())[key.item_id]
    assert recorded["status"] == "passed", recorded


# the facts behind the answers ------------------------------------------------------------------

# APIs that explanations rely on, for the installed releases: a release that changes one of them
# makes the facts test name the question to revisit.
FACTS = {
    "speed.q6, graphs.q6, ecosystem.q1": "not hasattr(jax.nn, 'Dense')",
    "autodiff.q1": "hasattr(jax, 'jacfwd') and hasattr(jax, 'jacrev') and "
                   "not hasattr(jax, 'jacf')",
    "autodiff.q2": "all(hasattr(torch.func, n) "
                   "for n in ('grad', 'jacfwd', 'jacrev', 'hessian', 'vmap'))",
    "autodiff.q3": "all(hasattr(torch.optim, n) for n in ('SGD', 'Adam', 'AdamW', 'LBFGS')) "
                   "and all(hasattr(jax.example_libraries.optimizers, n) "
                   "for n in ('sgd', 'momentum', 'adam'))",
    "autodiff.q3, autodiff.q8 (x0 is 1-D only)": "raises(lambda: jax.scipy.optimize.minimize("
        "lambda x: (x ** 2).sum(), jax.numpy.ones((2, 2)), method='BFGS'))",
    "graphs.q6 (eager JAX compiles each primitive on its own)": "eager_compiles() >= 1",
    "deployment.q4 (exported.serialize() runs: flatbuffers is installed)":
        "jax.export.deserialize(jax.export.export(jax.jit(jax.numpy.sin))(jax.numpy.ones(3))"
        ".serialize()).call(jax.numpy.ones(3)).shape == (3,)",
    "deployment.q5 (a fixed batch fails, a symbolic one runs)": "export_batch_sizes()",
    "choosing.q4, speed.q7 (jitted functions keep a cache of compiled programs)":
        "callable(jax.jit(abs)._cache_size) and callable(jax.block_until_ready)",
    "why_jax.q4 (smap and the legacy pmap exist)": "callable(jax.smap) and callable(jax.pmap)",
    "autodiff.q8": "'method' in inspect.signature(jax.scipy.optimize.minimize).parameters and "
                   "inspect.signature(jax.scipy.optimize.minimize).parameters['method'].default "
                   "is inspect.Parameter.empty",
    "deployment.q1": "deprecated(lambda: torch.jit.script(torch.nn.Linear(2, 2)))",
    "deployment.q2": "callable(torch.export.export) and callable(torch.export.save)",
    "deployment.q4": "callable(jax.export.export) and callable(jax.export.deserialize)",
    "why_jax.q4": "callable(jax.shard_map) and "
                  "importlib.util.find_spec('jax.experimental.parallel') is None",
    "choosing.q2": "callable(jax.lax.while_loop)",
    "why_pytorch.q4": "torch.distributed.default_pg_timeout == datetime.timedelta(minutes=30)",
    "why_pytorch.q5": "callable(torch.nn.parallel.DistributedDataParallel)",
    "ecosystem.q3": "importlib.util.find_spec('optax') is not None and not hasattr(jax, 'optim')",
}

# Items that explanations point at, and what each explanation says the reference does there.
POINTERS = [
    ("graphs.q3", "qlearning_jax", "jnp.where(explore"),
    ("graphs.q4", "cnn_jax", "partial(jax.jit, static_argnums=0)"),
    ("autodiff.q3", "cnn_torch", "torch.optim.Adam("),
    ("autodiff.q3", "cnn_jax", "optax.adam("),
    ("autodiff.q4", "linear_regression_jax", "jax.value_and_grad(loss_fn)"),
    ("autodiff.q5", "linear_regression_torch", "loss.backward()"),
    ("autodiff.q7", "linear_regression_jax", "jax.tree.map("),
    ("autodiff.q7", "cnn_jax", "optax.apply_updates("),
    ("why_pytorch.q5", "distributed_torch", "dist.all_reduce("),
    ("ecosystem.q2", "cnn_jax", "optax.apply_updates("),
]

# Spot-the-bug snippets that cannot run on their own here, and why.
NOT_RUN = {"theory_why_pytorch.q4": "needs several processes, a GPU and a data set"}

RUNNER = textwrap.dedent("""
    import contextlib, datetime, importlib.util, inspect, io, json, signal, sys, warnings
    import jax, jax.example_libraries.optimizers, jax.scipy.optimize, jax.export
    import torch, torch.distributed, torch.func

    def deprecated(call):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            call()
        return any(issubclass(w.category, DeprecationWarning) for w in caught)

    def raises(call):
        try:
            call()
        except Exception:
            return True
        return False

    def eager_compiles():  # XLA compilations that one un-jitted jnp operation logs
        import logging
        out = io.StringIO()
        handler = logging.StreamHandler(out)
        logging.getLogger("jax").addHandler(handler)
        jax.config.update("jax_log_compiles", True)
        try:
            jax.numpy.cos(jax.numpy.arange(7.0) * 3.0)
        finally:
            jax.config.update("jax_log_compiles", False)
            logging.getLogger("jax").removeHandler(handler)
        return out.getvalue().count("Compiling")

    def export_batch_sizes():  # exported for a batch of 8: 16 rows fail, unless symbolic
        import jax.numpy as jnp
        f = jax.jit(lambda x: x.sum(axis=0))
        fixed = jax.export.export(f)(jax.ShapeDtypeStruct((8, 4), jnp.float32))
        b, = jax.export.symbolic_shape("b")
        free = jax.export.export(f)(jax.ShapeDtypeStruct((b, 4), jnp.float32))
        return raises(lambda: fixed.call(jnp.ones((16, 4)))) and \
            free.call(jnp.ones((16, 4))).shape == (4,)

    def too_long(signum, frame):
        raise TimeoutError("did not finish in time")

    signal.signal(signal.SIGALRM, too_long)

    def run(name, code, limit_s=0):  # printed text, class names of what it raised, its repr
        out = io.StringIO()
        signal.setitimer(signal.ITIMER_REAL, limit_s)  # 0: no limit
        try:
            with contextlib.redirect_stdout(out):
                exec(compile(code, name, "exec"), {"__name__": "__snippet__"})
        except Exception as exc:
            return out.getvalue().strip(), [c.__name__ for c in type(exc).__mro__], repr(exc)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        return out.getvalue().strip(), [], ""

    job = json.load(sys.stdin)
    printed = {name: run(name, code) for name, code in job["snippets"].items()}
    bugs = {name: {"as_written": run(name, programs["as_written"]),
                   "fixed": run(name, programs["fixed"]),
                   "others": {line: run(name, program, limit_s=3)  # a fix elsewhere may loop
                              for line, program in programs["others"].items()}}
            for name, programs in job["bugs"].items()}
    facts = {name: bool(eval(expression)) for name, expression in job["facts"].items()}
    print(json.dumps({"printed": printed, "bugs": bugs, "facts": facts}))
""")


def bug_programs(question):
    """The snippet wrapped in its key's `run`: as written, with the fix on the keyed line, and
    with the fix on each line that is not a right answer ({line number: program})."""
    lines = question.code.splitlines()
    before, after = question.run.get("before", ""), question.run.get("after", "")

    def fixed_at(number):
        line = lines[number - 1]
        fixed = line[:len(line) - len(line.lstrip())] + question.run["fix"]
        return f"{before}\n" + "\n".join(lines[:number - 1] + [fixed] + lines[number:]) + \
            f"\n{after}"

    others = {number: fixed_at(number) for number in range(1, len(lines) + 1)
              if number not in {question.answer, *question.accept}}
    return {"as_written": f"{before}\n{question.code}\n{after}",
            "fixed": fixed_at(question.answer), "others": others}


@pytest.fixture(scope="module")
def snippets_run(keys):
    """Every snippet of the bank run once, in one subprocess: what it printed or raised."""
    printed = {f"{item_id}.{q.id}": q.code for item_id, key in keys.items()
               for q in key.questions if q.kind in ("output", "numeric") and q.code}
    bugs = {f"{item_id}.{q.id}": bug_programs(q) for item_id, key in keys.items()
            for q in key.questions if q.kind == "bug" and q.run}
    job = {"snippets": printed, "bugs": bugs, "facts": FACTS}
    done = subprocess.run([sys.executable, "-c", RUNNER], capture_output=True, text=True,
                          timeout=300, input=json.dumps(job), cwd=ROOT,
                          env=dict(os.environ, JAX_PLATFORMS="cpu", OMP_NUM_THREADS="1",
                                   XLA_FLAGS="--xla_cpu_multi_thread_eigen=false"))
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_every_output_and_number_snippet_prints_its_keyed_answer(keys, snippets_run):
    assert len(snippets_run["printed"]) >= 5, snippets_run["printed"]
    for name, (printed, raised, error) in snippets_run["printed"].items():
        item_id, question_id = name.split(".")
        question = keys[item_id].question(question_id)
        assert not raised, f"running {name}'s snippet raised {error}, expected it to print " \
                           f"{question.shown_answer()!r}"
        assert theory.is_right(question, theory.read_answer(question, printed)), (
            f"running {name}'s snippet printed {printed!r}, but the key says "
            f"{question.shown_answer()!r}")


@pytest.mark.slow
def test_every_bug_snippet_raises_its_keyed_error_and_runs_once_only_its_keyed_line_is_fixed(
        keys, snippets_run):
    bug_questions = {f"{item_id}.{q.id}": q for item_id, key in keys.items()
                     for q in key.questions if q.kind == "bug"}
    assert set(bug_questions) - set(snippets_run["bugs"]) == set(NOT_RUN), (
        f"spot-the-bug questions without a `run:` in their key: "
        f"{sorted(set(bug_questions) - set(snippets_run['bugs']) - set(NOT_RUN))}")
    for name, outcome in snippets_run["bugs"].items():
        question = bug_questions[name]
        _, raised, error = outcome["as_written"]
        assert question.run["raises"] in raised, (
            f"running {name}'s snippet as written raised {error or 'nothing'}, expected "
            f"{question.run['raises']}")
        _, raised, error = outcome["fixed"]
        assert not raised, (f"running {name}'s snippet with line {question.answer} replaced by "
                            f"{question.run['fix']!r} raised {error}, expected it to run")
        runs = [line for line, (_, raised, _) in outcome["others"].items() if not raised]
        assert not runs, (f"running {name}'s snippet with line(s) {runs} replaced by "
                          f"{question.run['fix']!r} raised nothing: the key's line "
                          f"{question.answer} is not the only fix")


@pytest.mark.slow
def test_the_api_facts_behind_the_explanations_hold_for_the_installed_releases(snippets_run):
    broken = [name for name, holds in snippets_run["facts"].items() if not holds]
    assert not broken, f"facts that no longer hold for the installed releases: {broken}"


def test_the_items_the_explanations_point_at_still_do_what_they_say(bank, keys):
    for where, item_id, code in POINTERS:
        subject, question_id = where.split(".")
        question = keys[f"theory_{subject}"].question(question_id)
        assert item_id in question.explanation and item_id in question.see, (
            f"theory_{where} no longer points at {item_id}; update POINTERS")
        reference = bank.solution_file(item_id).read_text(encoding="utf-8")
        assert code in reference, (f"theory_{where} says {item_id} uses {code!r}, but "
                                   f"{bank.display(bank.solution_file(item_id))} does not")


# what an exact answer may look like --------------------------------------------------------------

@pytest.mark.parametrize("item_id, question_id, answer, right", [
    ("theory_deployment", "q2", "torch.export.export(model, (x,))", True),
    ("theory_deployment", "q2", "torch.export", True),
    ("theory_deployment", "q2", "torch.compile", False),
    ("theory_deployment", "q4", "jax.export.export", True),
    ("theory_graphs", "q4", "jax.jit(f, static_argnums=0)", True),
    ("theory_graphs", "q4", "jax.jit(f, donate_argnums=0)", False),
    ("theory_graphs", "q4", "jax.jit", False),
    ("theory_why_jax", "q4", "jax.smap", True),
    ("theory_why_jax", "q4", "jax.pmap(f)", True),
    ("theory_why_jax", "q4", "jax.vmap", False),
    ("theory_deployment", "q4", "jax.export.export(jax.jit(f))(*example_args)", True),
    ("theory_deployment", "q4", "jax.jit(f)", False),
    ("theory_graphs", "q4", "static_argnums=0", True),
    ("theory_graphs", "q4", "static_argnums = (0, 1)", True),
    ("theory_graphs", "q4", "donate_argnums=0", False),
    ("theory_ecosystem", "q3", "optax.adam", False),
    ("theory_why_jax", "q4", "jax.experimental.shard_map.shard_map", False),
    ("theory_why_pytorch", "q5", "ddp", True),
    ("theory_why_pytorch", "q5", "torch.nn.parallel.DistributedDataParallel(model)", True),
    ("theory_why_pytorch", "q5", "distributeddataparallel", False),
    ("theory_autodiff", "q1", "jax.jacfwd(f)", True),
    ("theory_autodiff", "q1", "JAX.JACFWD", False),
    ("theory_autodiff", "q1", "jax.jacrev(f)", False),
])
def test_an_exact_answer_is_graded_by_the_name_it_gives_in_the_case_code_needs(
        keys, item_id, question_id, answer, right):
    question = keys[item_id].question(question_id)
    assert theory.is_right(question, theory.read_answer(question, answer)) is right, (
        f"{item_id}.{question_id} answered {answer!r}: expected {'right' if right else 'wrong'}")


def test_an_answer_typed_in_the_quiz_and_written_in_the_file_grade_alike(bank, keys, tmp_path):
    key = keys["theory_why_jax"]
    question = key.question("q3")
    path = tmp_path / "answers.yaml"
    for answer in ("true", "True", "false"):
        path.write_text(f"q3: {answer}\n")
        checks = theory.grade(bank, key.item_id, path).checks
        in_file = next(c for c in checks if c.name == question.check_name).status == "passed"
        in_quiz = theory.is_right(question, theory.read_answer(question, answer))
        assert in_file == in_quiz == (answer != "false"), (
            f"q3 answered {answer}: the file grades it {in_file}, the quiz {in_quiz}")


# one answer-form policy, one matcher ----------------------------------------------------------

@pytest.mark.parametrize("item_id, question_id, answer, right", [
    ("theory_ecosystem", "q4", "0.0 5.0", True),
    ("theory_ecosystem", "q4", "0.0\n  5.0", True),
    ("theory_ecosystem", "q4", "0.05.0", False),
    ("theory_ecosystem", "q4", "0 5", True),
    ("theory_ecosystem", "q4", "5.0 0.0", False),
    ("theory_graphs", "q3", "Error", True),
    ("theory_graphs", "q3", "ERROR", True),
    ("theory_graphs", "q3", "ran", False),
    ("theory_autodiff", "q4", "9.", True),
    ("theory_autodiff", "q4", "9", True),
    ("theory_autodiff", "q4", "9.000", True),
    ("theory_autodiff", "q4", "90", False),
    ("theory_autodiff", "q4", "9.01", False),
    ("theory_why_jax", "q3", "TRUE", True),
    ("theory_why_jax", "q3", "true", True),
    ("theory_why_jax", "q3", "false", False),
])
def test_printed_output_collapses_spaces_never_deletes_them_and_ignores_case_and_number_form(
        keys, item_id, question_id, answer, right):
    question = keys[item_id].question(question_id)
    assert theory.is_right(question, theory.read_answer(question, answer)) is right, (
        f"{item_id}.{question_id} answered {answer!r}: expected {'right' if right else 'wrong'}")


def test_the_policy_is_stated_in_every_theory_statement_and_the_readme(bank, keys):
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "one policy, applied by one matcher" in readme and "`0.05.0`" in readme
    for item_id in keys:
        statement = bank.statement_file(item_id).read_text(encoding="utf-8")
        assert theory.answers.POLICY in statement, f"{item_id}'s statement lacks the policy"


@pytest.mark.parametrize("answer, right", [(9, True), (8, True), ("line 8", True), (7, False),
                                           (5, False)])
def test_the_value_passed_to_grad_may_be_blamed_on_the_line_that_computes_it_or_its_call(
        keys, answer, right):
    question = keys["theory_autodiff"].question("q6")
    assert theory.is_right(question, theory.read_answer(question, answer)) is right
    assert "line 8" in question.explanation.lower()


@pytest.mark.parametrize("where, says", [
    ("theory_graphs.q6", ["each primitive", "jax_log_compiles"]),
    ("theory_autodiff.q3", ["1-D", "optimistix.compat.minimize"]),
    ("theory_autodiff.q8", ["1-D", "optimistix.compat.minimize"]),
    ("theory_why_jax.q4", ["jax.smap", "legacy"]),
    ("theory_deployment.q4", ["serialize()", "flatbuffers"]),
])
def test_the_explanations_state_what_the_installed_releases_do(keys, where, says):
    item_id, question_id = where.split(".")
    explanation = " ".join(keys[item_id].question(question_id).explanation.split())
    missing = [text for text in says if text not in explanation]
    assert not missing, f"{where}'s explanation does not say {missing}"


def test_exported_serialize_runs_in_this_environment_as_the_bank_tells_learners():
    done = subprocess.run(
        [sys.executable, "-c", "import jax, jax.numpy as jnp\n"
         "e = jax.export.export(jax.jit(lambda x: jnp.sin(x) * 2))(jnp.ones(3))\n"
         "print(jax.export.deserialize(e.serialize()).call(jnp.zeros(3)).tolist())"],
        capture_output=True, text=True, timeout=120, env=dict(os.environ, JAX_PLATFORMS="cpu"))
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[0.0, 0.0, 0.0]", done.stdout


def test_the_pinned_jax_jaxlib_optax_are_the_installed_ones_the_printed_keys_were_checked_on(
        keys):
    import configparser
    from importlib.metadata import version

    setup = configparser.ConfigParser()
    setup.read(ROOT / "setup.cfg")
    pins = dict(match.groups() for match in re.finditer(
        r"^\s*([\w-]+)==([\w.]+)\s*$", setup["options"]["install_requires"], re.MULTILINE))
    moved = {name: (pins.get(name), version(name)) for name in ("jax", "jaxlib", "optax")
             if pins.get(name) != version(name)}
    to_review = sorted(f"{item_id}.{q.id}" for item_id, key in keys.items()
                       for q in key.questions if q.kind in ("output", "numeric", "bug"))
    assert not moved, (f"pinned vs installed {moved}: run the snippet tests and review the keys "
                       f"{to_review}, then move the pins")
