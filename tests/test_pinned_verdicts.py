"""Every smoke claim verdict, pinned before the architecture refactor (``pinned/smoke_verdicts.json``,
from a full ``snakemake -c2`` of the smoke tier).

The smoke tier takes about an hour on 2 cores, more than CI affords, so this test checks a smoke
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


#: claims whose smoke verdict differed between two CPU models on the same code (stop 24's pins and
#: stop 25's build; every run of a build is bit-reproducible on one machine): one-seed or
#: three-seed IRE vision toys still fitting when IRE starts, which amplify the last bits of XLA's
#: CPU code, and a WSD difference of 3e-4 nats. Their YAML captions say so. Four of the IRE ones
#: flipped again on one machine at stop 26, when the learning rate became an argument of the
#: compiled step instead of a constant in it (a change in the last bits); ire_tab04's cost_at_k10
#: is a timing ratio taken while another job runs beside it (1.49 at stop 25, 1.11 at stop 26,
#: same machine, bar 1.35).
MACHINE_DEPENDENT = {
    ("ire_tab01", "ire_lowers_trace"), ("ire_tab01", "sgd_ire_gain"),
    ("ire_tab02", "sgd_ire_gain"), ("ire_tab02", "sam_ire_gain"),
    ("ire_tab07", "sgd_ire_gain"), ("ire_tab07", "sam_ire_gain"),
    ("wsd_sec4", "stable_better_on_deterministic"),
    ("ire_tab04", "cost_at_k10"),
}


def _robust(verdicts: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    return {t: {c: v for c, v in claims.items() if (t, c) not in MACHINE_DEPENDENT} for t, claims in verdicts.items()}


def test_smoke_verdicts_unchanged():
    tier_dir = Path(os.environ.get("OPTDYN_SMOKE_RESULTS", REPO / "results" / "smoke"))
    if not (tier_dir / "report" / "index.html").is_file():
        pytest.skip(f"no finished smoke build at {tier_dir} (run `snakemake --profile workflow/profiles/default`, about an hour, then this test)")
    got = collect(tier_dir)
    assert {t: set(c) for t, c in got.items()} == {t: set(c) for t, c in PINNED.items()}
    assert _robust(got) == _robust(PINNED)
