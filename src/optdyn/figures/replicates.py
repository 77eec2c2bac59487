"""Figures over seed replicates: one drawing per seed, numbers summarized across seeds.

A figure with ``seeds:`` is drawn once per seed, each time from a context whose runs and probes
are that seed's members under their plain names, so a figure function needs no change to be
replicated. Its numbers are then summarized (optdyn.stats: mean, sd, t-interval), its tables
stacked with a ``seed`` column, and its picture drawn by the figure's ``@replicate_figure``
function as bands, or else by the first seed alone, saying so.
"""

from __future__ import annotations

from typing import Any, Callable

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from optdyn.registry import REPLICATE_FIGURES
from optdyn.spec.expand import member_name
from optdyn.stats import CI_METHOD, summarize, t_interval


def seed_context(ctx: Any, seed: int) -> Any:
    """``ctx`` seen from one seed: each run and probe name maps to that seed's member."""
    from .common import FigureContext

    tag = member_name("", {"seed": seed})  # "[seed=<s>]"; WSD plans append "_decay<k>" after it
    shared = {name: run for name, run in ctx.runs.items() if "[seed=" not in name}  # `replicate: false`
    runs = shared | {name.replace(tag, ""): run for name, run in ctx.runs.items() if tag in name}
    probes = {name.replace(tag, ""): table for name, table in ctx.probes.items() if tag in name}
    return FigureContext(ctx.figure, ctx.paper, runs, probes)


def draw_replicated(ctx: Any, fn: Callable) -> Any:
    from .common import FigureOutput

    seeds = ctx.figure.seeds
    outs = [fn(seed_context(ctx, s)) for s in seeds]
    values = summarize_values([o.values for o in outs], seeds)
    data = pd.concat([o.data.assign(seed=s) for o, s in zip(outs, seeds)], ignore_index=True)
    bands = REPLICATE_FIGURES.of(ctx.figure.paper).get(ctx.figure.key)
    if bands is not None:
        figure = bands(ctx, outs)
        for o in outs:
            plt.close(o.figure)
    else:
        figure = outs[0].figure
        figure.suptitle(f"seed {seeds[0]} of seeds {seeds}; the numbers are means over the {len(seeds)} seeds", fontsize=8, y=0.01)
        for o in outs[1:]:
            plt.close(o.figure)
    return FigureOutput(figure, data, values)


def summarize_values(per_seed: list[dict], seeds: list[int]) -> dict[str, Any]:
    """One value per metric across seeds: numbers become their mean (with ``<m>__summary`` and
    ``<m>__seeds``), booleans hold only if they hold for every seed, equal-length number lists
    are averaged elementwise; anything else is the first seed's, with every seed's beside it."""
    out: dict[str, Any] = {}
    for key in per_seed[0]:
        vals = [v.get(key) for v in per_seed]
        if key.endswith("__note"):
            notes = {f"seed {s}: {n}" for s, n in zip(seeds, vals) if n}
            out[key] = "; ".join(sorted(notes))
            continue
        out[f"{key}__seeds"] = vals
        if all(isinstance(v, bool) for v in vals):
            out[key] = all(vals)
            if not out[key]:
                out[f"{key}__note"] = f"holds for {sum(vals)} of {len(vals)} seeds"
        elif all(_number(v) for v in vals):
            s = summarize(vals)
            # a seed a diverged run voided (None) leaves the number unmeasured, not NaN
            out[key], out[f"{key}__summary"] = (None if None in vals else s["mean"]), s
        elif all(isinstance(v, list) and v and all(_number(x) for x in v) for v in vals) and len({len(v) for v in vals}) == 1:
            out[key] = [float(np.mean(col)) if np.all(np.isfinite(col)) else float("nan") for col in zip(*vals)]
        else:
            out[key] = vals[0]
    return out


def _number(v: Any) -> bool:
    return v is None or (isinstance(v, (int, float)) and not isinstance(v, bool))


def band_label(n: int) -> str:
    return f"mean over {n} seeds, band: 95% {CI_METHOD}-interval"


def lineplot_bands(data: pd.DataFrame, ax: plt.Axes, **kw) -> plt.Axes:
    """seaborn's lineplot with the bands of optdyn.stats (the interval the claims use)."""
    return sns.lineplot(data=data, ax=ax, estimator="mean", errorbar=t_interval, **kw)
