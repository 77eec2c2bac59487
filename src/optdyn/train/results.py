"""Reading a finished run back: what figures and probes consume."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from optdyn.spec.load import Plan
from optdyn.spec.paper import RunSpec


@dataclass
class RunResult:
    run_id: str
    spec: RunSpec
    status: dict
    metrics: pd.DataFrame
    dir: Path

    @property
    def diverged(self) -> bool:
        return self.status.get("status") == "diverged"


def load_run(plan: Plan, rid: str) -> RunResult:
    d = plan.run_dir(rid)
    status_file = d / "status.json"
    if not status_file.exists():
        raise FileNotFoundError(f"run {rid} has not finished ({status_file} missing): run its train job first")
    return RunResult(rid, plan.runs[rid].spec, json.loads(status_file.read_text()), pd.read_parquet(d / "metrics.parquet"), d)
