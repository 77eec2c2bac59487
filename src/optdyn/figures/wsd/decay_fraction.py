"""WSD paper Fig. 15: the final loss against the fraction of time spent decaying (8/10/12%), and a
decay that starts right after a loss spike. Our spike is induced by a few steps at a multiple of
the peak LR (the paper's happened by itself); the figure says so.

The decays of one panel are branches of the same constant main run, and every run draws batch t
from ``fold_in(seed, t)``, so the spiked and the reference run see the same batches step by step:
their batch-loss difference is the spike itself, free of batch noise.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from optdyn.figures import diverged
from optdyn.figures.common import FigureContext, FigureOutput
from optdyn.figures.style import legend_outside, short_of
from optdyn.registry import figure
from optdyn.train.results import RunResult

from .lm_curves import final_loss, val_frame
from .versus_wsd import MAIN_COLOR


def decay_drop(run: RunResult) -> float:
    """Validation loss at the branch point minus the final one: what the decay (and any constant
    steps before it) gained."""
    curve = val_frame(run)
    return float(curve["val_loss"].iloc[0] - curve["val_loss"].iloc[-1])


def fraction_panel(ctx: FigureContext, panel) -> tuple[pd.DataFrame, dict]:
    finals = {label: final_loss(ctx.runs[name]) for label, name in panel.fractions.items()}
    drops = [diverged.guarded(ctx.runs[name], decay_drop, ctx.runs[name]) for name in panel.fractions.values()]
    spread = max(finals.values()) - min(finals.values())
    gain = float(np.mean(drops))
    frames = [val_frame(ctx.runs[name]).assign(run=label) for label, name in panel.fractions.items()]
    data = pd.concat(frames, ignore_index=True).assign(panel=panel.label)
    return data, {"finals": finals, "spread": spread, "gain": gain, "ratio": spread / gain if gain > 0 else float("inf")}


def batch_loss(run: RunResult) -> pd.Series:
    """The per-batch training loss; a diverged run's up to its last finite step."""
    return diverged.finite_metrics(run, "batch_loss").set_index("step")["batch_loss"]


def decay_start(run: RunResult) -> int:
    """Where the last decay of a (possibly piecewise) WSD-S schedule starts."""
    s = run.spec.schedule
    if s.name == "piecewise":
        s = s.pieces[-1].schedule
    if s.name != "wsd_s":
        raise ValueError(f"run {run.run_id}: expected a WSD-S decay (or a piecewise ending in one), got {s.name}")
    return s.decays[-1][0]


def spike_case(ctx: FigureContext) -> tuple[pd.DataFrame, dict]:
    spec = ctx.plot.spike
    ref, spiked = ctx.runs[spec.reference], ctx.runs[spec.spiked]
    ref_loss, spiked_loss = batch_loss(ref), batch_loss(spiked)
    common = ref_loss.index.intersection(spiked_loss.index)
    start = decay_start(spiked)
    ref_val, sp_val = val_frame(ref).set_index("step")["val_loss"], val_frame(spiked).set_index("step")["val_loss"]
    both = [s for s in ref_val.index.intersection(sp_val.index) if s >= start]
    values = {
        "spike_minus_8pct_final_val_loss": final_loss(spiked) - final_loss(ref),
        "spike_peak_batch_loss_excess": float((spiked_loss[common] - ref_loss[common]).max()),
        "spike_val_loss_excess_at_decay_start": float(sp_val[both[0]] - ref_val[both[0]]) if both else float("nan"),
        "spike__decay_start_step": start,
    }
    data = pd.concat([ref.metrics.assign(run=spec.reference_label), spiked.metrics.assign(run=spec.spiked_label)],
                     ignore_index=True)[["run", "step", "batch_loss", "lr", "val_loss"]]
    return data.assign(panel=spec.label), values


@figure("wsd", "fig15")
def fig15(ctx: FigureContext) -> FigureOutput:
    panels = ctx.plot.panels
    fig, axes = plt.subplots(1, len(panels) + 1, figsize=(4.6 * (len(panels) + 1), 3.9), squeeze=False)
    frames, stats = [], []
    for ax, panel in zip(axes[0], panels):
        data, st = fraction_panel(ctx, panel)
        frames.append(data)
        stats.append(st)
        _draw_fractions(ax, ctx, panel, st)
    spike_data, spike_values = spike_case(ctx)
    frames.append(spike_data)
    _draw_spike(axes[0][-1], ctx, spike_values)
    axes[0][0].set_ylabel("validation loss")
    fig.tight_layout()
    values = {
        "decay_fraction_final_val_loss": [st["finals"] for st in stats],
        "decay_fraction_spread": [st["spread"] for st in stats],
        "decay_gain": [st["gain"] for st in stats],
        "decay_fraction_spread_over_gain": [st["ratio"] for st in stats],
        "max_decay_fraction_spread_over_gain": max(st["ratio"] for st in stats),
        "panels__labels": [p.label for p in panels],
        **spike_values,
    }
    return FigureOutput(fig, pd.concat(frames, ignore_index=True), diverged.finish(ctx, fig, values))


