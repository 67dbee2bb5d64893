"""What every report of a batch agrees on: the items, each candidate's score, status and flags.

The writers (summary_csv, junit, gradescope, html) all read a candidate through `view()`, so the
CSV, JUnit, Gradescope and HTML outputs give the same totals, statuses and flags.

A candidate is the dict `grade batch` writes to RESULTS/candidates/<candidate>.json:
{"candidate", "items": {item_id: <grade exercise JSON report> + "submission_sha256"},
"errors": [...], "seed", "device", "bank", "grader_version", "sandbox"}.

Status of a candidate, first that applies:
- error: the grader failed on one of its items (internal error, not the candidate's fault),
  or its submission could not be read (an entry in "errors");
- incomplete: an item of the batch was not handed in;
- passed: every check of every item passed;
- failed: otherwise.

Flags (summary.csv's `flags` column, the HTML ranking):
- unsandboxed: the candidate's code ran without the sandbox (`--sandbox none`);
- similar:<other>: the similarity check paired this submission with <other>'s;
- near_reference, near_stub: the submission is too close to the reference solution, or is
  little more than the stub;
- load_error: a file did not import (syntax error, an exception at import);
- timeout, memory, crashed, output_limit: a check ended with that verdict;
- internal_error: the grader failed on a check (regrade; never counted against the candidate);
- submission_error: the submission could not be read (bad zip, bad encoding, a symlink out);
- missing:<item>: that item of the batch was not handed in.
"""

import hashlib
import os
import re
import tempfile
from pathlib import Path

VERDICTS = ("passed", "failed", "not_implemented", "error", "timeout", "memory", "crashed",
            "output_limit", "internal_error")
# Verdicts that are the candidate's code's fault: a JUnit <failure>, a failed Gradescope test.
LEARNER_FAILURES = ("failed", "not_implemented", "error", "timeout", "memory", "crashed",
                    "output_limit")
FLAG_VERDICTS = ("timeout", "memory", "crashed", "output_limit")


def verdict(status):
    """A check's status if it is a known verdict, else "unknown" (it goes into class names)."""
    return status if status in VERDICTS else "unknown"


def label(status):
    return str(status).replace("_", " ")


def item_ids(candidates, batch=None):
    """The batch's items (batch.json's "items"), then any other item a candidate handed in."""
    ids = list((batch or {}).get("items") or [])
    for cand in candidates:
        for item in cand.get("items") or {}:
            if item not in ids:
                ids.append(item)
    return ids


def started(batch):
    """When the batch started: batch.json's "started", its first run's, or its "created"."""
    batch = batch or {}
    runs = batch.get("runs") or [{}]
    return batch.get("started") or (runs[0] or {}).get("started") or batch.get("created")


def item_max(candidates):
    """The max score of each item, from whichever candidate's report of it has one."""
    best = {}
    for cand in candidates:
        for item, report in (cand.get("items") or {}).items():
            best[item] = max(best.get(item, 0), int(report.get("max_score") or 0))
    return best


def check_columns(candidates, items):
    """[(item, check name, title, number "task.index")] in the order the reports list them."""
    columns, seen = [], set()
    for item in items:
        for cand in candidates:
            report = (cand.get("items") or {}).get(item)
            if not report:
                continue
            for number, check in numbered(report.get("checks") or []):
                key = (item, check.get("name"))
                if key not in seen:
                    seen.add(key)
                    columns.append((item, check.get("name"), check.get("title") or
                                    check.get("name"), number))
    return columns


def numbered(checks):
    """[(number, check)], number "task.index": the second check of task 1 is "1.2"."""
    counts, out = {}, []
    for check in checks:
        task = check.get("task") or 0
        counts[task] = counts.get(task, 0) + 1
        out.append((f"{task}.{counts[task]}", check))
    return out


def sandbox_of(record):
    """The sandbox a record (a candidate, batch.json or one item's report) states, as
    {"kind": "bwrap"|"none"|..., "reason": ...} or None where it states none. Takes the report's
    dict as it is, and the batch's words "sandboxed" / "unsandboxed" with its sandbox_warning."""
    box = (record or {}).get("sandbox")
    if isinstance(box, dict):
        return box
    if box in ("unsandboxed", "none"):
        return {"kind": "none", "reason": record.get("sandbox_warning")}
    if box == "sandboxed":
        return {"kind": "bwrap"}
    if isinstance(box, str) and box:
        return {"kind": box}
    return None


