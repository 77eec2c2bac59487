"""Probes: measurements on finished runs, each its own job writing one parquet table.

A probe function is registered for its config class (``spec/probes.py`` or
``spec/problems/<paper>.py``) with ``@probe_kind(SpecClass)`` (``optdyn.registry``), in
``probes/<paper>.py`` of the paper the spec belongs to (or a module it imports):
``fn(run: RunResult, spec) -> DataFrame`` for a one-run probe (a top-level ``run`` field), or
``fn(runs: dict[str, RunResult], spec)``, the runs by figure-local name, for a probe across runs
(``{run, step}`` points).
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from pathlib import Path

from optdyn.registry import PROBE_KINDS
from optdyn.spec.load import Plan, ResolvedProbe
from optdyn.train.results import RunResult, load_run


def kinds() -> Mapping:
    """Probe kind -> function; a lookup imports the probe modules of the kind's paper only
    (``PROBE_KINDS.get(type(spec))`` is the same by spec class)."""
    return PROBE_KINDS.by_tag()


def run_probe(plan: Plan, pid: str) -> Path:
    """Measure a probe of the plan in the standard results layout (tests, interactive use)."""
    probe = plan.probes[pid]
    runs = {name: load_run(plan, rid) for name, rid in probe.run_ids.items()}
    return measure(probe, runs, plan.probe_path(pid), plan.tier_dir / "work" / "probes" / pid)


def measure(probe: ResolvedProbe, runs: dict[str, RunResult], out: Path, work_dir: Path) -> Path:
    """Write the probe's table to ``out``; ``runs``: the runs it reads, by figure-local name.
    A probe function that resumes from its own state takes ``work`` (the rule's scratch)."""
    one = getattr(probe.spec, "run", None)
    fn = kinds()[probe.spec.kind]
    extra = {"work": Path(work_dir)} if "work" in inspect.signature(fn).parameters else {}
    table = fn(runs[one] if isinstance(one, str) else runs, probe.spec, **extra)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    table.to_parquet(tmp)
    tmp.rename(out)
    return out
