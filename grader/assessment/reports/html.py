"""RESULTS/report.html: one self-contained page for the reviewer (inline CSS and JS, no fetch).

The ranking by total score; a candidates x checks grid coloured by verdict, each cell with a bar
of the check's time against its limit; the similarity pairs; per candidate a collapsible detail
with every check's verdict, message, time and limit, the file's digest and the printed output;
and, in plain words at the top, whether the candidates' code ran without the sandbox.

Everything a candidate controls (names, file names, printed output, messages) goes through
`esc` (html.escape, quotes included; control characters shown as \\xNN); element ids are
numbers, never names. The JS only opens <details> and reads no candidate text.
"""

import base64
import hashlib
import html

from . import common
from .junit import xml_text

SYMBOL = {"passed": "✓", "failed": "✗", "not_implemented": "–", "error": "!",
          "timeout": "T", "memory": "M", "crashed": "C", "output_limit": "O",
          "internal_error": "?", "missing": "", "unknown": "?"}

CSS = """
:root{--bg:#f6f7f9;--card:#fff;--ink:#1d2330;--muted:#667085;--line:#e4e7ec;
--passed:#2f9e62;--failed:#d64545;--not_implemented:#b8bfc9;--error:#e8833a;--timeout:#8a4fd1;
--memory:#c2407f;--crashed:#6b3434;--output_limit:#c9a227;--internal_error:#3a6fd8;
--unknown:#999;--missing:#f0f1f4}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--ink);
font:14px/1.45 system-ui,-apple-system,"Segoe UI","DejaVu Sans","Liberation Sans",sans-serif}
main{max-width:1320px;margin:0 auto;padding:24px 28px 60px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:0 0 12px}
h3{font-size:15px;margin:18px 0 6px}
.meta{color:var(--muted);margin:0 0 18px}.meta b{color:var(--ink);font-weight:600}
.card{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:18px 20px;
margin:0 0 18px;box-shadow:0 1px 2px rgba(16,24,40,.04)}
.banner{border-radius:10px;padding:14px 18px;margin:0 0 18px;font-size:15px}
.banner.unsandboxed{background:#fff4e5;border:2px solid #e8833a;color:#6b3a0c}
.banner.internal{background:#eef3ff;border:1px solid #3a6fd8;color:#1f3b78}
.banner b{display:block;font-size:16px;margin-bottom:4px}
table{border-collapse:collapse}
.ranking{width:100%}.ranking th,.ranking td{padding:8px 10px;border-bottom:1px solid var(--line);
text-align:left;vertical-align:middle}
.ranking th{color:var(--muted);font-weight:600;font-size:12px;text-transform:uppercase;
letter-spacing:.04em}
.ranking td.rank{font-size:18px;font-weight:700;width:44px;color:var(--muted)}
.ranking tr.first td.rank{color:#b7791f}
.ranking td.name a{font-weight:600}
a{color:inherit;text-decoration:none}a:hover{text-decoration:underline}
.scorebar{display:inline-block;vertical-align:middle;width:220px;height:10px;
background:#eceef2;border-radius:5px;overflow:hidden;margin-right:10px}
.scorebar>span{display:block;height:100%;background:var(--passed);border-radius:5px}
.score{font-variant-numeric:tabular-nums;font-weight:600}
.ranking td.scorecell{white-space:nowrap}.pct{color:var(--muted);margin-left:6px}
.status{display:inline-block;padding:2px 9px;border-radius:999px;font-size:12px;font-weight:600;
color:#fff}
.s-passed{background:var(--passed)}.s-failed{background:var(--failed)}
.s-error{background:var(--internal_error)}.s-incomplete{background:#98a2b3}
.flag{display:inline-block;max-width:100%;overflow-wrap:anywhere;padding:1px 7px;margin:1px 3px 1px 0;border-radius:4px;font-size:12px;
background:#f2f4f7;border:1px solid var(--line);color:#344054}
.flag.warn{background:#fff4e5;border-color:#f5c08a;color:#7a4510}
.gridwrap{overflow-x:auto}
.grid th,.grid td{border:1px solid var(--card);padding:0}
.grid thead th{font-size:11px;color:var(--muted);font-weight:600;padding:3px 2px;text-align:center;
white-space:nowrap}
.grid thead th.item{font-size:12px;color:var(--ink);background:#f2f4f7;border-radius:6px 6px 0 0}
.grid tbody th{text-align:right;padding:0 10px 0 0;font-weight:600;white-space:nowrap;
max-width:220px;overflow:hidden;text-overflow:ellipsis}
.grid td.cell{width:30px;height:30px;min-width:30px;position:relative;text-align:center;
color:#fff;font-weight:700;font-size:13px;border-radius:4px}
.grid td.cell a{display:block;line-height:30px;height:30px;text-decoration:none}
.grid td.gap{width:10px;min-width:10px;background:transparent}
.v-passed{background:var(--passed)}.v-failed{background:var(--failed)}
.v-not_implemented{background:var(--not_implemented)}.v-error{background:var(--error)}
.v-timeout{background:var(--timeout)}.v-memory{background:var(--memory)}
.v-crashed{background:var(--crashed)}.v-output_limit{background:var(--output_limit)}
.v-internal_error{background:repeating-linear-gradient(45deg,var(--internal_error) 0 5px,
#5b88e6 5px 10px)}.v-unknown{background:var(--unknown)}
.v-missing{background:var(--missing);color:var(--muted)}
.grid td.cell .tbar{position:absolute;left:3px;right:3px;bottom:3px;height:3px;
background:rgba(255,255,255,.35);border-radius:2px}
.grid td.cell .tbar>i{display:block;height:100%;background:#fff;border-radius:2px;min-width:2px}
.legend{display:flex;flex-wrap:wrap;gap:6px 14px;margin:12px 0 0;color:var(--muted);font-size:12px}
.legend span.sw{display:inline-block;width:14px;height:14px;border-radius:3px;vertical-align:-3px;
margin-right:5px}
.timebar{display:inline-block;width:90px;height:8px;background:#eceef2;border-radius:4px;
vertical-align:middle;overflow:hidden;margin-right:8px}
.timebar>i{display:block;height:100%;min-width:2px;background:var(--passed)}
.timebar.warm>i{background:var(--output_limit)}.timebar.hot>i{background:var(--failed)}
details.candidate{border:1px solid var(--line);border-radius:10px;margin:0 0 10px;background:#fff}
details.candidate>summary{cursor:pointer;padding:12px 16px;font-size:15px;list-style:none;
display:flex;align-items:center;gap:12px}
details.candidate>summary::before{content:"\\25B8";color:var(--muted);transition:transform .15s}
details.candidate[open]>summary::before{transform:rotate(90deg)}
details.candidate>summary .cname{font-weight:700}
details.candidate>.body{padding:0 18px 16px;border-top:1px solid var(--line)}
.checks{width:100%;margin-top:6px}.checks th,.checks td{padding:6px 8px;text-align:left;
border-bottom:1px solid var(--line);vertical-align:top}
.checks th{font-size:12px;color:var(--muted);font-weight:600}
.checks td.num{color:var(--muted);font-variant-numeric:tabular-nums;white-space:nowrap}
.checks td.msg{color:#344054;max-width:520px;overflow-wrap:anywhere}
.checks td.time{white-space:nowrap;font-variant-numeric:tabular-nums;color:var(--muted)}
.verdict{display:inline-block;padding:1px 8px;border-radius:4px;color:#fff;font-size:12px;
font-weight:600;white-space:nowrap}
.verdict.v-not_implemented,.verdict.v-missing{color:#344054}
pre{background:#0f172a;color:#e2e8f0;padding:10px 12px;border-radius:8px;overflow:auto;
max-height:260px;font:12px/1.45 "DejaVu Sans Mono","Liberation Mono",monospace;white-space:pre-wrap;
overflow-wrap:anywhere}
.small{font-size:12px;color:var(--muted)}.mono{font-family:"DejaVu Sans Mono",monospace}
.sim td,.sim th{padding:6px 10px;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}
.sim th{font-size:12px;color:var(--muted)}
.muted{color:var(--muted)}
.regions{margin:6px 0 0;padding-left:18px;font:12px/1.5 "DejaVu Sans Mono",monospace}
.toolbar{float:right}.toolbar button{font:inherit;font-size:12px;padding:3px 10px;border-radius:6px;
border:1px solid var(--line);background:#fff;cursor:pointer;margin-left:6px}
:target{scroll-margin-top:16px}.checks tr:target td{background:#fffbe6}
"""

