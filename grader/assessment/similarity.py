"""Similarity of a batch's submissions: pairs of candidates, the reference, the stub.

`compute` takes every submission of a batch, {item id: {candidate: path}}, and writes
`RESULTS/similarity.csv` (the flagged rows) and `RESULTS/similarity.json` (the flagged rows with
their matching regions, every score measured, the settings, and the files left out); it returns
the flagged rows; `write_all(RESULTS)` runs it on what `grade batch` copied into
RESULTS/.unpacked/. `load` reads the flagged rows back for the reports. Each row is
{"item", "a", "b", "score", "kind", "regions"}:

- kind "pair": candidates `a` and `b` handed in code that matches after normalisation (the
  larger share of either file that matches the other is at least the threshold);
- kind "reference": candidate `a`'s code matches the item's reference solution (`b` is
  "(reference)") as closely;
- kind "stub": candidate `a` wrote nearly nothing beyond the stub (`b` is "(stub)"); the score is
  1 - (code written beyond the stub / the reference's code written beyond the stub), so 1.0 is
  the stub as handed out;
- theory items (YAML answers) are compared on their non-trivial answers only: blanks and
  answers equal to the key never count, and a pair is flagged for at least
  THEORY_MIN_SHARED identical wrong (or free-text) answers making at least THEORY_SHARE of the
  non-trivial answers the smaller of the two gave.

Code is compared with copydetect (a winnowing detector in the style of MOSS, an optional extra:
`pip install -e '.[similarity]'`). It tokenises with pygments and drops comments, whitespace
and the names of variables, functions and classes (so renaming and reordering functions do not
hide a copy), and the item's pristine stub is its boilerplate: no k-gram of the stub ever
counts as a match. A region is a pair of line ranges (1-based, inclusive), {"a": [first, last],
"b": [first, last]}: the lines of `a` that match those lines of `b` (of the reference, the stub,
or for theory the answer's line in both files, with its question id).
"""

import csv
import difflib
import io
import itertools
import json
import os
import tempfile
from bisect import bisect_right
from pathlib import Path

# Calibration (tests/data/similarity; benchmarks/README.md has the table and the command,
# `python -m grader.assessment.similarity ITEM FILE...`): four independently written correct
# solutions of each of linear_regression_torch, linear_regression_jax (one of them the stub
# filled in with its docstrings kept) and distributed_torch, all passing `grade exercise`;
# copydetect 0.5.0, NOISE_CHARS 25, the stub as boilerplate. Score = the larger share of
# either file matching the other:
#   independent solutions against each other: 0.00 to 0.29 (torch 0.09-0.29, jax 0.00-0.14,
#   distributed 0.00-0.23)
#   independent solutions against the reference: 0.11 to 0.45 (torch 0.11-0.45, jax
#   0.25-0.43, distributed 0.22-0.28)
#   a renamed copy (variables renamed, functions reordered, comments changed) against its
#   original: 1.00 (torch, 0.92 on the copy's side), 0.99 (jax), 0.97 (distributed)
# THRESHOLD 0.70 leaves 0.25 above the highest independent score and 0.22 below the lowest
# side of a renamed copy. Stub scores: the stub with `pass` for every body, or one body
# written, 0.89 to 1.00; the independent solutions and the reference 0.00 to 0.07
# (they write 0.94 to 1.79 times the reference's code beyond the stub).
THRESHOLD = 0.70
STUB_THRESHOLD = 0.75  # near_stub: wrote less than a quarter of what the reference writes
NOISE_CHARS = 25  # copydetect's k: the shortest run of normalised code that counts as a match
MIN_MATCH_CHARS = 2 * NOISE_CHARS  # a pair or reference flag needs at least this much matched
THEORY_MIN_SHARED = 3
THEORY_SHARE = 0.5
MAX_BYTES = 1024 * 1024  # a larger submission is left out (listed under "skipped")
MAX_OCCURRENCES = 8  # of one fingerprint in one file, when pairing regions

