"""Similarity of a batch's submissions (grader/assessment/similarity.py, issue 13 point 4).

The calibration files in tests/data/similarity/ are independently written correct solutions of
linear_regression_torch, linear_regression_jax and distributed_torch (each passes `grade
exercise`), and one renamed copy of each item (`*_renamed.py`: variables renamed, functions
reordered, comments changed). The numbers they give are in benchmarks/README.md.
"""

import csv
import importlib.util
import json
import shutil
import sys
from pathlib import Path

import pytest

from grader import theory
from grader.assessment import similarity
from grader.catalog import Bank
from conftest import pristine_stub_text

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data" / "similarity"
TORCH, JAX = "linear_regression_torch", "linear_regression_jax"
DISTRIBUTED = "distributed_torch"
# item, calibration files' prefix, the one copy among them (original, renamed copy)
CALIBRATION = [(TORCH, "torch", ("torch_manual", "torch_manual_renamed")),
               (JAX, "jax", ("jax_scan", "jax_scan_renamed")),
               (DISTRIBUTED, "distributed", ("distributed_flat", "distributed_flat_renamed"))]

needs_copydetect = pytest.mark.skipif(
    importlib.util.find_spec("copydetect") is None,
    reason="copydetect (the optional extra `similarity`) is not installed: "
           "pip install -e '.[similarity]'")


def independent(framework):
    return {path.stem: path for path in sorted(DATA.glob(f"{framework}_*.py"))
            if "renamed" not in path.stem}


def by_kind(rows, kind):
    return [row for row in rows if row["kind"] == kind]


@needs_copydetect
@pytest.mark.parametrize("item_id, original", [(TORCH, "torch_manual"), (JAX, "jax_scan")])
def test_a_renamed_and_reordered_copy_is_flagged_against_its_original(tmp_path, item_id,
                                                                      original):
    files = {"ann": DATA / f"{original}.py", "bob": DATA / f"{original}_renamed.py"}
    flagged = similarity.compute({item_id: files}, tmp_path)
    pairs = by_kind(flagged, "pair")
    assert [(row["a"], row["b"]) for row in pairs] == [("ann", "bob")]
    assert pairs[0]["score"] >= similarity.THRESHOLD + 0.2
    # the regions name line ranges in both files, and between them cover most of each
    regions = pairs[0]["regions"]
    lengths = {who: len(path.read_text().splitlines()) for who, path in files.items()}
    for side, who in (("a", "ann"), ("b", "bob")):
        covered = set()
        for region in regions:
            first, last = region[side]
            assert 1 <= first <= last <= lengths[who]
            covered.update(range(first, last + 1))
        assert len(covered) >= lengths[who] // 2


@needs_copydetect
def test_independently_written_solutions_are_flagged_neither_against_each_other_nor_the_reference(
        tmp_path):
    submissions = {TORCH: independent("torch"), JAX: independent("jax")}
    assert len(submissions[TORCH]) >= 3 and len(submissions[JAX]) >= 3
    assert similarity.compute(submissions, tmp_path) == []
    scores = json.loads((tmp_path / "similarity.json").read_text())["scores"]
    measured = by_kind(scores, "pair") + by_kind(scores, "reference")
    assert len(measured) == 2 * (6 + 4)  # every pair and every file against its reference
    assert max(row["score"] for row in measured) <= similarity.THRESHOLD - 0.2


@needs_copydetect
@pytest.mark.parametrize("item_id, prefix, copy", CALIBRATION)
def test_the_default_threshold_flags_exactly_the_copy_among_the_calibration_files(
        tmp_path, item_id, prefix, copy):
    files = {path.stem: path for path in sorted(DATA.glob(f"{prefix}_*.py"))}
    assert len(files) >= 5, f"calibration files of {item_id}: {sorted(files)}"
    flagged = similarity.compute({item_id: files}, tmp_path)
    assert [(row["kind"], row["a"], row["b"]) for row in flagged] == [("pair", *copy)], (
        f"similarity.compute on the {len(files)} calibration files of {item_id} flagged "
        f"{[(row['kind'], row['a'], row['b'], row['score']) for row in flagged]}; expected "
        f"only the renamed copy {copy} (THRESHOLD {similarity.THRESHOLD})")
    scores = json.loads((tmp_path / "similarity.json").read_text())["scores"]
    independent_scores = [row["score"] for row in scores if row["kind"] in ("pair", "reference")
                          and copy[1] not in (row["a"], row["b"])]
    assert max(independent_scores) <= similarity.THRESHOLD - 0.2, (
        f"{item_id}: an independent solution scored {max(independent_scores)}, within 0.2 of "
        f"the threshold {similarity.THRESHOLD}")