JS = """
(function(){
  function openTarget(){
    var id=decodeURIComponent(location.hash.slice(1));
    var el=id?document.getElementById(id):null;
    while(el){if(el.tagName==='DETAILS'){el.open=true;}el=el.parentElement;}
  }
  window.addEventListener('hashchange',openTarget);
  openTarget();
  function all(open){var d=document.querySelectorAll('details.candidate');
    for(var i=0;i<d.length;i++){d[i].open=open;}}
  var b=document.getElementById('expand-all');if(b){b.onclick=function(){all(true);};}
  b=document.getElementById('collapse-all');if(b){b.onclick=function(){all(false);};}
})();
"""


# The page's Content-Security-Policy lets only this script run (and nothing be fetched): even
# markup that escaped `esc` could not run a script of its own.
SCRIPT_HASH = "sha256-" + base64.b64encode(hashlib.sha256(JS.encode()).digest()).decode()


def esc(value):
    """Candidate-controlled text as HTML text or attribute value."""
    return html.escape(xml_text(value), quote=True)


def _fmt_s(value):
    if value is None:
        return "–"
    return f"{float(f'{float(value):.3g}'):g} s"   # 0.0022 s, 5.02 s, 5 s, 123 s


def _time_bar(time_s, limit_s):
    """A bar of the time against the limit, and the words for it."""
    if time_s is None:
        return '<span class="muted">not timed</span>'
    if not limit_s:
        return f'{_fmt_s(time_s)} <span class="muted">(no limit)</span>'
    frac = max(0.0, min(1.0, float(time_s) / float(limit_s)))
    heat = "hot" if frac >= 0.9 else "warm" if frac >= 0.5 else ""
    return (f'<span class="timebar {heat}" title="{frac:.1%} of the limit">'
            f'<i style="width:{frac * 100:.1f}%"></i></span>{_fmt_s(time_s)} of {_fmt_s(limit_s)}')