REFERENCE = "(reference)"
STUB = "(stub)"
CSV_FIELDS = ("item", "candidate_a", "candidate_b", "score", "kind", "regions")
JSON_FILE = "similarity.json"
CSV_FILE = "similarity.csv"
INSTALL = "pip install -e '.[similarity]'"


class MissingExtra(Exception):
    """copydetect, the optional extra that similarity needs, is not installed."""


def _copydetect():
    try:
        import copydetect
    except ImportError as exc:
        raise MissingExtra(
            f"similarity checks need the optional extra copydetect ({exc}): run `{INSTALL}` "
            "in the checkout, then the same command again") from None
    return copydetect


# public API ---------------------------------------------------------------------------------

def compute(pairs_input, results_dir, threshold=None, *, stub_threshold=None, bank=None):
    """Compare every submission of each item; write the CSV and JSON; return the flagged rows.

    `pairs_input` is {item id: {candidate: Path}} (a `.py` file, or `.yaml` for a theory item);
    `threshold` (default THRESHOLD) is the score from which a pair or a submission near the
    reference is flagged. Raises MissingExtra when copydetect is not installed.
    """
    threshold = THRESHOLD if threshold is None else float(threshold)
    stub_threshold = STUB_THRESHOLD if stub_threshold is None else float(stub_threshold)
    if not 0.0 < threshold <= 1.0 or not 0.0 < stub_threshold <= 1.0:
        raise ValueError("a similarity threshold is a share: more than 0, at most 1")
    copydetect = _copydetect()
    if bank is None:
        from grader.catalog import Bank
        bank = Bank()
    flagged, scores, skipped = [], [], []
    for item_id in sorted(pairs_input):
        submissions = {str(name): Path(path) for name, path in pairs_input[item_id].items()}
        item = bank.items.get(item_id)
        if item is not None and item.kind == "theory":
            found = _theory_item(bank, item_id, submissions, skipped)
        else:
            found = _code_item(bank, item_id, item, submissions, threshold, stub_threshold,
                               copydetect, skipped)
        for row in found:
            flag = row.pop("flagged")
            scores.append({key: row[key] for key in ("item", "a", "b", "score", "kind")})
            if flag:
                flagged.append(row)
    flagged.sort(key=lambda row: (row["item"], -row["score"], row["kind"], row["a"], row["b"]))
    document = {
        "version": 1,
        "settings": {"threshold": threshold, "stub_threshold": stub_threshold,
                     "noise_chars": NOISE_CHARS, "min_match_chars": MIN_MATCH_CHARS,
                     "theory_min_shared": THEORY_MIN_SHARED, "theory_share": THEORY_SHARE,
                     "tool": f"copydetect {getattr(copydetect, '__version__', '?')}"},
        "flagged": flagged,
        "scores": scores,
        "skipped": skipped,
    }
    results_dir = Path(results_dir)
    results_dir.mkdir(parents=True, exist_ok=True)
    _write_atomic(results_dir / JSON_FILE, json.dumps(document, indent=1) + "\n")
    _write_atomic(results_dir / CSV_FILE, _csv(flagged))
    return [dict(row) for row in flagged]


def load(results_dir):
    """The flagged rows of an earlier `compute` in `results_dir`; [] when it wrote none."""
    path = Path(results_dir) / JSON_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    try:
        rows = json.loads(text)["flagged"]
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{path} is not a similarity report ({exc}); run the batch again to "
                         "rewrite it") from None
    return [{key: row.get(key) for key in ("item", "a", "b", "score", "kind", "regions")}
            for row in rows]