@needs_copydetect
def test_the_reference_handed_in_is_flagged_near_the_reference(tmp_path):
    submissions = {TORCH: {"eve": ROOT / "solutions" / TORCH / f"{TORCH}.py",
                           **independent("torch")}}
    flagged = similarity.compute(submissions, tmp_path)
    assert [(row["kind"], row["a"], row["b"]) for row in flagged] == [
        ("reference", "eve", similarity.REFERENCE)]
    assert flagged[0]["score"] == 1.0


@needs_copydetect
def test_the_stub_handed_in_or_barely_touched_is_flagged_near_the_stub_and_in_no_pair(tmp_path):
    stub = pristine_stub_text(TORCH)
    (tmp_path / "untouched.py").write_text(stub)
    (tmp_path / "pass.py").write_text(stub.replace("raise NotImplementedError", "pass"))
    one_body = stub.replace("raise NotImplementedError",
                            "self.linear = nn.Linear(in_features, out_features)", 1)
    (tmp_path / "one_body.py").write_text(one_body)
    names = ["untouched", "pass", "one_body"]
    submissions = {TORCH: {name: tmp_path / f"{name}.py" for name in names}
                   | {"ann": DATA / "torch_optim.py"}}
    flagged = similarity.compute(submissions, tmp_path / "results")
    assert sorted((row["kind"], row["a"]) for row in flagged) == [
        ("stub", name) for name in sorted(names)]
    assert all(row["score"] >= similarity.STUB_THRESHOLD for row in flagged)
    assert next(row for row in flagged if row["a"] == "untouched")["score"] == 1.0


def _fake_item(monkeypatch, stub_text):
    """linear_regression_torch, with `stub_text` as its stub (None: it has none)."""
    reference = (ROOT / "solutions" / TORCH / f"{TORCH}.py").read_text()
    monkeypatch.setattr(similarity, "_bank_files", lambda bank, item_id, skipped: (
        stub_text, reference))


SEED_CODE = '''
import numpy as np


def make_batches(data, labels, batch_size, rng):
    """Seed code handed out with the stub: shuffled mini-batches."""
    order = rng.permutation(len(data))
    for start in range(0, len(data), batch_size):
        chosen = order[start:start + batch_size]
        yield data[chosen], labels[chosen]


def standardise(features, eps=1e-8):
    mean = features.mean(axis=0, keepdims=True)
    std = features.std(axis=0, keepdims=True)
    return (features - mean) / (std + eps), mean, std


def accuracy(logits, labels):
    predicted = np.argmax(logits, axis=-1)
    return float(np.mean(predicted == labels))


def train(data, labels, epochs, batch_size, seed):
    """Seed code: the training loop calls your step."""
    rng = np.random.default_rng(seed)
    params = init(data.shape[1], int(labels.max()) + 1, rng)
    for epoch in range(epochs):
        for batch, batch_labels in make_batches(data, labels, batch_size, rng):
            params = step(params, batch, batch_labels)
    return params


def confusion(logits, labels, classes):
    table = np.zeros((classes, classes), dtype=np.int64)
    for truth, guess in zip(labels, np.argmax(logits, axis=-1)):
        table[truth, guess] += 1
    return table


def report(table):
    lines = []
    for row, counts in enumerate(table):
        total = max(int(counts.sum()), 1)
        lines.append(f"class {row}: {counts[row] / total:.1%} of {total}")
    return "\n".join(lines)


def init(n_in, n_out, rng):
    raise NotImplementedError


def step(params, batch, batch_labels):
    raise NotImplementedError
'''
ANN_BODIES = ('''return {"w": rng.normal(0.0, 0.01, (n_in, n_out)), "b": np.zeros(n_out)}''',
              '''logits = batch @ params["w"] + params["b"]
    probs = np.exp(logits - logits.max(1, keepdims=True))
    probs /= probs.sum(1, keepdims=True)
    probs[np.arange(len(batch_labels)), batch_labels] -= 1.0
    return {"w": params["w"] - 0.1 * batch.T @ probs / len(batch),
            "b": params["b"] - 0.1 * probs.mean(0)}''')
