"""WSD paper, Sec. 5: WSD-S against the cosine oracles (Fig. 8) and the non-traditional WSD loss
curve (Fig. 1), from validation-loss curves of LLaMA runs.

Every loss compared at a budget is the run's own evaluation at that exact step (the runs evaluate
at multiples of ``eval_every`` and at their end; a budget that is not an evaluated step is a
config error, reported as such).
"""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from optdyn.figures import diverged
from optdyn.figures.common import FigureContext, FigureOutput
from optdyn.figures.style import legend_outside, ran_line, stand_in
from optdyn.registry import figure
from optdyn.train.results import RunResult

from .lm_curves import final_loss, loss_at, val_curve


def lr_curve_of(run: RunResult) -> pd.Series:
    """The learning rate the run applied at each step (logged by the trainer)."""
    df = run.metrics.dropna(subset=["lr"])
    return pd.Series(df["lr"].to_numpy(float), index=df["step"].to_numpy(int))


def tokens_per_step(run: RunResult) -> int:
    return run.spec.model.batch_size * run.spec.model.seq_len


def joined(parent: pd.Series, branch: pd.Series, at: int) -> pd.Series:
    """A branch's curve preceded by its parent's up to the branch point."""
    return pd.concat([parent[parent.index < at], branch[branch.index >= at]])


def zoom(ax, curves: list[pd.Series], start_step: int, x_per_step: float | None = None) -> None:
    """y-range from the curves' values after ``start_step``: the first few hundred steps fall from
    ln(vocab) and would flatten everything the figure is about. With ``x_per_step`` (tokens per
    step) the x-axis starts there too, so no blank stretch precedes the curves."""
    if x_per_step is not None:
        last = max(c.index.max() for c in curves)
        ax.set_xlim(start_step * x_per_step, last * x_per_step * 1.04)
    late = np.concatenate([c[c.index >= start_step].to_numpy() for c in curves])
    late = late[np.isfinite(late)]
    if late.size:
        lo, hi = late.min(), late.max()
        pad = 0.08 * (hi - lo) or 0.01
        ax.set_ylim(lo - pad, hi + pad)


def model_label(run: RunResult) -> str:
    m = run.spec.model
    return f"d={m.hidden}, {m.layers} layer{'s' if m.layers > 1 else ''}"


