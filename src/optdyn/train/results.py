"""Reading a finished run back from its folder: what figures and probes consume.

A run folder holds ``spec.json`` (the resolved spec it was trained under), ``status.json``,
``metrics.parquet``, ``provenance.json`` and ``checkpoints/``: everything a later job reads is
there, so a job handed the folder needs neither the YAML nor the results layout.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from optdyn.data.prepare import DEFAULT_ROOT
from optdyn.spec.load import Plan
from optdyn.spec.paper import RunSpec


@dataclass
class RunResult:
    run_id: str
    spec: RunSpec
    status: dict
    metrics: pd.DataFrame
    dir: Path
    data_root: Path | None = None  # where its prepared dataset lies, for jobs that rebuild the problem
    parent: str | None = None

    @property
    def data_dir(self) -> Path:
        """Its prepared datasets' folder: the workflow's, or the default one."""
        return self.data_root if self.data_root is not None else DEFAULT_ROOT

    @property
    def diverged(self) -> bool:
        return self.status.get("status") == "diverged"

    def trainer(self):
        """The run's ``Trainer`` (its problem, optimizer and seed), for probes that rebuild it."""
        from .trainer import Trainer

        return Trainer(self.spec, self.data_dir)


def read_run(run_dir: str | Path, data_root: str | Path | None = None) -> RunResult:
    d = Path(run_dir)
    status_file = d / "status.json"
    if not status_file.exists():
        raise FileNotFoundError(f"run {d.name} has not finished ({status_file} missing): run its train job first")
    meta = json.loads((d / "spec.json").read_text())
    spec = RunSpec.model_validate_json(json.dumps(meta["spec"]))
    return RunResult(meta["run_id"], spec, json.loads(status_file.read_text()), pd.read_parquet(d / "metrics.parquet"), d,
                     Path(data_root) if data_root is not None else None, meta.get("parent"))


def load_run(plan: Plan, rid: str) -> RunResult:
    """A run of the plan, from the standard results layout."""
    return read_run(plan.run_dir(rid), plan.data_root)