def _verdict(status):
    v = common.verdict(status)
    return f'<span class="verdict v-{v}">{esc(common.label(status))}</span>'


def _flags(flags):
    out = []
    for flag in flags:
        warn = flag.split(":")[0] in ("unsandboxed", "similar", "internal_error",
                                      "submission_error", "load_error")
        out.append(f'<span class="flag{" warn" if warn else ""}">{esc(flag)}</span>')
    return "".join(out) or '<span class="muted">–</span>'


def _banner_unsandboxed(candidates):
    affected = [c for c in candidates if common.is_unsandboxed(c)]
    if not affected:
        return ""
    reasons = sorted({common.sandbox_reason(c) for c in affected})
    who = ("every candidate" if len(affected) == len(candidates) else
           ", ".join(esc(c.get("candidate")) for c in affected))
    return (
        '<div class="banner unsandboxed" id="unsandboxed" role="alert">'
        "<b>Warning: the candidates' code ran without the sandbox.</b>"
        f"For {who}, the submitted code ran as an ordinary program under the grading user's "
        "account: it could read the reference solutions, the hidden tests and other candidates' "
        "files, use the network, and change files. Scores may not be trustworthy; grade again "
        "with the sandbox before deciding on anyone."
        f'<div class="small">Reason recorded: {"; ".join(esc(r) for r in reasons)}</div></div>')


def _banner_internal(views):
    hit = [v for v in views if "internal_error" in v["flags"]]
    if not hit:
        return ""
    return ('<div class="banner internal"><b>The grader itself failed on some checks.</b>'
            "These are not the candidates' fault and score nothing for or against them: "
            "grade these candidates again (`grade batch ... --regrade NAME`): "
            + ", ".join(esc(v["candidate"]) for v in hit) + ".</div>")


def _ranking(rows, items):
    out = ['<section class="card" id="ranking"><h2>Ranking</h2><table class="ranking">',
           "<thead><tr><th>#</th><th>Candidate</th><th>Score</th><th>Status</th><th>Flags</th>"
           "</tr></thead><tbody>"]
    for index, (rank, _cand, v) in enumerate(rows):
        frac = v["total"] / v["total_max"] if v["total_max"] else 0.0
        per_item = ", ".join(
            f"{item}: {'missing' if v['per_item'][item] is None else '%d/%d' % v['per_item'][item]}"
            for item in items)
        out.append(
            f'<tr class="{"first" if rank == 1 else ""}" data-rank="{rank}">'
            f'<td class="rank">{rank}</td>'
            f'<td class="name"><a href="#cand-{index}">{esc(v["candidate"])}</a></td>'
            f'<td class="scorecell" title="{esc(per_item)}"><span class="scorebar"><span style="width:{frac * 100:.1f}%">'
            f'</span></span><span class="score">{v["total"]}/{v["total_max"]}</span>'
            f'<span class="pct">{frac:.0%}</span></td>'
            f'<td><span class="status s-{v["status"]}">{esc(v["status"])}</span></td>'
            f'<td>{_flags(v["flags"])}</td></tr>')
    out.append("</tbody></table></section>")
    return "".join(out)