BOB_BODIES = ('''scale = np.sqrt(2.0 / (n_in + n_out))
    weights = scale * rng.standard_normal(size=(n_in, n_out))
    return dict(w=weights, b=np.zeros((n_out,), dtype=weights.dtype))''',
              '''scores = np.dot(batch, params["w"]) + params["b"][None]
    scores = scores - np.max(scores, axis=1)[:, None]
    soft = np.exp(scores) / np.exp(scores).sum(axis=1)[:, None]
    target = np.eye(soft.shape[1])[batch_labels]
    gradient = (soft - target) / batch.shape[0]
    lr = 0.05
    return dict(w=params["w"] - lr * np.dot(batch.T, gradient),
                b=params["b"] - lr * np.sum(gradient, axis=0))''')


@needs_copydetect
def test_the_stubs_own_lines_never_count_as_similarity(tmp_path, monkeypatch):
    files = {}
    for name, bodies in (("ann", ANN_BODIES), ("bob", BOB_BODIES)):
        parts = SEED_CODE.split("raise NotImplementedError")
        files[name] = tmp_path / f"{name}.py"
        files[name].write_text(parts[0] + bodies[0] + parts[1] + bodies[1] + parts[2])
    def pair_score(stub_text, out):
        _fake_item(monkeypatch, stub_text)
        flagged = similarity.compute({TORCH: files}, out)
        scores = json.loads((out / "similarity.json").read_text())["scores"]
        return by_kind(flagged, "pair"), by_kind(scores, "pair")[0]["score"]

    # with the seed code as the stub: the two share nothing of their own
    flagged, score = pair_score(SEED_CODE, tmp_path / "with")
    assert flagged == [] and score <= 0.1
    # the same two files with no stub to discount: the seed code alone makes them close
    flagged, score = pair_score(None, tmp_path / "without")
    assert score >= 0.6


@needs_copydetect
def test_a_lower_threshold_flags_the_closest_independent_pair(tmp_path):
    submissions = {TORCH: independent("torch")}
    flagged = similarity.compute(submissions, tmp_path, threshold=0.25)
    assert ("torch_manual", "torch_stubfilled", "pair") in {
        (row["a"], row["b"], row["kind"]) for row in flagged}
    assert json.loads((tmp_path / "similarity.json").read_text())["settings"][
        "threshold"] == 0.25
    with pytest.raises(ValueError, match="threshold"):
        similarity.compute(submissions, tmp_path, threshold=0)


def _answers_file(path, answers):
    path.write_text("".join(f"{question}: {value}\n" for question, value in answers.items()))
    return path


def _wrong(question, variant=0):
    """A wrong answer to `question`, as a line of an answers file would hold it."""
    if question.kind == "truefalse":
        return "false" if question.answer else "true"
    if question.kind == "single":
        return sorted(set(question.choices) - {question.answer})[variant]
    if question.kind == "multiple":
        return "[" + sorted(set(question.choices) - set(question.answer))[variant] + "]"
    if question.kind == "numeric":
        return str(question.answer + 1000 + variant)
    if question.kind == "bug":
        return str(question.answer + 1 + variant)
    return json.dumps(f"my own wording, take {variant}")


@needs_copydetect
def test_theory_answers_agreeing_on_the_key_are_not_flagged(tmp_path):
    key = theory.load_key(Bank(), "theory_speed")
    right = ROOT / "solutions" / "theory_speed" / "theory_speed.yaml"
    blank = ROOT / "exercises" / "theory_speed" / "theory_speed.yaml"
    # all right but one, the same slip in both: fewer than THEORY_MIN_SHARED wrong answers
    first = key.questions[0]
    line = theory.load_answers(right.read_text(), key)[first.id].line
    lines = right.read_text().splitlines()
    lines[line - 1] = f"{first.id}: {_wrong(first)}"
    slip = tmp_path / "slip.yaml"
    slip.write_text("\n".join(lines) + "\n")
    submissions = {"theory_speed": {
        "ann": right, "bob": shutil.copy(right, tmp_path / "bob.yaml"),
        "cat": slip, "dan": shutil.copy(slip, tmp_path / "dan.yaml"),
        "eve": blank, "fay": shutil.copy(blank, tmp_path / "fay.yaml")}}
    assert similarity.compute(submissions, tmp_path / "results") == []
    scores = json.loads((tmp_path / "results" / "similarity.json").read_text())["scores"]
    assert len(scores) == 15
    assert all(row["score"] == 0.0 for row in scores if {row["a"], row["b"]} != {"cat", "dan"})


