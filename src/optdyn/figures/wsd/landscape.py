"""WSD paper, Figs. 5, 12, 13, 14: the loss along lines and on a plane through GPT checkpoints.

The probes (``probes/landscape.py``) evaluate the loss; this module reads their tables, draws
them as the paper does (loss against the interpolation coefficient; contours on the plane) and
measures the shapes the paper describes: a valley between stable-phase checkpoints, a monotone
decrease across a decay, and a plane that is sharp along AA' and flat along A'B'.
"""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
from matplotlib import patheffects
import numpy as np
import pandas as pd

from optdyn.figures import diverged
from optdyn.figures.common import FigureContext, FigureOutput
from optdyn.figures.style import colorbar, legend_outside, ran_line
from optdyn.registry import figure


def _at(values: np.ndarray, x: float, what: str) -> int:
    hit = np.flatnonzero(np.isclose(values, x, atol=1e-9))
    if hit.size == 0:
        raise ValueError(f"the probe's {what} grid has no point at {x}; it needs one to compare with the checkpoint")
    return int(hit[0])


def _curve(probe: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    df = probe.sort_values("alpha")
    return df["alpha"].to_numpy(np.float64), df["loss"].to_numpy(np.float64)


def valley(probe: pd.DataFrame) -> dict:
    """Depth of the interior minimum below the lower end: min(L(0), L(1)) - min_{0<a<1} L(a)
    (positive: a valley), also relative to that end, and where the minimum lies."""
    alpha, loss = _curve(probe)
    ends = min(loss[_at(alpha, 0.0, "alpha")], loss[_at(alpha, 1.0, "alpha")])
    inside = (alpha > 1e-9) & (alpha < 1 - 1e-9)
    k = int(np.argmin(np.where(inside, loss, np.inf)))
    depth = float(ends - loss[k])
    return {"depth": depth, "depth_rel": depth / abs(ends), "argmin_alpha": float(alpha[k])}


def monotone(probe: pd.DataFrame) -> dict:
    """The largest rise between neighbouring alphas on [0, 1] (<= 0: non-increasing), the total
    drop L(0) - L(1), and the rise as a fraction of the drop (inf when the loss does not drop)."""
    alpha, loss = _curve(probe)
    i0, i1 = _at(alpha, 0.0, "alpha"), _at(alpha, 1.0, "alpha")
    rise, drop = float(np.max(np.diff(loss[i0 : i1 + 1]))), float(loss[i0] - loss[i1])
    return {"max_increase": rise, "drop": drop, "rise_over_drop": max(rise, 0.0) / drop if drop > 0 else math.inf}


def _pair_label(probe: pd.DataFrame, total: int) -> str:
    row = probe.iloc[0]
    s0, s1 = int(row["start_step"]), int(row["end_step"])
    kind = "decay" if row["end_run"] != row["start_run"] else "stable"
    return f"{kind} from step {s0} ({100 * s0 / total:.0f}%), +{s1 - s0} steps"


def _draw_curve(ax, probe: pd.DataFrame, color: str, title: str, mark_min: bool = False) -> None:
    alpha, loss = _curve(probe)
    ax.plot(alpha, loss, "o-", color=color, ms=3, lw=1.5, label="loss on the line")
    for end in (0.0, 1.0):
        ax.axvline(end, color="0.6", ls=":", lw=1)
    if mark_min:  # the minimum over the segment [0, 1]: interior (a valley, a non-monotone decay) or an end
        seg = (alpha > -1e-9) & (alpha < 1 + 1e-9)
        k = int(np.argmin(np.where(seg, loss, np.inf)))
        interior = 1e-9 < alpha[k] < 1 - 1e-9
        ax.plot(alpha[k], loss[k], "v", color="k", mfc="k" if interior else "w", ms=8, zorder=5,
                label="interior minimum on [0, 1]" if interior else "minimum on [0, 1] (an end)")
        if interior:
            ax.annotate(rf"$\alpha$={alpha[k]:.2f}", (alpha[k], loss[k]), textcoords="offset points", xytext=(0, 9),
                        ha="center", fontsize=8)
    ax.set_xlabel(r"interpolation coefficient $\alpha$")
    ax.set_ylabel(f"{probe['loss_of'].iloc[0].replace('_', ' ')}")
    ax.set_title(title)


def _tidy(probes: dict[str, pd.DataFrame]) -> pd.DataFrame:
    return pd.concat([df.assign(pair=name) for name, df in probes.items()], ignore_index=True)


@figure("wsd", "fig05")
def fig05(ctx: FigureContext) -> FigureOutput:
    stable, decay = ctx.probes["stable"], ctx.probes["decay"]
    total = ctx.runs["stable"].spec.steps
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    _draw_curve(axes[0], stable, "C0", f"(a) {_pair_label(stable, total)}")
    _draw_curve(axes[1], decay, "C1", f"(b) {_pair_label(decay, total)}")
    v, m = valley(stable), monotone(decay)
    axes[0].plot(v["argmin_alpha"], _curve(stable)[1].min(), "v", color="k", ms=7, label="interior minimum")
    axes[0].legend(fontsize=8)
    values = {
        "stable_valley_depth": v["depth"], "stable_valley_depth_rel": v["depth_rel"],
        "stable_argmin_alpha": v["argmin_alpha"], "decay_max_increase": m["max_increase"], "decay_drop": m["drop"],
        "decay_rise_over_drop": m["rise_over_drop"],
        "distance": {"stable": float(stable["distance"].iloc[0]), "decay": float(decay["distance"].iloc[0])},
    }
    fig.tight_layout()
    return FigureOutput(fig, _tidy(ctx.probes), diverged.finish(ctx, fig, values))


def _panel_grid(ctx: FigureContext, color: str):
    names = list(ctx.probes)
    cols = min(ctx.plot.columns, len(names))
    rows = math.ceil(len(names) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.4 * rows), squeeze=False)
    total = ctx.runs["stable"].spec.steps
    for ax, name in zip(axes.flat, names):
        _draw_curve(ax, ctx.probes[name], color, _pair_label(ctx.probes[name], total), mark_min=True)
    for ax in axes.flat[len(names):]:
        ax.set_visible(False)
    # one legend for the markers, shared by every panel, under them; what ran above them
    h = {lab: hd for ax in axes.flat[: len(names)] for hd, lab in zip(*ax.get_legend_handles_labels())}
    legend_outside(fig, "below", handles=list(h.values()), labels=list(h), ncol=len(h))
    fig.suptitle(ran_line(ctx, "stable", 150), fontsize=9)
    return fig, names


