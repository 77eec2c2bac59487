"""Fig. 1 (neural): a main path at the large learning rate, a sweep of decay subpaths over the
branch step at the small one, and a control without persistent noise. Learning curves, the
train/test loss maps over (branch step, steps after decay) and the final losses against the
branch step. Settings (learning rates, branch steps) are read from the runs."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.colors import LogNorm
from scipy.stats import spearmanr

from optdyn.figures import diverged
from optdyn.figures.common import FigureContext, FigureOutput
from optdyn.registry import figure


def subpaths(ctx: FigureContext, group: str) -> list[tuple[int, str, object]]:
    """(branch step, member name, run) of a sweep of branches, by branch step."""
    members = [(m["name"], ctx.runs[m["name"]]) for m in ctx.figure.groups.get(group, []) if m["name"] in ctx.runs]
    if len(members) < 2 or any(run.spec.branch_from is None for _, run in members):
        raise ValueError(f"sweep '{group}' must hold at least two branches (branch_from) of the main path")
    return sorted(((run.spec.branch_from.step, name, run) for name, run in members), key=lambda t: t[0])


def series(run, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """(steps, values) of a scalar metric at the run's evaluations (the rows where it is logged)."""
    if metric not in run.metrics:
        raise KeyError(f"run {run.run_id} logs no metric '{metric}'; it has: {', '.join(run.metrics.columns)}")
    df = run.metrics[["step", metric]].dropna()
    return df["step"].to_numpy(), df[metric].to_numpy(np.float64)


def final(run, metric: str, window: int) -> float:
    """The metric averaged over the run's last ``window`` steps (its last value for 0); NaN for
    a diverged run, which has no final state."""
    if run.diverged:
        return float("nan")
    steps, vals = series(run, metric)
    return float(vals[steps >= steps[-1] - window].mean())


def _spearman(x, y) -> float | None:
    x, y = np.asarray(x, float), np.asarray(y, float)
    ok = np.isfinite(y)
    return float(spearmanr(x[ok], y[ok]).statistic) if ok.sum() >= 3 else None