@needs_copydetect
def test_theory_answers_sharing_several_identical_wrong_answers_are_flagged(tmp_path):
    key = theory.load_key(Bank(), "theory_speed")
    questions = key.questions[:similarity.THEORY_MIN_SHARED]
    shared = {q.id: _wrong(q) for q in questions}
    ann = _answers_file(tmp_path / "ann.yaml", shared)
    bob = _answers_file(tmp_path / "bob.yaml", shared)
    # the same questions wrong, but each in their own way: not a copy
    own = {q.id: _wrong(q, variant=1) if q.kind != "truefalse" else _wrong(q)
           for q in questions}
    cat = _answers_file(tmp_path / "cat.yaml", own)
    flagged = similarity.compute({"theory_speed": {"ann": ann, "bob": bob, "cat": cat}},
                                 tmp_path / "results")
    assert [(row["a"], row["b"], row["kind"]) for row in flagged] == [("ann", "bob", "pair")]
    assert [region["question"] for region in flagged[0]["regions"]] == [q.id for q in questions]
    assert flagged[0]["regions"][0] == {"a": [1, 1], "b": [1, 1], "question": questions[0].id}


@needs_copydetect
def test_load_reads_back_what_compute_wrote_and_the_csv_neutralises_formulas(tmp_path):
    assert similarity.load(tmp_path) == []
    files = {"=HYPERLINK(1)": DATA / "torch_manual.py", "bob": DATA / "torch_manual_renamed.py"}
    flagged = similarity.compute({TORCH: files}, tmp_path)
    assert similarity.load(tmp_path) == flagged
    assert set(flagged[0]) == {"item", "a", "b", "score", "kind", "regions"}
    rows = list(csv.DictReader((tmp_path / "similarity.csv").open()))
    assert list(rows[0]) == list(similarity.CSV_FIELDS)
    assert [(row["candidate_a"], row["candidate_b"], row["kind"]) for row in rows] == [
        ("'=HYPERLINK(1)", "bob", "pair")]
    first = flagged[0]["regions"][0]
    assert rows[0]["regions"].startswith(f"{first['a'][0]}-{first['a'][1]}:")


def test_without_copydetect_compute_raises_missing_extra_naming_the_install(tmp_path,
                                                                          monkeypatch):
    monkeypatch.setitem(sys.modules, "copydetect", None)  # `import copydetect` fails
    with pytest.raises(similarity.MissingExtra, match=r"pip install -e '\.\[similarity\]'"):
        similarity.compute({TORCH: {"ann": DATA / "torch_optim.py"}}, tmp_path)
    assert not (tmp_path / "similarity.csv").exists()


def test_the_similarity_extra_names_copydetect():
    import configparser

    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    assert "copydetect" in config["options.extras_require"]["similarity"]


@needs_copydetect
def test_write_all_compares_what_grade_batch_unpacked_into_results(tmp_path):
    unpacked = tmp_path / ".unpacked"
    for name, source in (("ann", "torch_manual.py"), ("bob", "torch_manual_renamed.py"),
                         ("cat", "torch_optim.py")):
        (unpacked / name).mkdir(parents=True)
        shutil.copy(DATA / source, unpacked / name / f"{TORCH}.py")
    shutil.copy(DATA / "torch_optim.py", unpacked / "cat" / "notes.py")  # not an item: ignored
    written = similarity.write_all(tmp_path)
    assert sorted(path.name for path in written) == ["similarity.csv", "similarity.json"]
    assert [(row["item"], row["a"], row["b"], row["kind"]) for row in similarity.load(
        tmp_path)] == [(TORCH, "ann", "bob", "pair")]
    scores = json.loads((tmp_path / "similarity.json").read_text())["scores"]
    assert {row["a"] for row in scores} == {"ann", "bob", "cat"}
