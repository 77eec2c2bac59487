"""WSD paper, Sec. 3: the 2-D river valley (Fig. 3) and the quadratic river's predicted loss
curve against Monte-Carlo SGD (Fig. 4)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from optdyn.figures import diverged
from optdyn.figures.common import FigureContext, FigureOutput
from optdyn.registry import figure
from optdyn.theory import quadratic, river2d


def _river_table(slope: float, end: float) -> tuple[np.ndarray, np.ndarray]:
    grid = np.linspace(-1.0, end - 1e-6, 400)
    return grid, river2d.river_curve(grid, slope, end)


def _background(ax, ctx: FigureContext, river: tuple[np.ndarray, np.ndarray], slope: float, end: float) -> None:
    (a0, a1), (b0, b1) = ctx.plot.x1_range, ctx.plot.x2_range
    A, B = np.meshgrid(np.linspace(a0, a1, 220), np.linspace(b0, b1, 120))
    L = river2d.loss(np.stack([A, B], -1), slope, end)
    ax.contourf(A, B, L, levels=30, cmap="Greys", alpha=0.55)
    ax.plot(*river, color="tab:blue", lw=2.2, label="river")
    ax.set_xlim(a0, a1)
    ax.set_ylim(b0, b1)
    ax.set_xlabel("$x_1$")


def _paths(probe: pd.DataFrame):
    """(replica, steps table) pairs of a river_progress probe."""
    return [(r, df.sort_values("step")) for r, df in probe.groupby("replica")]


@figure("wsd", "fig03")
def fig03(ctx: FigureContext) -> FigureOutput:
    spec = ctx.runs["gd"].spec.model
    slope, end = spec.slope, spec.end
    river = _river_table(slope, end)
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2), sharey=True)
    values = {}

    flows = ctx.probes["flows_river"]
    _background(axes[0], ctx, river, slope, end)
    for _, df in _paths(flows):
        axes[0].plot(df["x1"], df["x2"], color="tab:orange", lw=1.1)
        axes[0].plot(df["x1"].iloc[0], df["x2"].iloc[0], "o", color="tab:orange", ms=3)
    axes[0].set_title("gradient flow from random starts")
    axes[0].set_ylabel("$x_2$")
    last = flows[flows["step"] == flows["step"].max()]
    values["flows_final_max_distance_to_river"] = float(last["distance_to_river"].max())

    gd = ctx.probes["gd_river"].sort_values("step")
    eta = ctx.runs["gd"].spec.schedule.lr
    _background(axes[1], ctx, river, slope, end)
    axes[1].plot(gd["x1"], gd["x2"], ".-", color="tab:red", lw=0.8, ms=3, label=diverged.label(f"GD, $\\eta$={eta:g}", ctx.runs["gd"]))
    axes[1].set_title(f"GD with $\\eta$ = {eta:g}")
    late = ((gd["step"] >= 15) & (gd["x1"] < end - 0.5)).to_numpy()  # after the initial oscillations, before the end
    t, progress = gd["step"].to_numpy()[late], gd["progress"].to_numpy()[late]
    slope_fit, t0 = np.polyfit(t, progress, 1)
    values["gd_progress_slope"] = float(slope_fit)
    values["gd_late_mean_distance_to_river"] = float(gd["distance_to_river"].to_numpy()[late].mean())
    inset = axes[1].inset_axes([0.56, 0.73, 0.41, 0.24])
    # Thm 3.3 allows an offset T_0 (the early oscillations); the slope is the claim.
    inset.plot(eta * t, progress - t0, color="tab:red", lw=1.4, label=r"$\tilde T(t) - T_0$")
    inset.plot(eta * t, eta * t, "k--", lw=0.8, label=r"$\eta t$")
    inset.set_xlabel(r"$\eta t$", fontsize=8)
    inset.tick_params(labelsize=7)
    inset.legend(fontsize=7)

    _background(axes[2], ctx, river, slope, end)
    stats = {}
    for name, color in (("sgd_small", "tab:green"), ("sgd_large", "tab:purple")):
        probe = ctx.probes[f"{name}_river"]
        lr = ctx.runs[name].spec.schedule.lr
        first = _paths(probe)[0][1]
        axes[2].plot(first["x1"], first["x2"], color=color, lw=0.9, label=diverged.label(f"SGD, $\\eta$={lr:g}", ctx.runs[name]))
        final = probe[probe["step"] == probe["step"].max()]
        half = probe["step"] >= probe["step"].max() // 2
        stats[name] = (float(final["progress"].mean()), float(probe.loc[half, "distance_to_river"].mean()))
    axes[2].set_title("SGD with mountain-direction noise")
    axes[2].legend(loc="upper right", fontsize=8)
    axes[0].legend(loc="upper right", fontsize=8)
    values["sgd_progress_ratio"] = stats["sgd_large"][0] / stats["sgd_small"][0]
    values["sgd_oscillation_ratio"] = stats["sgd_large"][1] / stats["sgd_small"][1]
    values["sgd_progress"] = {k: v[0] for k, v in stats.items()}
    values["sgd_mean_distance_to_river"] = {k: v[1] for k, v in stats.items()}
    fig.tight_layout()
    data = pd.concat([p.assign(run=name.removesuffix("_river")) for name, p in ctx.probes.items()], ignore_index=True)
    return FigureOutput(fig, data, diverged.finish(ctx, fig, values))


def _curve(ctx: FigureContext, main: str, branch: str | None = None) -> pd.DataFrame:
    """One schedule's logged series; a WSD decay branch takes over from its main run at D."""
    df = diverged.finite_metrics(ctx.runs[main])  # a diverged run's up to its last finite step
    if branch is not None:
        tail = diverged.finite_metrics(ctx.runs[branch])
        df = pd.concat([df[df["step"] < tail["step"].min()], tail])
    return df.sort_values("step").reset_index(drop=True)