def _draw_fractions(ax, ctx: FigureContext, panel, st: dict) -> None:
    first = min(int(val_frame(ctx.runs[n])["step"].iloc[0]) for n in panel.fractions.values())
    end = max(ctx.runs[n].spec.steps for n in panel.fractions.values())
    main = val_frame(ctx.runs[panel.main])
    lo_step = first - (end - first)
    main = main[(main["step"] >= lo_step) & (main["step"] <= end)]
    ax.plot(main["step"], main["val_loss"], color=MAIN_COLOR, lw=1.2, label="constant main branch")
    for k, (label, name) in enumerate(panel.fractions.items()):
        curve = val_frame(ctx.runs[name])
        ax.plot(curve["step"], curve["val_loss"], color=f"C{k}", lw=1.5,
                label=diverged.label(f"{label}: {st['finals'][label]:.4f}", ctx.runs[name]))
        diverged.mark_end(ax, ctx.runs[name], curve["step"], curve["val_loss"])
    left = max(lo_step, int(main["step"].min()) if len(main) else lo_step)  # no blank stretch before the curves
    ax.set_xlim(left, end + 0.02 * (end - left))
    ax.set_xlabel("step")
    ax.set_title(f"ours: {short_of(ctx, panel.main)}, T = {end} steps\nstands in for {panel.label}\n"
                 f"spread {st['spread']:.1e} = {st['ratio']:.2f} $\\times$ decay gain", fontsize=9)
    legend_outside(ax, "below", ncol=2, title="decay fraction: final val loss", fontsize=8)


def _draw_spike(ax, ctx: FigureContext, values: dict) -> None:
    spec = ctx.plot.spike
    ref, spiked = ctx.runs[spec.reference], ctx.runs[spec.spiked]
    begin = int(spiked.metrics["step"].min())
    end = spiked.spec.steps
    main_loss = batch_loss(ctx.runs[spec.main])
    lo_step = begin - (end - begin)
    window = max(1, (end - lo_step) // 16)  # smoothing of the per-batch training loss (the paper smooths too)
    smooth = lambda s: s.rolling(window, min_periods=1).mean()
    pre = main_loss[(main_loss.index >= lo_step) & (main_loss.index <= begin)]
    ax.plot(pre.index, smooth(pre), color=MAIN_COLOR, lw=1.2, label="main branch")
    for k, (run, label) in enumerate(((ref, spec.reference_label), (spiked, spec.spiked_label))):
        loss = batch_loss(run)
        ax.plot(loss.index, loss, color=f"C{k}", lw=0.5, alpha=0.35)
        ax.plot(loss.index, smooth(loss), color=f"C{k}", lw=1.6, label=diverged.label(f"{label}: final val {final_loss(run):.4f}", run))
        diverged.mark_end(ax, run, loss.index, smooth(loss))
    lr = spiked.metrics.set_index("step")["lr"]
    peak = float(lr.loc[begin])
    hot = lr.index[lr > 1.5 * peak]
    if len(hot):
        ax.axvspan(hot.min(), hot.max() + 1, color="red", alpha=0.15, label=f"INDUCED spike (LR x{lr.max() / peak:.0f})")
    ax.axvline(values["spike__decay_start_step"], color="k", ls=":", lw=0.8)
    # ranged over every trace drawn in the window, the raw ones included: none runs off the axes
    curves = [batch_loss(r) for r in (ref, spiked)] + ([pre] if len(pre) else [])
    curves = [c[(c.index >= lo_step) & (c.index <= end)] for c in curves]
    lo, hi = min(float(c.min()) for c in curves), max(float(c.max()) for c in curves)
    ax.set_ylim(lo - 0.05 * (hi - lo), hi + 0.05 * (hi - lo))
    ax.set_xlim(lo_step, end)
    ax.set_xlabel("step")
    ax.set_ylabel("training loss")
    ax.set_title(f"ours: {short_of(ctx, spec.spiked)}; stands in for\n{spec.label}\n"
                 f"val loss 6% $-$ 8%: {values['spike_minus_8pct_final_val_loss']:+.2e} (paper +2e-2)", fontsize=9)
    legend_outside(ax, "below", ncol=1, fontsize=8, title=f"thin: per batch; thick: mean of {window} batches")
