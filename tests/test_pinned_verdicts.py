"""Every smoke claim verdict, pinned before the architecture refactor (``pinned/smoke_verdicts.json``,
from a full ``snakemake -c2`` of the smoke tier).

The smoke tier takes ~20 minutes on 2 cores, more than CI affords, so this test checks a smoke
build that is already there: ``results/smoke/`` of this checkout, or the folder named by
``OPTDYN_SMOKE_RESULTS``. Without one it skips, saying so.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

REPO = Path(__file__).parents[1]
PINNED = json.loads((Path(__file__).parent / "pinned" / "smoke_verdicts.json").read_text())


def collect(tier_dir: Path) -> dict[str, dict[str, str]]:
    """target -> claim id -> pass/fail, from a tier's figures folder."""
    out = {}
    for f in sorted((tier_dir / "figures").glob("*/*.claims.json")):
        out[f"{f.parent.name}_{f.name.removesuffix('.claims.json')}"] = {r["id"]: r["pass/fail"] for r in json.loads(f.read_text())}
    return out


def test_smoke_verdicts_unchanged():
    tier_dir = Path(os.environ.get("OPTDYN_SMOKE_RESULTS", REPO / "results" / "smoke"))
    if not (tier_dir / "report" / "index.html").is_file():
        pytest.skip(f"no finished smoke build at {tier_dir} (run `snakemake -c2`, ~20 min, then this test)")
    assert collect(tier_dir) == PINNED
