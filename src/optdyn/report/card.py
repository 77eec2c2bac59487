"""One figure's card: image (click to zoom) or HTML table, claims, setting and provenance."""

from __future__ import annotations

from html import escape

from .claims import claims_table
from .format import badge, fig_status, human_seconds, val
from .tables import csv_table, paper_vs_ours


def dev_table(devs: list[dict], *, with_scope: bool, fig_ids: dict[str, str]) -> str:
    if not devs:
        return '<p class="muted">None.</p>'
    head = ("<th>Scope</th>" if with_scope else "") + (
        "<th>Config path</th><th>Paper value</th><th>Tier value</th><th>Reason</th>")
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
            f"<td>{val(d.get('paper_value'))}</td><td>{val(d.get('tier_value'))}</td>"
            f"<td>{escape(str(d.get('reason') or ''))}</td></tr>")
    return f'<div class="table-wrap"><table class="deviations"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table></div>'


def _setting(e: dict) -> str:
    s = e.get("setting") or {}
    if not s:
        return ""
    lines = [str(x) for x in s.get("lines") or []]
    if len(lines) > 1:  # one line per group of runs, each naming what it ran and stands in for
        out = ["<b>Ran:</b>"] + [escape(x) for x in lines]
    else:  # a single setting: its two halves, labelled
        out = [f"<b>{label}:</b> {escape(str(s[k]))}" for k, label in (("ran", "Ran"), ("stands_in_for", "Stands in for")) if s.get(k)]
        out = out or [escape(x) for x in lines]
    return '<div class="setting">' + "<br>".join(out) + "</div>" if out else ""


def _commit(c) -> str:
    if not c:
        return '<span class="muted">—</span>'
    c = str(c)
    short = c[:12] + (" (dirty)" if c.endswith("-dirty") else "")  # a dirty tree ran code the commit lacks
    return f'<code title="{escape(c)}">{escape(short)}</code>'


def _provenance(e: dict, hrefs: dict, run_hrefs: dict[str, dict[str, str]]) -> str:
    rows = []
    prov = e.get("provenance") or {}
    for name, rid in (e.get("runs") or {}).items():
        links = " ".join(f'<a class="prov" href="{escape(h)}">{escape(k)}</a>' for k, h in sorted(run_hrefs.get(rid, {}).items()))
        p = prov.get(rid) or {}
        rows.append(
            f"<tr><td>{escape(str(name))}</td><td><code>{escape(str(rid))}</code> {links}</td>"
            f'<td class="num">{human_seconds(p.get("wall_time_s"))}</td><td>{escape(str(p.get("device") or "—"))}'
            f'{" on " + escape(str(p["host"])) if p.get("host") else ""}</td>'
            f"<td>{_commit(p.get('git_commit'))}</td></tr>")
    parts = []
    if rows:
        walls = [p.get("wall_time_s") for p in prov.values() if isinstance(p.get("wall_time_s"), (int, float))]
        total = f" (training wall time, all runs: {human_seconds(sum(walls))})" if walls else ""
        parts.append(f'<p class="muted">{len(rows)} run(s){total}</p><div class="table-wrap"><table class="runs"><thead><tr>'
                     "<th>Run</th><th>Run id: files</th><th>Wall time</th><th>Hardware</th><th>Commit</th>"
                     f'</tr></thead><tbody>{"".join(rows)}</tbody></table></div>')
    facts = _facts(e, hrefs)
    if facts:
        parts.append(f'<dl class="facts">{"".join(facts)}</dl>')
    if not parts:
        return ""
    return '<details class="provenance" open><summary>Provenance</summary>' + "".join(parts) + "</details>"


