"""What every figure module shares: its inputs (a context) and its outputs (png/pdf/csv/values).

A figure function takes a ``FigureContext`` and returns a ``FigureOutput``: the matplotlib
figure, the tidy table it was drawn from, and the named numbers its claims are checked on.
"""

from __future__ import annotations

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

from optdyn.registry import FIGURES  # noqa: E402
from optdyn.spec.jobs import PaperInfo  # noqa: E402
from optdyn.spec.load import Plan, ResolvedFigure  # noqa: E402
from optdyn.train.results import RunResult, load_run  # noqa: E402


@dataclass
class FigureContext:
    figure: ResolvedFigure
    paper: PaperInfo  # the paper's title and presets
    runs: dict[str, RunResult] = field(default_factory=dict)  # by figure-local name
    probes: dict[str, pd.DataFrame] = field(default_factory=dict)  # by figure-local name

    @property
    def plot(self) -> Any:
        return self.figure.plot

    def group(self, name: str) -> list[tuple[dict[str, Any], RunResult]]:
        """A sweep's (or seed replicate's) members: ``(swept values, run)``, in the spec's order."""
        if name not in self.figure.groups:
            raise KeyError(f"figure {self.figure.target} has no sweep '{name}'; have: {', '.join(self.figure.groups) or 'none'}")
        return [(m["values"], self.runs[m["name"]]) for m in self.figure.groups[name] if m["name"] in self.runs]

    def member(self, name: str, **values: Any) -> RunResult:
        """The one member of sweep ``name`` with these swept values, by the last part of each
        swept path (``ctx.member("sam_ire", kappa=2, gamma=0.9)``)."""
        def short(vals: dict[str, Any]) -> dict[str, Any]:
            return {k.rsplit(".", 1)[-1]: v for k, v in vals.items()}

        found = [run for vals, run in self.group(name) if all(short(vals).get(k, vals.get(k)) == v for k, v in values.items())]
        if len(found) != 1:
            raise KeyError(f"sweep '{name}' of {self.figure.target} has {len(found)} members with {values}")
        return found[0]


@dataclass
class FigureOutput:
    figure: plt.Figure
    data: pd.DataFrame
    values: dict[str, Any]


def context(plan: Plan, target: str) -> FigureContext:
    """A figure of the plan with its inputs from the standard results layout (tests, interactive use)."""
    fig = plan.figure(target)
    paper = plan.papers[fig.paper]
    runs = {rid: load_run(plan, rid) for rid in fig.runs.values()}
    probes = {pid: plan.probe_path(pid) for pid in fig.probes.values()}
    return read_context(fig, PaperInfo(fig.paper, paper.title, paper.presets), runs, probes)


def read_context(fig: ResolvedFigure, paper: PaperInfo, runs: dict[str, RunResult], probes: dict[str, Path]) -> FigureContext:
    """``runs`` by run id and ``probes`` (table paths) by probe id: exactly what the job was handed."""
    missing = sorted(set(fig.runs.values()) - set(runs)) + sorted(set(fig.probes.values()) - set(probes))
    if missing:
        raise FileNotFoundError(f"figure {fig.target}: not handed {', '.join(missing)}")
    return FigureContext(fig, paper, {name: runs[rid] for name, rid in fig.runs.items()},
                         {name: pd.read_parquet(probes[pid]) for name, pid in fig.probes.items()})
def style() -> None:
    sns.set_theme(context="paper", style="whitegrid", palette="colorblind", font_scale=1.1)
    plt.rcParams.update({"figure.dpi": 110, "savefig.dpi": 150, "savefig.bbox": "tight"})


def build(plan: Plan, target: str) -> FigureOutput:
    return draw(context(plan, target))


def draw(ctx: FigureContext) -> FigureOutput:
    fn = FIGURES.get((ctx.figure.paper, ctx.figure.key))  # imports the paper's figure modules only
    style()
    if ctx.figure.seeds:
        from .replicates import draw_replicated

        return draw_replicated(ctx, fn)
    return fn(ctx)


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
