"""The claims of one figure as an HTML table, and the pass/fail counts the summary shows.

A claim row says how close, not only whether: ours/paper where both are numbers, the kind of
check (a sign- or bound-only check says less than a tolerance around the paper's number), and
the seed spread where the value is a mean over replicates. Consistency checks (true by
construction or echoing the config) are counted apart from reproduced claims.
"""

from __future__ import annotations

import re
from collections import Counter
from html import escape
from typing import Any

from .format import FAIL, NE, PASS, badge, slug, val, verdict

REPRO, CONS = "reproduction", "consistency"
# What a reader should discount: these pass on the direction or a threshold alone.
WEAK_CHECKS = {"sign": "sign only", "bound": "bound only"}


def claim_kind(c: dict) -> str:
    return CONS if c.get("kind") == CONS else REPRO


def count(claims: list[dict]) -> Counter:
    """Counter keyed (kind, verdict): reproduced claims and consistency checks apart."""
    cnt = Counter((claim_kind(c), verdict(c.get("passed"))) for c in claims)
    # reproduced passes that rest on a direction or a threshold only, not on the paper's number
    cnt["weak"] = sum(1 for c in claims if claim_kind(c) == REPRO and verdict(c.get("passed")) == PASS
                      and check_type_of(c) in WEAK_CHECKS)
    return cnt


def ratio_of(c: dict) -> float | None:
    """ours/paper: the claim's own ``ratio`` when it has one (newer builds), else computed."""
    r = c.get("ratio")
    if isinstance(r, (int, float)) and not isinstance(r, bool):
        return float(r)
    ours, paper = c.get("our_value"), c.get("paper_value")
    nums = [x for x in (ours, paper) if isinstance(x, (int, float)) and not isinstance(x, bool)]
    if len(nums) == 2 and paper != 0:
        return float(ours) / float(paper)
    return None


def _ratio_cell(c: dict) -> str:
    r = ratio_of(c)
    if r is None:
        return '<td class="num ratio"><span class="muted">—</span></td>'
    # A factor of 2 either way (or a flipped sign) is worth a glance even when the check passed.
    off = r <= 0 or not (0.5 <= r <= 2)
    return f'<td class="num ratio{" off" if off else ""}" data-ratio="{r:.6g}">{val(r)}</td>'


def _replicates(c: dict) -> str:
    """n, sd and the 95% interval of a claim over seed replicates, under our (mean) value."""
    if c.get("n") is None:
        return ""
    lo, hi = (c.get("ci95") or [None, None])[:2]
    seeds = ", ".join(val(v) for v in c.get("per_seed") or [])
    sd = f"; sd {val(c['sd'])}" if c.get("sd") is not None else ""
    return (f'<br><span class="muted replicates">mean of n = {escape(str(c["n"]))} seeds; 95% '
            f'{escape(str(c.get("ci_method", "t")))}-CI [{val(lo)}, {val(hi)}]{sd}'
            + (f"; seeds: {seeds}" if seeds else "") + "</span>")


def _expected_from(c: dict) -> str:
    src = c.get("expected_from") or {}
    return "".join(f'<br><code class="muted">{escape(str(k))} = {escape(str(v))}</code>' for k, v in src.items())


def check_type_of(c: dict) -> str | None:
    """The claim's ``check_type``; for rows written before it existed, read from the tolerance
    text that claims.describe() writes (a bound at 0 is a sign check)."""
    if c.get("check_type"):
        return str(c["check_type"])
    tol = str(c.get("tolerance") or "")
    if tol.startswith("|ours - paper|"):
        return "tolerance"
    if tol.startswith("95% CI"):
        return "ci"
    if tol == "ours == paper":
        return "exact"
    if tol == "ours is true":
        return "boolean"
    m = re.fullmatch(r"ours [<>]= (\S+)", tol)
    if m:
        try:
            return "sign" if float(m.group(1)) == 0 else "bound"
        except ValueError:
            return "bound"
    return None


def _check_cell(c: dict) -> str:
    ct = check_type_of(c)
    flag = f' <span class="tag weak">{WEAK_CHECKS[ct]}</span>' if ct in WEAK_CHECKS else ""
    kind = ' <span class="tag cons">consistency</span>' if claim_kind(c) == CONS else ""
    typ = f'<br><span class="muted">{escape(str(ct))}</span>' if ct and ct not in WEAK_CHECKS else ""
    return f"<td>{val(c.get('tolerance'))}{typ}{flag}{kind}</td>"


def claim_row_ids(claims: list[dict], prefix: str) -> list[str]:
    """One HTML id per claim, namespaced by paper and figure and unique even if a figure repeats
    a claim id (the ids of two papers' claims collide otherwise)."""
    seen: Counter = Counter()
    out = []
    for i, c in enumerate(claims):
        base = f"{prefix}-{c.get('id') or i}"
        seen[base] += 1
        out.append(base if seen[base] == 1 else f"{base}-{seen[base]}")
    return out


def claims_table(claims: list[dict], prefix: str) -> str:
    if not claims:
        return '<p class="muted">No claims recorded for this figure.</p>'
    rows = []
    for c, rid in zip(claims, claim_row_ids(claims, prefix)):
        v = verdict(c.get("passed"))
        cid = escape(str(c.get("id", "")))
        rows.append(
            f'<tr class="claim verdict-{v}" id="{escape(slug(rid))}" data-claim-id="{cid}" data-verdict="{v}" '
            f'data-kind="{claim_kind(c)}" data-check-type="{escape(check_type_of(c) or "")}">'
            f"<td>{escape(str(c.get('statement') or c.get('claim') or ''))}"
            + (f'<br><code class="muted">{cid}</code>' if cid else "")
            + f"</td><td>{escape(str(c.get('source') or ''))}</td>"
            f"<td class=\"num\">{val(c.get('paper_value'))}{_expected_from(c)}</td>"
            f"<td class=\"num\">{val(c.get('our_value'))}{_replicates(c)}</td>"
            f"{_ratio_cell(c)}{_check_cell(c)}<td>{badge(v)}</td>"
            f"<td>{escape(str(c.get('note') or ''))}</td></tr>"
        )
    head = "".join(f"<th>{h}</th>" for h in ("Claim", "Source", "Paper", "Ours", "Ours / paper", "Check", "Verdict", "Note"))
    return f'<div class="table-wrap"><table class="claims"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table></div>'


def count_cells(cnt: Counter) -> str:
    """Summary cells: reproduced claims passed / failed / not evaluated, then consistency checks."""
    cells = []
    for kind in (REPRO, CONS):
        for v in (PASS, FAIL, NE):
            n = cnt[kind, v]
            key = f"{'r' if kind == REPRO else 'c'}-{v}"
            cells.append(f'<td class="num n-{key}{" nz" if n and v == FAIL else ""}" data-count="{n}">{n}</td>')
        if kind == REPRO:
            cells.append(f'<td class="num n-weak" data-count="{cnt["weak"]}">{cnt["weak"]}</td>')
    return "".join(cells)


COUNT_HEAD = ('<th class="num">Reproduced: pass</th><th class="num">fail</th><th class="num">n.e.</th>'
              '<th class="num" title="passes that check only a sign or a bound">of passes, sign / bound only</th>'
              '<th class="num">Consistency: pass</th><th class="num">fail</th><th class="num">n.e.</th>')


def numeric(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)