@figure("wsd", "fig12")
def fig12(ctx: FigureContext) -> FigureOutput:
    fig, names = _panel_grid(ctx, "C1")
    per = {name: monotone(ctx.probes[name]) for name in names}
    values = {
        "max_increase_worst": max(p["max_increase"] for p in per.values()),
        "rise_over_drop_worst": max(p["rise_over_drop"] for p in per.values()),
        "rise_over_drop": {n: p["rise_over_drop"] for n, p in per.items()},
        "max_increase": {n: p["max_increase"] for n, p in per.items()},
        "drop": {n: p["drop"] for n, p in per.items()},
        "distance": {n: float(ctx.probes[n]["distance"].iloc[0]) for n in names},
    }
    fig.tight_layout()
    return FigureOutput(fig, _tidy(ctx.probes), diverged.finish(ctx, fig, values))


@figure("wsd", "fig13")
def fig13(ctx: FigureContext) -> FigureOutput:
    fig, names = _panel_grid(ctx, "C0")
    per = {name: valley(ctx.probes[name]) for name in names}
    values = {
        "valley_depth_min": min(p["depth"] for p in per.values()),
        "valley_depth": {n: p["depth"] for n, p in per.items()},
        "valley_depth_rel": {n: p["depth_rel"] for n, p in per.items()},
        "argmin_alpha": {n: p["argmin_alpha"] for n, p in per.items()},
        "distance": {n: float(ctx.probes[n]["distance"].iloc[0]) for n in names},
    }
    fig.tight_layout()
    return FigureOutput(fig, _tidy(ctx.probes), diverged.finish(ctx, fig, values))


