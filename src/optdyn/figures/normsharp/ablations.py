"""Figs. 14, 15, 18: seed-replicated ablations of the SI VGG (``normsharp_net`` runs) over the WD
lambda, over eta at fixed eta_in = eta lambda, and over the final BN's gamma.

Each seed's drawing has one curve per run of ``plot.series``; the seeds are drawn as bands by
``ablation_bands``. Lists of per-run numbers are in sorted order of the swept value (lambda, eta
or gamma), so ``best_acc[0]`` is the smallest lambda of Fig. 14 whatever the series order.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from optdyn.figures import diverged, style
from optdyn.figures.common import FigureContext, FigureOutput
from optdyn.figures.replicates import band_label, lineplot_bands
from optdyn.registry import figure, replicate_figure
from optdyn.stats import t_interval

from . import netseries as N
from .series import hyper

#: the swept quantity of each figure: (label, value of a run)
SWEPT = {
    "fig14": ("$\\hat\\lambda$", lambda run: hyper(run)[1]),
    "fig15": ("$\\hat\\eta$", lambda run: hyper(run)[0]),
    "fig18": ("$\\gamma$", lambda run: run.spec.model.final_gamma),
}
LOSS_EVERY = 5  # the train-loss curves are drawn (and kept in the CSV) every 5th step
SPIKE_WINDOW = 51  # steps of the rolling median a loss spike is measured against (~2 swing periods)


def spike_size(df: pd.DataFrame, floor: float, after: int | None, window: int = SPIKE_WINDOW) -> float | None:
    """The largest rise (decades) of log10(train loss - L_min) above its centred rolling median
    of ``window`` steps, from step ``after`` on: how far the loss spikes above its local level
    at the edge of stability; a smooth decay scores ~0. None before 100% train accuracy.

    (Changed after the first smoke draw: max - median of the whole stretch counted the smooth
    post-interpolation decay of a run that never reached the edge as a spike.)"""
    if after is None:
        return None
    gap = (df.loc[df["step"] >= after, "train_loss"] - floor).to_numpy()
    gap = np.log10(np.maximum(gap[np.isfinite(gap)], 1e-12))
    # full windows only: at the ends a centred median of a decaying curve lags it
    local = pd.Series(gap).rolling(window, center=True, min_periods=window).median().to_numpy()
    rise = (gap - local)[np.isfinite(local)]
    return float(np.max(rise)) if rise.size else None


def _ratio(a, b):
    return None if a is None or b is None or b == 0 else a / b


def _diff(a, b):
    return None if a is None or b is None else a - b


def per_run(run) -> dict:
    df = N.frame(run)
    stats = N.summary(df)
    ev = df.dropna(subset=["test_accuracy"])
    return {"df": df, "best_acc": float(ev["test_accuracy"].max()) if len(ev) else None,
            "final_sharpness": stats["sharpness_final"], "drop": stats["sharpness_drop_ratio"],
            "spike": spike_size(df, N.loss_floor(run), stats["full_train_step"]), "floor": N.loss_floor(run)}


def summary_values(key: str, rows: list[dict]) -> dict:
    """The numbers the claims read, from the per-run rows in increasing swept value."""
    best = [r["best_acc"] for r in rows]
    sharp = [r["final_sharpness"] for r in rows]
    # the lists are NaN where unmeasured, so the seed summary can average them elementwise
    values = {k: [np.nan if v is None else v for v in vals] for k, vals in
              (("best_acc", best), ("final_sharpness", sharp), ("sharpness_drop_ratios", [r["drop"] for r in rows]),
               ("spike_sizes", [r["spike"] for r in rows]))}
    known = [b for b in best if b is not None]
    if key == "fig14":
        for k in (1, 2, 3):
            values[f"best_acc_step{k}"] = _diff(best[k], best[k - 1]) if k < len(best) else None
        values["best_acc_gain_max_wd"] = _diff(best[-1], best[0]) if len(best) > 1 else None
        values["final_sharpness_max_wd_over_no_wd"] = _ratio(sharp[-1], sharp[0]) if len(sharp) > 1 else None
    elif key == "fig15":
        # one run compares nothing (the CI tier's single eta): unmeasured, not a trivial pass
        values["best_acc_range"] = max(known) - min(known) if len(known) == len(best) > 1 else None
        ok = [s for s in sharp if s is not None]
        values["final_sharpness_max_over_min"] = (max(ok) / min(ok) if len(ok) == len(sharp) > 1 and min(ok) > 0
                                                  else None)
    else:
        drops = [r["drop"] for r in rows]
        values["max_sharpness_drop_ratio"] = None if None in drops else max(drops)
        values["spike_gain"] = _diff(rows[-1]["spike"], rows[0]["spike"]) if len(rows) > 1 else None
    return values


def _ordered(ctx: FigureContext) -> list[tuple[str, object, float]]:
    """(name, run, swept value) of the series, in increasing swept value."""
    _, value = SWEPT[ctx.figure.key]
    return sorted(((n, ctx.runs[n], float(value(ctx.runs[n]))) for n in ctx.plot.series), key=lambda t: t[2])


def _label(ctx: FigureContext, run) -> str:
    lr, wd = hyper(run)
    if ctx.figure.key == "fig14":
        return f"$\\hat\\lambda$={wd:g}"
    if ctx.figure.key == "fig15":
        return f"$\\hat\\eta$={lr:g}, $\\hat\\lambda$={wd:g}"
    return f"$\\gamma$={run.spec.model.final_gamma:.3g}"


def _title(ctx: FigureContext, run) -> str:
    lr, wd = hyper(run)
    fixed = {"fig14": f"$\\hat\\eta$={lr:g}", "fig15": f"$\\eta_{{in}}$={lr * wd:g}",
             "fig18": f"$\\hat\\eta$={lr:g}, $\\hat\\lambda$={wd:g}"}[ctx.figure.key]
    return N.describe(run, hyperparams=False) + f"; {fixed}, by {SWEPT[ctx.figure.key][0]}"


def _table(ordered, rows) -> pd.DataFrame:
    parts = []
    for (name, run, v), r in zip(ordered, rows):
        df = r["df"]
        keep = df["step"] % LOSS_EVERY == 0
        keep |= df["sharpness"].notna() | df["test_accuracy"].notna()
        part = df.loc[keep, ["step", "train_loss", "two_over_eta", "sharpness", "test_accuracy"]].copy()
        part["loss_gap"] = np.maximum(part["train_loss"] - r["floor"], 1e-12)
        parts.append(part.assign(run=name, swept=v))
    return pd.concat(parts, ignore_index=True)


def _panels(key: str):
    n = 3 if key == "fig18" else 2
    fig, axes = plt.subplots(1, n + 1, figsize=(4.2 * (n + 1), 3.8))
    return fig, axes


def _draw(axes, data: pd.DataFrame, labels: dict, colors: dict, key: str, bands: bool) -> None:
    def line(ax, part, col, **kw):
        part = part.dropna(subset=[col])
        if bands:
            lineplot_bands(part, ax, x="step", y=col, color=kw.pop("color"), label=kw.pop("label", None), **kw)
        else:
            ax.plot(part["step"], part[col], **kw)

    for name, part in data.groupby("run", sort=False):
        c, lab = colors[name], labels[name]
        line(axes[0], part.assign(test_accuracy=100 * part["test_accuracy"]), "test_accuracy", color=c, label=lab)
        line(axes[1], part, "two_over_eta", color=c, lw=0.8, ls="--")
        line(axes[1], part, "sharpness", color=c, lw=1.2, marker="o", ms=2.5)
        if key == "fig18":
            line(axes[2], part, "loss_gap", color=c, lw=0.6)
    axes[0].set_ylabel("test accuracy (%)")
    # the first evaluations (chance level) would squeeze the differences the figure is about
    late = 100 * data.loc[data["step"] >= 0.1 * data["step"].max(), "test_accuracy"].dropna()
    if len(late):
        axes[0].set_ylim(late.quantile(0.01) - 1.0, late.max() + 1.0)
    axes[1].set_ylabel("spherical sharpness, $2/\\tilde\\eta_t$ (dashed)")
    axes[1].set_yscale("log")
    style.log_range(axes[1], [data["sharpness"].dropna(), data["two_over_eta"].dropna()])
    if key == "fig18":
        axes[2].set_yscale("log")
        style.log_range(axes[2], data["loss_gap"].to_numpy())
        axes[2].set_ylabel("train loss $- L_{min}(\\gamma)$")
    for ax in axes[:-1]:
        ax.set_xlabel("step")


def _best_panel(ax, labels: list[str], per_seed: list[list], colors: list) -> None:
    """Best test accuracy per run: each seed a dot, the mean with its 95% t-interval."""
    for i, (lab, vals) in enumerate(zip(labels, per_seed)):
        x = np.array([np.nan if v is None else 100 * v for v in vals], float)
        ax.scatter(np.full(x.size, i), x, color=colors[i], s=12, alpha=0.6)
        if x.size > 1 and np.all(np.isfinite(x)):
            lo, hi = t_interval(x)
            ax.errorbar(i, x.mean(), yerr=[[x.mean() - lo], [hi - x.mean()]], color=colors[i], capsize=4, marker="_", ms=14)
    ax.set_xticks(range(len(labels)), labels, rotation=20)
    ax.set_ylabel("best test accuracy (%)")


@figure("normsharp", "fig14", "fig15", "fig18")
def ablation(ctx: FigureContext) -> FigureOutput:
    key = ctx.figure.key
    ordered = _ordered(ctx)
    rows = [per_run(run) for _, run, _ in ordered]
    data = _table(ordered, rows)
    colors = dict(zip([n for n, _, _ in ordered], style.palette(len(ordered))))
    labels = {n: _label(ctx, run) for n, run, _ in ordered}
    fig, axes = _panels(key)
    _draw(axes, data, labels, colors, key, bands=False)
    _best_panel(axes[-1], list(labels.values()), [[r["best_acc"]] for r in rows], list(colors.values()))
    style.legend_outside(axes[0], "below", ncol=min(len(ordered), 4))
    fig.suptitle(_title(ctx, ordered[0][1]), fontsize=style.SMALL)
    fig.tight_layout()
    return FigureOutput(fig, data, diverged.finish(ctx, fig, summary_values(key, rows)))


@replicate_figure("normsharp", "fig14", "fig15", "fig18")
def ablation_bands(ctx: FigureContext, outs: list[FigureOutput]) -> plt.Figure:
    key = ctx.figure.key
    data = pd.concat([o.data.assign(seed=s) for o, s in zip(outs, ctx.figure.seeds)], ignore_index=True)
    names = list(dict.fromkeys(data.sort_values("swept", kind="stable")["run"]))
    first = {n: ctx.runs[m] for m in ctx.runs for n in names if m.split("[")[0] == n}
    colors = dict(zip(names, style.palette(len(names))))
    labels = {n: _label(ctx, first[n]) for n in names}
    fig, axes = _panels(key)
    _draw(axes, data, labels, colors, key, bands=True)
    # a seed with a diverged run has its numbers voided (None): its dots are left out
    lists = [o.values.get("best_acc") if isinstance(o.values.get("best_acc"), list) else [None] * len(names) for o in outs]
    per_seed = [[best[i] for best in lists] for i in range(len(names))]
    _best_panel(axes[-1], list(labels.values()), per_seed, list(colors.values()))
    style.legend_outside(axes[0], "below", ncol=min(len(names), 4))
    fig.suptitle(_title(ctx, first[names[0]]) + f"\n{band_label(len(outs))}", fontsize=style.SMALL)
    fig.tight_layout()
    return fig
