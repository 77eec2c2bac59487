"""Self-contained per-tier HTML report: every figure beside its claims and verdicts.

Only the standard library is used so the report can be rebuilt anywhere the
package imports, and the page references nothing outside ``out_dir`` so the
directory can be zipped, moved or opened offline.
"""

from __future__ import annotations

import math
import re
import shutil
from collections import Counter
from html import escape
from pathlib import Path
from typing import Any

from optdyn.report.style import CSS, SCRIPT

__all__ = ["write_report", "format_value", "verdict"]

PASS, FAIL, NE = "pass", "fail", "ne"
_LABEL = {PASS: "PASS", FAIL: "FAIL", NE: "NOT EVALUATED"}
_ASSET_KINDS = ("png", "pdf", "csv")


def verdict(passed: Any) -> str:
    """Map a claim's ``passed`` to pass/fail/ne; anything but a real boolean is 'ne'."""
    # Only a real boolean counts: a stray 1 or "yes" must never render as PASS.
    if isinstance(passed, bool) or type(passed).__name__ == "bool_":  # numpy.bool_ too
        return PASS if passed else FAIL
    return NE


def format_value(v: Any, *, max_items: int = 6) -> str:
    """Plain-text rendering of a claim/deviation value (not yet HTML-escaped)."""
    if v is None:
        return "—"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)  # exact: replica counts and step budgets must not round
    if isinstance(v, float):
        if math.isnan(v) or math.isinf(v):
            return str(v)
        if v.is_integer() and abs(v) < 1e6:
            return str(int(v))
        s = f"{v:.4g}"
        # 1e-05 -> 1e-5: shorter and matches how papers print exponents
        return re.sub(r"e([+-])0*(\d)", lambda m: "e" + m.group(1).replace("+", "") + m.group(2), s)
    if isinstance(v, (list, tuple)):
        items = [format_value(x, max_items=max_items) for x in v]
        if len(items) > max_items:
            head = ", ".join(items[: max_items - 2])
            tail = ", ".join(items[-2:])
            return f"[{head}, …, {tail}] (n={len(items)})"
        return "[" + ", ".join(items) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k}: {format_value(x, max_items=max_items)}" for k, x in v.items()) + "}"
    if hasattr(v, "item") and callable(v.item):  # numpy scalars sneaking in
        try:
            return format_value(v.item(), max_items=max_items)
        except (TypeError, ValueError):
            pass
    return str(v)


def _val(v: Any) -> str:
    text = format_value(v)
    if v is None:
        return '<span class="muted">—</span>'
    full = str(v)
    # Keep the unabridged value reachable on hover when we shortened it.
    title = f' title="{escape(full)}"' if full != text and len(full) < 4000 else ""
    # Sequences may wrap; scalars stay on one line so "1e-5" never splits at the minus.
    cls = "val seq" if isinstance(v, (list, tuple, dict)) else "val"
    return f'<span class="{cls}"{title}>{escape(text)}</span>'


def _slug(s: Any) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", str(s)).strip("-") or "x"


def _badge(v: str) -> str:
    return f'<span class="badge {v}">{_LABEL[v]}</span>'


def _fig_status(claims: list[dict]) -> str:
    vs = [verdict(c.get("passed")) for c in claims]
    if FAIL in vs:
        return FAIL
    return PASS if vs and all(v == PASS for v in vs) else NE


def _copy_assets(entry: dict, out_dir: Path) -> dict[str, str | None]:
    """Copy png/pdf/csv into assets/<paper>/; return html-relative hrefs (None = missing)."""
    paper, fig = _slug(entry.get("paper")), _slug(entry.get("figure"))
    dest_dir = out_dir / "assets" / paper
    hrefs: dict[str, str | None] = {}
    for kind in _ASSET_KINDS:
        src = entry.get(kind)
        if not src:
            hrefs[kind] = None
            continue
        src = Path(src)
        # Named by figure id, not source basename, so two papers' "fig03.png" never collide
        # and links stay stable when the pipeline's output layout changes.
        rel = f"assets/{paper}/{fig}{src.suffix or '.' + kind}"
        dest = out_dir / rel
        if src.is_file():
            dest_dir.mkdir(parents=True, exist_ok=True)
            if not (dest.exists() and dest.resolve() == src.resolve()):
                shutil.copy2(src, dest)
            hrefs[kind] = rel
        else:
            hrefs[kind] = None
            # Still point the <img> at where the file should be, so the loaded-images
            # counter reports the gap instead of silently counting one figure fewer.
            if kind == "png":
                hrefs["png_missing"] = rel
    return hrefs


