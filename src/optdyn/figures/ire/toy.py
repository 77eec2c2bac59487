"""IRE paper, Sec. 2 and App. A: GD / GD-IRE on the 2-D toy (Fig. 1) and label-noise SGD with
and without IRE (App. A), both on L = (1 + u^2) v^2 / 2 trained as runs."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from optdyn.figures import diverged
from optdyn.figures.common import FigureContext, FigureOutput
from optdyn.figures.style import legend_outside, palette
from optdyn.optim.optimizers import find
from optdyn.registry import figure
from optdyn.theory import ire as theory


def kappa_of(run) -> float:
    wrapper = find(run.spec.optimizer, "ire")
    return 0.0 if wrapper is None else float(wrapper.kappa)


def _path(run) -> pd.DataFrame:
    """The (u, v) path; a diverged run's up to its last finite point."""
    return diverged.finite_metrics(run, "u", "v")[["step", "u", "v", "sharpness"]]


def _converged_at(path: pd.DataFrame, below: float) -> int | None:
    hit = np.flatnonzero(np.abs(path["v"].to_numpy()) < below)
    return int(path["step"].iloc[hit[0]]) if hit.size else None


def _contours(ax, u_range, v_range) -> None:
    U, V = np.meshgrid(np.linspace(*u_range, 300), np.linspace(*v_range, 200))
    L = theory.valley_loss(U, V)
    ax.contour(U, V, np.log10(L + 1e-30), levels=14, colors="0.6", linewidths=0.5, linestyles="solid")
    ax.axhline(0, color="0.35", lw=2, label="minima manifold $M = \\{v = 0\\}$")
    if u_range[0] <= 0 <= u_range[1]:
        ax.plot([0], [0], "*", color="C3", mec="k", mew=0.8, ms=15, zorder=5, label="flattest minimum (0, 0)")
    ax.set_xlim(*u_range)
    ax.set_ylim(*v_range)
    ax.set_xlabel("$u$")
    ax.set_ylabel("$v$")


