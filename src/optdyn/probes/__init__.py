"""Probes: measurements on finished runs, each its own job writing one parquet table.

``PROBES`` maps a probe kind (``spec/probes.py``) to ``fn(run: RunResult, spec) -> DataFrame``.
"""

from __future__ import annotations

from pathlib import Path

from optdyn.spec.load import Plan
from optdyn.train.results import load_run


def run_probe(plan: Plan, pid: str) -> Path:
    from .river import river_progress

    kinds = {"river_progress": river_progress}
    probe = plan.probes[pid]
    table = kinds[probe.spec.kind](load_run(plan, probe.run_id), probe.spec)
    out = plan.probe_path(pid)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    table.to_parquet(tmp)
    tmp.rename(out)
    return out