def _facts(e: dict, hrefs: dict) -> list[str]:
    """Probes, seeds, config block, figure code and output files, as <dt>/<dd> pairs."""
    facts = []
    if e.get("probes"):
        probes = ", ".join(f"{escape(str(k))}: <code>{escape(str(v))}</code>" for k, v in e["probes"].items())
        facts.append(f"<dt>Probes</dt><dd>{probes}</dd>")
    if e.get("seeds"):
        facts.append(f"<dt>Seeds</dt><dd>{val(list(e['seeds']))}</dd>")
    cfg = e.get("config") or {}
    if cfg.get("file"):
        where = escape(str(cfg["file"])) + (f":{cfg['line']}" if cfg.get("line") else "")
        facts.append(f"<dt>Config block</dt><dd><code>{where}</code></dd>")
    src = e.get("source") or {}
    if hrefs.get("code"):
        commit = f' at commit <code>{escape(str(src["commit"]))}</code>' if src.get("commit") else ""
        module = escape(str(src.get("module", "")))
        facts.append(f'<dt>Figure code</dt><dd><a class="prov" href="{escape(hrefs["code"])}"><code>{module}</code></a>{commit}</dd>')
    files = [(k.replace("_json", ".json"), hrefs.get(k)) for k in ("claims_json", "values_json")]
    if any(h for _, h in files):
        links = " ".join(f'<a class="prov" href="{escape(h)}">{name}</a>' for name, h in files if h)
        facts.append(f"<dt>Outputs</dt><dd>{links}</dd>")
    return facts


def _image(e: dict, hrefs: dict, fid: str, *, as_link: bool) -> str:
    png = hrefs.get("png") or hrefs.get("png_missing")
    if not png:
        return ""
    alt = escape(f"{e.get('paper', '')} {e.get('figure', '')}: {e.get('title') or ''}".strip())
    img = (f'<a class="zoom" href="{escape(png)}" title="click to zoom"><img class="figure-img" id="img-{fid}" '
           f'src="{escape(png)}" alt="{alt}" loading="lazy"></a>')
    if as_link:  # a table: the HTML table is the content, the drawing folds away
        return f'<details class="table-png"><summary>The table as drawn (PNG)</summary><figure>{img}</figure></details>'
    return f"<figure>{img}</figure>"


def figure_card(e: dict, hrefs: dict, devs: list[dict], fid: str, run_hrefs: dict) -> str:
    claims = e.get("claims") or []
    status = fig_status(claims)
    is_table = e.get("kind") == "table"
    title = escape(str(e.get("title") or e.get("figure", "")))
    parts = [
        f'<article class="figure {status}" id="{fid}" data-status="{status}" data-kind="{escape(str(e.get("kind") or "figure"))}">',
        f'<div class="fig-head"><h3>{title}</h3><span class="fig-id">{escape(str(e.get("paper", "")))}/'
        f'{escape(str(e.get("figure", "")))}</span>{badge(status)}</div>',
        _setting(e),
    ]
    if is_table:
        parts.append(csv_table(e.get("csv")) + paper_vs_ours(claims))
    parts.append(_image(e, hrefs, fid, as_link=is_table))
    if not hrefs.get("png"):
        parts.append('<p class="warning">PNG missing: the figure job did not produce an image.</p>')
    omitted = hrefs.get("omitted") or set()
    links = [f'<a href="{escape(hrefs[k])}">{k.upper()}</a>' if hrefs.get(k)
             else f'<span class="muted">{k.upper()} {"not in the report folder" if k in omitted else "missing"}</span>'
             for k in ("png", "pdf", "csv") if e.get(k) is not None]
    if links:
        parts.append(f'<div class="downloads">{"".join(links)}</div>')
    parts += [f'<p class="muted note">{escape(n)}</p>' for n in hrefs.get("notes") or []]
    if e.get("caption"):
        parts.append(f'<p class="caption">{escape(str(e["caption"]))}</p>')
    parts.append("<h4>Claims</h4>" + claims_table(claims, f"claim-{fid.removeprefix('fig-')}"))
    parts.append(_provenance(e, hrefs, run_hrefs))
    if devs:
        parts.append(f'<details class="devs"><summary>Deviations from the paper ({len(devs)})</summary>'
                     + dev_table(devs, with_scope=False, fig_ids={}) + "</details>")
    parts.append("</article>")
    return "\n".join(p for p in parts if p)
