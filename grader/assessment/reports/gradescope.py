"""RESULTS/gradescope/<candidate>.json: each candidate in Gradescope's autograder results.json
format (score, max_score, execution_time, output, tests, visibility).

One test per check: name `<item>: <check title>`, number `task.index` ("1.2": the second check
of task 1) when the batch has one item, `k.task.index` (k: the item's place in the batch) when
it has several; status "passed" or "failed" (Gradescope has no third); output the verdict, the
check's message and its time against its limit. An item not handed in is one failed test
worth that item's points, so the totals are those of summary.csv. The top-level output states
the batch's seed, device and sandbox.
"""

import json

from . import common


def _test_output(check):
    lines = [f"verdict: {common.label(check.get('status'))}"]
    if check.get("status") == "internal_error":
        lines.append("(the grader failed on this check: not the candidate's fault; regrade)")
    if check.get("message"):
        lines.append(str(check["message"]))
    if check.get("time_s") is not None:
        limit = check.get("limit_s")
        lines.append(f"time: {check['time_s']} s" + (f" of a {limit} s limit" if limit else ""))
    return "\n".join(lines)


def results(cand, items, maxima, batch=None, similarity=None):
    """The results.json object of one candidate."""
    batch = batch or {}
    v = common.view(cand, items, maxima, similarity)
    reports = cand.get("items") or {}
    several = len(items) > 1
    tests = []
    for k, item in enumerate(items, start=1):
        report = reports.get(item)
        if report is None:
            tests.append({"name": f"{item}: handed in", "number": f"{k}.0" if several else "0",
                          "score": 0, "max_score": maxima.get(item, 0), "status": "failed",
                          "output": f"{item} was not handed in", "visibility": "visible"})
            continue
        for number, check in common.numbered(report.get("checks") or []):
            tests.append({
                "name": f"{item}: {check.get('title') or check.get('name')}",
                "number": f"{k}.{number}" if several else number,
                "score": check.get("score") or 0,
                "max_score": check.get("points") or 0,
                "status": "passed" if check.get("status") == "passed" else "failed",
                "output": _test_output(check),
                "visibility": "visible",
            })
    reason = common.sandbox_reason(cand)
    lines = [f"candidate: {v['candidate']}",
             f"status: {v['status']}" + (f" ({' '.join(v['flags'])})" if v["flags"] else ""),
             f"seed: {cand.get('seed', batch.get('seed'))}",
             f"device: {cand.get('device', batch.get('device'))}"]
    if reason:
        lines.append(f"sandbox: none: the candidate's code ran UNSANDBOXED, as the grading user"
                     f" ({reason})")
    else:
        box = common.sandbox_of(cand) or common.sandbox_of(batch) or {}
        lines.append(f"sandbox: {box.get('kind', 'unknown')}")
    if cand.get("grader_version") or cand.get("bank"):
        bank = cand.get("bank") or {}
        lines.append(f"grader {cand.get('grader_version')}, bank {bank.get('version')} "
                     f"({bank.get('digest')})")
    for item in items:
        report = reports.get(item) or {}
        if report.get("load_error"):
            lines.append(f"{item}: the file did not load:\n{report['load_error']}")
        if report.get("internal_error"):
            lines.append(f"{item}: internal error (the grader's fault):\n{report['internal_error']}")
        if report.get("submission_sha256"):
            lines.append(f"{item}: submission sha256 {report['submission_sha256']}")
    lines += [f"submission error: {error}" for error in cand.get("errors") or []]
    return {
        "score": v["total"],
        "max_score": v["total_max"],
        "execution_time": round(sum(float(r.get("elapsed_s") or 0) for r in reports.values()), 3),
        "output": "\n".join(lines),
        "output_format": "text",
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": tests,
    }


def write(directory, candidates, batch=None, similarity=None):
    """Write one file per candidate under `directory`; returns their paths."""
    items = common.item_ids(candidates, batch)
    maxima = common.item_max(candidates)
    paths = []
    for cand in candidates:
        obj = results(cand, items, maxima, batch, similarity)
        paths.append(common.write_text(
            f"{directory}/{common.safe_filename(cand.get('candidate'))}.json",
            json.dumps(obj, indent=2, ensure_ascii=False) + "\n"))
    return paths