@figure("ire", "fig01")
def fig01(ctx: FigureContext) -> FigureOutput:
    below = ctx.plot.converged_below
    gd1, gd2 = ctx.runs["gd_eta1"], ctx.runs["gd_eta2"]
    ire_runs = sorted((kappa_of(r), r) for n, r in ctx.runs.items() if n not in ("gd_eta1", "gd_eta2"))
    p1, p2 = _path(gd1), _path(gd2)
    start = p1.iloc[0]
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.6))

    ax = axes[0]
    _contours(ax, (0.990, 1.0005), (-0.0105, 0.0105))
    ax.plot(p1["u"], p1["v"], "-", color="C0", lw=0.3, alpha=0.7,
            label=diverged.label(f"GD, $\\eta$ = {gd1.spec.schedule.lr:g}", gd1))
    diverged.mark_end(ax, gd1, p1["u"], p1["v"])
    ax.plot(start["u"], start["v"], "ko", ms=6, label="start")
    ax.set_title("(a) GD, $\\eta$ = 1: slow drift along M")
    legend_outside(ax, "below", ncol=2)

    ax = axes[1]
    _contours(ax, (-0.5, 1.5), (-0.5, 0.5))
    ax.plot(p2["u"], p2["v"], ".-", color="C3", lw=1, ms=5, label=diverged.label(f"GD, $\\eta$ = {gd2.spec.schedule.lr:g}", gd2))
    diverged.mark_end(ax, gd2, p2["u"], p2["v"], color="k")
    ax.plot(start["u"], start["v"], "ko", ms=6, label="start")
    ax.set_title("(b) GD, $\\eta$ = 2: diverges")
    legend_outside(ax, "below", ncol=2)

    ax = axes[2]
    _contours(ax, (-0.1, 1.2), (-0.012, 0.012))
    ax.plot(p1["u"], p1["v"], "-", color="C0", lw=0.3, alpha=0.7, label="GD, $\\eta$ = 1")
    # distinct hues and markers per kappa (a one-hue ramp made kappa = 90 and 900 look alike)
    # (C0 is GD, C3 the star, C7 the grey contours: the kappas take the others)
    colors = [f"C{k}" for k in (2, 1, 4, 5, 6, 8, 9)][: len(ire_runs)] if len(ire_runs) <= 7 else palette(len(ire_runs))
    for (kappa, run), color, marker in zip(ire_runs, colors, "osD^v<>p"):
        path = _path(run)
        ax.plot(path["u"], path["v"], "-", marker=marker, color=color, lw=1, ms=4,
                label=diverged.label(f"GD-IRE, $\\kappa$ = {kappa:g}", run))
        diverged.mark_end(ax, run, path["u"], path["v"])
    ax.plot(start["u"], start["v"], "ko", ms=6, label="start")
    ax.set_title("(c) GD-IRE ($\\eta$ = 1) vs GD")
    legend_outside(ax, "below", ncol=2)
    fig.tight_layout()

    first_du_gd, first_v_gd = p1["u"].iloc[1] - p1["u"].iloc[0], p1["v"].iloc[1]
    ire_paths = [_path(r) for _, r in ire_runs]
    sharp = [float(p1["sharpness"].iloc[-1])] + [float(p["sharpness"].iloc[-1]) for p in ire_paths]
    values = {
        "gd_eta1_final_u": float(p1["u"].iloc[-1]),
        "gd_eta1_converged_at": _converged_at(p1, below),
        "gd_eta2_diverged": bool(gd2.diverged),
        "ire_kappas": [k for k, _ in ire_runs],
        "ire_final_u": [float(p["u"].iloc[-1]) for p in ire_paths],
        "ire_converged_at": [_converged_at(p, below) for p in ire_paths],
        "final_sharpness": sharp,
        "final_sharpness_decreasing_in_kappa": bool(np.all(np.diff(sharp) < 0)),
        "first_step_drift_ratio": [float((p["u"].iloc[1] - p["u"].iloc[0]) / first_du_gd) for p in ire_paths],
        "first_step_v_unchanged": bool(all(p["v"].iloc[1] == first_v_gd for p in ire_paths)),
        "ire_max_abs_v_over_v0": float(max(np.abs(p["v"]).max() for p in ire_paths) / abs(start["v"])),
    }
    runs = [("GD eta=1", gd1), ("GD eta=2", gd2)] + [(f"GD-IRE kappa={k:g}", r) for k, r in ire_runs]
    data = pd.concat([_path(r).assign(run=name) for name, r in runs], ignore_index=True)
    ire_names = [n for n in ctx.runs if n not in ("gd_eta1", "gd_eta2")]
    uses = {"gd_eta1_final_u": ["gd_eta1"], "gd_eta1_converged_at": ["gd_eta1"], "gd_eta2_diverged": ["gd_eta2"],
            "ire_kappas": [], "ire_final_u": ire_names, "ire_converged_at": ire_names,
            "first_step_v_unchanged": ["gd_eta1", *ire_names], "ire_max_abs_v_over_v0": ["gd_eta1", *ire_names]}
    # GD with eta = 2 diverges in the paper too: that is the result its claim checks
    return FigureOutput(fig, data, diverged.finish(ctx, fig, values, uses=uses, expected=["gd_eta2"]))


def _window_rate(df: pd.DataFrame, lo: float, hi: float, skip: int) -> float:
    rows = df[(df["step"] >= skip) & (df["u"] >= lo) & (df["u"] <= hi)]
    return theory.decay_rate(rows["step"], np.log(rows["u"]))