def write_all(results_dir, threshold=None, *, bank=None):
    """`compute` over a batch's RESULTS: every submission `grade batch` read and copied to
    RESULTS/.unpacked/<candidate>/<id>.py (or .yaml); returns the two files written."""
    if bank is None:
        from grader.catalog import Bank
        bank = Bank()
    results_dir = Path(results_dir)
    pairs_input = {}
    unpacked = results_dir / ".unpacked"
    folders = sorted(unpacked.iterdir()) if unpacked.is_dir() else []
    for folder in folders:
        if folder.is_symlink() or not folder.is_dir():
            continue
        for path in sorted(folder.iterdir()):
            item = bank.items.get(path.stem)
            if item is None or path.is_symlink() or not path.is_file() \
                    or path.name != bank.stub_file(item.id).name:
                continue
            pairs_input.setdefault(item.id, {})[folder.name] = path
    compute(pairs_input, results_dir, threshold, bank=bank)
    return [results_dir / JSON_FILE, results_dir / CSV_FILE]


# code items ---------------------------------------------------------------------------------

class _Code:
    """One file, tokenised and fingerprinted by copydetect, with its normalised text mapped back
    to the lines of the original."""

    def __init__(self, text, copydetect, boilerplate=None):
        self.fingerprint = copydetect.CodeFingerprint(
            "submission.py", NOISE_CHARS, 1, boilerplate=boilerplate, language="python",
            fp=io.StringIO(text))
        self.filtered = self.fingerprint.filtered_code
        self.raw_at = _raw_positions(text, self.filtered)
        self.line_starts = [0] + [at + 1 for at, char in enumerate(text) if char == "\n"]

    def line(self, filtered_index):
        """The 1-based line of the original text where normalised character `filtered_index`
        comes from."""
        if not self.raw_at:
            return 1
        raw = self.raw_at[max(0, min(filtered_index, len(self.raw_at) - 1))]
        return bisect_right(self.line_starts, raw)


def _raw_positions(text, filtered):
    """For each character of copydetect's normalised text, its offset in `text` (the same
    token rules as copydetect.utils.filter_code); [] if they ever disagree."""
    from pygments import lexers, token

    positions, at = [], 0
    names = {token.Name, token.Name.Variable, token.Name.Attribute}
    for kind, value in lexers.get_lexer_by_name("python").get_tokens(text):
        found = text.find(value, at) if value else at
        start = found if found >= 0 else at
        if kind in names or kind in token.Name.Function or kind in token.Name.Class \
                or kind in (token.Comment.Preproc, token.Comment.Hashbang):
            emitted = "V"
        elif kind in token.Text or kind in token.Comment:
            emitted = ""
        elif kind in token.Literal.String:
            emitted = '"' if value in ("'", '"') else "S"
        else:
            emitted = value
        for offset in range(len(emitted)):
            positions.append(start + min(offset, max(len(value) - 1, 0)))
        if found >= 0:
            at = found + len(value)
    return positions if len(positions) == len(filtered) else []


def _regions(one, other):
    """Matching regions of two _Code: diagonal runs of shared fingerprints, as line ranges."""
    ones, others = one.fingerprint.hash_idx, other.fingerprint.hash_idx
    matches = sorted(
        (b - a, a, b)
        for shared in set(ones) & set(others)
        for a in ones[shared][:MAX_OCCURRENCES] for b in others[shared][:MAX_OCCURRENCES])
    runs = []
    for diagonal, a, b in matches:
        last = runs[-1] if runs else None
        if last is not None and last[0] == diagonal and a <= last[2] + NOISE_CHARS:
            last[2] = a
        else:
            runs.append([diagonal, a, a])
    spans = sorted((a_first, a_last + NOISE_CHARS - 1, a_first + diagonal,
                    a_last + diagonal + NOISE_CHARS - 1) for diagonal, a_first, a_last in runs)
    regions = []
    for a_first, a_last, b_first, b_last in spans:
        region = {"a": [one.line(a_first), one.line(a_last)],
                  "b": [other.line(b_first), other.line(b_last)]}
        if region not in regions:
            regions.append(region)
    return regions