def _grid(rows, items, columns):
    if not columns:
        return ('<section class="card" id="grid"><h2>Checks</h2>'
                '<p class="muted">No checks were run.</p></section>')
    by_item = {}
    for col in columns:
        by_item.setdefault(col[0], []).append(col)
    head1, head2 = ["<th></th>"], ["<th></th>"]
    first = True
    for item in items:
        cols = by_item.get(item)
        if not cols:
            continue
        if not first:
            head1.append('<th class="gap"></th>')
            head2.append('<th class="gap"></th>')
        first = False
        head1.append(f'<th class="item" colspan="{len(cols)}">{esc(item)}</th>')
        head2 += [f'<th title="{esc(title)}">{esc(number)}</th>' for _, _, title, number in cols]
    body = []
    for index, (_rank, cand, v) in enumerate(rows):
        cells = [f'<th><a href="#cand-{index}" title="{esc(v["candidate"])}">'
                 f'{esc(v["candidate"])}</a></th>']
        first = True
        for item in items:
            cols = by_item.get(item)
            if not cols:
                continue
            if not first:
                cells.append('<td class="gap"></td>')
            first = False
            report = (cand.get("items") or {}).get(item)
            checks = {c.get("name"): (pos, c) for pos, (_, c) in
                      enumerate(common.numbered((report or {}).get("checks") or []))}
            for _, name, title, number in cols:
                if name not in checks:
                    why = "not handed in" if report is None else "not run"
                    cells.append(f'<td class="cell v-missing" data-check="{esc(item)}.{esc(name)}"'
                                 f' title="{esc(title)}: {why}"></td>')
                    continue
                position, check = checks[name]
                v_ = common.verdict(check.get("status"))
                limit, took = check.get("limit_s"), check.get("time_s")
                tip = f"{title}: {common.label(check.get('status'))}"
                bar = ""
                if took is not None:
                    tip += f" · {_fmt_s(took)}" + (f" of {_fmt_s(limit)}" if limit else "")
                if took is not None and limit:
                    frac = max(0.0, min(1.0, float(took) / float(limit)))
                    bar = f'<span class="tbar"><i style="width:{frac * 100:.1f}%"></i></span>'
                if check.get("message"):
                    tip += f"\n{check['message']}"
                anchor = f"cand-{index}-{items.index(item)}-{position}"
                cells.append(f'<td class="cell v-{v_}" data-check="{esc(item)}.{esc(name)}" '
                             f'title="{esc(tip)}"><a href="#{anchor}">{SYMBOL[v_]}</a>{bar}</td>')
        body.append(f'<tr data-candidate="{index}">{"".join(cells)}</tr>')
    legend = "".join(f'<span><span class="sw v-{v}"></span>{esc(common.label(v))} {SYMBOL[v]}</span>'
                     for v in common.VERDICTS) + \
        '<span><span class="sw v-missing"></span>not handed in</span>' \
        '<span>the white line at the bottom of a cell: the check\'s time against its limit</span>'
    return ('<section class="card" id="grid"><h2>Checks</h2><div class="gridwrap"><table class="grid">'
            f'<thead><tr>{"".join(head1)}</tr><tr>{"".join(head2)}</tr></thead>'
            f'<tbody>{"".join(body)}</tbody></table></div><div class="legend">{legend}</div></section>')


def _lines(span):
    if isinstance(span, (list, tuple)) and len(span) == 2:
        return f"line {span[0]}" if span[0] == span[1] else f"lines {span[0]}–{span[1]}"
    return str(span)


