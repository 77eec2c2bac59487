"""The smoke tier's built report: small enough to mail, light to open, every provenance link
resolving, and its controls working in a browser.

Like tests/test_pinned_verdicts.py this checks a build that is already there (``results/smoke/``
or ``OPTDYN_SMOKE_RESULTS``) and skips without one: building the smoke tier takes about an hour.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from optdyn.report.bundle import bundle_size
from test_report import check_selftest, chromium, open_in_browser

REPO = Path(__file__).parents[1]
BUNDLE_MAX = 15_000_000  # issue 12: the smoke report folder
FIRST_RENDER_MAX = 3_000_000  # issue 12: what the page loads before the reader scrolls


@pytest.fixture(scope="module")
def built() -> Path:
    tier_dir = Path(os.environ.get("OPTDYN_SMOKE_RESULTS", REPO / "results" / "smoke"))
    index = tier_dir / "report" / "index.html"
    if not index.is_file():
        pytest.skip(f"no smoke report at {index} (build the smoke tier, about an hour, then this test)")
    return index


def test_bundle_size(built: Path):
    size = bundle_size(built.parent)
    assert size <= BUNDLE_MAX, f"the report folder is {size / 1e6:.1f} MB"


def test_images_are_lazy_and_page_is_light(built: Path):
    html = built.read_text(encoding="utf-8")
    imgs = re.findall(r"<img [^>]*>", html)
    assert imgs and all('loading="lazy"' in i for i in imgs if "figure-img" in i)
    # Without a browser: the page and the first two figures, as if both were on the first screen.
    srcs = re.findall(r'<img class="figure-img"[^>]* src="([^"]+)"', html)
    first = built.stat().st_size + sum((built.parent / s).stat().st_size for s in srcs[:2])
    assert first <= FIRST_RENDER_MAX, f"{first / 1e6:.1f} MB"


def test_every_card_has_its_provenance(built: Path):
    html = built.read_text(encoding="utf-8")
    cards = re.findall(r'<article class="figure[^"]*" id="([^"]+)"(.*?)</article>', html, re.S)
    assert len(cards) >= 39
    for fid, card in cards:
        links = re.findall(r'<a class="prov" href="([^"]+)"', card)
        assert any(h.endswith(".claims.json") for h in links) and any(h.endswith(".values.json") for h in links), fid
        assert any(h.startswith("code/") for h in links), f"{fid}: no figure code"
        runs = re.search(r'<table class="runs">(.*?)</table>', card, re.S)
        if runs:  # every run row links both its files
            for row in re.findall(r"<tr><td>.*?</tr>", runs.group(1), re.S):
                assert "/spec.json" in row and "/provenance.json" in row, (fid, row[:200])
        for h in links:
            assert (built.parent / h).is_file(), (fid, h)
    n_runs = sum(1 for _, c in cards if '<table class="runs">' in c)
    assert n_runs or "data-kind" not in html, "no card has a runs table: was the report built from an old spec?"


def test_built_report_in_browser(built: Path, tmp_path: Path):
    browser = chromium()
    if browser is None:
        pytest.skip("no Chromium binary (chromium, chromium-browser, google-chrome) on PATH")
    attrs, stderr = open_in_browser(browser, built, tmp_path / "profile")
    r = check_selftest(attrs, stderr)
    n = r["figures"]
    assert attrs["images-loaded"] == f"{n}/{n}"
    # What the first screen pulls in: the page plus the lazy images within load-ahead reach.
    first = built.stat().st_size + sum((built.parent / s).stat().st_size for s in json.loads(attrs["first-render"]))
    assert first <= FIRST_RENDER_MAX, f"{first / 1e6:.1f} MB"
