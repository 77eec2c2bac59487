"""A ``kind: table`` figure rendered as an HTML table (the PNG stays a link).

Its rows come from the figure's CSV; under it, the claims that carry a paper number are set
beside ours, with ours/paper and the rows that deviate (failed, or off by more than a factor
of two) highlighted.
"""

from __future__ import annotations

import csv
from html import escape
from pathlib import Path

from .claims import numeric, ratio_of
from .format import FAIL, format_value, val, verdict

MAX_ROWS, MAX_COLS = 80, 24
PAPER_ROW, DEV_ROW = '<tr class="paper-row">', '<tr class="deviates">'


def _cell(s: str) -> str:
    try:
        x = float(s)
    except ValueError:
        return f"<td>{escape(s)}</td>"
    return f'<td class="num">{escape(format_value(int(x) if x.is_integer() and abs(x) < 1e6 and "." not in s else x))}</td>'


def csv_table(path: str | Path | None) -> str:
    if not path or not Path(path).is_file():
        return '<p class="muted">No CSV to render.</p>'
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    if not rows:
        return '<p class="muted">The CSV is empty.</p>'
    header, body = rows[0][:MAX_COLS], rows[1:]
    more = len(body) - MAX_ROWS
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    # A row labelled as the paper's (e.g. a Source column) is set apart from ours.
    trs = "".join(
        (PAPER_ROW if any(c.strip().lower() == "paper" for c in r) else "<tr>")
        + "".join(_cell(c) for c in r[:MAX_COLS]) + "</tr>"
        for r in body[:MAX_ROWS]
    )
    note = f'<p class="muted">First {MAX_ROWS} of {len(body)} rows; the CSV holds all.</p>' if more > 0 else ""
    return f'<div class="table-wrap"><table class="data"><thead><tr>{head}</tr></thead><tbody>{trs}</tbody></table></div>{note}'


def paper_vs_ours(claims: list[dict]) -> str:
    """The claims with a numeric paper value, as metric / paper / ours / ours÷paper."""
    rows = []
    for c in claims:
        if not numeric(c.get("paper_value")):
            continue
        r = ratio_of(c)
        dev = verdict(c.get("passed")) == FAIL or (r is not None and not (0.5 <= r <= 2))
        rows.append(
            (DEV_ROW if dev else "<tr>") + f'<td><code>{escape(str(c.get("metric") or c.get("id") or ""))}</code></td>'
            f'<td class="num">{val(c.get("paper_value"))}</td><td class="num">{val(c.get("our_value"))}</td>'
            f'<td class="num">{val(r)}</td></tr>'
        )
    if not rows:
        return ""
    head = "<th>Metric</th><th>Paper</th><th>Ours</th><th>Ours / paper</th>"
    return ('<h4>Paper beside ours</h4><div class="table-wrap"><table class="versus"><thead><tr>'
            f'{head}</tr></thead><tbody>{"".join(rows)}</tbody></table></div>')