def _region(region, a, b):
    """One matching region: similarity's {"a": [first, last], "b": [first, last]} line ranges
    (and "question" for theory answers), else whatever it holds, as text."""
    if isinstance(region, dict) and "a" in region and "b" in region:
        text = f"{a} {_lines(region['a'])} ↔ {b} {_lines(region['b'])}"
        if region.get("question"):
            text = f"question {region['question']}: " + text
        extra = {k: v for k, v in region.items() if k not in ("a", "b", "question")}
        text += "".join(f"\n{k}: {v}" for k, v in extra.items())
    elif isinstance(region, dict):
        text = "\n".join(f"{k}: {v}" for k, v in region.items())
    else:
        text = str(region)
    return f'<li>{esc(text)}</li>'


KIND = {"reference": "matches the item's reference solution",
        "stub": "wrote almost nothing beyond the stub"}


def _kind(kind):
    return f'<div class="small">{esc(KIND[kind])}</div>' if kind in KIND else ""


def _similarity(similarity):
    out = ['<section class="card" id="similarity"><h2>Similar submissions</h2>']
    if similarity is None:
        out.append('<p class="muted" id="similarity-none">Similarity not computed for this batch.</p>')
    elif not similarity:
        out.append('<p class="muted">No pair of submissions is above the similarity threshold.</p>')
    else:
        out.append('<table class="sim"><thead><tr><th>Item</th><th>Submission</th><th>Similar to</th>'
                   "<th>Similarity</th><th>Matching regions</th></tr></thead><tbody>")
        for pair in sorted(similarity, key=lambda p: -float(p.get("score") or 0)):
            score = float(pair.get("score") or 0)
            frac = score if score <= 1 else score / 100
            regions = pair.get("regions") or []
            detail = (f"<details><summary>{len(regions)} region{'s' if len(regions) != 1 else ''}"
                      f"</summary><ul class=\"regions\">"
                      f"{''.join(_region(r, pair.get('a'), pair.get('b')) for r in regions)}"
                      "</ul></details>"
                      if regions else '<span class="muted">–</span>')
            out.append(f'<tr><td>{esc(pair.get("item"))}</td><td><b>{esc(pair.get("a"))}</b></td>'
                       f'<td><b>{esc(pair.get("b"))}</b>{_kind(pair.get("kind"))}</td><td style="white-space:nowrap">'
                       f'<span class="timebar hot"><i style="width:{frac * 100:.1f}%"></i></span>'
                       f'{frac:.0%}</td><td>{detail}</td></tr>')
        out.append("</tbody></table>")
    out.append("</section>")
    return "".join(out)


def _detail(index, cand, v, items):
    reports = cand.get("items") or {}
    out = [f'<details class="candidate" id="cand-{index}"><summary>'
           f'<span class="cname">{esc(v["candidate"])}</span>'
           f'<span class="score">{v["total"]}/{v["total_max"]}</span>'
           f'<span class="status s-{v["status"]}">{esc(v["status"])}</span>'
           f'<span>{_flags(v["flags"]) if v["flags"] else ""}</span></summary><div class="body">']
    for error in cand.get("errors") or []:
        out.append(f'<h3>Submission could not be read</h3><pre>{esc(error)}</pre>')
    if common.is_unsandboxed(cand):
        out.append('<p class="flag warn">This candidate\'s code ran without the sandbox: '
                   f'{esc(common.sandbox_reason(cand))}</p>')
    for item_index, item in enumerate(items):
        report = reports.get(item)
        if report is None:
            out.append(f'<h3>{esc(item)} <span class="muted">– not handed in</span></h3>')
            continue
        out.append(f'<h3>{esc(item)} · <span class="score">{report.get("score")}/'
                   f'{report.get("max_score")}</span> '
                   f'<span class="status s-{"passed" if report.get("status") == "passed" else "error" if report.get("status") == "error" else "failed"}">'
                   f'{esc(report.get("status"))}</span></h3>')
        meta = [f'file <span class="mono">{esc(report.get("file"))}</span>']
        if report.get("submission_sha256"):
            meta.append(f'sha256 <span class="mono">{esc(report["submission_sha256"][:16])}…</span>')
        if report.get("elapsed_s") is not None:
            meta.append(f"graded in {_fmt_s(report['elapsed_s'])}")
        if report.get("device_name") or report.get("device"):
            meta.append(f"on {esc(report.get('device_name') or report.get('device'))}")
        out.append(f'<div class="small">{" · ".join(meta)}</div>')
        if report.get("load_error"):
            out.append(f'<div class="small"><b>The file did not load:</b></div>'
                       f'<pre>{esc(report["load_error"])}</pre>')
        if report.get("internal_error"):
            out.append('<div class="small"><b>Internal error (the grader\'s fault, not the '
                       f'candidate\'s):</b></div><pre>{esc(report["internal_error"])}</pre>')
        out.append('<table class="checks"><thead><tr><th>#</th><th>Check</th><th>Verdict</th>'
                   "<th>Points</th><th>Time against limit</th><th>Message</th></tr></thead><tbody>")
        for position, (number, check) in enumerate(common.numbered(report.get("checks") or [])):
            anchor = f"cand-{index}-{item_index}-{position}"
            out.append(
                f'<tr id="{anchor}" class="check"><td class="num">{esc(number)}</td>'
                f'<td>{esc(check.get("title") or check.get("name"))}</td>'
                f'<td>{_verdict(check.get("status"))}</td>'
                f'<td class="num">{esc(check.get("score"))}/{esc(check.get("points"))}</td>'
                f'<td class="time">{_time_bar(check.get("time_s"), check.get("limit_s"))}</td>'
                f'<td class="msg">{esc(check.get("message") or "")}</td></tr>')
        out.append("</tbody></table>")
        output = report.get("output") or {}
        if output.get("head"):
            out.append(f'<div class="small">Printed output ({esc(output.get("bytes"))} bytes'
                       f'{", first part" if len(output["head"]) < (output.get("bytes") or 0) else ""}'
                       f'):</div><pre class="output">{esc(output["head"])}</pre>')
    out.append("</div></details>")
    return "".join(out)