def _written(code, stub):
    """How many normalised characters of `code` are not the stub's (insertions, replacements)."""
    if len(code) - len(stub) > 4 * max(len(stub), 1):
        return len(code) - len(stub)  # far more than the stub: no need to diff it
    matcher = difflib.SequenceMatcher(None, stub, code, autojunk=False)
    return sum(j2 - j1 for tag, _i1, _i2, j1, j2 in matcher.get_opcodes()
               if tag in ("insert", "replace"))


def _bank_files(bank, item_id, skipped):
    """(the item's pristine stub, its reference solution) as text; None for one that cannot be
    read (listed under "skipped")."""
    from grader.bank_stubs import bank_stub

    with bank_stub(bank, item_id) as stub:
        stub_text = _read(stub.path, item_id, STUB, skipped)
    return stub_text, _read(bank.solution_file(item_id), item_id, REFERENCE, skipped)


def _code_item(bank, item_id, item, submissions, threshold, stub_threshold, copydetect,
               skipped):
    import numpy

    def code(text, boilerplate=None):
        return _Code(text, copydetect, boilerplate)

    texts = {name: _read(path, item_id, name, skipped) for name, path in submissions.items()}
    texts = {name: text for name, text in texts.items() if text is not None}
    stub_text, reference_text = (_bank_files(bank, item_id, skipped) if item is not None
                                 else (None, None))
    boilerplate = stub = reference = None
    if stub_text is not None:
        stub = code(stub_text)
        boilerplate = numpy.unique(numpy.array(sorted(stub.fingerprint.hashes),
                                               dtype=numpy.int64))
    codes = {name: code(text, boilerplate) for name, text in texts.items()}
    if reference_text is not None:
        reference = code(reference_text, boilerplate)
    rows, near_stub = [], set()
    if stub is not None and reference is not None:
        reference_written = max(_written(code(reference_text).filtered, stub.filtered), 1)
        for name in sorted(codes):
            plain = code(texts[name])
            score = 1.0 - min(1.0, _written(plain.filtered, stub.filtered) / reference_written)
            flag = score >= stub_threshold
            if flag:
                near_stub.add(name)
            rows.append(_row(item_id, name, STUB, score, "stub", flag,
                             _regions(plain, stub) if flag else []))
    written = sorted(name for name in codes if name not in near_stub)  # near_stub: nothing
    comparisons = [(a, codes[a], b, codes[b], "pair")  # of their own to compare
                   for a, b in itertools.combinations(written, 2)]
    if reference is not None:
        comparisons += [(name, codes[name], REFERENCE, reference, "reference")
                        for name in written]
    for a, one, b, other, kind in comparisons:
        overlap, (share_a, share_b), _ = copydetect.compare_files(one.fingerprint,
                                                                  other.fingerprint)
        score = float(max(share_a, share_b))
        flag = score >= threshold and overlap >= MIN_MATCH_CHARS
        rows.append(_row(item_id, a, b, score, kind, flag, _regions(one, other) if flag else []))
    return rows


# theory items -------------------------------------------------------------------------------

def _theory_item(bank, item_id, submissions, skipped):
    from grader import theory

    try:
        key = theory.load_key(bank, item_id)
    except theory.KeyProblem as exc:
        for name in submissions:
            skipped.append({"item": item_id, "candidate": name, "reason": str(exc)})
        return []
    answers = {}
    for name, path in sorted(submissions.items()):
        try:
            given = theory.load_answers(theory.read_answers_file(path), key)
        except (OSError, UnicodeDecodeError, theory.AnswersProblem) as exc:
            skipped.append({"item": item_id, "candidate": name, "reason": str(exc)})
            continue
        answers[name] = _nontrivial(key, given)
    rows = []
    for a, b in itertools.combinations(sorted(answers), 2):
        shared = sorted((question for question, (value, _line) in answers[a].items()
                         if question in answers[b] and answers[b][question][0] == value),
                        key=lambda q: answers[a][q][1])
        fewer = min(len(answers[a]), len(answers[b]))
        score = len(shared) / fewer if fewer else 0.0
        flag = len(shared) >= THEORY_MIN_SHARED and score >= THEORY_SHARE
        regions = [{"a": [answers[a][q][1]] * 2, "b": [answers[b][q][1]] * 2, "question": q}
                   for q in shared] if flag else []
        rows.append(_row(item_id, a, b, score, "pair", flag, regions))
    return rows


