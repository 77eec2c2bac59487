"""Matrix completion with BN (Figs. 1, 6, 7, 11)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from optdyn.figures import diverged
from optdyn.figures.common import FigureContext, FigureOutput
from optdyn.figures.style import legend_outside, log_range, ran_line, share
from optdyn.registry import figure

from . import series as S


def _summary(run, settle: int = 1000) -> dict:
    """EoS entry, test-loss plateau and onset, sharpness drop, singular gap of one run."""
    df = S.gdwd_frame(run)
    ev = S.evals(df)
    entry = S.eos_entry(df)
    out = {"df": df, "ev": ev, "entry": entry}
    if entry is None:
        return out | {"plateau": float("nan"), "onset_lag": float("nan"), "drop": float("nan"), "ratio": float("nan"),
                      "gap": float("nan")}
    # the last evaluation still in the stable regime: the interpolating solution found before EoS
    at = ev[ev["step"] < entry].iloc[-1] if (ev["step"] < entry).any() else ev.iloc[0]
    plateau = float(at["test_loss"])
    falling = ev[(ev["step"] >= entry) & (ev["test_loss"] < 0.9 * plateau)]
    onset = int(falling["step"].iloc[0]) if len(falling) else None
    late = ev[ev["step"] >= entry + settle]
    lr, wd = S.hyper(run)
    ratio = late["sharpness"] * S.th.effective_lr(late["norm_sq"], lr, wd) / 2.0
    final = ev.iloc[-1]
    gap = (final["sv[1]"] / final["sv[2]"]) / (at["sv[1]"] / at["sv[2]"])
    return out | {"plateau": plateau, "onset_lag": float("nan") if onset is None else float(onset - entry),
                  "drop": float(final["sharpness"] / at["sharpness"]), "ratio": float(np.median(ratio)),
                  "gap": float(gap), "final_test": float(final["test_loss"])}


def _loss_range(ax, df: pd.DataFrame, ev: pd.DataFrame, entry: int | None) -> None:
    """A log axis over the test loss and the train loss after EoS entry: before it the train
    loss interpolates down to float round-off (~1e-30), which would squash the test loss's drop
    (the headline) into a few pixels. How far the train loss went below the axis is said in the
    title. (5% quantile: the train loss's spikes down around EoS entry are a few % of the steps.)"""
    after = df["train_loss"] if entry is None else df.loc[df["step"] >= entry, "train_loss"]
    lo, _ = log_range(ax, [ev["test_loss"].to_numpy(), after.to_numpy()], q=0.05, pad=3.0)
    below = df["train_loss"] < lo
    if below.any():
        ax.set_title(f"{ax.get_title()}\n(train below the axis from step {int(df.loc[below, 'step'].iloc[0])}, "
                     f"min {df['train_loss'].min():.0e})", fontsize=9)


def _panels(axes, s: dict, label: str = "", run=None, legends: bool = True) -> None:
    df, ev, entry = s["df"], s["ev"], s["entry"]
    ax = axes[0]
    ax.semilogy(df["step"], df["train_loss"], lw=0.6, label="train")
    ax.semilogy(ev["step"], ev["test_loss"], lw=1.4, label="test")
    ax.set(title=diverged.label(f"{label}loss", run) if run is not None else f"{label}loss", xlabel="step")
    _loss_range(ax, df, ev, entry)
    if run is not None:
        diverged.mark_end(ax, run, df["step"], df["train_loss"])
    ax = axes[1]
    ax.semilogy(ev["step"], ev["sharpness"], lw=1.2, label="spherical sharpness")
    ax.semilogy(df["step"], df["two_over_eta"], lw=1.0, ls="--", label=r"$2/\tilde\eta_t$")
    ax.set(title=f"{label}sharpness", xlabel="step")
    for ax in axes[:2]:
        S.entry_line(ax, entry)
        if legends:
            legend_outside(ax, "below", ncol=2, fontsize=8)
    if len(axes) > 3:
        axes[2].plot(df["step"], df["norm_sq_rec"], lw=1.0)
        axes[2].set(title=r"$\|w_t\|_2^2$", xlabel="step", yscale="log")
        S.entry_line(axes[2], entry)
    ax = axes[-1]
    for k in range(len([c for c in ev.columns if c.startswith("sv[")])):
        ax.semilogy(ev["step"], ev[f"sv[{k}]"], lw=1.0, label=rf"$\sigma_{k + 1}$")
    ax.set(title=f"{label}singular values", xlabel="step")
    S.entry_line(ax, entry)
    if legends:
        legend_outside(ax, "below", ncol=3, fontsize=8)


def _tidy(name: str, s: dict) -> pd.DataFrame:
    cols = ["step", "train_loss", "test_loss", "sharpness", "two_over_eta", "norm_sq_rec"]
    cols += [c for c in s["df"].columns if c.startswith("sv[")]
    return s["df"][cols].assign(run=name)


@figure("normsharp", "fig01")
def fig01(ctx: FigureContext) -> FigureOutput:
    run = ctx.runs["main"]
    s = _summary(run, ctx.plot.settle_steps)
    fig, axes = plt.subplots(1, 4, figsize=(16, 4.2), layout="constrained")
    _panels(axes, s, run=run)
    fig.suptitle(f"Matrix completion with BN, d = {run.spec.model.d}, N = {run.spec.model.observations}: GD+WD\n"
                 f"{ran_line(ctx, 'main', 200)}")
    values = {
        "test_loss_at_interpolation": s["plateau"], "test_loss_final": s.get("final_test"),
        "eos_entry_step": s["entry"], "eos_sharpness_ratio": s["ratio"], "sharpness_drop_ratio": s["drop"],
        "sv_gap_growth": s["gap"], "norm_recursion_max_rel_err": S.norm_recursion_error(s["df"]),
    }
    return FigureOutput(fig, _tidy("main", s), diverged.finish(ctx, fig, values))


@figure("normsharp", "fig06", "fig07")
def sweep(ctx: FigureContext) -> FigureOutput:
    names = ctx.plot.series
    fig, axes = plt.subplots(3, len(names), figsize=(4 * len(names), 9.5), squeeze=False, layout="constrained")
    values: dict = {k: [] for k in ("observations", "eos_entry_steps", "test_onset_lags", "test_loss_at_interpolation",
                                    "test_loss_final", "sharpness_drop_ratios")}
    frames = []
    for j, name in enumerate(names):
        run = ctx.runs[name]
        s = _summary(run)
        _panels(axes[:, j], s, label=f"N = {run.spec.model.observations}: ", run=run, legends=False)
        frames.append(_tidy(name, s))
        values["observations"].append(run.spec.model.observations)
        values["eos_entry_steps"].append(s["entry"])
        values["test_onset_lags"].append(s["onset_lag"])
        values["test_loss_at_interpolation"].append(s["plateau"])
        values["test_loss_final"].append(s.get("final_test"))
        values["sharpness_drop_ratios"].append(s["drop"])
    lags = values["test_onset_lags"]
    values["max_test_onset_lag"] = float(np.max(lags)) if not np.any(np.isnan(lags)) else float("nan")
    for row in axes:  # one legend per row, right of it: the columns share their series
        legend_outside(row[-1], "right", fontsize=9)
    share(axes[1], y=True)  # sharpness against 2/eta on one scale across N
    d = ctx.runs[names[0]].spec.model.d
    fig.suptitle(f"Matrix completion with BN, {d} $\\times$ {d}, rank 2: GD+WD\n{ran_line(ctx, names[0], 200)} (first column)")
    return FigureOutput(fig, pd.concat(frames, ignore_index=True), diverged.finish(ctx, fig, values))


@figure("normsharp", "fig11")
def fig11(ctx: FigureContext) -> FigureOutput:
    run = ctx.runs["window"]
    df = S.gdwd_frame(run)
    lr, wd = S.hyper(run)
    predicted = S.small_period_steps(lr, wd)
    entry = S.eos_entry(df)
    # the oscillation starts once the unstable direction has grown out of round-off (loss > 1e-8)
    after = df[df["step"] >= df.loc[df["train_loss"] > 1e-8, "step"].min()]
    # the loss's period-2 flicker removed by a 2-step max; after the first large swings the
    # oscillation damps to ripples of ~0.1-0.5 decades, which count if they stand 0.05 decades out
    log_loss = np.log10(after["train_loss"].rolling(2, min_periods=1).max().to_numpy())
    period = S.peak_period(log_loss, after["step"].to_numpy(), prominence=0.05)
    fig, (a1, a2) = plt.subplots(2, 1, figsize=(9, 6), sharex=True)
    a1.plot(df["step"], df["sharpness"], lw=0.8, label="spherical sharpness (at $\\theta_t$)")
    a1.plot(df["step"], df["two_over_eta"], lw=1.2, label=r"$2/\tilde\eta_t$")
    a1.set(ylabel="sharpness", title="Matrix completion (Fig. 1 run) around EoS entry")
    a2.semilogy(df["step"], df["train_loss"], lw=0.6, label=diverged.label("train loss", run))
    diverged.mark_end(a2, run, df["step"], df["train_loss"])
    if run.diverged:
        a2.legend(fontsize=8)
    a2.set(xlabel="step", ylabel="train loss")
    for ax in (a1, a2):
        S.entry_line(ax, entry)
    if np.isfinite(period) and entry is not None:
        for k in range(int((df["step"].iloc[-1] - entry) // predicted) + 1):
            a2.axvline(entry + k * predicted, color="C3", ls="--", lw=0.5)
    a1.legend(fontsize=8)
    values = {"crossings": S.crossings(df["two_over_eta"], df["sharpness"]), "loss_period_steps": period,
              "predicted_small_period_steps": predicted, "window_start": int(df["step"].iloc[0]),
              "window_end": int(df["step"].iloc[-1])}
    return FigureOutput(fig, df[["step", "train_loss", "sharpness", "two_over_eta", "norm_sq_rec"]], diverged.finish(ctx, fig, values))
