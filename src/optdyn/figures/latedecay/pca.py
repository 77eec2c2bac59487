"""Fig. 2 (neural): train and test loss in the PCA plane of every checkpoint (a
``pca_landscape`` probe), with the main path (orange), the subpaths (blue, dashed), the end of the
latest subpath (star) and the grid's test-loss minimum (x); as the authors' notebook, PC2 on the
x-axis and PC1 on the y-axis. A second row shows the authors' curved surface when probed."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.colors import LogNorm
from scipy.stats import spearmanr

from optdyn.figures import diverged
from optdyn.figures.common import FigureContext, FigureOutput
from optdyn.figures.style import series_keys
from optdyn.registry import figure


def _grid(table: pd.DataFrame, surface: str, loss: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    g = table[(table.part == "grid") & (table.surface == surface)]
    x1, x2 = np.unique(g.x1), np.unique(g.x2)
    Z = g.pivot_table(index="x1", columns="x2", values=loss).reindex(index=x1, columns=x2).to_numpy()
    return x1, x2, Z


def _spearman(x, y) -> float | None:
    return float(spearmanr(x, y).statistic) if len(x) >= 3 else None


def _valley_fraction(losses, Z) -> np.ndarray:
    """Height above the grid's minimum as a fraction of the grid's range."""
    lo, hi = np.nanmin(Z), np.nanmax(Z)
    return (np.asarray(losses, float) - lo) / max(hi - lo, 1e-300)


def _measures(table: pd.DataFrame, p, surface: str) -> dict:
    path = table[(table.part == "path") & (table.surface == surface)]
    x1, x2, Zte = _grid(table, surface, p.test_loss)
    _, _, Ztr = _grid(table, surface, p.train_loss)
    i, j = np.unravel_index(np.nanargmin(Zte), Zte.shape)
    star = np.array([x1[i], x2[j]])
    main = path[path.run == p.main].sort_values("step")
    subs = path[path.run != p.main]
    first_branch = int(subs.branch_step.min()) if len(subs) else 0
    late = main[main.step >= first_branch]
    dist_main = np.hypot(late.x1 - star[0], late.x2 - star[1])
    ends = subs.sort_values("step").groupby("run").tail(1).sort_values("branch_step")
    dist_end = np.hypot(ends.x1 - star[0], ends.x2 - star[1])
    return {
        "test_min": star.tolist(),
        "spearman_main_step_vs_dist_test_min": _spearman(late.step, dist_main),
        "main_train_valley_fraction": float(np.median(_valley_fraction(late[f"{p.train_loss}_projected"], Ztr))),
        "subpath_end_train_valley_fraction": float(np.max(_valley_fraction(ends[f"{p.train_loss}_projected"], Ztr))) if len(ends) else None,
        "spearman_branch_vs_end_dist_test_min": _spearman(ends.branch_step, dist_end),
        "end_dist_test_min": dist_end.tolist(),
        "end_branch_steps": ends.branch_step.astype(int).tolist(),
    }


@figure("latedecay", "fig02")
def fig02(ctx: FigureContext) -> FigureOutput:
    p = ctx.plot
    table = ctx.probes[p.probe]
    rows = [(table, s, "PC1/PC2 plane" if s == "plane" else r"curved surface (+ $(a x_1^2 + b x_1 + c)$ PC3)")
            for s in ("plane", "curved") if ((table.part == "grid") & (table.surface == s)).any()]
    local = ctx.probes[p.local_probe] if p.local_probe else None
    if local is not None:
        start = int(local[(local.part == "path") & (local.run == p.main)].step.min())
        rows.append((local, "plane", f"plane of the states from step {start:,} on"))
    pal = sns.color_palette("colorblind")
    fig, axes = plt.subplots(len(rows), 2, figsize=(13, 5.4 * len(rows)), squeeze=False)
    for r, (tab, surface, what) in enumerate(rows):
        path = tab[(tab.part == "path") & (tab.surface == surface)]
        m = _measures(tab, p, surface)
        for col, (loss, label) in enumerate(((p.train_loss, "train loss"), (p.test_loss, "test loss"))):
            ax = axes[r, col]
            x1, x2, Z = _grid(tab, surface, loss)
            pos = Z[np.isfinite(Z) & (Z > 0)]
            levels = np.geomspace(pos.min(), pos.max(), 30)
            cs = ax.contourf(x2, x1, Z, levels=levels, norm=LogNorm(vmin=levels[0], vmax=levels[-1]), cmap="viridis")
            fig.colorbar(cs, ax=ax, format="%.3g")
            main = path[path.run == p.main].sort_values("step")
            ax.plot(main.x2, main.x1, color=pal[1], lw=2.0, zorder=2, label="main path (large LR)")
            for i, (_, sub) in enumerate(path[path.run != p.main].groupby("run")):
                sub = sub.sort_values("step")
                ax.plot(sub.x2, sub.x1, color=pal[0], lw=1.6, ls="--", marker="o", ms=2.5, zorder=3,
                        label="subpaths (small LR)" if i == 0 else None)
            subs = path[path.run != p.main]
            if len(subs):
                last = subs[subs.branch_step == subs.branch_step.max()].sort_values("step").iloc[-1]
                ax.plot(last.x2, last.x1, marker="*", ms=17, color=pal[2], mec="k", ls="none", zorder=4,
                        label="end of the latest subpath")
            ax.plot(m["test_min"][1], m["test_min"][0], marker="X", ms=11, color="white", mec="k", ls="none", zorder=4,
                    label="test-loss minimum of the grid")
            ax.set(xlabel="PC2 coordinate", ylabel="PC1 coordinate", title=f"({'abcdef'[2 * r + col]}) {label}, {what}")
        axes[r, 1].legend(fontsize=10, loc="center left", bbox_to_anchor=(1.25, 0.5))
    explained = _explained(table)
    n_states, n_params = int(table.n_states.iloc[0]), int(table.n_params.iloc[0])
    fig.suptitle(f"{ctx.setting(p.main).line}\nPCA of {n_states} states ({n_params:,} parameters): "
                 f"PC1 + PC2 explain {100 * explained[:2].sum():.1f}%, PC3 {100 * explained[2]:.1f}%", fontsize=11)
    fig.tight_layout()
    values = _measures(table, p, "plane" if rows[0][1] == "plane" else rows[0][1])
    values.update({
        "explained_variance": explained.tolist(),
        "explained_top2": float(explained[:2].sum()),
        "explained_pc3": float(explained[2]),
        "curve_fit_abc": [float(table[c].iloc[0]) for c in ("curve_a", "curve_b", "curve_c")],
    })
    if any(s == "curved" for _, s, _ in rows):
        values["curved"] = _measures(table, p, "curved")
    parts = [table.assign(probe=p.probe)]
    if local is not None:
        values["local"] = {**_measures(local, p, "plane"), "explained_variance": _explained(local).tolist(), "from_step": start}
        parts.append(local.assign(probe=p.local_probe))
    data = pd.concat(parts, ignore_index=True)
    data = data[data.part != "state"].drop(columns=["n_params", "n_states"])
    # the CSV writer groups rows by the columns that name a series, which must not hold NaN
    # (pandas keeps NaN through astype(str)): a value a part does not have is an empty cell
    for c in series_keys(data):
        data[c] = data[c].astype(object).where(data[c].notna(), "")
    return FigureOutput(fig, data, diverged.finish(ctx, fig, values))


def _explained(table: pd.DataFrame) -> np.ndarray:
    return table[table.part == "pca"].sort_values("pc").explained.to_numpy(float)
