"""Self-contained per-tier HTML report: every figure beside its claims, verdicts and provenance.

Only the standard library is used so the report can be rebuilt anywhere the package imports,
and the page references nothing outside ``out_dir`` so the folder can be zipped, moved or
opened offline. Papers and figures follow the papers' own order (``coverage.COVERAGE``).
"""

from __future__ import annotations

import shutil
from collections import Counter
from html import escape
from pathlib import Path

from .bundle import copy_figure_files, copy_pdfs, copy_run_files, copy_source
from .card import dev_table, figure_card
from .cost import cost_section
from .claims import COUNT_HEAD, claims_table, count, count_cells
from .format import FAIL, NE, PASS, fig_status, format_value, slug, verdict
from .script import SCRIPT
from .style import CSS

__all__ = ["write_report", "format_value", "verdict", "load_coverage", "paper_order"]
BUNDLE_DIRS = ("assets", "runs", "code")
NOT_IN_PLAN = "not in this tier's plan"


def _claims_table(claims: list[dict]) -> str:
    """The claims table without a figure's namespace (kept for tests/test_stats_replicates.py)."""
    return claims_table(claims, "claim")


def load_coverage() -> dict[str, list[dict]]:
    try:
        from .coverage import COVERAGE
    except ImportError:  # older checkouts: no coverage list, the given order stands
        return {}
    return COVERAGE


def paper_order(entries: list[dict], coverage: dict[str, list[dict]]) -> dict[str, list[dict]]:
    """Entries grouped by paper, papers and figures in the coverage list's order; anything the
    list does not name keeps its given order, after those it names."""
    papers: dict[str, list[dict]] = {}
    for p in coverage:
        papers[p] = []
    for e in entries:
        papers.setdefault(str(e.get("paper", "")), []).append(e)
    for p, es in papers.items():
        rank = {c["key"]: i for i, c in enumerate(coverage.get(p, []))}
        es.sort(key=lambda e: rank.get(str(e.get("figure")), len(rank)))  # stable: given order otherwise
    return {p: es for p, es in papers.items() if es or p in coverage}


def _summary(papers: dict[str, list[dict]], titles: dict[str, str], coverage: dict) -> str:
    rows, total = [], Counter()
    for paper, entries in papers.items():
        cnt = sum((count(e.get("claims") or []) for e in entries), Counter())
        total.update(cnt)
        n_paper = len(coverage.get(paper, [])) or len(entries)
        total["figs"] += len(entries)
        total["paper_figs"] += n_paper
        rows.append(
            f'<tr data-paper="{escape(paper)}"><td><a href="#paper-{slug(paper)}">{escape(paper)}</a>'
            f'<br><span class="muted">{escape(titles.get(paper, ""))}</span></td>'
            f'<td class="num n-figures" data-count="{len(entries)}">{len(entries)} / {n_paper}</td>{count_cells(cnt)}</tr>')
    rows.append(f'<tr class="total" data-paper="__total__"><td>Total</td><td class="num n-figures" data-count="{total["figs"]}">'
                f'{total["figs"]} / {total["paper_figs"]}</td>{count_cells(total)}</tr>')
    head = f'<th>Paper</th><th class="num">Built / in paper</th>{COUNT_HEAD}'
    return f'<div class="table-wrap"><table class="summary"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table></div>'


def _coverage(coverage: dict[str, list[dict]], built: dict[tuple[str, str], str]) -> str:
    if not coverage:
        return '<p class="muted">No coverage list in this checkout.</p>'
    rows = []
    for paper, items in coverage.items():
        for c in items:
            fid = built.get((paper, c["key"]))
            target = f'<a href="#{fid}">{escape(paper)}_{escape(c["key"])}</a>' if fid else f"{escape(paper)}_{escape(c['key'])}"
            rows.append(f'<tr class="{"built" if fid else "absent"}" data-target="{escape(paper)}_{escape(c["key"])}">'
                        f'<td>{target}</td><td>{escape(str(c.get("what") or ""))}</td><td>{"yes" if fid else "no"}</td>'
                        f'<td>{escape(str(c.get("reason") or ("" if fid else NOT_IN_PLAN)))}</td></tr>')
    n_built = sum(1 for p, items in coverage.items() for c in items if (p, c["key"]) in built)
    n = sum(len(v) for v in coverage.values())
    # Folded: 60-odd rows would push every figure two screens down; the line says what it holds.
    return (f'<details class="coverage"><summary>{n_built} of the {n} figures and tables of the papers are built in '
            f'this tier; {n - n_built} are not (the table says why)</summary>'
            '<div class="table-wrap"><table class="coverage"><thead><tr><th>Target</th><th>What</th>'
            f'<th>Built</th><th>Reason (if not, or partial)</th></tr></thead><tbody>{"".join(rows)}</tbody></table></div></details>')


