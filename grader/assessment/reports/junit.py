"""RESULTS/junit.xml: the batch as JUnit XML, the Jenkins/Ant dialect CI dashboards read.

One <testsuite> per candidate and item, named `<candidate>.<item>`; one <testcase> per check
(classname `<candidate>.<item>`, time in seconds). A check the candidate's code did not pass
(failed, not implemented, error, timeout, memory, crashed, output limit) is a
<failure type="<verdict>" message="<the check's message>">; <error> is kept for the grader's
own faults (internal errors), so a dashboard's errors are never the candidate's. An item not
handed in is one skipped testcase; an unreadable submission is a failed testcase of a
`<candidate>.submission` suite. Candidate text goes through ElementTree (escaped) after
dropping the characters XML 1.0 cannot hold at all (control characters shown as \\xNN).
"""

import re
import xml.etree.ElementTree as ET

from . import common

_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_text(value):
    """Text XML 1.0 can hold: control characters and lone surrogates written as \\xNN."""
    return _NOT_XML.sub(lambda m: f"\\x{ord(m.group()):02x}", "" if value is None else str(value))


def seconds(value):
    """A time as the schema's SUREFIRE_TIME: non-negative, three decimals."""
    try:
        return f"{max(0.0, float(value)):.3f}"
    except (TypeError, ValueError):
        return "0.000"


def _case_text(check, number):
    lines = [f"check {number}: {check.get('title') or check.get('name')}",
             f"verdict: {common.label(check.get('status'))}"]
    if check.get("message"):
        lines.append(f"message: {check['message']}")
    limit = check.get("limit_s")
    if check.get("time_s") is not None:
        lines.append(f"time: {check['time_s']} s" + (f" of a {limit} s limit" if limit else ""))
    return "\n".join(lines)


def _suite(parent, name, timestamp, properties):
    suite = ET.SubElement(parent, "testsuite", name=xml_text(name))
    if timestamp:
        suite.set("timestamp", xml_text(timestamp))
    if properties:
        props = ET.SubElement(suite, "properties")
        for key, value in properties:
            ET.SubElement(props, "property", name=xml_text(key), value=xml_text(value))
    return suite


def _close(suite, counts, elapsed):
    suite.set("tests", str(counts["tests"]))
    suite.set("failures", str(counts["failures"]))
    suite.set("errors", str(counts["errors"]))
    suite.set("skipped", str(counts["skipped"]))
    suite.set("time", seconds(elapsed))


def _case(suite, classname, name, time, counts, kind=None, verdict=None, message="", text=""):
    case = ET.SubElement(suite, "testcase", name=xml_text(name), classname=xml_text(classname),
                         time=seconds(time))
    counts["tests"] += 1
    if kind:
        counts[{"failure": "failures", "error": "errors", "skipped": "skipped"}[kind]] += 1
        element = ET.SubElement(case, kind, message=xml_text(message))
        if verdict:
            element.set("type", xml_text(verdict))
        element.text = xml_text(text)
    return case


def build(candidates, batch=None, similarity=None):
    """The <testsuites> element of the batch."""
    batch = batch or {}
    items = common.item_ids(candidates, batch)
    root = ET.Element("testsuites", name="dlprep batch")
    totals = {"tests": 0, "failures": 0, "errors": 0, "time": 0.0}
    for cand in sorted(candidates, key=lambda c: str(c.get("candidate"))):
        name = str(cand.get("candidate"))
        reason = common.sandbox_reason(cand)
        common_props = [("seed", cand.get("seed", batch.get("seed"))),
                        ("device", cand.get("device", batch.get("device"))),
                        ("sandbox", f"none: unsandboxed ({reason})" if reason else
                         (common.sandbox_of(cand) or common.sandbox_of(batch) or {}).get(
                             "kind", "unknown")),
                        ("grader_version", cand.get("grader_version")),
                        ("bank_digest", (cand.get("bank") or {}).get("digest"))]
        common_props = [(k, v) for k, v in common_props if v is not None]
        suites = []
        if cand.get("errors"):
            classname = f"{name}.submission"
            suite = _suite(root, classname, common.started(batch), common_props)
            counts = dict(tests=0, failures=0, errors=0, skipped=0)
            for error in cand["errors"]:
                _case(suite, classname, "submission is readable", 0, counts, "failure",
                      "submission_error", error, error)
            suites.append((suite, counts, 0.0))
        for item in items:
            report = (cand.get("items") or {}).get(item)
            classname = f"{name}.{item}"
            counts = dict(tests=0, failures=0, errors=0, skipped=0)
            if report is None:
                suite = _suite(root, classname, common.started(batch), common_props)
                _case(suite, classname, "handed in", 0, counts, "skipped",
                      message=f"{item} was not handed in")
                suites.append((suite, counts, 0.0))
                continue
            props = common_props + [("file", report.get("file")),
                                    ("submission_sha256", report.get("submission_sha256")),
                                    ("score", f"{report.get('score')}/{report.get('max_score')}")]
            suite = _suite(root, classname, common.started(batch),
                           [(k, v) for k, v in props if v is not None])
            if report.get("load_error"):
                _case(suite, classname, "file imports", 0, counts, "failure", "load_error",
                      report["load_error"].splitlines()[-1] if report["load_error"].strip()
                      else "load error", report["load_error"])
            if report.get("internal_error"):
                _case(suite, classname, "grading", 0, counts, "error", "internal_error",
                      report["internal_error"].splitlines()[-1] if
                      report["internal_error"].strip() else "internal error",
                      report["internal_error"])
            for number, check in common.numbered(report.get("checks") or []):
                status = check.get("status")
                kind = ("failure" if status in common.LEARNER_FAILURES else
                        None if status == "passed" else "error")
                _case(suite, classname, check.get("name"), check.get("time_s") or 0, counts,
                      kind, status, check.get("message") or common.label(status),
                      _case_text(check, number) if kind else "")
            head = (report.get("output") or {}).get("head")
            if head:
                ET.SubElement(suite, "system-out").text = xml_text(head)
            suites.append((suite, counts, report.get("elapsed_s") or 0.0))
        for suite, counts, elapsed in suites:
            _close(suite, counts, elapsed)
            totals["tests"] += counts["tests"]
            totals["failures"] += counts["failures"]
            totals["errors"] += counts["errors"]
            totals["time"] += float(elapsed or 0)
    root.set("tests", str(totals["tests"]))
    root.set("failures", str(totals["failures"]))
    root.set("errors", str(totals["errors"]))
    root.set("time", seconds(totals["time"]))
    return root


def render(candidates, batch=None, similarity=None):
    root = build(candidates, batch, similarity)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def write(path, candidates, batch=None, similarity=None):
    return common.write_text(path, render(candidates, batch, similarity))