def _nontrivial(key, given):
    """{question id: (the answer in canonical form, its line)} for the answers that are neither
    blank nor right: only those can tell a copy from two people who know the answer."""
    from grader import theory

    kept = {}
    for question_id, answer in given.items():
        question = key.question(question_id)
        try:
            value = theory.read_answer(question, answer.value)
        except theory.AnswerProblem:
            value = " ".join(str(answer.value).split()).lower()  # compared as written
        else:
            if value is None or theory.is_right(question, value):
                continue
        if isinstance(value, frozenset):
            value = tuple(sorted(value))
        kept[question_id] = (repr(value), answer.line)
    return kept


# files --------------------------------------------------------------------------------------

def _read(path, item_id, name, skipped):
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_BYTES + 1)
    except OSError as exc:
        skipped.append({"item": item_id, "candidate": name,
                        "reason": f"cannot read it: {exc.strerror or exc}"})
        return None
    if len(data) > MAX_BYTES:
        skipped.append({"item": item_id, "candidate": name,
                        "reason": f"larger than {MAX_BYTES // 1024} KiB"})
        return None
    return data.decode("utf-8", errors="replace")


def _row(item_id, a, b, score, kind, flagged, regions):
    return {"item": item_id, "a": a, "b": b, "score": round(float(score), 3), "kind": kind,
            "regions": regions, "flagged": bool(flagged)}


def _cell(value):
    """A CSV cell a spreadsheet will not run as a formula."""
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _region_text(regions):
    def lines(span):
        return str(span[0]) if span[0] == span[1] else f"{span[0]}-{span[1]}"

    return "; ".join((f"{region['question']} " if "question" in region else "")
                     + f"{lines(region['a'])}:{lines(region['b'])}" for region in regions)


def _csv(rows):
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_FIELDS)
    for row in rows:
        writer.writerow([_cell(row["item"]), _cell(row["a"]), _cell(row["b"]),
                         f"{row['score']:.3f}", row["kind"], _cell(_region_text(row["regions"]))])
    return out.getvalue()


def _write_atomic(path, text):
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as out:
            out.write(text)
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise


def main(argv=None):
    """`python -m grader.assessment.similarity ITEM FILE...`: every score among the files (each
    pair, each file against the reference and the stub) and what the default thresholds flag;
    how the thresholds above were calibrated (benchmarks/README.md)."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__.splitlines()[0])
    parser.add_argument("item")
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--threshold", type=float)
    args = parser.parse_args(argv)
    files = {path.stem: path for path in args.files}
    with tempfile.TemporaryDirectory(prefix="dlprep-similarity-") as folder:
        flagged = compute({args.item: files}, folder, args.threshold)
        scores = json.loads((Path(folder) / JSON_FILE).read_text(encoding="utf-8"))["scores"]
    marked = {(row["kind"], row["a"], row["b"]) for row in flagged}
    print(f"{args.item}: {len(files)} files, threshold "
          f"{THRESHOLD if args.threshold is None else args.threshold}, stub {STUB_THRESHOLD}")
    for row in sorted(scores, key=lambda row: (row["kind"], -row["score"], row["a"], row["b"])):
        flag = "FLAGGED" if (row["kind"], row["a"], row["b"]) in marked else ""
        print(f"  {row['kind']:<10} {row['a']:<30} {row['b']:<30} {row['score']:.2f}  {flag}")


if __name__ == "__main__":
    main()