def line_curvature(plane: pd.DataFrame, along: str, half_width: int = 2) -> float:
    """d^2 L / ds^2 at the origin along the grid line in direction ``along`` ("a" or "b"), s in
    parameter distance (coefficient times |P - O|): twice the quadratic coefficient of a
    least-squares fit to the 2 * half_width + 1 grid points around the origin. Local, so both
    directions are measured at the same point (the decayed A', on the river)."""
    other = "b" if along == "a" else "a"
    line = plane[np.isclose(plane[other], 0.0, atol=1e-9)].sort_values(along)
    coef = line[along].to_numpy(np.float64)
    i = _at(coef, 0.0, along)
    if i < half_width or i + half_width >= len(coef):
        raise ValueError(f"the plane's grid needs {half_width} points either side of the origin along {along} (at {other} = 0)")
    window = slice(i - half_width, i + half_width + 1)
    s = coef[window] * float(line[f"dist_{along}"].iloc[0])
    return float(2.0 * np.polyfit(s, line["loss"].to_numpy(np.float64)[window], 2)[0])


def _segment_range(plane: pd.DataFrame, along: str) -> float:
    """max - min of the loss between the origin and the point at coefficient 1 along ``along``."""
    other = "b" if along == "a" else "a"
    line = plane[np.isclose(plane[other], 0.0, atol=1e-9) & (plane[along] > -1e-9) & (plane[along] < 1 + 1e-9)]
    return float(line["loss"].max() - line["loss"].min())


def _loss_at(plane: pd.DataFrame, a: float, b: float) -> float:
    hit = plane[np.isclose(plane["a"], a, atol=1e-9) & np.isclose(plane["b"], b, atol=1e-9)]
    if hit.empty:
        raise ValueError(f"the plane's grid has no point (a, b) = ({a}, {b})")
    return float(hit["loss"].iloc[0])


def _contours(ax, plane: pd.DataFrame, xcol: str, ycol: str, levels: int, points: dict) -> None:
    grid = plane.pivot_table(index=ycol, columns=xcol, values="loss") if xcol == "a" else None
    if grid is not None:
        X, Y = np.meshgrid(grid.columns.to_numpy(), grid.index.to_numpy())
        Z = grid.to_numpy()
    else:  # an orthonormal grid is rectangular in (x, y) too: same ordering as (a, b)
        pa = plane.sort_values(["b", "a"])
        n_a, n_b = pa["a"].nunique(), pa["b"].nunique()
        X, Y, Z = (pa[c].to_numpy().reshape(n_b, n_a) for c in (xcol, ycol, "loss"))
    # quantile levels: the loss grows fast away from the points, linear levels would leave the
    # neighbourhood of the checkpoints in one colour
    lv = np.unique(np.quantile(Z, np.linspace(0, 1, levels)))
    cf = ax.contourf(X, Y, Z, levels=lv, cmap="viridis")
    ax.contour(X, Y, Z, levels=lv, colors="w", linewidths=0.4)
    colorbar(ax.figure, cf, ax, "val loss", format="%.3f")
    outline = [patheffects.withStroke(linewidth=2.5, foreground="k")]  # legible on dark and light fills
    outside = {}
    for name, (x, y) in points.items():
        if X.min() - 1e-9 <= x <= X.max() + 1e-9 and Y.min() - 1e-9 <= y <= Y.max() + 1e-9:
            ax.plot(x, y, "o", color="w", ms=7, mec="k", mew=1.2)
            ax.annotate(name, (x, y), textcoords="offset points", xytext=(6, 6), color="w", fontsize=11, weight="bold",
                        path_effects=outline)
        else:
            outside[name] = (x, y)
    ax.set_xlim(X.min(), X.max())
    ax.set_ylim(Y.min(), Y.max())
    return outside


