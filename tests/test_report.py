"""Tests for the per-tier HTML report (optdyn.report): structure, counts, order, ids, bundle."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from html import unescape
from html.parser import HTMLParser
from pathlib import Path

import pytest

from optdyn.report import write_report
from optdyn.report.bundle import thin_csv

# A stand-in for report/coverage.py: paper order differs from the entries' order on purpose.
COVERAGE = {
    "eos": [{"key": "fig01", "what": "sharpness", "reason": None},
            {"key": "fig02", "what": "not built", "reason": "needs CIFAR-10 and a GPU: paper tier only"}],
    "wsd": [{"key": "fig04", "what": "b", "reason": None}, {"key": "fig03", "what": "a", "reason": None},
            {"key": "tab01", "what": "a table", "reason": None}],
}


def _png(path: Path, seed: int) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(1.2, 1.0), dpi=40)
    ax.plot([0, 1, 2], [seed, seed + 1, seed - 1])
    fig.savefig(path)
    plt.close(fig)
    return path


def _claim(j: int, v, **extra) -> dict:
    return {"id": f"c{j}", "statement": f"loss(t) < {j} for <b>all</b> t & η·t" if j == 0 else f"claim {j}",
            "source": "Fig. 3b inset", "paper_value": [0.1, 0.2, 0.3] if j == 1 else 0.6,
            "our_value": None if v is None else 0.5971234, "tolerance": "rel 10%", "passed": v,
            "note": "not reproduced at this scale" if v is None else "", **extra}


def _make_inputs(tmp_path: Path) -> tuple[list[dict], list[dict], dict]:
    src = tmp_path / "results" / "ci"
    runs = {}
    for rid in ("toy-a-000000000001", "toy-b-000000000002"):
        d = src / "runs" / rid
        d.mkdir(parents=True)
        (d / "spec.json").write_text(json.dumps({"seed": 0}))
        (d / "provenance.json").write_text(json.dumps({"wall_time_s": 12.5, "device": "1 x cpu (cpu)", "host": "vm",
                                                       "git_commit": "deadbeef"}))
        runs[rid] = {"spec": str(d / "spec.json"), "provenance": str(d / "provenance.json")}
    (src / "figures.py").write_text("def draw(ctx):\n    pass\n")
    entries = []
    specs = [  # (paper, fig, verdicts, kind) in an order the coverage list changes
        ("wsd", "fig03", [True, False, None], "figure"),
        ("wsd", "fig04", [True], "figure"),
        ("eos", "fig01", [None, None, False, True], "figure"),
        ("wsd", "tab01", [True, False], "table"),
    ]
    for i, (paper, fig, verdicts, kind) in enumerate(specs):
        d = src / "figures" / paper
        d.mkdir(parents=True, exist_ok=True)
        png = _png(d / f"{fig}.png", i)
        (d / f"{fig}.pdf").write_bytes(b"%PDF-1.4\n%fake\n")
        (d / f"{fig}.csv").write_text("Method,Source,loss\nWSD,ours,2.61\nWSD,paper,2.52\n" if kind == "table" else "step,loss\n0,1.0\n1,0.5\n")
        claims = [_claim(j, v) for j, v in enumerate(verdicts)]
        if fig == "fig01":  # newer claim rows: kind, check_type, ratio, seed replicates
            claims[2].update(kind="consistency", check_type="exact")
            claims[3].update(check_type="sign", ratio=0.5971234 / 0.6, n=3, sd=0.01, ci95=[0.57, 0.62],
                             ci_method="t", per_seed=[0.59, 0.6, 0.601])
        if kind == "table":  # a number beside ours in every row
            claims[1].update(paper_value=2.52, our_value=2.61)
        (d / f"{fig}.claims.json").write_text(json.dumps(claims))
        (d / f"{fig}.values.json").write_text("{}")
        entries.append({
            "paper": paper, "paper_title": f"Title of {paper}", "figure": fig, "kind": kind,
            "title": f"{paper} {fig}", "caption": "Caption text.",
            "png": str(png), "pdf": str(d / f"{fig}.pdf"), "csv": str(d / f"{fig}.csv"),
            "claims_json": str(d / f"{fig}.claims.json"), "values_json": str(d / f"{fig}.values.json"),
            "claims": claims, "runs": {"main": "toy-a-000000000001", "other": "toy-b-000000000002"} if i == 0 else {},
            "seeds": [0, 1, 2] if i == 0 else [], "config": {"file": "config/papers/wsd.yaml", "line": 42} if i == 0 else {},
            "setting": {"ran": "toy MLP (1.2k params) on the Markov stand-in", "stands_in_for": "0.1B on the Pile",
                        "lines": ["1000 steps"]} if i == 0 else {},
            "provenance": {"toy-a-000000000001": {"wall_time_s": 12.5, "device": "1 x cpu (cpu)", "host": "vm",
                                                  "git_commit": "deadbeef"}} if i == 0 else {},
            "source": {"module": "optdyn.figures.wsd.toy", "file": str(src / "figures.py"), "commit": "abc123"} if i == 0 else {},
        })
    deviations = [
        {"scope": "wsd/fig04", "path": "runs.mc.model.replicas", "paper_value": 4000,
         "tier_value": 500, "reason": "CI: 500 replicas suffice to see the crossing"},
        {"scope": "eos", "path": "train.steps", "paper_value": 100000, "tier_value": 2000, "reason": "CI budget"},
    ]
    return entries, deviations, runs


class _Refs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.srcs: list[str] = []
        self.hrefs: list[str] = []
        self.ids: list[str] = []
        self.anchors: list[str] = []
        self.lazy: list[str | None] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if a.get("id"):
            self.ids.append(a["id"])
        if tag == "img" and a.get("src"):
            self.srcs.append(a["src"])
            self.lazy.append(a.get("loading"))
            assert a.get("alt"), "every figure image needs alt text"
        if tag == "a" and a.get("href"):
            (self.anchors if a["href"].startswith("#") else self.hrefs).append(a["href"])


def _counts(html: str, paper: str) -> dict[str, int]:
    row = re.search(rf'<tr[^>]*data-paper="{paper}".*?</tr>', html, re.S).group(0)
    return {k: int(v) for k, v in re.findall(r'class="num n-([\w-]+)[^"]*" data-count="(\d+)"', row)}


@pytest.fixture
def report(tmp_path: Path):
    entries, deviations, runs = _make_inputs(tmp_path)
    meta = {"generated": "2025-01-01T00:00:00", "git_commit": "abc123", "config": "config/config.yaml"}
    index = write_report(tmp_path / "report", "ci", entries, deviations, meta, coverage=COVERAGE, run_files=runs)
    return index, entries


def test_report_structure(report):
    index, entries = report
    assert index == index.parent / "index.html" and index.is_file()
    html = index.read_text(encoding="utf-8")
    out = index.parent
    for e in entries:
        for ext in ("png", "pdf", "csv", "claims.json", "values.json"):
            assert (out / "assets" / e["paper"] / f"{e['figure']}.{ext}").is_file()

    refs = _Refs()
    refs.feed(html)
    assert len(refs.srcs) == len(entries) and set(refs.lazy) == {"lazy"}
    for ref in refs.srcs + refs.hrefs:
        assert not ref.startswith(("/", "file:", "http")), ref  # relocatable
        assert (out / ref).is_file(), ref
    assert len(refs.ids) == len(set(refs.ids)), "duplicate HTML ids"
    assert set(a[1:] for a in refs.anchors) <= set(refs.ids), "an in-page link points nowhere"

    # reproduced claims and consistency checks are counted apart
    assert _counts(html, "wsd") == {"figures": 3, "r-pass": 3, "r-fail": 2, "r-ne": 1, "weak": 0, "c-pass": 0, "c-fail": 0, "c-ne": 0}
    assert _counts(html, "eos") == {"figures": 1, "r-pass": 1, "r-fail": 0, "r-ne": 2, "weak": 1, "c-pass": 0, "c-fail": 1, "c-ne": 0}
    assert _counts(html, "__total__")["r-pass"] == 4 and _counts(html, "__total__")["c-fail"] == 1
    # null verdicts render as NOT EVALUATED, never as a pass
    assert html.count('data-verdict="ne"') == 3 and html.count('data-verdict="pass"') == 4

    assert "loss(t) &lt; 0 for &lt;b&gt;all&lt;/b&gt; t &amp; η·t" in html and "<b>all</b>" not in html
    assert '>0.5971</span>' in html  # 4 significant digits
    assert "runs.mc.model.replicas" in html and 'href="#fig-wsd-fig04"' in html
    assert "abc123" in html
    # no external resources: the report must render on an offline machine
    assert not re.search(r'(src|href)="(https?:)?//', html) and "url(" not in html


def test_paper_order_and_coverage(report):
    html = report[0].read_text(encoding="utf-8")
    order = re.findall(r'<article class="figure [a-z]+" id="([^"]+)"', html)
    assert order == ["fig-eos-fig01", "fig-wsd-fig04", "fig-wsd-fig03", "fig-wsd-tab01"]
    rows = re.findall(r'<tr class="(built|absent)" data-target="([^"]+)"', html)
    assert rows == [("built", "eos_fig01"), ("absent", "eos_fig02"), ("built", "wsd_fig04"),
                    ("built", "wsd_fig03"), ("built", "wsd_tab01")]
    assert "needs CIFAR-10 and a GPU: paper tier only" in html
    assert "4 of the 5 figures and tables" in html
    toc = re.search(r'<nav id="toc">.*?</nav>', html, re.S).group(0)
    assert 'id="failures-only"' in toc and toc.index("#paper-eos") < toc.index("#paper-wsd")


def test_claim_rows_say_how_close(report):
    html = report[0].read_text(encoding="utf-8")
    # the same claim id in four figures: namespaced by paper and figure, unique
    assert 'id="claim-wsd-fig03-c0"' in html and 'id="claim-eos-fig01-c0"' in html
    row = re.search(r'<tr [^>]*id="claim-eos-fig01-c3".*?</tr>', html, re.S).group(0)
    assert "sign only" in row and 'data-ratio="0.995206"' in row
    text = re.sub(r"<[^>]+>", "", row)
    assert "mean of n = 3 seeds; 95% t-CI [0.57, 0.62]; sd 0.01; seeds: 0.59, 0.6, 0.601" in text
    cons = re.search(r'<tr [^>]*id="claim-eos-fig01-c2".*?</tr>', html, re.S).group(0)
    assert 'data-kind="consistency"' in cons and ">consistency<" in cons
    # older rows without ratio: computed from two numbers, none for a list paper value
    assert re.search(r'id="claim-wsd-fig03-c0".*?data-ratio="0.995206"', html, re.S)
    c1 = re.search(r'<tr [^>]*id="claim-wsd-fig03-c1".*?</tr>', html, re.S).group(0)
    assert "data-ratio" not in c1


def test_table_figure_renders_as_html_table(report):
    html = report[0].read_text(encoding="utf-8")
    card = re.search(r'<article [^>]*id="fig-wsd-tab01".*?</article>', html, re.S).group(0)
    assert '<table class="data">' in card and '<tr class="paper-row">' in card and ">2.61<" in card
    # paper beside ours; the failing claim highlighted as a deviation
    versus = re.search(r'<table class="versus">.*?</table>', card, re.S).group(0)
    assert versus.count("<tr") == 3 and versus.count('class="deviates"') == 1
    assert '<details class="table-png">' in card  # the PNG stays, as a link


def test_provenance_links_resolve(report):
    index, _ = report
    html = index.read_text(encoding="utf-8")
    card = re.search(r'<article [^>]*id="fig-wsd-fig03".*?</article>', html, re.S).group(0)
    prov = re.findall(r'<a class="prov" href="([^"]+)"', card)
    assert {"runs/toy-a-000000000001/spec.json", "runs/toy-a-000000000001/provenance.json",
            "code/optdyn.figures.wsd.toy.py", "assets/wsd/fig03.claims.json"} <= set(prov)
    assert all((index.parent / p).is_file() for p in prov)
    assert "12.5 s" in card and "1 x cpu (cpu) on vm" in card and "config/papers/wsd.yaml:42" in card
    assert "Stands in for:</b> 0.1B on the Pile" in card and "at commit <code>abc123" in card
    # the setting summary comes before the raw deviations, which fold away
    assert card.index('class="setting"') < card.index("<h4>Claims")


def test_old_entries_without_optional_fields(tmp_path: Path):
    """A build from before provenance/kind/coverage still renders."""
    png = _png(tmp_path / "f.png", 0)
    entries = [{"paper": "p", "figure": "fig01", "title": "t", "caption": "", "png": str(png),
                "claims": [{"id": "a", "passed": True, "paper_value": 1.0, "our_value": 1.1}]}]
    index = write_report(tmp_path / "r", "ci", entries, [], {}, coverage={})
    html = index.read_text()
    assert 'id="fig-p-fig01"' in html and "No coverage list" in html and 'data-ratio="1.1"' in html


def test_rebuild_drops_the_last_builds_files(report):
    index, entries = report
    stale = index.parent / "assets" / "old" / "gone.csv"
    stale.parent.mkdir(parents=True)
    stale.write_text("x")
    write_report(index.parent, "ci", entries, [], {}, coverage=COVERAGE)
    assert not stale.exists()


def test_thin_csv_keeps_every_series(tmp_path: Path):
    src = tmp_path / "big.csv"
    lines = ["step,loss,run"] + [f"{s},{1 / (s + 1)},{r}" for r in ("a", "b") for s in range(1000)]
    src.write_text("\n".join(lines) + "\n")
    kept, total = thin_csv(src, tmp_path / "thin.csv", target_bytes=src.stat().st_size // 10)
    rows = (tmp_path / "thin.csv").read_text().splitlines()
    assert total == 2000 and kept == len(rows) - 1 and 150 < kept < 300
    for r in ("a", "b"):  # both series keep their first and last step
        steps = [int(x.split(",")[0]) for x in rows[1:] if x.endswith("," + r)]
        assert steps[0] == 0 and steps[-1] == 999 and len(steps) > 80


# --- in headless Chromium ------------------------------------------------------------------------


def chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if path := shutil.which(name):
            return path
    return None


def open_in_browser(browser: str, index: Path, profile: Path, *, selftest: bool = True) -> tuple[dict, str]:
    """The page's ``<body>`` data attributes after load (with ``?selftest``: after it drove its
    own zoom and filter, see report/script.py), and Chromium's stderr (its console log)."""
    cmd = [
        browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--disable-extensions",
        "--allow-file-access-from-files", f"--user-data-dir={profile}", "--window-size=1280,900",
        "--enable-logging=stderr", "--v=0", "--virtual-time-budget=30000", "--dump-dom",
        index.resolve().as_uri() + ("?selftest" if selftest else ""),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    body = re.search(r"<body([^>]*)>", proc.stdout)
    assert body, f"no <body> in dumped DOM (rc={proc.returncode}): {proc.stderr[-2000:]}"
    attrs = {k: unescape(v) for k, v in re.findall(r'data-([a-z-]+)="([^"]*)"', body.group(1))}
    return attrs, proc.stderr


def check_selftest(attrs: dict, stderr: str) -> dict:
    """What every report must do in a browser, whatever its content."""
    assert "selftest" in attrs, f"the page's self-test did not run: {stderr[-2000:]}"
    r = json.loads(attrs["selftest"])
    assert r["duplicateIds"] == [] and r["brokenAnchors"] == [], r
    assert r["tocLinks"] > 0
    # failures only: exactly the failing figures and claims stay; unticking restores all
    assert r["filtered"] == {"figures": r["failFigures"], "passingClaims": 0, "failClaims": r["failClaims"],
                             "sections": r["failSections"]}, r
    assert r["unfilteredFigures"] == r["figures"]
    z = r["zoom"]  # the first figure's full PNG in the overlay, closed again by Esc
    assert z["open"] and z["src"] == z["href"] and z["closed"], z
    assert r["consoleErrors"] == [], r["consoleErrors"]
    assert not re.search(r"CONSOLE\(\d+\)\].*(Uncaught|Error)", stderr), stderr[-2000:]
    return r


@pytest.fixture
def browser():
    path = chromium()
    if path is None:
        pytest.skip("no Chromium binary (chromium, chromium-browser, google-chrome) on PATH")
    return path


def test_report_in_browser(report, browser, tmp_path: Path):
    index, entries = report
    n = len(entries)
    attrs, stderr = open_in_browser(browser, index, tmp_path / "profile1")
    assert attrs["images-loaded"] == f"{n}/{n}"
    r = check_selftest(attrs, stderr)
    assert r["figures"] == n and r["failFigures"] == 3 and r["failClaims"] == 3 and r["failSections"] == 2
    assert r["zoom"]["href"] == "assets/eos/fig01.png"  # paper order: eos comes first

    # The image check must be able to fail: a missing asset has to show up as n-1/n.
    (index.parent / "assets" / "wsd" / "fig04.png").unlink()
    attrs, _ = open_in_browser(browser, index, tmp_path / "profile2")
    assert attrs["images-loaded"] == f"{n - 1}/{n}"


def test_big_csv_thinned_and_big_pdf_left_out(tmp_path: Path, monkeypatch):
    from optdyn.report import bundle

    entries, _, _ = _make_inputs(tmp_path)
    monkeypatch.setattr(bundle, "CSV_MAX", 20)
    monkeypatch.setattr(bundle, "PDF_MAX", 5)
    index = write_report(tmp_path / "report", "ci", entries, [], {}, coverage=COVERAGE)
    html = index.read_text()
    card = re.search(r'<article [^>]*id="fig-wsd-fig03".*?</article>', html, re.S).group(0)
    assert 'href="assets/wsd/fig03.thinned.csv"' in card and "CSV thinned for the report" in card
    assert entries[0]["csv"] in card and entries[0]["pdf"] in card  # the full files are named
    assert not (index.parent / "assets" / "wsd" / "fig03.pdf").exists() and "PDF not in the report folder" in card


@pytest.mark.slow  # imports the wsd figure modules (JAX): ~6 s
def test_build_report_from_a_report_spec(tmp_path: Path):
    """collect.build_report reads the report spec's per-figure fields and the run files."""
    from optdyn.report.collect import build_report

    entries, deviations, runs = _make_inputs(tmp_path)
    e = entries[0]
    spec = {"tier": "ci", "config": "config/config.yaml", "runs": 2, "papers": {"wsd": "Title of wsd"},
            "deviations": deviations,
            "figures": {"wsd_fig03": {"paper": "wsd", "key": "fig03", "title": "t", "caption": "c", "kind": "figure",
                                      "runs": {"main": "toy-a-000000000001"}, "probes": {}, "seeds": [0],
                                      "setting": e["setting"], "config": {"file": "config/papers/wsd.yaml", "line": 7}}}}
    paths = [p for files in runs.values() for p in files.values()]
    index = build_report(spec, {"wsd_fig03": Path(e["png"]).with_suffix("")}, tmp_path / "out" / "index.html", paths)
    html = index.read_text()
    assert 'href="runs/toy-a-000000000001/provenance.json"' in html and "12.5 s" in html
    assert "config/papers/wsd.yaml:7" in html and not (index.parent / "runs" / "toy-b-000000000002").exists()
    assert 'href="code/optdyn.figures.wsd.' in html  # the real figure module of wsd fig03


def test_pdfs_only_while_the_size_budget_lasts(tmp_path: Path, monkeypatch):
    from optdyn.report import bundle

    entries, _, _ = _make_inputs(tmp_path)
    probe = write_report(tmp_path / "probe", "ci", entries, [], {}, coverage=COVERAGE)
    pdf = Path(entries[0]["pdf"]).stat().st_size
    without_pdfs = bundle.bundle_size(probe.parent) - len(entries) * pdf - probe.stat().st_size
    monkeypatch.setattr(bundle, "BUNDLE_BUDGET", without_pdfs + 2 * pdf)  # room for two of four
    index = write_report(tmp_path / "report", "ci", entries, [], {}, coverage=COVERAGE)
    html = index.read_text()
    assert len(list((index.parent / "assets").rglob("*.pdf"))) == 2
    assert html.count("size budget is spent") == 2


def test_check_type_read_from_older_rows():
    from optdyn.report.claims import check_type_of

    assert check_type_of({"tolerance": "ours >= 0"}) == "sign"
    assert check_type_of({"tolerance": "ours <= 500"}) == "bound"
    assert check_type_of({"tolerance": "|ours - paper| <= 0.1 * |paper|"}) == "tolerance"
    assert check_type_of({"tolerance": "ours is true"}) == "boolean"
    assert check_type_of({"tolerance": "ours >= 0", "check_type": "ci"}) == "ci"  # the row's own wins
    assert check_type_of({"tolerance": "rel 10%"}) is None
