"""RESULTS/summary.csv: one row per candidate, in ranking order.

Columns: candidate, one per item (`score/max`, or `missing`), total, total_max, status, flags
(separated by spaces; see common.py for what each means). Every cell that a spreadsheet would
read as a formula (starting with =, +, -, @, a tab or a carriage return) is prefixed with `'`.
"""

import csv
import io

from . import common

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(cell):
    """A cell a spreadsheet shows as text: `'` before anything that would start a formula."""
    cell = str(cell)
    return "'" + cell if cell.startswith(FORMULA_STARTS) else cell


def render(candidates, batch=None, similarity=None):
    items = common.item_ids(candidates, batch)
    maxima = common.item_max(candidates)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([neutralise(c) for c in
                     ["candidate", *items, "total", "total_max", "status", "flags"]])
    for _, _, v in common.ranked(candidates, items, maxima, similarity):
        cells = [v["candidate"]]
        for item in items:
            score = v["per_item"][item]
            cells.append("missing" if score is None else f"{score[0]}/{score[1]}")
        cells += [v["total"], v["total_max"], v["status"], " ".join(v["flags"])]
        writer.writerow([neutralise(c) for c in cells])
    return out.getvalue()


def write(path, candidates, batch=None, similarity=None):
    return common.write_text(path, render(candidates, batch, similarity))
