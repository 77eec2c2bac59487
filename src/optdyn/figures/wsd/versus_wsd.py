"""WSD paper Figs. 10 and 11: WSD-S against WSD at equal total compute, one panel per size.

WSD's compute is Table 4's accounting: when the constant main branch passes D_j, decay branch j
(tau_j = T_j - D_j steps) is run, so a point of branch k at step t has cost t + sum_{j<k} tau_j
and the main branch at step t has cost t + sum_{D_j < t} tau_j. WSD-S is one run: cost = step.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from optdyn.figures import diverged
from optdyn.figures.common import FigureContext, FigureOutput
from optdyn.figures.style import legend_outside, ran_line, stand_in
from optdyn.registry import figure

from .lm_curves import loss_at, val_curve, val_frame

WSD_S_COLOR, WSD_COLOR, MAIN_COLOR = "C0", "C1", "0.55"


def branch_offset(decays, k: int) -> int:
    """Compute spent on WSD's earlier decay branches before branch k runs."""
    return sum(end - d for d, end in decays[:k])


def main_compute(steps: np.ndarray, decays) -> np.ndarray:
    return steps + sum(np.where(steps > d, end - d, 0) for d, end in decays)


def compare_size(ctx: FigureContext, size) -> tuple[pd.DataFrame, dict]:
    """Curves of one size (tidy) and its WSD-S / WSD checkpoints at the budgets."""
    main, wsd_s = ctx.runs[size.wsd], ctx.runs[size.wsd_s]
    decays, decays_s = main.spec.schedule.decays, wsd_s.spec.schedule.decays
    if len(decays) != len(decays_s):
        raise ValueError(f"{size.label}: WSD has {len(decays)} budgets, WSD-S {len(decays_s)}")
    frames = []
    s_curve = val_frame(wsd_s)
    frames.append(s_curve.assign(method="WSD-S", compute=s_curve["step"], run=size.wsd_s))
    m_curve = val_frame(main)
    frames.append(m_curve.assign(method="WSD main", compute=main_compute(m_curve["step"].to_numpy(), decays), run=size.wsd))
    wsd_vals, wsd_compute = [], []
    for k, (d, end) in enumerate(decays):
        branch = ctx.runs[f"{size.wsd}_decay{k + 1}"]
        curve = val_frame(branch)
        curve = curve[curve["step"] >= d]
        frames.append(curve.assign(method=f"WSD decay {k + 1}", compute=curve["step"] + branch_offset(decays, k),
                                   run=f"{size.wsd}_decay{k + 1}"))
        wsd_vals.append(loss_at(branch, val_curve(branch), end))
        wsd_compute.append(end + branch_offset(decays, k))
    s_vals = [loss_at(wsd_s, val_curve(wsd_s), end) for _, end in decays_s]
    data = pd.concat(frames, ignore_index=True).assign(size=size.label)
    return data, {"wsd": wsd_vals, "wsd_compute": wsd_compute, "wsd_s": s_vals, "wsd_s_compute": [e for _, e in decays_s]}


def versus_wsd(ctx: FigureContext) -> FigureOutput:
    sizes = ctx.plot.sizes
    fig, axes = plt.subplots(1, len(sizes), figsize=(4.6 * len(sizes), 3.9), squeeze=False)
    frames, per = [], []
    for ax, size in zip(axes[0], sizes):
        data, pts = compare_size(ctx, size)
        frames.append(data)
        per.append(pts)
        _draw_size(ax, ctx, size, data, pts)
    axes[0][0].set_ylabel("validation loss")
    finish_layout(fig, axes[0], ctx, sizes[0].wsd_s)
    diffs = [[s - w for s, w in zip(p["wsd_s"], p["wsd"])] for p in per]
    values = {
        "wsd_s_val_loss": [p["wsd_s"] for p in per],
        "wsd_val_loss": [p["wsd"] for p in per],
        "wsd_s_compute": [p["wsd_s_compute"] for p in per],
        "wsd_compute": [p["wsd_compute"] for p in per],
        "wsd_s_minus_wsd": diffs,
        "wsd_s_minus_wsd_at_largest_budget": [d[-1] for d in diffs],
        "max_wsd_s_minus_wsd_at_largest_budget": max(d[-1] for d in diffs),
        "max_abs_diff_at_first_budget": max(abs(d[0]) for d in diffs),
        "sizes__labels": [s.label for s in sizes],
    }
    return FigureOutput(fig, pd.concat(frames, ignore_index=True), diverged.finish(ctx, fig, values))


def _draw_size(ax, ctx: FigureContext, size, data: pd.DataFrame, pts: dict) -> None:
    for method, part in data.groupby("method", sort=False):
        if method == "WSD-S":
            style = {"color": WSD_S_COLOR, "lw": 1.6, "label": "WSD-S", "zorder": 3}
        elif method == "WSD main":
            style = {"color": MAIN_COLOR, "lw": 1.2, "label": "WSD main branch"}
        else:
            style = {"color": WSD_COLOR, "lw": 1.4, "label": "WSD decay branches" if method.endswith(" 1") else None}
        run = ctx.runs[part["run"].iloc[0]]
        if run.diverged:
            style["label"] = diverged.label(style["label"] or method, run)
        ax.plot(part["compute"], part["val_loss"], **style)
        diverged.mark_end(ax, run, part["compute"], part["val_loss"])
    ax.scatter(pts["wsd_s_compute"], pts["wsd_s"], marker="*", s=110, color=WSD_S_COLOR, zorder=4, edgecolor="k", lw=0.5)
    ax.scatter(pts["wsd_compute"], pts["wsd"], marker="o", s=40, color=WSD_COLOR, zorder=4, edgecolor="k", lw=0.5)
    diffs = "\n".join(f"{c:>6d}: {s - w:+.2e}" for c, s, w in zip(pts["wsd_compute"], pts["wsd_s"], pts["wsd"]))
    budget_note(ax, f"WSD-S $-$ WSD at budget\n{diffs}")
    # zoom on the part where the methods differ: from the first budget on
    late = data[data["compute"] >= 0.8 * pts["wsd_compute"][0]]["val_loss"]
    if len(late):  # (a run that diverged early may leave nothing there)
        lo, hi = float(late.min()), float(late.max())
        ax.set_ylim(lo - 0.08 * (hi - lo) - 1e-9, hi + 0.05 * (hi - lo) + 1e-9)
    ax.set_xlim(0.8 * pts["wsd_compute"][0], 1.02 * max(pts["wsd_compute"][-1], pts["wsd_s_compute"][-1]))
    ax.set_title(f"ours: {stand_in(ctx, size.wsd_s)}")
    ax.set_xlabel("total compute (optimizer steps)")


def budget_note(ax, text: str) -> None:
    """The per-budget differences, under the panel (off the curves)."""
    ax.annotate(text, (0.0, 0.0), xycoords="axes fraction", xytext=(0, -38), textcoords="offset points",
                fontsize=8, family="monospace", va="top", ha="left")


def finish_layout(fig, axes, ctx: FigureContext, first_run: str) -> None:
    """What ran over the panels, one legend right of the last panel."""
    fig.suptitle(ran_line(ctx, first_run, int(13 * fig.get_figwidth())) + " (first panel)", fontsize=9)
    legend_outside(axes[-1], "right", handles=axes[0].get_legend_handles_labels()[0])
    fig.tight_layout()


@figure("wsd", "fig10")
def fig10(ctx: FigureContext) -> FigureOutput:
    return versus_wsd(ctx)


@figure("wsd", "fig11")
def fig11(ctx: FigureContext) -> FigureOutput:
    return versus_wsd(ctx)
