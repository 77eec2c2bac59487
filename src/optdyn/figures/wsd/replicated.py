"""Seed bands of the WSD figures whose claims are seed-fragile at small scale (Sec. 4, Fig. 10):
the same panels as the one-seed figures, drawn from every seed's table with optdyn.stats'
t-interval, so the band is the interval the claims are checked on."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from optdyn.figures.common import FigureContext, FigureOutput
from optdyn.figures.replicates import band_label, lineplot_bands
from optdyn.registry import replicate_figure
from optdyn.stats import t_interval

from optdyn.figures.style import stand_in

from .cities import COLORS
from .versus_wsd import MAIN_COLOR, WSD_COLOR, WSD_S_COLOR, branch_offset, budget_note, finish_layout


def _stacked(ctx: FigureContext, outs: list[FigureOutput]) -> pd.DataFrame:
    return pd.concat([o.data.assign(seed=s) for o, s in zip(outs, ctx.figure.seeds)], ignore_index=True)


def _floats(values) -> np.ndarray:
    """Numbers per seed; a value a diverged run voided (None) is NaN."""
    return np.array([np.nan if v is None else v for v in values], dtype=float)


def _mean_ci(values: list) -> str:
    x = _floats(values)
    if not np.all(np.isfinite(x)):
        return f"n/a ({int(np.sum(~np.isfinite(x)))} of {x.size} seeds not measured)"
    lo, hi = t_interval(x)
    return f"{x.mean():.3f} [{lo:.3f}, {hi:.3f}]"


def _per_size(out: FigureOutput, key: str, k: int, n: int) -> list:
    """Size ``k``'s list of per-budget values, NaN where a diverged run voided them."""
    rows = out.values.get(key)
    row = rows[k] if isinstance(rows, list) and k < len(rows) and rows[k] is not None else None
    return [np.nan] * n if row is None else [np.nan if v is None else v for v in row]


@replicate_figure("wsd", "sec4")
def sec4_bands(ctx: FigureContext, outs: list[FigureOutput]) -> plt.Figure:
    df = _stacked(ctx, outs)
    n = len(outs)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), gridspec_kw={"width_ratios": [1.6, 1]})
    ax = axes[0]
    per_city = df.groupby(["city", "is_det", "entropy"], as_index=False)["diff"].mean()
    for det, label in ((True, "deterministic"), (False, "stochastic")):
        part = per_city[per_city["is_det"] == det]
        ax.scatter(part["entropy"], part["diff"], s=7, alpha=0.7, color=COLORS[det], label=f"{label} ({len(part)}), seed mean")
        means = df[df["is_det"] == det].groupby("seed")["diff"].mean()
        lo, hi = t_interval(means)
        x = [part["entropy"].min(), part["entropy"].max()]
        ax.plot(x, [means.mean()] * 2, color=COLORS[det], lw=2, ls="--")
        ax.fill_between(x, lo, hi, color=COLORS[det], alpha=0.2, lw=0)
    ax.axhline(0.0, color="k", lw=0.8)
    ax.set_xlabel("entropy of the city's name distribution (nats)")
    ax.set_ylabel("loss(stable) - loss(decay) on the name")
    rhos = [o.values["spearman_rho"] for o in outs]
    ax.set_title(f"Spearman rho = {_mean_ci(rhos)} over {n} seeds (paper 0.388)", fontsize=10)
    ax.legend(fontsize=8, title=f"dashed: subpopulation mean, {band_label(n)}", title_fontsize=7)
    ax = axes[1]
    groups = [("deterministic", df["is_det"]), ("stochastic", ~df["is_det"]), ("all", np.ones(len(df), bool))]
    x = np.arange(len(groups))
    for k, (run, color) in enumerate((("stable", "C2"), ("decay", "C1"))):
        excess = (df[f"loss_{run}"] - df["entropy"]).rename("excess")
        per_seed = [excess[mask].groupby(df["seed"][mask]).mean() for _, mask in groups]
        heights = [float(v.mean()) for v in per_seed]
        err = np.array([[h - t_interval(v)[0], t_interval(v)[1] - h] for h, v in zip(heights, per_seed)]).T
        ax.bar(x + (k - 0.5) * 0.38, heights, width=0.38, color=color, label=run, yerr=err, capsize=3)
    ax.set_xticks(x, [g for g, _ in groups])
    ax.set_ylabel("mean loss - entropy (nats)")
    ax.set_title(f"loss above the optimum ({band_label(n)})", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


@replicate_figure("wsd", "fig10", "fig11")
def versus_wsd_bands(ctx: FigureContext, outs: list[FigureOutput]) -> plt.Figure:
    df = _stacked(ctx, outs)
    sizes = ctx.plot.sizes
    n = len(outs)
    fig, axes = plt.subplots(1, len(sizes), figsize=(4.6 * len(sizes), 3.9), squeeze=False)
    for k, (ax, size) in enumerate(zip(axes[0], sizes)):
        part = df[df["size"] == size.label]
        styles = {"WSD-S": WSD_S_COLOR, "WSD main": MAIN_COLOR}
        for method, curve in part.groupby("method", sort=False):
            color = styles.get(method, WSD_COLOR)
            label = method if method in styles else ("WSD decay branches" if method.endswith(" 1") else None)
            lineplot_bands(curve, ax, x="compute", y="val_loss", color=color, label=label, lw=1.3)
        seed0 = ctx.figure.seeds[0]
        decays = ctx.runs[f"{size.wsd}[seed={seed0}]"].spec.schedule.decays
        budgets = [end + branch_offset(decays, j) for j, (_, end) in enumerate(decays)]  # WSD's compute
        s_pts = np.array([_per_size(o, "wsd_s_val_loss", k, len(budgets)) for o in outs], dtype=float)
        w_pts = np.array([_per_size(o, "wsd_val_loss", k, len(budgets)) for o in outs], dtype=float)
        diff = s_pts - w_pts
        text = "\n".join(f"{c:>6d}: {_mean_ci(diff[:, j])}" for j, c in enumerate(budgets))
        budget_note(ax, f"WSD-S $-$ WSD at budget,\nmean [95% t-CI], n={n}\n{text}")
        first = budgets[0]
        late = part[part["compute"] >= 0.8 * first]["val_loss"]
        lo, hi = float(late.min()), float(late.max())
        ax.set_ylim(lo - 0.08 * (hi - lo), hi + 0.05 * (hi - lo))
        ax.set_xlim(0.8 * first, 1.02 * float(part["compute"].max()))
        ax.set_title(f"ours: {stand_in(ctx, f'{size.wsd_s}[seed={seed0}]')}\n{band_label(n)}")
        ax.set_xlabel("total compute (optimizer steps)")
        ax.set_ylabel("validation loss" if k == 0 else "")
        ax.get_legend() and ax.get_legend().remove()
    finish_layout(fig, axes[0], ctx, f"{sizes[0].wsd_s}[seed={ctx.figure.seeds[0]}]")
    return fig