def _toc(papers: dict[str, list[dict]], fids: dict[int, str]) -> str:
    items = ['<li><a href="#summary">Summary</a></li>', '<li><a href="#coverage">Coverage</a></li>']
    for paper, entries in papers.items():
        if not entries:
            continue
        figs = "".join(f'<li class="{fig_status(e.get("claims") or [])}"><a href="#{fids[id(e)]}">'
                       f'{escape(str(e.get("figure", "")))}</a></li>' for e in entries)
        items.append(f'<li><a href="#paper-{slug(paper)}">{escape(paper)}</a><ul>{figs}</ul></li>')
    items.append('<li><a href="#deviations">All deviations</a></li>')
    return ('<nav id="toc"><label class="filter"><input type="checkbox" id="failures-only"> failures only</label>'
            f'<ul>{"".join(items)}</ul></nav>')


def write_report(out_dir: Path, tier: str, entries: list[dict], deviations: list[dict], meta: dict,
                 coverage: dict[str, list[dict]] | None = None, run_files: dict[str, dict[str, str]] | None = None) -> Path:
    """Write ``out_dir/index.html`` plus ``assets/``, ``runs/`` and ``code/``; return the html path.

    A deviation's ``scope`` is matched against ``"<paper>/<figure>"`` (shown in that card) or
    ``"<paper>"`` (top of that paper's section); all of them also appear, folded, at the end.
    ``run_files``: run id -> {"spec": path, "provenance": path}, copied and linked from cards.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for d in BUNDLE_DIRS:  # a rebuilt report must not carry the last build's files
        shutil.rmtree(out_dir / d, ignore_errors=True)
    coverage = load_coverage() if coverage is None else coverage
    papers = paper_order(entries, coverage)
    titles = {str(e.get("paper")): str(e["paper_title"]) for e in entries if e.get("paper_title")}
    fids = {id(e): f"fig-{slug(e.get('paper'))}-{slug(e.get('figure'))}" for e in entries}
    built = {(str(e.get("paper")), str(e.get("figure"))): fids[id(e)] for e in entries}
    scope_to_anchor = {f"{p}/{f}": fid for (p, f), fid in built.items()}
    scope_to_anchor.update({p: f"paper-{slug(p)}" for p, es in papers.items() if es})
    run_hrefs = copy_run_files(run_files or {}, out_dir)
    ordered = [e for es in papers.values() for e in es]
    hrefs = {}
    for e in ordered:  # what every card needs first; PDFs last, while the size budget lasts
        src = e.get("source") or {}
        hrefs[id(e)] = copy_figure_files(e, out_dir)
        hrefs[id(e)]["code"] = copy_source(src.get("file"), src.get("module"), out_dir)
    copy_pdfs(ordered, [hrefs[id(e)] for e in ordered], out_dir)

    sections = []
    for paper, pentries in papers.items():
        if not pentries:
            continue
        sec = [f'<section class="paper" id="paper-{slug(paper)}"><h2>{escape(paper)}'
               + (f' <span class="muted">— {escape(titles[paper])}</span>' if paper in titles else "") + "</h2>"]
        pdevs = [d for d in deviations if str(d.get("scope", "")) == paper]
        if pdevs:
            sec.append(f'<details class="devs"><summary>Paper-wide deviations ({len(pdevs)})</summary>'
                       + dev_table(pdevs, with_scope=False, fig_ids={}) + "</details>")
        for e in pentries:
            fdevs = [d for d in deviations if str(d.get("scope", "")) == f"{e.get('paper')}/{e.get('figure')}"]
            sec.append(figure_card(e, hrefs[id(e)], fdevs, fids[id(e)], run_hrefs))
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
{_toc(papers, fids)}
<main>
<header class="report"><h1>optdyn reproduction report — tier <code>{tier_e}</code></h1>
<dl class="meta">{meta_html}</dl></header>
<h2 id="summary">Summary</h2>
<p class="muted">Reproduced claims compare with a number or statement of the paper; consistency checks
hold by construction or echo the configuration, and are counted apart. Failing counts are
highlighted; "failures only" (left) hides every passing figure and claim.</p>
{_summary(papers, titles, coverage) if entries else '<p class="muted">No figures in this tier.</p>'}
<h2 id="coverage">Coverage</h2>
{_coverage(coverage, built)}
{cost_section(ordered)}
{"".join(sections)}
<h2 id="deviations">All deviations of tier {tier_e} from the papers</h2>
<details class="devs"><summary>{len(deviations)} deviations</summary>
{dev_table(deviations, with_scope=True, fig_ids=scope_to_anchor)}
</details>
<footer>Verdicts: {PASS.upper()} = within tolerance; {FAIL.upper()} = outside tolerance;
NOT EVALUATED ({NE}) = not checked or not reproducible at this tier's scale (never counted as a pass).
"sign only" / "bound only": the check reads only the direction or a threshold, not the paper's number.</footer>
</main>
<div id="zoom" hidden><img alt="zoomed figure"><p class="muted">click or press Esc to close</p></div>
<script>{SCRIPT}</script>
</body>
</html>
"""
    index = out_dir / "index.html"
    index.write_text(page, encoding="utf-8")
    return index