def is_unsandboxed(cand):
    """Whether the candidate's code ran without the sandbox (theory items run no code)."""
    return sandbox_reason(cand) is not None


def sandbox_reason(cand):
    """Why the candidate's code ran unsandboxed, or None where it did not."""
    boxes = [sandbox_of(cand)] + [sandbox_of(r) for r in (cand.get("items") or {}).values()]
    for box in boxes:
        if (box or {}).get("kind") == "none":
            return (box or {}).get("reason") or "no reason recorded"
    return None


def similar_to(name, similarity):
    """The similarity flags of candidate `name`: `similar:<other>` for a pair with another
    candidate, `near_reference` and `near_stub` for a submission close to the reference or to
    the stub (told apart by the row's kind, never by a name a candidate could choose)."""
    flags = []
    for pair in similarity or []:
        kind = pair.get("kind", "pair")
        if kind in ("reference", "stub"):
            flag = f"near_{kind}" if pair.get("a") == name else None
        elif pair.get("a") == name:
            flag = f"similar:{pair.get('b')}"
        elif pair.get("b") == name:
            flag = f"similar:{pair.get('a')}"
        else:
            flag = None
        if flag and flag not in flags:
            flags.append(flag)
    return flags


def view(cand, items, maxima, similarity=None):
    """One candidate as every report shows it: per-item scores, total, status, flags."""
    reports = cand.get("items") or {}
    per_item, total, total_max, flags = {}, 0, 0, []
    missing = [item for item in items if item not in reports]
    for item in items:
        report = reports.get(item)
        if report is None:
            per_item[item] = None
            total_max += maxima.get(item, 0)
            continue
        score, top = int(report.get("score") or 0), int(report.get("max_score") or 0)
        per_item[item] = (score, top)
        total += score
        total_max += top
    checks = [c for r in reports.values() for c in (r.get("checks") or [])]
    internal = any(r.get("internal_error") or r.get("status") == "error" for r in reports.values()) \
        or any(c.get("status") == "internal_error" for c in checks)
    if is_unsandboxed(cand):
        flags.append("unsandboxed")
    flags += similar_to(cand.get("candidate"), similarity)
    if any(r.get("load_error") for r in reports.values()):
        flags.append("load_error")
    flags += [v for v in FLAG_VERDICTS if any(c.get("status") == v for c in checks)]
    if internal:
        flags.append("internal_error")
    if cand.get("errors"):
        flags.append("submission_error")
    flags += [f"missing:{item}" for item in missing]
    if internal or cand.get("errors"):
        status = "error"
    elif missing or not reports:
        status = "incomplete"
    elif all(r.get("status") == "passed" for r in reports.values()):
        status = "passed"
    else:
        status = "failed"
    return {"candidate": str(cand.get("candidate")), "per_item": per_item, "total": total,
            "total_max": total_max, "status": status, "flags": flags}


def ranked(candidates, items, maxima, similarity=None):
    """[(rank, candidate, view)] by total score, highest first; ties share a rank (1, 2, 2, 4)."""
    views = [(cand, view(cand, items, maxima, similarity)) for cand in candidates]
    views.sort(key=lambda cv: (-cv[1]["total"], cv[1]["candidate"]))
    out, rank, previous = [], 0, None
    for position, (cand, v) in enumerate(views, start=1):
        if v["total"] != previous:
            rank, previous = position, v["total"]
        out.append((rank, cand, v))
    return out


def safe_filename(name):
    """A file name for a candidate: the name itself where it is a plain one, else a cleaned
    name with a digest of the original (so two odd names never share a file)."""
    name = str(name)
    clean = re.sub(r"[^\w.-]", "_", name).lstrip(".")[:80]
    if clean == name and clean:
        return clean
    return f"{clean or 'candidate'}-{hashlib.sha256(name.encode('utf-8', 'surrogatepass')).hexdigest()[:10]}"


def write_text(path, text):
    """Write a file whole or not at all (a reader never sees half a report)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return path