def _dev_table(devs: list[dict], *, with_scope: bool, fig_ids: dict[str, str]) -> str:
    if not devs:
        return '<p class="muted">None.</p>'
    head = ("<th>Scope</th>" if with_scope else "") + (
        "<th>Config path</th><th>Paper value</th><th>Tier value</th><th>Reason</th>"
    )
    rows = []
    for d in devs:
        scope = str(d.get("scope", ""))
        cell = ""
        if with_scope:
            anchor = fig_ids.get(scope)
            label = escape(scope) or '<span class="muted">—</span>'
            cell = f'<td><a href="#{anchor}">{label}</a></td>' if anchor else f"<td>{label}</td>"
        rows.append(
            f"<tr>{cell}<td><code>{escape(str(d.get('path', '')))}</code></td>"
            f"<td>{_val(d.get('paper_value'))}</td><td>{_val(d.get('tier_value'))}</td>"
            f"<td>{escape(str(d.get('reason') or ''))}</td></tr>"
        )
    return f'<div class="table-wrap"><table class="deviations"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table></div>'


def _replicates(c: dict) -> str:
    """n and the 95% interval of a claim over seed replicates, under our (mean) value."""
    if c.get("n") is None:
        return ""
    lo, hi = (c.get("ci95") or [None, None])[:2]
    seeds = ", ".join(_val(v) for v in c.get("per_seed") or [])
    return (f'<br><span class="muted replicates">mean of n = {c["n"]} seeds; 95% {escape(str(c.get("ci_method", "t")))}-CI '
            f"[{_val(lo)}, {_val(hi)}]; seeds: {seeds}</span>")


def _expected_from(c: dict) -> str:
    src = c.get("expected_from") or {}
    return "".join(f'<br><code class="muted">{escape(k)} = {escape(v)}</code>' for k, v in src.items())


def _claims_table(claims: list[dict]) -> str:
    if not claims:
        return '<p class="muted">No claims recorded for this figure.</p>'
    rows = []
    for c in claims:
        v = verdict(c.get("passed"))
        cid = escape(str(c.get("id", "")))
        rows.append(
            f'<tr class="claim verdict-{v}" data-claim-id="{cid}" data-verdict="{v}">'
            f"<td>{escape(str(c.get('statement', '')))}"
            + (f'<br><code class="muted">{cid}</code>' if cid else "")
            + f"</td><td>{escape(str(c.get('source') or ''))}</td>"
            f"<td class=\"num\">{_val(c.get('paper_value'))}{_expected_from(c)}</td>"
            f"<td class=\"num\">{_val(c.get('our_value'))}{_replicates(c)}</td>"
            f"<td>{_val(c.get('tolerance'))}</td><td>{_badge(v)}</td>"
            f"<td>{escape(str(c.get('note') or ''))}</td></tr>"
        )
    head = "".join(
        f"<th>{h}</th>" for h in ("Claim", "Source", "Paper", "Ours", "Tolerance", "Verdict", "Note")
    )
    return f'<div class="table-wrap"><table class="claims"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table></div>'


def _figure_card(e: dict, hrefs: dict, devs: list[dict], fid: str) -> str:
    claims = e.get("claims") or []
    status = _fig_status(claims)
    title = escape(str(e.get("title") or e.get("figure", "")))
    fig = escape(str(e.get("figure", "")))
    png = hrefs.get("png") or hrefs.get("png_missing")
    parts = [
        f'<article class="figure {status}" id="{fid}" data-status="{status}">',
        f'<div class="fig-head"><h3>{title}</h3><span class="fig-id">{escape(str(e.get("paper", "")))}/{fig}</span>{_badge(status)}</div>',
    ]
    if png:
        alt = escape(f"{e.get('paper', '')} {e.get('figure', '')}: {e.get('title') or ''}".strip())
        parts.append(
            f'<figure><a href="{escape(png)}"><img class="figure-img" id="img-{fid}" '
            f'src="{escape(png)}" alt="{alt}" loading="eager"></a></figure>'
        )
    if not hrefs.get("png"):
        parts.append('<p class="warning">PNG missing: the figure job did not produce an image.</p>')
    links = [
        f'<a href="{escape(hrefs[k])}">{k.upper()}</a>' if hrefs.get(k) else f'<span class="muted">{k.upper()} missing</span>'
        for k in ("pdf", "csv")
        if e.get(k) is not None
    ]
    if links:
        parts.append(f'<div class="downloads">{"".join(links)}</div>')
    if e.get("caption"):
        parts.append(f'<p class="caption">{escape(str(e["caption"]))}</p>')
    parts.append("<h4>Claims</h4>" + _claims_table(claims))
    if devs:
        parts.append("<h4>Deviations from the paper</h4>" + _dev_table(devs, with_scope=False, fig_ids={}))
    parts.append("</article>")
    return "\n".join(parts)