def _toward(ax, start: tuple[float, float], end: tuple[float, float], name: str) -> None:
    """An arrow from ``start`` toward ``end`` (a point outside the axes), stopped just inside
    the grid's edge, so the direction is drawn where the point itself cannot be."""
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    d = np.subtract(end, start)
    reach = [(b - s) / v for v, s, lo, hi in ((d[0], start[0], x0, x1), (d[1], start[1], y0, y1))
             for b in ((hi,) if v > 0 else (lo,) if v < 0 else ())]
    tip = np.add(start, 0.92 * min(reach + [1.0]) * d)
    ax.annotate("", xy=tuple(tip), xytext=start, arrowprops={"arrowstyle": "-|>", "color": "w", "lw": 2.0,
                                                             "path_effects": [patheffects.withStroke(linewidth=3.5, foreground="k")]})
    ax.annotate(f"toward {name}\n(at ({end[0]:.2f}, {end[1]:.2f}),\noutside the grid)", tuple(tip), textcoords="offset points",
                xytext=(0, 12), va="bottom", ha="left", color="w", fontsize=9, path_effects=[patheffects.withStroke(linewidth=2.5, foreground="k")])


@figure("wsd", "fig14")
def fig14(ctx: FigureContext) -> FigureOutput:
    raw, ortho = ctx.probes["raw"], ctx.probes["orthonormal"]
    first = raw.iloc[0]
    dist_aa, dist_ab, angle = float(first["dist_a"]), float(first["dist_b"]), float(first["angle_deg"])
    c_aa, c_ab_raw, c_ab_ortho = line_curvature(raw, "a"), line_curvature(raw, "b"), line_curvature(ortho, "b")
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.8))
    _contours(axes[0], raw, "a", "b", ctx.plot.levels, {"A'": (0, 0), "A": (1, 0), "B'": (0, 1)})
    axes[0].set(xlabel="a  (direction A - A')", ylabel="b  (direction B' - A')",
                title=r"$\theta = A' + a\,(A - A') + b\,(B' - A')$")
    along = dist_ab * math.cos(math.radians(angle))
    across = dist_ab * math.sin(math.radians(angle))
    outside = _contours(axes[1], ortho, "x", "y", ctx.plot.levels, {"A'": (0, 0), "A": (dist_aa, 0), "B'": (along, across)})
    for name, at in outside.items():  # B' lies outside the probe's grid when AA' and A'B' meet at > 90 deg
        _toward(axes[1], (0.0, 0.0), at, name)
    axes[1].set(xlabel="distance along $e_1$ (A - A')", ylabel="distance along $e_2$",
                title=f"orthonormal basis (angle AA' vs A'B' = {angle:.0f}$^\\circ$)")
    fig.suptitle(ran_line(ctx, "stable", 150), fontsize=9)
    values = {
        # |.| in the flat direction: a river is flat whichever the sign of its small curvature
        "sharpness_ratio_raw": c_aa / abs(c_ab_raw), "sharpness_ratio_orthonormal": c_aa / abs(c_ab_ortho),
        "curvature_aa": c_aa, "curvature_ab_raw": c_ab_raw, "curvature_ab_orthonormal": c_ab_ortho,
        "range_ratio_raw": _segment_range(raw, "a") / _segment_range(raw, "b"),
        "dist_aa": dist_aa, "dist_ab": dist_ab, "angle_deg": angle,
        "loss_at_points": {"A'": _loss_at(raw, 0, 0), "A": _loss_at(raw, 1, 0), "B'": _loss_at(raw, 0, 1)},
    }
    fig.tight_layout()
    return FigureOutput(fig, _tidy(ctx.probes), diverged.finish(ctx, fig, values))