@figure("wsd", "fig08")
def fig08(ctx: FigureContext) -> FigureOutput:
    panels = ctx.plot.panels
    flat, lr_ax, fig = _layout(len(panels))
    frames, gaps, gains, finals = [], {}, {}, {}
    for ax, panel in zip(flat, panels):
        wsd_run = ctx.runs[panel.wsd_s]
        wsd = val_curve(wsd_run)
        tps = tokens_per_step(wsd_run)
        ax.plot(wsd.index * tps, wsd.values, color="C0", lw=1.5, label=diverged.label("WSD-S", wsd_run))
        diverged.mark_end(ax, wsd_run, wsd.index * tps, wsd.values)
        frames.append(pd.DataFrame({"panel": panel.label, "schedule": "wsd_s", "step": wsd.index, "val_loss": wsd.values}))
        ends = {end for _, end in wsd_run.spec.schedule.decays}
        cos_at, wsd_at = [], []
        for k, name in enumerate(panel.cosine):
            run = ctx.runs[name]
            cos = val_curve(run)
            budget = run.spec.steps
            if budget not in ends:
                raise ValueError(f"cosine run '{name}' ends at {budget}, which is no WSD-S decay end {sorted(ends)}")
            ax.plot(cos.index * tps, cos.values, color="C1", lw=0.7, alpha=0.45, ls="--",
                    label=diverged.label(f"cosine, {budget} steps", run) if run.diverged else "cosine runs" if k == 0 else None)
            diverged.mark_end(ax, run, cos.index * tps, cos.values)
            ax.plot(budget * tps, final_loss(run), marker="*", ms=14, color="C1", mec="k", mew=0.5, ls="none",
                    label="Cosine-Oracle" if k == 0 else None, zorder=5, clip_on=False)
            cos_at.append(final_loss(run))
            wsd_at.append(loss_at(wsd_run, wsd, budget))
            frames.append(pd.DataFrame({"panel": panel.label, "schedule": f"cosine_{budget}", "step": cos.index,
                                        "val_loss": cos.values}))
        gaps[panel.label] = [w - c for w, c in zip(wsd_at, cos_at)]
        gains[panel.label] = [a - b for a, b in zip(cos_at, cos_at[1:])]
        finals[panel.label] = {"wsd_s": wsd_at, "cosine": cos_at, "budgets": [ctx.runs[n].spec.steps for n in panel.cosine]}
        zoom(ax, [wsd], min(finals[panel.label]["budgets"]) // 2, tps)
        worst = max(abs(g) for g in gaps[panel.label])
        ax.set_title(f"{stand_in(ctx, panel.wsd_s)}\nmax |gap| {worst:.1e}")
        ax.set_xlabel("tokens")
        ax.set_ylabel("validation loss")
    _draw_lrs(lr_ax, ctx, panels[0])
    # one legend for all panels, under them: the loss panels' entries, then the learning rates'
    h0, l0 = flat[0].get_legend_handles_labels()
    h1, l1 = lr_ax.get_legend_handles_labels()
    legend_outside(fig, "below", handles=h0 + h1[1:], labels=l0 + [f"lr: {t}" for t in l1[1:]], ncol=3)
    fig.suptitle(ran_line(ctx, panels[0].wsd_s, 150) + " (first panel; the others differ in width)", y=1.0)
    fig.tight_layout()
    ratios = []
    for label in gaps:
        step = min(gains[label]) if gains[label] else math.nan
        worst = max(abs(g) for g in gaps[label])
        # a non-positive star-to-star step means the oracles are not ordered: no scale to compare with
        ratios.append(worst / step if step > 0 else math.inf)
    values = {
        "max_abs_gap": max(abs(g) for v in gaps.values() for g in v),
        "max_abs_gap_over_doubling_gain": max(ratios),
        "gap_wsd_s_minus_cosine": gaps,
        "doubling_gain": gains,
        "final_loss": finals,
    }
    return FigureOutput(fig, pd.concat(frames, ignore_index=True), diverged.finish(ctx, fig, values))


def _layout(n: int):
    """n loss panels on a grid of up to two rows, and the learning-rate panel in the first free
    cell, or (when the grid is full) as a column spanning it: no empty panel slots."""
    nrows = 2 if n > 3 else 1
    ncols = math.ceil(n / nrows)
    spare = nrows * ncols - n
    fig = plt.figure(figsize=(4.6 * (ncols + (spare == 0)), 3.6 * nrows + 0.6))
    grid = fig.add_gridspec(nrows, ncols + (spare == 0))
    cells = [fig.add_subplot(grid[r, c]) for r in range(nrows) for c in range(ncols)]
    if spare:  # two rows of ceil(n/2) leave at most one cell free
        return cells[:n], cells[n], fig
    return cells, fig.add_subplot(grid[:, ncols]), fig


def _draw_lrs(ax, ctx: FigureContext, panel) -> None:
    wsd = lr_curve_of(ctx.runs[panel.wsd_s])
    ax.plot(wsd.index, wsd.values, color="C0", lw=1.5, label="WSD-S")
    for k, name in enumerate(panel.cosine):
        lr = lr_curve_of(ctx.runs[name])
        ax.plot(lr.index, lr.values, color=f"C{k + 1}", lw=1.0, label=f"cosine, {ctx.runs[name].spec.steps} steps")
    ax.set_xlabel("step")
    ax.set_ylabel("learning rate")
    ax.set_title(f"learning rates: {stand_in(ctx, panel.wsd_s)}")
    ax.ticklabel_format(axis="y", style="sci", scilimits=(0, 0))



@figure("wsd", "fig01")
def fig01(ctx: FigureContext) -> FigureOutput:
    main_run, branch_run, cos_run = ctx.runs["wsd"], ctx.runs["wsd_decay1"], ctx.runs["cosine"]
    (start, end), = main_run.spec.schedule.decays
    tau = end - start
    main, branch, cos = val_curve(main_run), val_curve(branch_run), val_curve(cos_run)
    wsd = joined(main, branch, start)
    tps = tokens_per_step(main_run)
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    ax.plot(cos.index * tps, cos.values, color="C1", lw=1.5, label=diverged.label("cosine", cos_run))
    ax.plot(main.index * tps, main.values, color="C0", lw=1.5, label=diverged.label("WSD: stable phase", main_run))
    ax.plot(branch.index * tps, branch.values, color="C2", lw=1.8, label=diverged.label("WSD: decay branch", branch_run))
    for run, curve in ((cos_run, cos), (main_run, main), (branch_run, branch)):
        diverged.mark_end(ax, run, curve.index * tps, curve.values)
    ax.axvline(start * tps, color="0.4", ls=":", lw=0.8)
    zoom(ax, [wsd, cos], end // 5, tps)
    ax.set_xlabel("tokens")
    ax.set_ylabel("validation loss")
    ax.set_title(f"WSD vs cosine: {ran_line(ctx, 'cosine', 70)}", fontsize=9)
    legend_outside(ax, "below", ncol=3)
    fig.tight_layout()
    before, at_start = loss_at(main_run, main, start - tau), loss_at(main_run, main, start)
    at_end = loss_at(branch_run, branch, end)
    stable_drop, decay_drop = before - at_start, at_start - at_end
    values = {
        "gap_wsd_minus_cosine_at_decay_start": at_start - loss_at(cos_run, cos, start),
        # share of the improvement over the last 2 tau steps made in the decay: ~0.5 for a steady
        # decrease, ~1 for a plateau followed by a sharp drop
        "decay_share_of_late_drop": decay_drop / (stable_drop + decay_drop),
        "gap_wsd_minus_cosine_at_end": at_end - loss_at(cos_run, cos, end),
        "final_loss": {"wsd": at_end, "cosine": loss_at(cos_run, cos, end)},
    }
    frames = [pd.DataFrame({"schedule": name, "step": c.index, "tokens": c.index * tps, "val_loss": c.values})
              for name, c in (("wsd", wsd), ("cosine", cos))]
    return FigureOutput(fig, pd.concat(frames, ignore_index=True), diverged.finish(ctx, fig, values))
