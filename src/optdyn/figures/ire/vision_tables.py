"""IRE paper Tables 1, 7 (CNNs on CIFAR), 3 (ViTs) and 2 (ResNet-50 on ImageNet): the base
optimizer, its IRE version, SAM and SAM-IRE per column, our best test accuracy beside the
paper's, and the final Tr F^ (catalog sec. 5: IRE should lower it against its base).

Runs per column c (``plot.columns``): ``c_sgd`` and ``c_sam`` (the base optimizers; AdamW and
SAM-around-AdamW in Table 3), ``c_sgd_ire`` and ``c_sam_ire``: a (gamma, kappa) sweep whose best
member by best test accuracy is reported (Tables 1-3), or one run (Table 7). Table 7 is seed-
replicated: its numbers are means over the seeds, drawn with 95% t-intervals."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from optdyn.figures import diverged, style
from optdyn.figures.common import FigureContext, FigureOutput
from optdyn.figures.replicates import seed_context
from optdyn.figures.tables import draw_table
from optdyn.registry import figure, replicate_figure
from optdyn.stats import t_interval

from . import vision_series as V

ROLES = ("sgd", "sgd_ire", "sam", "sam_ire")


def _label(values: dict) -> str:
    return ", ".join(f"{k.rsplit('.', 1)[-1]} {v:g}" for k, v in values.items()) or "-"


def _cell(ctx: FigureContext, column: str, role: str, top_k: bool) -> dict:
    """The row of one (column, optimizer): the best member by best test accuracy."""
    scored = []
    for values, run in V.members(ctx, f"{column}_{role}"):
        acc = 100 * V.best(run)
        scored.append((acc if np.isfinite(acc) else -np.inf, values, run))
    acc, values, run = max(scored, key=lambda t: t[0])
    row = {"column": column, "role": role, "best_test_acc": acc if np.isfinite(acc) else float("nan"),
           "final_trace": V.final(run, "trace_fisher"), "final_train_loss": V.final(run, "loss"),
           "grid_point": _label(values), "grid_size": len(scored), "ire_start_epoch": V.ire_start_epoch(run),
           "run": run.run_id}
    if top_k:
        row["best_top5_acc"] = 100 * V.best(run, "test_top_k_accuracy")
    return row


def _names(plot) -> dict[str, str]:
    return {"sgd": plot.base_name, "sgd_ire": plot.ire_name, "sam": "SAM", "sam_ire": "SAM-IRE"}


@figure("ire", "tab01", "tab07", "tab03", "tab02")
def vision_table(ctx: FigureContext) -> FigureOutput:
    plot = ctx.plot
    names = _names(plot)
    rows = pd.DataFrame([_cell(ctx, c, role, plot.top_k) for c in plot.columns for role in ROLES])
    rows["optimizer"] = rows["role"].map(names)
    rows["paper_acc"] = [plot.paper.get(c, [np.nan] * 4)[ROLES.index(r)] for c, r in zip(rows["column"], rows["role"])]
    if plot.top_k:
        rows["paper_top5"] = [plot.paper_top5.get(c, [np.nan] * 4)[ROLES.index(r)] for c, r in zip(rows["column"], rows["role"])]
    acc = rows.set_index(["column", "role"])
    deltas = {base: {c: float(acc.loc[(c, f"{base}_ire"), "best_test_acc"] - acc.loc[(c, base), "best_test_acc"])
                     for c in plot.columns} for base in ("sgd", "sam")}
    ratio = {f"{c}/{base}": float(acc.loc[(c, f"{base}_ire"), "final_trace"] / acc.loc[(c, base), "final_trace"])
             for c in plot.columns for base in ("sgd", "sam")}

    fig = plt.figure(figsize=(14, 4.2 + 0.42 * len(rows)))
    grid = fig.add_gridspec(2, max(len(plot.columns), 2), height_ratios=[0.32 * len(rows) + 0.8, 3.2])
    shown = ["column", "optimizer", "best_test_acc", "paper_acc", *(["best_top5_acc", "paper_top5"] if plot.top_k else []),
             "final_trace", "grid_point", "ire_start_epoch"]
    table = rows[shown].copy()
    for col in ("best_test_acc", "paper_acc", "best_top5_acc", "paper_top5"):
        if col in table:
            table[col] = table[col].map(lambda v: f"{v:.2f}" if np.isfinite(v) else "-")
    table["final_trace"] = table["final_trace"].map(lambda v: f"{v:.3g}")
    table["ire_start_epoch"] = table["ire_start_epoch"].map(lambda v: "-" if v is None or not np.isfinite(v) else f"{v:g}")
    draw_table(fig.add_subplot(grid[0, :]), table, f"{ctx.figure.spec.title.split(':')[0]}: best test accuracy (%) "
               "and final Tr F^ (ours) beside the paper's accuracy", row_scale=1.3)
    colors = dict(zip(ROLES, style.palette(4)))
    for k, column in enumerate(plot.columns):
        ax = fig.add_subplot(grid[1, k])
        for role in ROLES:
            run_id = acc.loc[(column, role), "run"]
            run = next(r for r in ctx.runs.values() if r.run_id == run_id)
            df = V.epochs(run)
            ax.plot(df["epoch"], df["trace_fisher"], color=colors[role], ls="--" if role.endswith("_ire") else "-",
                    label=diverged.label(names[role], run))
            diverged.mark_end(ax, run, df["epoch"], df["trace_fisher"])
        ax.set_yscale("log")
        ax.set_xlabel("epoch")
        ax.set_ylabel("Tr $\\hat F$")
        ax.set_title(f"{column}: {style.stand_in(ctx, f'{column}_sgd')}", fontsize=9)
    style.legend_outside(fig, "right", *ax.get_legend_handles_labels())
    fig.suptitle(style.ran_line(ctx, f"{plot.columns[0]}_sgd"), fontsize=9)
    fig.tight_layout(rect=(0, 0, 0.86, 0.95))

    values = {"rows": rows.to_dict(orient="records"), "sgd_ire_delta": deltas["sgd"], "sam_ire_delta": deltas["sam"],
              "min_sgd_ire_delta": min(deltas["sgd"].values()), "min_sam_ire_delta": min(deltas["sam"].values()),
              "ire_trace_ratio": ratio, "every_ire_lowers_trace": bool(all(r < 1 for r in ratio.values()))}
    if plot.top_k:
        values["min_top5_delta"] = float(min(acc.loc[(c, f"{b}_ire"), "best_top5_acc"] - acc.loc[(c, b), "best_top5_acc"]
                                             for c in plot.columns for b in ("sgd", "sam")))
    else:
        values["min_top5_delta"], values["min_top5_delta__note"] = None, "this table reports top-1 only"
    return FigureOutput(fig, rows, diverged.finish(ctx, fig, values))


@replicate_figure("ire", "tab07")
def tab07_bands(ctx: FigureContext, outputs: list) -> plt.Figure:
    """The seeds' best test accuracy per optimizer: the mean with its 95% t-interval, each seed a dot."""
    data = pd.concat([pd.DataFrame(o.values["rows"]).assign(seed=i) for i, o in enumerate(outputs)], ignore_index=True)
    names = _names(ctx.plot)
    first = seed_context(ctx, ctx.figure.seeds[0])  # labels read one seed's runs by their plain names
    fig, axes = plt.subplots(1, len(ctx.plot.columns), figsize=(5.5 * len(ctx.plot.columns) + 3, 4.2), squeeze=False)
    colors = dict(zip(ROLES, style.palette(4)))
    for ax, column in zip(axes[0], ctx.plot.columns):
        for x, role in enumerate(ROLES):
            accs = data[(data["column"] == column) & (data["role"] == role)]["best_test_acc"].to_numpy()
            lo, hi = t_interval(accs)
            mean = float(np.nanmean(accs))
            ax.errorbar([x], [mean], yerr=[[mean - lo], [hi - mean]], fmt="o", color=colors[role], capsize=5,
                        label=f"{names[role]}: {mean:.2f} (95% CI {lo:.2f}-{hi:.2f})")
            ax.scatter(np.full(accs.size, x + 0.12), accs, s=12, color=colors[role], alpha=0.6)
        ax.set_xticks(range(len(ROLES)), [names[r] for r in ROLES])
        ax.set_ylabel("best test accuracy (%)")
        ax.set_title(f"{column}: {style.stand_in(first, f'{column}_sgd')}", fontsize=9)
        style.legend_outside(ax, "below")
    fig.suptitle(f"{len(outputs)} seeds, mean and 95% t-interval; " + style.ran_line(first, f"{ctx.plot.columns[0]}_sgd"), fontsize=9)
    fig.tight_layout()
    return fig