@figure("ire", "appA")
def appA(ctx: FigureContext) -> FigureOutput:
    lo, hi = ctx.plot.rate_window
    skip = ctx.plot.skip_steps
    runs = sorted((kappa_of(r), r) for r in ctx.runs.values())
    if runs[0][0] != 0:
        raise ValueError("appA needs its SGD baseline (kappa = 0)")
    fig, (ax_u, ax_v) = plt.subplots(1, 2, figsize=(12, 4.4))
    frames, rate, v_sq, v_theory = [], {}, {}, {}
    sgd_vsq = None
    for kappa, run in runs:
        df = diverged.finite_metrics(run, "u")
        eta, sigma = run.spec.schedule.lr, run.spec.model.label_noise
        h = df["sharpness"].to_numpy()  # 1 + |u|^2 averaged over chains
        eq = theory.sgd_v_variance(eta, sigma, h)
        ax_u.semilogy(df["step"], df["u"], label=diverged.label(f"$\\kappa$ = {kappa:g}" + (" (SGD)" if kappa == 0 else " (SGD-IRE)"), run))
        ax_v.plot(df["step"], df["v_sq"], lw=0.8, label=diverged.label(f"$\\kappa$ = {kappa:g}", run))
        diverged.mark_end(ax_u, run, df["step"], df["u"])
        diverged.mark_end(ax_v, run, df["step"], df["v_sq"])
        rate[kappa] = diverged.guarded(run, _window_rate, df, lo, hi, skip)
        late = (df["step"] >= skip).to_numpy()
        v_sq[kappa] = float(df["v_sq"][late].mean())
        v_theory[kappa] = float((df["v_sq"][late] / eq[late]).mean())
        if kappa == 0:
            sgd_vsq = df.set_index("step")["v_sq"]
            sgd_h = df.set_index("step")["sharpness"]
        frames.append(df[["step", "u", "v_sq", "sharpness", "loss"]].assign(kappa=kappa, v_sq_theory=eq))
    eta, sigma = runs[0][1].spec.schedule.lr, runs[0][1].spec.model.label_noise
    hs = np.linspace(1, 2, 3)
    ax_v.axhline(eta * sigma**2 / 2, color="k", ls=":", lw=1, label="SDE limit $\\eta\\sigma^2/2$")
    for h in (hs[0], hs[-1]):
        ax_v.axhline(theory.sgd_v_variance(eta, sigma, h), color="0.4", ls="--", lw=0.8,
                     label="$\\eta\\sigma^2/(2-\\eta h)$ at $h$ = 1, 2" if h == hs[0] else None)
    # the band is where the drift rate is fitted: said in the legend, not left unexplained
    ax_u.axhspan(lo, hi, color="0.9", zorder=0, label=f"rate fit window: E[u] in [{lo:g}, {hi:g}], step $\\geq$ {skip}")
    ax_u.set_xlabel("step")
    ax_u.set_ylabel("E[u] (flat coordinate)")
    ax_u.set_title("drift along M: $(1+\\kappa)\\times$ faster")
    legend_outside(ax_u, "below", ncol=2)
    ax_v.set_xlabel("step")
    ax_v.set_ylabel("E[$v^2$] (sharp coordinate)")
    ax_v.set_title("sharp-direction variance: unchanged")
    legend_outside(ax_v, "below", ncol=2)
    fig.tight_layout()

    ire = [k for k, _ in runs if k > 0]
    values = {
        "kappas": ire,
        "drift_rate": {f"{k:g}": rate[k] for k in rate},
        "drift_rate_ratio": [rate[k] / rate[0.0] for k in ire],
        "v_sq_mean": {f"{k:g}": v_sq[k] for k in v_sq},
        "v_sq_over_theory": [v_theory[k] for k, _ in runs],
        "v_sq_ratio_to_sgd": [diverged.guarded([r for _, r in runs], _ratio_at_equal_sharpness, frames[i + 1], sgd_vsq, sgd_h, skip)
                              for i in range(len(ire))],
    }
    return FigureOutput(fig, pd.concat(frames, ignore_index=True), diverged.finish(ctx, fig, values))


def _ratio_at_equal_sharpness(df: pd.DataFrame, sgd_vsq: pd.Series, sgd_h: pd.Series, skip: int) -> float:
    """Mean E[v^2] of an IRE run over SGD's E[v^2] at the step where SGD had the same mean
    sharpness h (IRE gets flatter sooner, and the equilibrium depends on h)."""
    order = np.argsort(sgd_h.to_numpy())
    h_sorted, v_sorted = sgd_h.to_numpy()[order], sgd_vsq.to_numpy()[order]
    rows = df[(df["step"] >= skip) & (df["sharpness"] >= h_sorted[0]) & (df["sharpness"] <= h_sorted[-1])]
    # SGD's E[v^2] is noisy step to step: compare window means instead of pointwise values
    matched = np.interp(rows["sharpness"], h_sorted, v_sorted)
    return float(rows["v_sq"].mean() / matched.mean())
