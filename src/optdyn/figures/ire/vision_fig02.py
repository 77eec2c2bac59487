"""IRE paper Fig. 2: SAM-IRE over the (gamma, kappa) grid, kappa = 0 being SAM: Tr F^ under a
constant and a step-decayed LR, and training loss and test accuracy under the decayed one.

Runs: ``<schedule>_sam`` and the sweep ``<schedule>_ire`` (gamma x kappa) for each schedule
present (``const``, ``step``; a tier may drop one)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from optdyn.figures import diverged, style
from optdyn.figures.common import FigureContext, FigureOutput
from optdyn.registry import figure

from . import vision_series as V

SCHEDULES = {"const": "constant LR", "step": "step-decayed LR"}
PANELS = [("const", "trace_fisher", "(a) Tr $\\hat F$, constant LR"),
          ("step", "trace_fisher", "(b) Tr $\\hat F$, step-decayed LR"),
          ("step", "loss", "(c) training loss, step-decayed LR"),
          ("step", "test_accuracy", "(d) test accuracy, step-decayed LR")]


def _grid(ctx: FigureContext, schedule: str) -> list[tuple[float, float, str, object]]:
    """(gamma, kappa, name, run): SAM as kappa = 0 (gamma None), then every SAM-IRE member."""
    rows = [(None, 0.0, f"{schedule}_sam", ctx.runs[f"{schedule}_sam"])]
    for values, run in ctx.group(f"{schedule}_ire"):
        name = next(n for n, r in ctx.runs.items() if r is run)
        short = {k.rsplit(".", 1)[-1]: v for k, v in values.items()}  # "optimizer.gamma" -> "gamma"
        rows.append((float(short["gamma"]), float(short["kappa"]), name, run))
    return rows


@figure("ire", "fig02")
def fig02(ctx: FigureContext) -> FigureOutput:
    last = ctx.plot.final_epochs
    present = [s for s in SCHEDULES if f"{s}_sam" in ctx.runs]
    grids = {s: _grid(ctx, s) for s in present}
    gammas = sorted({g for s in present for g, *_ in grids[s] if g is not None})
    kappas = sorted({k for s in present for _, k, *_ in grids[s]})
    colors = dict(zip(kappas, style.palette(len(kappas))))
    dashes = dict(zip(gammas, ["-", "--", ":", "-."] * 3))

    fig, axes = plt.subplots(2, 2, figsize=(13, 8.6))
    frames = []
    for ax, (schedule, column, title) in zip(axes.flat, PANELS):
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("epoch")
        if schedule not in grids:
            ax.text(0.5, 0.5, f"no {SCHEDULES[schedule]} runs in this tier", ha="center", va="center", transform=ax.transAxes)
            continue
        for gamma, kappa, name, run in grids[schedule]:
            df = V.epochs(run)
            y = df[column] * (100 if column == "test_accuracy" else 1)
            label = "SAM ($\\kappa$ = 0)" if gamma is None else f"$\\kappa$ = {kappa:g}, $\\gamma$ = {gamma:g}"
            ax.plot(df["epoch"], y, dashes.get(gamma, "-"), color=colors[kappa], lw=2.2 if gamma is None else 1.3,
                    label=diverged.label(label, run))
            diverged.mark_end(ax, run, df["epoch"], y)
            if column == "trace_fisher":
                frames.append(df.assign(run=name, schedule=schedule, gamma=gamma, kappa=kappa))
        start = next((V.ire_start_epoch(r) for g, *_, r in grids[schedule] if g is not None), None)
        if start is not None:
            ax.axvline(start, color="0.5", lw=0.8, ls=":")
        if column == "trace_fisher":
            ax.set_yscale("log")
            style.log_range(ax, np.concatenate([V.epochs(r)["trace_fisher"].to_numpy() for *_, r in grids[schedule]]))
        ax.set_ylabel({"trace_fisher": "Tr $\\hat F$", "loss": "training loss (KL form)", "test_accuracy": "test accuracy (%)"}[column])
    handles = next((ax.get_legend_handles_labels() for ax in axes.flat if ax.get_legend_handles_labels()[0]), None)
    if handles:
        style.legend_outside(fig, "right", *handles)
    first = f"{present[0]}_sam" if present else next(iter(ctx.runs))
    fig.suptitle(style.ran_line(ctx, first) + "\n(dotted vertical: IRE switched on)", fontsize=9)
    fig.tight_layout(rect=(0, 0, 0.84, 0.93))

    finals = {s: [(g, k, n, V.final(r, "trace_fisher", last)) for g, k, n, r in grids[s]] for s in present}
    rows = pd.DataFrame([{"schedule": s, "gamma": g, "kappa": k, "run": n, "final_trace": t,
                          "final_train_loss": V.final(ctx.runs[n], "loss", last),
                          "final_test_acc": 100 * V.final(ctx.runs[n], "test_accuracy", last)}
                         for s in present for g, k, n, t in finals[s]])
    values = {"rows": rows.to_dict(orient="records"), "final_trace": {r["run"]: r["final_trace"] for _, r in rows.iterrows()}}
    for s in SCHEDULES:
        if s not in present:
            values[f"{s}_max_inversions"] = None
            values[f"{s}_max_inversions__note"] = f"no {SCHEDULES[s]} runs in this tier"
            continue
        sam = rows[(rows["schedule"] == s) & rows["gamma"].isna()].iloc[0]
        worst = 0
        for g in gammas:
            cell = rows[(rows["schedule"] == s) & (rows["gamma"] == g)].sort_values("kappa")
            worst = max(worst, V.inversions([sam["final_trace"], *cell["final_trace"]]))
        values[f"{s}_max_inversions"] = worst
    ire = rows[rows["gamma"].notna()]
    sam_of = rows[rows["gamma"].isna()].set_index("schedule")
    values["every_ire_below_sam"] = bool(all(r["final_trace"] < sam_of.loc[r["schedule"], "final_trace"] for _, r in ire.iterrows()))
    for sched in present:  # which schedule a failure comes from
        cell = ire[ire["schedule"] == sched]
        values[f"{sched}_ire_below_sam"] = f"{int((cell['final_trace'] < sam_of.loc[sched, 'final_trace']).sum())} of {len(cell)}"
    if "step" in present:
        step = ire[ire["schedule"] == "step"]
        values["step_train_loss_delta_mean"] = float((step["final_train_loss"] - sam_of.loc["step", "final_train_loss"]).mean())
        values["step_test_acc_delta_mean"] = float((step["final_test_acc"] - sam_of.loc["step", "final_test_acc"]).mean())
    else:
        for m in ("step_train_loss_delta_mean", "step_test_acc_delta_mean"):
            values[m], values[f"{m}__note"] = None, "no step-decayed LR runs in this tier"
    data = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    return FigureOutput(fig, data, diverged.finish(ctx, fig, values))
