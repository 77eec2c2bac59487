"""Inline stylesheet of the HTML report (its script: script.py).

Kept as a Python string (not a .css resource) so it ships with the package
without any package-data configuration, and inlined into the page so the
report has no external resources (the machines it is opened on may be offline).
"""

CSS = """
:root {
  --fg: #1f2328; --muted: #656d76; --border: #d0d7de; --bg: #ffffff;
  --card: #f6f8fa; --link: #0969da;
  --pass: #1a7f37; --pass-bg: #dafbe1; --fail: #cf222e; --fail-bg: #ffebe9;
  --ne: #57606a; --ne-bg: #eaeef2; --warn-bg: #fff8c5;
}
* { box-sizing: border-box; }
body {
  margin: 0; color: var(--fg); background: var(--bg);
  font: 15px/1.5 -apple-system, "Segoe UI", Helvetica, Arial, sans-serif;
}
main { max-width: 1180px; margin: 0 auto 0 15rem; padding: 0 1.25rem 3rem; }
/* The table of contents stays in view: a reader jumps between papers without scrolling back. */
nav#toc { position: fixed; top: 0; left: 0; bottom: 0; width: 14rem; overflow-y: auto;
  padding: 0.8rem 0.6rem; border-right: 1px solid var(--border); background: var(--card);
  font-size: 0.82rem; }
nav#toc ul { list-style: none; margin: 0; padding-left: 0.6rem; }
nav#toc > ul { padding-left: 0; }
nav#toc li.fail > a { color: var(--fail); font-weight: 600; }
nav#toc ul ul li { display: inline-block; margin-right: 0.35rem; }
nav#toc label.filter { display: block; font-weight: 600; margin-bottom: 0.6rem; }
@media (max-width: 900px) { nav#toc { position: sticky; width: auto; bottom: auto; max-height: 40vh;
  border-right: 0; border-bottom: 1px solid var(--border); } main { margin-left: auto; } }
body.failures-only article.figure:not(.fail), body.failures-only tr.claim:not(.verdict-fail),
body.failures-only nav#toc li.pass, body.failures-only nav#toc li.ne,
body.failures-only table.coverage tr.built,
body.failures-only section.paper:not(:has(article.figure.fail)) { display: none; }
.tag { display: inline-block; padding: 0 0.4rem; border-radius: 0.6rem; font-size: 0.72rem;
  font-weight: 600; white-space: nowrap; margin-left: 0.2rem; }
.tag.weak { background: var(--warn-bg); border: 1px solid #d4a72c; }
.tag.cons { background: var(--ne-bg); border: 1px solid var(--ne); }
td.ratio.off, td.nz { color: var(--fail); font-weight: 700; }
tr.deviates td { background: var(--fail-bg); }
tr.paper-row td { background: var(--ne-bg); }
table.coverage tr.absent td { color: var(--muted); }
.setting { background: #fff; border: 1px solid var(--border); border-radius: 6px;
  padding: 0.4rem 0.6rem; margin: 0.4rem 0; font-size: 0.88rem; }
details { margin: 0.5rem 0; }
details > summary { cursor: pointer; font-weight: 600; color: var(--muted); font-size: 0.92rem; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 0.1rem 1rem; font-size: 0.85rem; margin: 0.3rem 0; }
dl.facts dt { font-weight: 600; } dl.facts dd { margin: 0; overflow-wrap: anywhere; }
a.prov { margin-right: 0.4rem; font-size: 0.8rem; }
p.note { font-size: 0.8rem; margin: 0.2rem 0; overflow-wrap: anywhere; }
a.zoom { cursor: zoom-in; }
#zoom { position: fixed; inset: 0; z-index: 10; background: rgba(0, 0, 0, 0.85); display: flex;
  flex-direction: column; align-items: center; justify-content: center; cursor: zoom-out; }
#zoom[hidden] { display: none; }
#zoom img { max-width: 98vw; max-height: 92vh; background: #fff; }
#zoom p { color: #ddd; margin: 0.3rem; }
header.report {
  border-bottom: 1px solid var(--border); padding: 1.25rem 0 0.75rem;
  margin-bottom: 1rem;
}
header.report h1 { margin: 0 0 0.4rem; font-size: 1.6rem; }
h2 { margin-top: 2.2rem; padding-bottom: 0.3rem; border-bottom: 1px solid var(--border); }
h3 { margin: 0 0 0.3rem; font-size: 1.15rem; }
h4 { margin: 1rem 0 0.4rem; font-size: 0.95rem; color: var(--muted); }
a { color: var(--link); text-decoration: none; }
a:hover { text-decoration: underline; }
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: 0.1rem 1rem;
  margin: 0; font-size: 0.85rem; color: var(--muted); }
dl.meta dt { font-weight: 600; }
dl.meta dd { margin: 0; font-family: ui-monospace, SFMono-Regular, Menlo, monospace;
  overflow-wrap: anywhere; }
.table-wrap { overflow-x: auto; margin: 0.4rem 0 0.8rem; }
table { border-collapse: collapse; width: 100%; font-size: 0.88rem; }
th, td { border: 1px solid var(--border); padding: 0.3rem 0.55rem; text-align: left;
  vertical-align: top; }
th { background: var(--card); font-weight: 600; white-space: nowrap; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.total td { font-weight: 600; background: var(--card); }
code, .val { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 0.84rem; }
.val { white-space: nowrap; }
.val.seq { white-space: normal; }
h1 code { font-size: inherit; }
table.claims td:first-child { min-width: 16rem; }
.muted { color: var(--muted); }
.badge { display: inline-block; padding: 0.05rem 0.5rem; border-radius: 1rem;
  font-size: 0.75rem; font-weight: 700; letter-spacing: 0.02em; white-space: nowrap; }
.badge.pass { color: var(--pass); background: var(--pass-bg); border: 1px solid var(--pass); }
.badge.fail { color: var(--fail); background: var(--fail-bg); border: 1px solid var(--fail); }
.badge.ne { color: var(--ne); background: var(--ne-bg); border: 1px solid var(--ne); }
tr.verdict-fail td { background: var(--fail-bg); }
.fig-links a { margin-right: 0.5rem; font-size: 0.85rem; }
.fig-links a.pass::before { content: "\\2714\\00a0"; color: var(--pass); }
.fig-links a.fail::before { content: "\\2718\\00a0"; color: var(--fail); }
.fig-links a.ne::before { content: "\\25CB\\00a0"; color: var(--ne); }
section.paper { margin-top: 1rem; }
article.figure { background: var(--card); border: 1px solid var(--border);
  border-radius: 8px; padding: 1rem 1.1rem; margin: 1.1rem 0; }
article.figure.fail { border-left: 5px solid var(--fail); }
article.figure.pass { border-left: 5px solid var(--pass); }
article.figure.ne { border-left: 5px solid var(--ne); }
.fig-head { display: flex; flex-wrap: wrap; align-items: baseline; gap: 0.3rem 0.8rem; }
.fig-head .fig-id { font-family: ui-monospace, monospace; color: var(--muted); }
.fig-body { display: grid; grid-template-columns: minmax(0, 1fr); gap: 0.6rem; }
figure { margin: 0.5rem 0 0; background: #fff; border: 1px solid var(--border);
  border-radius: 6px; padding: 0.5rem; text-align: center; }
img.figure-img { max-width: 100%; max-height: 640px; height: auto; }
.downloads { font-size: 0.85rem; margin-top: 0.3rem; }
.downloads a, .downloads span { margin-right: 0.8rem; }
p.caption { margin: 0.4rem 0; white-space: pre-line; font-size: 0.92rem; }
.warning { background: var(--warn-bg); border: 1px solid #d4a72c; border-radius: 6px;
  padding: 0.3rem 0.6rem; font-size: 0.85rem; }
footer { margin-top: 3rem; font-size: 0.8rem; color: var(--muted); }
@media print { article.figure { break-inside: avoid; } nav#toc { display: none; } main { margin: 0 auto; } }
"""
