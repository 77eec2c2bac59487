"""Self-stabilization Fig. 1: full-batch GD on an MLP sharpens progressively until the sharpness
reaches 2/eta, then hovers there while the loss keeps falling (on average, with spikes)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from optdyn.figures import diverged
from optdyn.figures.common import FigureContext, FigureOutput
from optdyn.registry import figure


def _series(run) -> pd.DataFrame:
    df = diverged.finite_metrics(run, "sharpness").sort_values("step")
    return df[["step", "loss", "sharpness"]].reset_index(drop=True)


def onset(df: pd.DataFrame, threshold: float) -> int | None:
    """Index of the first logged step whose sharpness reaches ``threshold`` (None: never)."""
    hits = np.flatnonzero(df["sharpness"].to_numpy() >= threshold)
    return int(hits[0]) if hits.size else None


@figure("selfstab", "fig01")
def fig01(ctx: FigureContext) -> FigureOutput:
    runs = sorted(ctx.runs.items(), key=lambda kv: kv[1].spec.schedule.lr)
    fig, (ax_loss, ax_s) = plt.subplots(1, 2, figsize=(12, 4.2))
    frames, lrs, onsets, after, initial, loss_ratio = [], [], [], [], [], []
    for k, (name, run) in enumerate(runs):
        eta = run.spec.schedule.lr
        df = _series(run)
        threshold = 2.0 / eta
        i = onset(df, threshold)
        color = f"C{k}"
        ax_loss.plot(df["step"], df["loss"], color=color, lw=1.2, label=diverged.label(f"$\\eta$ = {eta:g}", run))
        diverged.mark_end(ax_loss, run, df["step"], df["loss"])
        ax_s.plot(df["step"], df["sharpness"], color=color, lw=1.2, label=f"$\\eta$ = {eta:g}")
        ax_s.axhline(threshold, color=color, ls="--", lw=1.0)
        lrs.append(eta)
        initial.append(float(df["sharpness"].iloc[0] / threshold))
        onsets.append(None if i is None else int(df["step"].iloc[i]))
        if i is not None:
            ax_s.axvline(df["step"].iloc[i], color=color, ls=":", lw=0.8)
            after.append(float(df["sharpness"].iloc[i:].mean() / threshold))
            loss_ratio.append(float(df["loss"].iloc[-1] / df["loss"].iloc[i]))
        frames.append(df.assign(run=name, lr=eta, two_over_eta=threshold))
    ax_loss.set(yscale="log", xlabel="step", ylabel="train loss", title="training loss")
    ax_s.set(xlabel="step", ylabel="sharpness $S(\\theta_t)$", title="sharpness (dashed: $2/\\eta$, dotted: onset)")
    ax_loss.legend()
    ax_s.legend()
    fig.tight_layout()
    values = {
        "lrs": lrs,
        "onset_step": onsets,
        "all_reach_instability": all(o is not None for o in onsets),
        "max_initial_sharpness_over_threshold": max(initial),
        "sharpness_after_onset_over_threshold": after,
        "max_rel_deviation_after_onset": max(abs(a - 1.0) for a in after) if after else None,
        "max_loss_ratio_end_over_onset": max(loss_ratio) if loss_ratio else None,
    }
    return FigureOutput(fig, pd.concat(frames, ignore_index=True), diverged.finish(ctx, fig, values))
