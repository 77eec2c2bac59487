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

from optdyn.registry import FIGURES  # noqa: E402
from optdyn.figures.labels import Setting, setting  # noqa: E402
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

    def setting(self, name: str) -> Setting:
        """What run ``name`` was, for labels: ``.model``, ``.data``, ``.steps``, ``.short`` (legend
        sized), ``.paper`` (the paper's setting it stands in for, or None) and ``.line``."""
        run = self.runs[name]
        full = name
        if name not in self.figure.settings:  # a one-seed context (replicates.py) names members plainly
            full = next((n for n, r in self.figure.runs.items() if r == run.run_id and n in self.figure.settings), None)
            if full is None:
                raise KeyError(f"no setting for run '{name}' ({run.run_id}) of {self.figure.target}")
        return setting(self.figure.settings, full, run.spec, run.data_root)

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
    from .style import apply  # the house style of all five papers (figures/style.py)

    apply()


def build(plan: Plan, target: str) -> FigureOutput:
    return draw(context(plan, target))


def draw(ctx: FigureContext) -> FigureOutput:
    from optdyn.spec.check_tier import is_check_figure

    if is_check_figure(ctx.figure):  # 3 steps or compile-only, no probes: what ran, not the figure
        from .check_panel import draw_check

        style()
        return draw_check(ctx)
    fn = FIGURES.get((ctx.figure.paper, ctx.figure.key))  # imports the paper's figure modules only
    style()
    if ctx.figure.seeds:
        from .replicates import draw_replicated

        return draw_replicated(ctx, fn)
    return fn(ctx)


def write(out: FigureOutput, stem: Path) -> None:
    """png, pdf, values.json as drawn; the CSV at plotted resolution (``plotted_resolution``:
    a 100k-step series drawn 1000 px wide needs no more than ~2000 rows, and no CSV > ~1 MB)."""
    stem.parent.mkdir(parents=True, exist_ok=True)
    out.figure.savefig(f"{stem}.png")
    out.figure.savefig(f"{stem}.pdf")
    plt.close(out.figure)
    plotted_resolution(out.data).to_csv(f"{stem}.csv", index=False)
    Path(f"{stem}.values.json").write_text(json.dumps(_jsonable(out.values), indent=2) + "\n")


CSV_MAX_BYTES = 900_000  # a figure's CSV holds what it plots, at the resolution it is plotted at


def plotted_resolution(data: pd.DataFrame, per_series: int = 2000) -> pd.DataFrame:
    """The figure's table thinned evenly per series to <= ``per_series`` rows (a 1000 px plot
    shows no more), each series keeping its first and last row, and further until the CSV is
    under ``CSV_MAX_BYTES``. Claims are checked on values.json, never on this CSV."""
    from .style import series_keys, thin

    if data.empty:
        return data
    by = series_keys(data)
    out = thin(data, per_series, by)
    row_bytes = len(out.head(200).to_csv(index=False)) / max(min(len(out), 200), 1)
    while len(out) * row_bytes > CSV_MAX_BYTES and per_series > 50:
        per_series = int(per_series * min(0.8, CSV_MAX_BYTES / (len(out) * row_bytes)))
        out = thin(data, max(per_series, 50), by)
    return out


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
