"""Tests for the per-tier HTML report (optdyn.report.html)."""

from __future__ import annotations

import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from optdyn.report import write_report


def _png(path: Path, seed: int) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(1.2, 1.0), dpi=40)
    ax.plot([0, 1, 2], [seed, seed + 1, seed - 1])
    fig.savefig(path)
    plt.close(fig)
    return path


def _make_inputs(tmp_path: Path) -> tuple[list[dict], list[dict]]:
    src = tmp_path / "results" / "ci" / "figures"
    entries = []
    specs = [
        ("wsd", "fig03", [True, False, None]),
        ("wsd", "fig04", [True]),
        ("eos", "fig01", [None, None, False, True]),
    ]
    for i, (paper, fig, verdicts) in enumerate(specs):
        d = src / paper
        d.mkdir(parents=True, exist_ok=True)
        png = _png(d / f"{fig}.png", i)
        (d / f"{fig}.pdf").write_bytes(b"%PDF-1.4\n%fake\n")
        (d / f"{fig}.csv").write_text("step,loss\n0,1.0\n1,0.5\n")
        claims = [
            {
                "id": f"c{j}",
                "statement": f"loss(t) < {j} for <b>all</b> t & η·t" if j == 0 else f"claim {j}",
                "source": "Fig. 3b inset",
                "paper_value": [0.1, 0.2, 0.3] if j == 1 else 0.6,
                "our_value": None if v is None else 0.5971234,
                "tolerance": "rel 10%",
                "passed": v,
                "note": "not reproduced at this scale" if v is None else "",
            }
            for j, v in enumerate(verdicts)
        ]
        entries.append({
            "paper": paper, "paper_title": f"Title of {paper}", "figure": fig,
            "title": f"{paper} {fig}", "caption": "Caption text.",
            "png": str(png), "pdf": str(d / f"{fig}.pdf"), "csv": str(d / f"{fig}.csv"),
            "claims": claims,
        })
    deviations = [
        {"scope": "wsd/fig04", "path": "runs.mc.model.replicas", "paper_value": 4000,
         "tier_value": 500, "reason": "CI: 500 replicas suffice to see the crossing"},
        {"scope": "eos", "path": "train.steps", "paper_value": 100000, "tier_value": 2000,
         "reason": "CI budget"},
    ]
    return entries, deviations


class _Imgs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.srcs: list[str] = []
        self.hrefs: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "img":
            self.srcs.append(a["src"])
            assert a.get("alt"), "every figure image needs alt text"
        if tag == "a" and a.get("href") and not a["href"].startswith("#"):
            self.hrefs.append(a["href"])


def _summary_counts(html: str, paper: str) -> dict[str, int]:
    row = re.search(rf'<tr[^>]*data-paper="{paper}".*?</tr>', html, re.S).group(0)
    return {k: int(v) for k, v in re.findall(r'class="num n-(\w+)" data-count="(\d+)"', row)}


@pytest.fixture
def report(tmp_path: Path) -> tuple[Path, list[dict]]:
    entries, deviations = _make_inputs(tmp_path)
    meta = {"generated": "2025-01-01T00:00:00", "git_commit": "abc123", "config": "config/config.yaml"}
    index = write_report(tmp_path / "report", "ci", entries, deviations, meta)
    return index, entries


def test_report_structure(report):
    index, entries = report
    assert index == index.parent / "index.html" and index.is_file()
    html = index.read_text(encoding="utf-8")
    out = index.parent

    for e in entries:
        for kind in ("png", "pdf", "csv"):
            assert (out / "assets" / e["paper"] / f"{e['figure']}.{kind}").is_file()

    parser = _Imgs()
    parser.feed(html)
    assert len(parser.srcs) == len(entries)
    for ref in parser.srcs + parser.hrefs:
        assert not ref.startswith(("/", "file:", "http")), ref  # relocatable
        assert (out / ref).is_file(), ref

    assert _summary_counts(html, "wsd") == {"pass": 2, "fail": 1, "ne": 1}
    assert _summary_counts(html, "eos") == {"pass": 1, "fail": 1, "ne": 2}
    assert _summary_counts(html, "__total__") == {"pass": 3, "fail": 2, "ne": 3}
    # null verdicts render as NOT EVALUATED, never as a pass
    assert html.count('data-verdict="ne"') == 3 and html.count('data-verdict="pass"') == 3

    assert "loss(t) &lt; 0 for &lt;b&gt;all&lt;/b&gt; t &amp; η·t" in html
    assert "<b>all</b>" not in html
    assert '>0.5971</span>' in html  # 4 significant digits
    assert "runs.mc.model.replicas" in html and 'href="#fig-wsd-fig04"' in html
    assert "abc123" in html
    # no external resources: the report must render on an offline machine
    assert not re.search(r'(src|href)="(https?:)?//', html) and "url(" not in html


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if path := shutil.which(name):
            return path
    return None


def _images_loaded(browser: str, index: Path, profile: Path) -> str:
    cmd = [
        browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--disable-extensions",
        "--allow-file-access-from-files", f"--user-data-dir={profile}",
        "--virtual-time-budget=5000", "--dump-dom", index.resolve().as_uri(),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    m = re.search(r'data-images-loaded="(\d+/\d+)"', proc.stdout)
    assert m, f"no data-images-loaded in dumped DOM (rc={proc.returncode}): {proc.stderr[-2000:]}"
    return m.group(1)


def test_report_images_load_in_browser(report, tmp_path: Path):
    browser = _chromium()
    if browser is None:
        pytest.skip("no Chromium binary (chromium, chromium-browser, google-chrome) on PATH")
    index, entries = report
    n = len(entries)
    assert _images_loaded(browser, index, tmp_path / "profile1") == f"{n}/{n}"

    # The check must be able to fail: a missing asset has to show up as n-1/n.
    (index.parent / "assets" / "wsd" / "fig04.png").unlink()
    assert _images_loaded(browser, index, tmp_path / "profile2") == f"{n - 1}/{n}"
