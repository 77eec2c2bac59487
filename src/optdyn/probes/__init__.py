"""Probes: measurements on finished runs, each its own job writing one parquet table.

Each module in ``MODULES`` exports ``KINDS``: a probe kind (its config class lives in
``spec/probes.py`` or ``spec/problems/<paper>.py``) -> ``fn(run: RunResult, spec) -> DataFrame``.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from optdyn.spec.load import Plan
from optdyn.train.results import load_run

MODULES = ("river", "spectrum", "normsharp", "latedecay", "ire", "selfstab")


def kinds() -> dict:
    return {k: fn for m in MODULES for k, fn in importlib.import_module(f"{__name__}.{m}").KINDS.items()}


def run_probe(plan: Plan, pid: str) -> Path:
    probe = plan.probes[pid]
    table = kinds()[probe.spec.kind](load_run(plan, probe.run_id), probe.spec)
    out = plan.probe_path(pid)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    table.to_parquet(tmp)
    tmp.rename(out)
    return out
