"""Behaviour pinned before the architecture refactor: every run id and probe id of every tier.

A run id is the hash of everything that changes numbers, so a refactor that moves code without
changing results keeps them all. Regenerate ``pinned/ids.json`` only for a deliberate change, and
say so in the commit.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from optdyn.spec.load import load_plan

PINNED = json.loads((Path(__file__).parent / "pinned" / "ids.json").read_text())


@pytest.mark.parametrize("tier", sorted(PINNED))
def test_run_and_probe_ids_unchanged(tier):
    plan = load_plan("config/config.yaml", tier=tier)
    now = {t: {"runs": f.runs, "probes": f.probes} for t, f in sorted(plan.figures.items())}
    assert sorted(now) == sorted(PINNED[tier])
    for target, ids in PINNED[tier].items():
        assert now[target] == ids, target
