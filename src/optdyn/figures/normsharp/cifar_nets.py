"""Figs. 2, 10, 12, 13: GD+WD on the scale-invariant CIFAR networks (``normsharp_net`` runs).

Figs. 10 and 12 are windows of the Fig. 2 run and Fig. 13's WD curve is that run: the same run
id, drawn from its per-step log. The loop logs at every step the train loss, ||grad L||, ||w||^2
of the scale-invariant group and, on the run's schedule, the spherical sharpness (NaN between);
train/test accuracy every ``eval_every`` steps.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from optdyn.figures import diverged, style
from optdyn.figures.common import FigureContext, FigureOutput
from optdyn.registry import figure

from . import netseries as N


def _acc_panel(ax, df: pd.DataFrame, full: int | None, colors) -> None:
    ev = df.dropna(subset=["accuracy"])
    ax.plot(ev["step"], 100 * ev["accuracy"], color=colors[0], label="train accuracy")
    ax.plot(ev["step"], 100 * ev["test_accuracy"], color=colors[1], label="test accuracy")
    N.mark_full_train(ax, full)
    ax.set_ylabel("accuracy (%)")


def _sharp_panel(ax, df: pd.DataFrame, colors, label_prefix: str = "") -> None:
    sh = df.dropna(subset=["sharpness"])
    ax.plot(df["step"], df["two_over_eta"], color=colors[0], lw=1.0, label=f"{label_prefix}$2/\\tilde\\eta_t$")
    ax.plot(sh["step"], sh["sharpness"], "o-", color=colors[1], ms=2.5, lw=0.8,
            label=f"{label_prefix}spherical sharpness $\\|w\\|^2\\lambda_1$")


@figure("normsharp", "fig02", "fig08", "fig09")
def fig02(ctx: FigureContext) -> FigureOutput:
    run = ctx.runs["main"]
    df = N.frame(run)
    stats = N.summary(df)
    c = style.palette(5)
    fig, axes = plt.subplots(1, 4, figsize=(15, 3.8))
    _acc_panel(axes[0], df, stats["full_train_step"], c)
    lmin = N.loss_floor(run)
    axes[1].plot(df["step"], df["train_loss"] - lmin, color=c[4], lw=0.8)
    style.log_range(axes[1], (df["train_loss"] - lmin).to_numpy())
    axes[1].set_ylabel(f"train loss $- L_{{min}}$ ($L_{{min}}$ = {lmin:.4f})")
    _sharp_panel(axes[2], df, c[2:4])
    style.log_range(axes[2], [df["two_over_eta"], df["sharpness"]])
    N.mark_full_train(axes[2], stats["full_train_step"])
    axes[3].plot(df["step"], df["norm_sq"], color=c[4])
    axes[3].set_ylabel("$\\|w_t\\|^2$ (scale-invariant group)")
    for ax in axes:
        ax.set_xlabel("step")
    style.legend_outside(fig, "below", handles=axes[0].get_lines()[:2] + axes[2].get_lines()[:2])
    fig.suptitle(N.describe(run))
    fig.tight_layout()
    data = df[["step", "train_loss", "grad_norm", "norm_sq", "two_over_eta", "sharpness", "accuracy", "test_accuracy"]]
    return FigureOutput(fig, data, diverged.finish(ctx, fig, stats))


@figure("normsharp", "fig10")
def fig10(ctx: FigureContext) -> FigureOutput:
    run = ctx.runs["main"]
    df = N.frame(run)
    early = df[df["step"] <= ctx.plot.until]
    sh = early.dropna(subset=["sharpness"])
    ratio = (sh["sharpness"] / sh["two_over_eta"]).to_numpy()
    at_edge = np.flatnonzero(ratio <= ctx.plot.entry_band)
    entry = int(sh["step"].iloc[at_edge[0]]) if at_edge.size else None
    c = style.palette(3)
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    _sharp_panel(axes[0], early, c)
    style.log_range(axes[0], [early["two_over_eta"], early["sharpness"]])
    if entry is not None:
        axes[0].axvline(entry, color="0.4", ls=":", lw=1)
    axes[1].plot(early["step"], early["train_loss"] - N.loss_floor(run), color=c[2], lw=0.8)
    style.log_range(axes[1], (early["train_loss"] - N.loss_floor(run)).to_numpy())
    axes[1].set_ylabel("train loss $- L_{min}$")
    for ax in axes:
        ax.set_xlabel("step")
    style.legend_outside(axes[0], "below")
    fig.suptitle(N.describe(run) + f": steps 0-{ctx.plot.until}")
    fig.tight_layout()
    values = {"initial_sharpness_over_threshold": float(ratio[0]) if ratio.size else None,
              "eos_entry_step": entry,
              "eos_tracking_ratio_early": float(np.median(ratio[at_edge[0]:])) if at_edge.size else None}
    return FigureOutput(fig, early[["step", "train_loss", "two_over_eta", "sharpness"]], diverged.finish(ctx, fig, values))


@figure("normsharp", "fig12")
def fig12(ctx: FigureContext) -> FigureOutput:
    run = ctx.runs["main"]
    windows = run.spec.model.sharpness_windows
    if ctx.plot.window >= len(windows):
        raise ValueError(f"run {run.run_id} has {len(windows)} sharpness windows, no window {ctx.plot.window}")
    start, end = windows[ctx.plot.window]
    df = N.frame(run)
    win = df[(df["step"] >= start) & (df["step"] < end)]
    sh = win.dropna(subset=["sharpness"])
    below = float(np.mean(sh["two_over_eta"] < sh["sharpness"])) if len(sh) else None
    loss_period, loss_peak = N.dominant_period(win["train_loss"].to_numpy())
    grad_period, _ = N.dominant_period(win["grad_norm"].to_numpy())
    c = style.palette(5)
    fig, axes = plt.subplots(1, 3, figsize=(14, 3.8))
    _sharp_panel(axes[0], win, c)
    axes[1].plot(win["step"], win["train_loss"] - N.loss_floor(run), ".-", color=c[2], ms=3, lw=0.8)
    axes[1].set_ylabel("train loss $- L_{min}$")
    axes[2].plot(win["step"], win["grad_norm"], ".-", color=c[4], ms=3, lw=0.8)
    axes[2].set_ylabel("$\\|\\nabla L(w_t)\\|$")
    for ax in axes:
        ax.set_xlabel("step")
    style.legend_outside(axes[0], "below")
    period = "none found" if loss_period is None else f"{loss_period} steps"
    fig.suptitle(N.describe(run) + f": steps {start}-{end - 1}, every step; loss period {period}")
    fig.tight_layout()
    values = {"window_start": start, "window_end": end, "below_fraction": below, "loss_period_steps": loss_period,
              "loss_acf_peak": loss_peak, "grad_period_steps": grad_period}
    return FigureOutput(fig, win[["step", "train_loss", "grad_norm", "two_over_eta", "sharpness"]],
                        diverged.finish(ctx, fig, values))


@figure("normsharp", "fig13")
def fig13(ctx: FigureContext) -> FigureOutput:
    runs = {"wd": ctx.runs["wd"], "nowd": ctx.runs["nowd"]}
    frames = {k: N.frame(r) for k, r in runs.items()}
    stats = {k: N.summary(f) for k, f in frames.items()}
    c = style.palette(4)
    fig, axes = plt.subplots(1, 2, figsize=(12, 3.8))
    for i, (k, df) in enumerate(frames.items()):
        wd = runs[k].spec.optimizer.weight_decay
        tag = f"$\\hat\\lambda$={wd:g}: "
        _sharp_panel(axes[0], df, [c[2 * i], c[2 * i + 1]], tag)
        ev = df.dropna(subset=["test_accuracy"])
        axes[1].plot(ev["step"], 100 * ev["test_accuracy"], color=c[2 * i + 1], label=f"{tag}test accuracy")
    style.log_range(axes[0], [f[col] for f in frames.values() for col in ("two_over_eta", "sharpness")])
    axes[1].set_ylabel("test accuracy (%)")
    for ax in axes:
        ax.set_xlabel("step")
        style.legend_outside(ax, "below", ncol=2)
    fig.suptitle(N.describe(runs["wd"], wd=False) + ": with and without weight decay")
    fig.tight_layout()
    w, n = stats["wd"], stats["nowd"]
    gap = None if w["test_acc_final"] is None or n["test_acc_final"] is None else w["test_acc_final"] - n["test_acc_final"]
    values = {"wd_sharpness_drop_ratio": w["sharpness_drop_ratio"], "nowd_sharpness_ratio": n["sharpness_drop_ratio"],
              "wd_test_acc_final": w["test_acc_final"], "nowd_test_acc_final": n["test_acc_final"],
              "test_acc_wd_minus_nowd": gap, "nowd_test_acc_gain": n["test_acc_gain"]}
    data = pd.concat([f.assign(run=k)[["run", "step", "two_over_eta", "sharpness", "test_accuracy"]] for k, f in frames.items()])
    return FigureOutput(fig, data, diverged.finish(ctx, fig, values))
