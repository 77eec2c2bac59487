"""Probes: measurements on finished runs, each its own job writing one parquet table.

Each module in ``MODULES`` exports ``KINDS``: a probe kind (its config class lives in
``spec/probes.py`` or ``spec/problems/<paper>.py``) -> ``fn(run: RunResult, spec) -> DataFrame``
for a one-run probe (a top-level ``run`` field), or ``fn(runs: dict[str, RunResult], spec)``,
the runs by figure-local name, for a probe across runs (``{run, step}`` points).
"""

from __future__ import annotations

import importlib
from pathlib import Path

from optdyn.spec.load import Plan
from optdyn.train.results import load_run

MODULES = ("river", "spectrum", "landscape", "cities", "normsharp", "latedecay", "ire", "selfstab")


def kinds() -> dict:
    return {k: fn for m in MODULES for k, fn in importlib.import_module(f"{__name__}.{m}").KINDS.items()}


def run_probe(plan: Plan, pid: str) -> Path:
    probe = plan.probes[pid]
    runs = {name: load_run(plan, rid) for name, rid in probe.run_ids.items()}
    one = getattr(probe.spec, "run", None)
    table = kinds()[probe.spec.kind](runs[one] if isinstance(one, str) else runs, probe.spec)
    out = plan.probe_path(pid)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    table.to_parquet(tmp)
    tmp.rename(out)
    return out
