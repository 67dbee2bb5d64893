"""The reports a reviewer reads, written into a batch's RESULTS folder from its candidates' JSON.

`write_all(results_dir)` loads RESULTS/batch.json, RESULTS/candidates/*.json and (where the
similarity check ran) the similarity pairs, then writes summary.csv, junit.xml,
gradescope/<candidate>.json and report.html. Each writer is a pure function of the loaded
objects (`render`) plus a whole-or-nothing file write (`write`); `common` holds what they share:
each candidate's total, status and flags, so all four agree.
"""

import json
from pathlib import Path

from . import common, gradescope, html, junit, summary_csv

__all__ = ["write_all", "load_batch", "load_candidates", "load_similarity"]


def load_batch(results_dir):
    """batch.json as a dict ({} where there is none)."""
    path = Path(results_dir) / "batch.json"
    if not path.exists():
        return {}
    return json.loads(path.read_text(encoding="utf-8"))


def load_candidates(results_dir):
    """Every candidates/*.json, sorted by file name. A file that cannot be read becomes a
    candidate with that error (named after the file), so no candidate silently drops out."""
    out = []
    for path in sorted((Path(results_dir) / "candidates").glob("*.json")):
        try:
            cand = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(cand, dict):
                raise ValueError("not a JSON object")
        except (OSError, ValueError) as exc:
            cand = {"candidate": path.stem, "items": {},
                    "errors": [f"results file {path.name} could not be read: {exc}"]}
        cand.setdefault("candidate", path.stem)
        cand.setdefault("items", {})
        cand.setdefault("errors", [])
        out.append(cand)
    return out


def load_similarity(results_dir):
    """The similarity pairs, or None where the similarity check did not run (its module absent,
    or neither RESULTS/similarity.json nor similarity.csv written)."""
    if not any((Path(results_dir) / name).exists() for name in ("similarity.json", "similarity.csv")):
        return None
    try:
        from grader.assessment import similarity
    except ImportError:
        return None
    return list(similarity.load(results_dir))


def write_all(results_dir):
    """Write every report of the batch in `results_dir`; returns the paths written."""
    results_dir = Path(results_dir)
    batch = load_batch(results_dir)
    candidates = load_candidates(results_dir)
    pairs = load_similarity(results_dir)
    return [
        summary_csv.write(results_dir / "summary.csv", candidates, batch, pairs),
        junit.write(results_dir / "junit.xml", candidates, batch, pairs),
        *gradescope.write(results_dir / "gradescope", candidates, batch, pairs),
        html.write(results_dir / "report.html", candidates, batch, pairs),
    ]