@figure("latedecay", "fig01")
def fig01(ctx: FigureContext) -> FigureOutput:
    p = ctx.plot
    main = ctx.runs[p.main]
    subs = subpaths(ctx, p.subpaths)
    pal = sns.color_palette("colorblind")
    eta_l, eta_s = main.spec.schedule.lr, subs[0][2].spec.schedule.lr
    # 2 x 2 at 14 in: text stays readable when the report shows the figure ~1000 px wide
    fig, axes = plt.subplots(2, 2, figsize=(14, 10))
    axes = axes.ravel()

    ax = axes[0]
    cmap = plt.get_cmap("viridis")
    m_steps, m_train = series(main, p.train_metric)
    _, m_test = series(main, p.test_metric)
    for i, (k, _, run) in enumerate(subs):
        s, tr = series(run, p.train_metric)
        _, te = series(run, p.test_metric)
        c = cmap(i / max(len(subs) - 1, 1))
        ax.plot(s, tr, color=c, lw=0.7, alpha=0.6)
        ax.plot(s, te, color=c, lw=0.7, alpha=0.6, ls="--")
    ax.plot(m_steps, m_train, color=pal[1], lw=1.4, label=diverged.label(fr"main train ($\eta_L$ = {eta_l:g})", main))
    ax.plot(m_steps, m_test, color=pal[1], lw=1.4, ls="--", label="main test")
    diverged.mark_end(ax, main, m_steps, m_train)
    ax.plot([], [], color=cmap(0.5), lw=0.7, label=fr"subpaths ($\eta_S$ = {eta_s:g}; colour: branch step)")
    ax.set(yscale="log", xlabel="step", ylabel="loss (solid: train, dashed: test)", title="(a) learning curves")
    ax.legend(fontsize=10, loc="upper right")

    branch = np.array([k for k, _, _ in subs])
    rows, maps = [], {p.train_metric: [], p.test_metric: []}
    for k, name, run in subs:
        s, tr = series(run, p.train_metric)
        _, te = series(run, p.test_metric)
        maps[p.train_metric].append((s - k, tr))
        maps[p.test_metric].append((s - k, te))
        rows.append(pd.DataFrame({"series": "subpath", "run": name, "branch_step": k, "steps_after_decay": s - k,
                                  "train_loss": tr, "test_loss": te}))
    after = max((a for a, _ in maps[p.test_metric]), key=len)
    for ax, key, label in ((axes[1], p.train_metric, "(b) train loss"), (axes[2], p.test_metric, "(c) test loss")):
        Z = np.full((len(subs), len(after)), np.nan)
        for i, (a, v) in enumerate(maps[key]):
            Z[i, : len(v)] = v[: len(after)]
        pos = Z[np.isfinite(Z) & (Z > 0)]
        mesh = ax.pcolormesh(after, branch, Z, shading="nearest", cmap="viridis",
                             norm=LogNorm(vmin=pos.min(), vmax=pos.max()) if pos.size else None)
        fig.colorbar(mesh, ax=ax)
        ax.set(xlabel=fr"steps after decay ($\eta_S$ = {eta_s:g})", ylabel="branch (decay) step", title=f"{label} of the subpaths")

    fin = pd.DataFrame({"branch_step": branch, "run": [n for _, n, _ in subs],
                        "final_test": [final(r, p.test_metric, p.final_window) for _, _, r in subs],
                        "final_train": [final(r, p.train_metric, p.final_window) for _, _, r in subs]})
    ax = axes[3]
    ax.plot(fin["branch_step"], fin["final_test"], "o-", color=pal[0], label="final test loss")
    twin = ax.twinx()  # the train loss sits an order of magnitude lower: its own linear axis
    twin.plot(fin["branch_step"], fin["final_train"], "s-", color=pal[2], label="final train loss (right axis)")
    twin.set_ylabel("final train loss")
    twin.grid(False)
    values = {}
    if p.control_subpaths:
        ctl = subpaths(ctx, p.control_subpaths)
        cfin = pd.DataFrame({"branch_step": [k for k, _, _ in ctl], "run": [n for _, n, _ in ctl],
                             "final_test": [final(r, p.test_metric, p.final_window) for _, _, r in ctl],
                             "final_train": [final(r, p.train_metric, p.final_window) for _, _, r in ctl]})
        ax.plot(cfin["branch_step"], cfin["final_test"], "o--", color=pal[3], label="control without persistent noise: final test")
        values["control_final_test_loss"] = cfin["final_test"].tolist()
        values["control_final_train_loss"] = cfin["final_train"].tolist()
        values["control_final_test_last_over_first"] = float(cfin["final_test"].iloc[-1] / cfin["final_test"].iloc[0])
        rows.append(cfin.assign(series="control_final"))
    win = f"mean of the last {p.final_window:,} steps" if p.final_window else "last evaluation"
    ax.set(xlabel="branch (decay) step", ylabel=f"final test loss ({win})", title="(d) final losses vs decay time")
    handles = ax.get_legend_handles_labels()[0] + twin.get_legend_handles_labels()[0]
    ax.legend(handles=handles, fontsize=10, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2)
    fig.suptitle(ctx.setting(p.main).line, fontsize=11)
    fig.tight_layout()

    norm_at = None
    if "norm" in main.metrics:
        n_steps, n_vals = series(main, "norm")
        norm_at = [float(n_vals[np.argmin(np.abs(n_steps - k))]) for k in branch]
    values.update({
        "branch_steps": branch.tolist(),
        "final_test_loss": fin["final_test"].tolist(),
        "final_train_loss": fin["final_train"].tolist(),
        "spearman_branch_vs_final_test": _spearman(branch, fin["final_test"]),
        "spearman_branch_vs_final_train": _spearman(branch, fin["final_train"]),
        "final_test_first_over_last": float(fin["final_test"].iloc[0] / fin["final_test"].iloc[-1]),
        "final_train_rel_spread": float((fin["final_train"].max() - fin["final_train"].min()) / fin["final_train"].mean()),
        "main_norm_at_branches": norm_at,
        "main_norm_last_over_first_branch": None if norm_at is None else norm_at[-1] / norm_at[0],
    })
    if norm_at is None:
        values["main_norm_last_over_first_branch__note"] = "the model logs no 'norm' metric"
    main_rows = pd.DataFrame({"series": "main", "run": p.main, "step": m_steps, "train_loss": m_train, "test_loss": m_test})
    data = pd.concat([main_rows] + rows + [fin.assign(series="final")], ignore_index=True)
    return FigureOutput(fig, data, diverged.finish(ctx, fig, values))
