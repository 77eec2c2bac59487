"""WSD paper: continual training after a cosine vs after WSD (Fig. 9: WSD-S, cyclic cosine and
the Cosine-WSD / WSD-Cosine hybrids) and the learning-rate sweep of cyclic cosine vs WSD-S
(Table 1).

Fig. 9's second halves are branches restored at the intermediate budget T_1 from the first
half's run, so each curve is drawn as the parent's curve up to T_1 and the branch's after it.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from optdyn.figures import diverged
from optdyn.figures.common import FigureContext, FigureOutput
from optdyn.figures.style import legend_outside, ran_line
from optdyn.registry import figure
from optdyn.figures.tables import table_figure

from .lm_curves import final_loss, loss_at, val_curve
from .oracle import joined, lr_curve_of, tokens_per_step, zoom

# (legend, second-half run, first-half run); WSD-first runs in blues, cosine-first in oranges
FIG09_SERIES = (
    ("WSD-S", "wsd_s", None, "C0", "-"),
    ("WSD-Cosine", "wsd_cosine", "wsd_s", "C9", "--"),
    ("Cyclic-Cosine", "cyclic", "cos_t1", "C1", "-"),
    ("Cosine-WSD", "cosine_wsd", "cos_t1", "C3", "--"),
)


@figure("wsd", "fig09")
def fig09(ctx: FigureContext) -> FigureOutput:
    runs = ctx.runs
    t1, t2 = runs["cos_t1"].spec.steps, runs["cyclic"].spec.steps
    for name in ("cyclic", "cosine_wsd", "wsd_cosine"):
        if runs[name].spec.branch_from is None or runs[name].spec.branch_from.step != t1:
            raise ValueError(f"run '{name}' must branch at the intermediate budget {t1}")
    tps = tokens_per_step(runs["wsd_s"])
    fig, (ax, ax_lr) = plt.subplots(1, 2, figsize=(12, 4.2), gridspec_kw={"width_ratios": [1.5, 1]})
    curves, ends, frames = {}, {}, []
    for label, name, parent, color, ls in FIG09_SERIES:
        val, lr = val_curve(runs[name]), lr_curve_of(runs[name])
        if parent is not None:
            val, lr = joined(val_curve(runs[parent]), val, t1), joined(lr_curve_of(runs[parent]), lr, t1)
        val, lr = val[val.index <= t2], lr[lr.index <= t2]
        curves[label] = val
        ends[label] = loss_at(runs[name], val, t2)
        both = [runs[name]] + ([runs[parent]] if parent is not None else [])
        ax.plot(val.index * tps, val.values, color=color, ls=ls, lw=1.5, label=diverged.label(label, *both))
        diverged.mark_end(ax, both, val.index * tps, val.values)
        ax_lr.plot(lr.index, lr.values, color=color, ls=ls, lw=1.3, label=label)
        frames.append(pd.DataFrame({"schedule": label, "step": val.index, "tokens": val.index * tps, "val_loss": val.values}))
    ax.axvline(t1 * tps, color="0.4", ls=":", lw=0.8)
    zoom(ax, list(curves.values()), t1 // 2, tps)
    ax.set_xlabel("tokens")
    ax.set_ylabel("validation loss")
    ax.set_title(f"continual training after $\\eta_{{\\min}}$ at step {t1}")
    legend_outside(ax, "below", ncol=4)
    fig.suptitle(ran_line(ctx, "wsd_s", 140), fontsize=9)
    ax_lr.set_xlabel("step")
    ax_lr.set_ylabel("learning rate")
    ax_lr.ticklabel_format(axis="y", style="sci", scilimits=(0, 0))
    ax_lr.set_title("learning rates (styles as left)")
    fig.tight_layout()
    values = {
        "cyclic_minus_wsd_s_at_end": ends["Cyclic-Cosine"] - ends["WSD-S"],
        # each pair shares its second-half schedule and differs only in the first half
        "wsd_first_half_advantage": min(ends["Cosine-WSD"] - ends["WSD-S"], ends["Cyclic-Cosine"] - ends["WSD-Cosine"]),
        "final_loss": ends,
        "loss_at_intermediate": {"WSD-S": loss_at(runs["wsd_s"], curves["WSD-S"], t1),
                                 "cosine": loss_at(runs["cos_t1"], curves["Cyclic-Cosine"], t1)},
    }
    return FigureOutput(fig, pd.concat(frames, ignore_index=True), diverged.finish(ctx, fig, values))


@figure("wsd", "tab01")
def tab01(ctx: FigureContext) -> FigureOutput:
    cols = ctx.plot.columns
    ours = {"cyclic_cosine": [final_loss(ctx.runs[c.cyclic_cosine]) for c in cols],
            "wsd_s": [final_loss(ctx.runs[c.wsd_s]) for c in cols]}
    our_lr = [ctx.runs[c.wsd_s].spec.schedule.peak_lr for c in cols]
    if our_lr != [ctx.runs[c.cyclic_cosine].spec.schedule.peak_lr for c in cols]:
        raise ValueError(f"each column's two runs must share a peak LR; WSD-S has {our_lr}")
    headers = [f"LR {c.paper_lr:.0E} (ours {lr:.1E})" for c, lr in zip(cols, our_lr)]
    shown = {k: [round(v, 5) if not ctx.runs[getattr(c, k)].diverged else diverged.label("-", ctx.runs[getattr(c, k)])
                 for c, v in zip(cols, vals)] for k, vals in ours.items()}
    rows = [("Cyclic-Cosine", "ours", shown["cyclic_cosine"]), ("WSD-S", "ours", shown["wsd_s"]),
            ("Cyclic-Cosine", "paper", [round(c.paper_cyclic_cosine, 5) for c in cols]),
            ("WSD-S", "paper", [round(c.paper_wsd_s, 5) for c in cols])]
    df = pd.DataFrame([[m, s, *vals] for m, s, vals in rows], columns=["Method", "Source", *headers])
    diff = np.subtract(ours["wsd_s"], ours["cyclic_cosine"])
    values = {
        "n_lrs_wsd_s_better": int(np.sum(diff < 0)),
        "best_wsd_s_minus_best_cyclic": float(min(ours["wsd_s"]) - min(ours["cyclic_cosine"])),
        "wsd_s_minus_cyclic": diff.tolist(),
        "final_loss": ours | {"peak_lr": our_lr},
    }
    title = f"{ctx.figure.spec.title}\nours: {ran_line(ctx, cols[0].wsd_s, 100)}"
    fig = table_figure(df, title)
    return FigureOutput(fig, df, diverged.finish(ctx, fig, values))