@figure("wsd", "fig04")
def fig04(ctx: FigureContext) -> FigureOutput:
    model = ctx.runs["constant"].spec.model
    gamma, sigma, R = model.gamma, model.noise_sigma, model.replicas
    decay_start = ctx.runs["wsd"].spec.steps
    # constant first: WSD shares its noise (same seed) and is drawn over it until the decay
    series = {"constant": _curve(ctx, "constant"), "cosine": _curve(ctx, "cosine"), "WSD": _curve(ctx, "wsd", "wsd_decay1")}
    runs_of = {"constant": [ctx.runs["constant"]], "cosine": [ctx.runs["cosine"]], "WSD": [ctx.runs["wsd"], ctx.runs["wsd_decay1"]]}
    fig, (ax, ax_lr) = plt.subplots(1, 2, figsize=(13, 4.5), gridspec_kw={"width_ratios": [2.2, 1]})
    frames, z_max = [], 0.0
    for k, (label, df) in enumerate(series.items()):
        lrs = df["lr"].to_numpy()[:-1]  # the LR applied at each update; the last row has none
        exact = quadratic.predicted_loss_exact(lrs, gamma, sigma)
        paper = quadratic.predicted_loss_paper(lrs, sigma)
        se = gamma * quadratic.hill_variance(lrs, gamma, sigma) / np.sqrt(2 * R)
        mc = df["loss"].to_numpy()
        z = np.abs(mc - exact)[1:] / se[1:]
        z_max = max(z_max, float(z.max()))
        color = {"WSD": "C0", "cosine": "C1", "constant": "C2"}[label]
        ax.plot(df["step"], mc, color=color, lw=2.4, alpha=0.6, label=diverged.label(label, *runs_of[label]))
        diverged.mark_end(ax, runs_of[label], df["step"], mc)
        ax.plot(df["step"], exact, color="k", lw=0.7, ls="-")
        ax.plot(df["step"], paper, color=color, lw=1.0, ls="--")
        ax_lr.plot(df["step"][:-1], lrs, color=color, label=label)
        frames.append(pd.DataFrame({"schedule": label, "step": df["step"], "loss_sgd": mc, "loss_theory_exact": exact,
                                    "loss_theory_paper": paper, "hill_sgd": df["hill"], "lr": df["lr"]}))
    ax.axvline(decay_start, color="0.4", lw=0.8, ls=":")
    ax.set_xlabel("step")
    ax.set_ylabel("loss  $\\gamma x_2^2/2 - x_1$")
    ax.set_ylim(-45, 130)
    from matplotlib.lines import Line2D

    styles = [Line2D([], [], color="0.5", lw=2.4, alpha=0.6, label=f"SGD, mean of {R} replicas"),
              Line2D([], [], color="k", lw=0.7, label="theory, exact hill $\\eta\\sigma^2/(2(2-\\eta\\gamma))$"),
              Line2D([], [], color="0.5", lw=1.0, ls="--", label="theory, paper's hill $\\eta\\sigma^2/2$")]
    # both legends under the loss panel, side by side: none on the curves
    first = ax.legend(loc="upper left", bbox_to_anchor=(0.0, -0.14), ncol=3, title="schedule (colour)")
    ax.add_artist(first)
    ax.legend(handles=styles, loc="upper right", bbox_to_anchor=(1.0, -0.14), title="line style")
    ax_lr.set_xlabel("step")
    ax_lr.set_ylabel("learning rate")
    ax_lr.set_title("learning rates (colours as left)")
    fig.tight_layout()

    wsd, cos = series["WSD"], series["cosine"]
    window = (wsd["step"] >= decay_start - 100) & (wsd["step"] < decay_start)
    eta = ctx.runs["constant"].spec.schedule.lr
    stable = (wsd["step"] >= decay_start // 2) & (wsd["step"] < decay_start)
    decay_rows = wsd["step"] > decay_start
    last_lr = wsd["lr"].shift(1)  # the hill of iterate t is set by the update that produced it
    values = {
        "gap_wsd_minus_cosine_before_decay": float(wsd.loc[window, "loss"].mean()
                                                   - cos.set_index("step")["loss"].reindex(wsd.loc[window, "step"]).mean()),
        "gap_wsd_minus_cosine_at_end": float(wsd["loss"].iloc[-1] - cos["loss"].iloc[-1]),
        "stable_hill": float(wsd.loc[stable, "hill"].mean()),
        "stable_hill_paper_constant": eta * sigma**2 / 2,
        "stable_hill_exact": float(quadratic.stationary_hill(eta, gamma, sigma)),
        "decay_hill_over_paper_bound_mean": float((wsd.loc[decay_rows, "hill"] / (last_lr[decay_rows] * sigma**2 / 2)).mean()),
        "max_z_mc_vs_theory": z_max,
        "final_loss": {k: float(v["loss"].iloc[-1]) for k, v in series.items()},
    }
    values["stable_hill__note"] = (f"the paper's printed constant (d-1) eta sigma^2/2 = {values['stable_hill_paper_constant']:.1f}; "
                                   f"exact eta sigma^2/(2(2 - eta gamma)) = {values['stable_hill_exact']:.2f}")
    return FigureOutput(fig, pd.concat(frames, ignore_index=True), diverged.finish(ctx, fig, values))