def _summary(papers: dict[str, list[dict]], titles: dict[str, str], fids: dict[int, str]) -> str:
    rows, total = [], Counter()
    for paper, entries in papers.items():
        cnt = Counter(verdict(c.get("passed")) for e in entries for c in (e.get("claims") or []))
        total.update(cnt)
        total["figs"] += len(entries)
        figs = " ".join(
            f'<a class="{_fig_status(e.get("claims") or [])}" href="#{fids[id(e)]}">{escape(str(e.get("figure", "")))}</a>'
            for e in entries
        )
        rows.append(
            f'<tr data-paper="{escape(paper)}"><td><a href="#paper-{_slug(paper)}">{escape(paper)}</a>'
            f'<br><span class="muted">{escape(titles.get(paper, ""))}</span></td>'
            f'<td class="num n-figures">{len(entries)}</td>'
            + "".join(f'<td class="num n-{k}" data-count="{cnt[k]}">{cnt[k]}</td>' for k in (PASS, FAIL, NE))
            + f'<td class="fig-links">{figs}</td></tr>'
        )
    rows.append(
        f'<tr class="total" data-paper="__total__"><td>Total</td><td class="num n-figures">{total["figs"]}</td>'
        + "".join(f'<td class="num n-{k}" data-count="{total[k]}">{total[k]}</td>' for k in (PASS, FAIL, NE))
        + "<td></td></tr>"
    )
    head = (
        '<th>Paper</th><th class="num">Figures</th><th class="num">Passed</th>'
        '<th class="num">Failed</th><th class="num">Not evaluated</th><th>Figure status</th>'
    )
    return f'<div class="table-wrap"><table class="summary"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table></div>'


def write_report(out_dir: Path, tier: str, entries: list[dict], deviations: list[dict], meta: dict) -> Path:
    """Write ``out_dir/index.html`` plus ``out_dir/assets/<paper>/*``; return the html path.

    Papers and figures appear in the order given. A deviation's ``scope`` is matched
    against ``"<paper>/<figure>"`` (shown in that card) or ``"<paper>"`` (shown at the
    top of that paper's section); every deviation also appears in the closing table.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    papers: dict[str, list[dict]] = {}
    titles: dict[str, str] = {}
    for e in entries:
        p = str(e.get("paper", ""))
        papers.setdefault(p, []).append(e)
        if e.get("paper_title") and p not in titles:
            titles[p] = str(e["paper_title"])
    fids = {id(e): f"fig-{_slug(e.get('paper'))}-{_slug(e.get('figure'))}" for e in entries}
    scope_to_anchor = {f"{e.get('paper')}/{e.get('figure')}": fids[id(e)] for e in entries}
    scope_to_anchor.update({p: f"paper-{_slug(p)}" for p in papers})

    sections = []
    for paper, pentries in papers.items():
        sec = [f'<section class="paper" id="paper-{_slug(paper)}"><h2>{escape(paper)}'
               + (f' <span class="muted">— {escape(titles[paper])}</span>' if paper in titles else "") + "</h2>"]
        pdevs = [d for d in deviations if str(d.get("scope", "")) == paper]
        if pdevs:
            sec.append("<h4>Paper-wide deviations</h4>" + _dev_table(pdevs, with_scope=False, fig_ids={}))
        for e in pentries:
            scope = f"{e.get('paper')}/{e.get('figure')}"
            fdevs = [d for d in deviations if str(d.get("scope", "")) == scope]
            sec.append(_figure_card(e, _copy_assets(e, out_dir), fdevs, fids[id(e)]))
        sec.append("</section>")
        sections.append("\n".join(sec))

    meta_html = "".join(f"<dt>{escape(str(k))}</dt><dd>{escape(format_value(v))}</dd>" for k, v in meta.items())
    tier_e = escape(str(tier))
    page = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>optdyn report — {tier_e}</title>
<style>{CSS}</style>
</head>
<body data-tier="{tier_e}">
<main>
<header class="report"><h1>optdyn reproduction report — tier <code>{tier_e}</code></h1>
<dl class="meta">{meta_html}</dl></header>
<h2 id="summary">Summary</h2>
{_summary(papers, titles, fids) if papers else '<p class="muted">No figures in this tier.</p>'}
{"".join(sections)}
<h2 id="deviations">All deviations of tier {tier_e} from the papers</h2>
{_dev_table(deviations, with_scope=True, fig_ids=scope_to_anchor)}
<footer>Verdicts: PASS = within tolerance; FAIL = outside tolerance;
NOT EVALUATED = not checked or not reproducible at this tier's scale (never counted as a pass).</footer>
</main>
<script>{SCRIPT}</script>
</body>
</html>
"""
    index = out_dir / "index.html"
    index.write_text(page, encoding="utf-8")
    return index
