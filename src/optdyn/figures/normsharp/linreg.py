"""Linear regression with BN (Fig. 4; Sec. 5)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from optdyn.figures import diverged
from optdyn.figures.common import FigureContext, FigureOutput
from optdyn.figures.style import legend_outside, log_range, ran_line
from optdyn.models.normsharp import LinearRegressionBNProblem
from optdyn.registry import figure
from optdyn.theory import normsharp as th

from . import series as S


def _flattest(run) -> tuple[float, float]:
    """(test loss, sharpness on Gamma) of the min-norm interpolant (M), in closed form."""
    problem = LinearRegressionBNProblem(run.spec.model)
    d, w = problem.data, problem.w_flat
    b = d["y"].mean() - w @ d["x"].mean(0)
    return (float(th.linreg_population_loss(w, b, d["w_gt"], d["b_gt"], d["cov"])),
            th.linreg_sharpness_on_manifold(w, d["x"], d["y"]))


@figure("normsharp", "fig04")
def fig04(ctx: FigureContext) -> FigureOutput:
    run, osc, win = ctx.runs["main"], ctx.runs["osc"], ctx.runs["window"]
    df, odf, wdf = S.gdwd_frame(run), S.gdwd_frame(osc), S.gdwd_frame(win)
    ev = df.dropna(subset=["sharpness_phi"]).reset_index(drop=True)
    entry = S.eos_entry(odf, "sharpness_phi")  # at the osc branch's 10-step resolution
    test_flat, sharp_flat = _flattest(run)
    # (a diverged run may leave too little to measure: then every metric is NaN, and voided)
    values = diverged.guarded(ctx.runs.values(), _values, df, odf, wdf, ev, entry, test_flat, sharp_flat, *S.hyper(run),
                              default=diverged.unmeasured(ctx))
    fig = _draw(ctx, df, odf, wdf, ev, entry, test_flat)
    data = df[["step", "train_loss", "two_over_eta", "test_loss", "sharpness_phi", "h", "dist_to_flattest"]]
    return FigureOutput(fig, data, diverged.finish(ctx, fig, values))


def _values(df, odf, wdf, ev, entry, test_flat, sharp_flat, lr, wd) -> dict:
    start = entry if entry is not None else int(odf["step"].iloc[0])
    zone = odf.dropna(subset=["sharpness_phi"])
    zone = zone[zone["step"] >= start]
    abs_h = zone["h"].abs().to_numpy()
    # a rise and fall of |h_t| counts if it stands out by 5% of the window's largest |h|
    period = S.peak_period(abs_h, zone["step"].to_numpy(), prominence=0.05 * abs_h.max())
    at = ev[ev["step"] <= start].iloc[-1]
    h_win = np.sign(wdf["h"].to_numpy())
    return {
        "train_loss_before_eos": float(df.loc[df["step"] < start, "train_loss"].min()),
        "eos_entry_step": entry,
        "log10_eos_train_loss": float(np.log10(df.loc[df["step"] >= start, "train_loss"].median())),
        "test_loss_at_entry": float(at["test_loss"]),
        "test_loss_final": float(ev["test_loss"].iloc[-1]),
        "test_loss_flattest": test_flat,
        "test_final_over_flattest": float(ev["test_loss"].iloc[-1] / test_flat),
        "dist_ratio": float(ev["dist_to_flattest"].iloc[-1] / at["dist_to_flattest"]),
        "crossings": S.crossings(zone["two_over_eta"], zone["sharpness_phi"]),
        "h_sign_alternation": float(np.mean(h_win[1:] != h_win[:-1])),
        "h_period_steps": period,
        "predicted_small_period_steps": S.small_period_steps(lr, wd),
        "sharpness_flattest": sharp_flat,
        "sharpness_phi_final": float(ev["sharpness_phi"].iloc[-1]),
        "sharpness_final_over_flattest": float(ev["sharpness_phi"].iloc[-1] / sharp_flat),
    }


def _draw(ctx, df, odf, wdf, ev, entry, test_flat) -> plt.Figure:
    lr, wd = S.hyper(ctx.runs["main"])
    # two rows so text stays legible at report width; (d)'s every-step window is a panel of its
    # own, not an inset over |h_t|
    fig = plt.figure(figsize=(14, 8.4), layout="constrained")
    grid = fig.add_gridspec(2, 3)
    axes = [fig.add_subplot(grid[0, k]) for k in range(3)] + [fig.add_subplot(grid[1, :2]), fig.add_subplot(grid[1, 2])]
    ax = axes[0]
    ax.plot(ev["step"], ev["test_loss"], label="test loss (left axis)")
    ax.axhline(test_flat, color="C0", ls=":", lw=1, label="test loss of (M)")
    ax2 = ax.twinx()
    ax2.plot(ev["step"], ev["dist_to_flattest"], color="C1", label="dist. to (M) (right axis)")
    ax2.grid(False)
    ax.set(xlabel="step", title="(a) test loss / distance to (M)")
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = ax2.get_legend_handles_labels()
    legend_outside(ax, "below", handles=h1 + h2, labels=l1 + l2, ncol=2, fontsize=8)
    axes[1].semilogy(df["step"], df["train_loss"], lw=0.4, label=diverged.label("train loss", ctx.runs["main"]))
    diverged.mark_end(axes[1], ctx.runs["main"], df["step"], df["train_loss"])
    axes[1].set(xlabel="step", title="(b) train loss")
    _train_range(axes[1], df, entry)
    legend_outside(axes[1], "below", fontsize=8)
    ax = axes[2]
    oev = odf.dropna(subset=["sharpness_phi"])
    ax.plot(oev["step"], oev["sharpness_phi"], label=r"$\lambda_1^H(\phi_t)$")
    ax.plot(odf["step"], odf["two_over_eta"], ls="--", label=r"$2/\tilde\eta_t$")
    ax.set(xlabel="step", title="(c) threshold vs sharpness at $\\phi_t$")
    legend_outside(ax, "below", ncol=3, fontsize=8)
    ax = axes[3]
    ax.plot(oev["step"], oev["h"].abs(), lw=0.8, label=diverged.label(r"$|h_t|$ (every 10 steps)", ctx.runs["osc"]))
    diverged.mark_end(ax, ctx.runs["osc"], oev["step"], oev["h"].abs())
    ax.set(xlabel="step", title="(d) $|h_t|$")
    legend_outside(ax, "below", ncol=2, fontsize=8)
    ax = axes[4]
    ax.plot(wdf["step"].iloc[:40], wdf["h"].iloc[:40], ".-", lw=0.6, ms=4)
    ax.axhline(0, color="0.5", lw=0.5)
    ax.set(xlabel="step", title=diverged.label("(d, detail) $h_t$, every step", ctx.runs["window"]))
    for ax in axes[:4]:
        S.entry_line(ax, entry)
    fig.suptitle(f"Linear regression with BN, GD+WD ($\\eta$ = {lr}, $\\lambda$ = {wd})\n{ran_line(ctx, 'main', 160)}")
    return fig


def _train_range(ax, df, entry) -> None:
    """Log axis over the train loss from EoS entry on: before it the loss interpolates to float
    round-off (~1e-32), which would squash the EoS regime; the axis says how far below it went."""
    after = df["train_loss"] if entry is None else df.loc[df["step"] >= entry, "train_loss"]
    lo, _ = log_range(ax, after.to_numpy(), q=0.05, pad=3.0)
    below = df["train_loss"] < lo
    if below.any():
        ax.set_title(f"{ax.get_title()}\n(below the axis from step {int(df.loc[below, 'step'].iloc[0])}, "
                     f"min {df['train_loss'].min():.0e})", fontsize=9)
