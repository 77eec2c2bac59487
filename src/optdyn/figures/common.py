"""What every figure module shares: its inputs (a context) and its outputs (png/pdf/csv/values).

A figure function takes a ``FigureContext`` and returns a ``FigureOutput``: the matplotlib
figure, the tidy table it was drawn from, and the named numbers its claims are checked on.
"""

from __future__ import annotations

import importlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from optdyn.spec.load import Plan, ResolvedFigure  # noqa: E402
from optdyn.spec.paper import PaperSpec  # noqa: E402
from optdyn.train.results import RunResult, load_run  # noqa: E402


@dataclass
class FigureContext:
    plan: Plan
    figure: ResolvedFigure
    runs: dict[str, RunResult] = field(default_factory=dict)
    probes: dict[str, pd.DataFrame] = field(default_factory=dict)

    @property
    def plot(self) -> Any:
        return self.figure.plot

    @property
    def paper(self) -> PaperSpec:
        return self.plan.papers[self.figure.paper]


@dataclass
class FigureOutput:
    figure: plt.Figure
    data: pd.DataFrame
    values: dict[str, Any]


def context(plan: Plan, target: str) -> FigureContext:
    fig = plan.figure(target)
    runs = {name: load_run(plan, rid) for name, rid in fig.runs.items()}
    probes = {name: pd.read_parquet(plan.probe_path(pid)) for name, pid in fig.probes.items()}
    return FigureContext(plan, fig, runs, probes)


def style() -> None:
    sns.set_theme(context="paper", style="whitegrid", palette="colorblind", font_scale=1.1)
    plt.rcParams.update({"figure.dpi": 110, "savefig.dpi": 150, "savefig.bbox": "tight"})


def build(plan: Plan, target: str) -> FigureOutput:
    fig = plan.figure(target)
    module = importlib.import_module(f"optdyn.figures.{fig.paper}")
    style()
    return getattr(module, fig.key)(context(plan, target))


def write(out: FigureOutput, stem: Path) -> None:
    stem.parent.mkdir(parents=True, exist_ok=True)
    out.figure.savefig(f"{stem}.png")
    out.figure.savefig(f"{stem}.pdf")
    plt.close(out.figure)
    out.data.to_csv(f"{stem}.csv", index=False)
    Path(f"{stem}.values.json").write_text(json.dumps(_jsonable(out.values), indent=2) + "\n")


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if hasattr(value, "tolist"):
        return _jsonable(value.tolist())
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value