def render(candidates, batch=None, similarity=None):
    batch = batch or {}
    items = common.item_ids(candidates, batch)
    maxima = common.item_max(candidates)
    rows = common.ranked(candidates, items, maxima, similarity)
    # The grid's columns follow the ranking's candidates, and keep the grid's anchors aligned
    # with the detail rows: a column is (item, check name, title, number).
    columns = common.check_columns([cand for _, cand, _ in rows], items)
    first = candidates[0] if candidates else {}
    bank = first.get("bank") or {}
    meta = [f"<b>{len(candidates)}</b> candidate{'s' if len(candidates) != 1 else ''}",
            "items <b>" + ", ".join(esc(i) for i in items) + "</b>" if items else "no items"]
    seed = batch.get("seed", first.get("seed"))
    if seed is not None:
        meta.append(f"seed <b>{esc(seed)}</b>")
    device = batch.get("device", first.get("device"))
    if device:
        meta.append(f"device <b>{esc(device)}</b>")
    if common.started(batch):
        meta.append(f"started {esc(common.started(batch))}")
    if first.get("grader_version"):
        meta.append(f"grader {esc(first['grader_version'])}")
    if bank:
        meta.append(f"bank {esc(bank.get('version'))} "
                    f"<span class=\"mono\">{esc(str(bank.get('digest') or '')[:12])}</span>")
    sandboxed = [c for c in candidates if not common.is_unsandboxed(c)]
    if sandboxed and len(sandboxed) == len(candidates):
        meta.append("code ran in the <b>bwrap sandbox</b>")
    details = "".join(_detail(index, cand, v, items) for index, (_, cand, v) in enumerate(rows))
    # A grid cell links to its detail row: cand-<place in the ranking>-<item index>-<the check's
    # place in that candidate's report>.
    grid = _grid(rows, items, columns)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src '{SCRIPT_HASH}'">
<title>dlprep take-home results</title><style>{CSS}</style></head>
<body><main>
<h1>Take-home results</h1>
<p class="meta">{" · ".join(meta)}</p>
{_banner_unsandboxed(candidates)}{_banner_internal([v for _, _, v in rows])}
{_ranking(rows, items)}
{grid}
{_similarity(similarity)}
<section id="details"><div class="toolbar"><button id="expand-all" type="button">expand all</button><button id="collapse-all" type="button">collapse all</button></div>
<h2>Candidates</h2>{details}</section>
<p class="small">Written by dlprep's <span class="mono">grade batch</span>. Verdicts: passed; failed (ran, wrong result); not implemented; error (an exception in the candidate's code); timeout; memory; crashed; output limit (over 1 MiB printed); internal error (the grader's fault, never counted against the candidate).</p>
</main><script>{JS}</script></body></html>
"""


def write(path, candidates, batch=None, similarity=None):
    return common.write_text(path, render(candidates, batch, similarity))
