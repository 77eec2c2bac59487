"""Self-stabilization Fig. 2: GD at the edge of stability on the App. B toy loss, one cycle's
four stages in detail, and the whole run's cycles against the ODE of eq. (4)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from optdyn.figures import diverged
from optdyn.figures.common import FigureContext, FigureOutput
from optdyn.registry import figure
from optdyn.theory import selfstab as theory

STAGE_COLORS = {1: "#4c72b0", 2: "#dd8452", 3: "#c44e52", 4: "#55a868"}


def _shade_stages(ax, steps: np.ndarray, labels: np.ndarray) -> None:
    for stage, a, b in theory.stage_runs(labels):
        ax.axvspan(steps[a] - 0.5, steps[b - 1] + 0.5, color=STAGE_COLORS[stage], alpha=0.13, lw=0)


def _label_stages(ax, steps: np.ndarray, labels: np.ndarray) -> None:
    for stage, a, b in theory.stage_runs(labels):
        if b - a > 0.04 * len(labels):
            ax.text((steps[a] + steps[b - 1]) / 2, 1.02, str(stage), transform=ax.get_xaxis_transform(),
                    ha="center", va="bottom", color=STAGE_COLORS[stage], fontweight="bold")


def _cycle_values(x: np.ndarray, y: np.ndarray, starts: np.ndarray) -> dict[str, list]:
    cycles = list(zip(starts[:-1], starts[1:]))
    return {"cycle_lengths": [int(b - a) for a, b in cycles],
            "cycle_max_y": [float(y[a:b].max()) for a, b in cycles],
            "cycle_max_abs_x": [float(np.abs(x[a:b]).max()) for a, b in cycles]}


@figure("selfstab", "fig02")
def fig02(ctx: FigureContext) -> FigureOutput:
    run = ctx.runs["gd"]
    model, eta = run.spec.model, run.spec.schedule.lr
    if abs(model.eta - eta) > 1e-15 * eta:
        raise ValueError(f"selfstab fig02: the toy's eta ({model.eta}) must be the run's learning rate ({eta})")
    df = diverged.finite_metrics(run).sort_values("step").reset_index(drop=True)  # a diverged run's up to its last finite step
    steps, x, y = df["step"].to_numpy(), df["x"].to_numpy(), df["y"].to_numpy()
    sharp, loss, loss_c = df["sharpness"].to_numpy(), df["loss"].to_numpy(), df["loss_constrained"].to_numpy()
    alpha, beta = float(df["alpha_ref"].iloc[0]), float(df["beta_ref"].iloc[0])
    delta = theory.delta(alpha, beta)
    labels = theory.stages(np.abs(x), y, delta)
    starts = theory.cycle_starts(y)
    if len(starts) < 2:
        raise ValueError(f"selfstab fig02: fewer than one complete cycle in {len(steps) - 1} steps")
    orbit = theory.integrate_orbit(abs(x[0]), alpha, beta)
    ode = theory.orbit_extremes(abs(x[0]), alpha, beta)

    residual = max(np.abs(x[1:] + (1 + eta * y[:-1]) * x[:-1]).max(),
                   np.abs(y[1:] - y[:-1] - eta * (alpha - beta * x[:-1] ** 2 / 2)).max())
    whole = slice(starts[0], starts[-1])
    cycles = _cycle_values(x, y, starts)
    c = min(ctx.plot.zoom_cycle, len(starts) - 2)
    zoom = slice(starts[c], starts[c + 1] + 1)
    values = {
        "eq3_max_residual": float(residual),
        "measured_alpha_beta": [alpha, beta],
        "stages_in_order": bool(theory.stages_in_order(labels)),
        "complete_cycles": len(starts) - 1,
        "first_cycle_length_over_ode_period": cycles["cycle_lengths"][0] / (orbit.period / eta),
        "first_cycle_max_y_over_ode": cycles["cycle_max_y"][0] / ode["max_abs_Y"],
        "first_cycle_max_abs_x_over_ode": cycles["cycle_max_abs_x"][0] / ode["max_X"],
        "mean_sharpness_over_cycles_times_eta_over_2": float(sharp[whole].mean() * eta / 2),
        "mean_y_over_cycles_in_amplitudes": float(abs(y[whole].mean()) / np.abs(y[whole]).max()),
        "constrained_loss_step": float(np.diff(loss_c).mean()),
        "loss_increases": int((np.diff(loss) > 0).sum()),
        **cycles,
        "stage_steps_first_cycle": {theory.STAGE_NAMES[s]: int((labels[zoom][:-1] == s).sum()) for s in range(1, 5)},
        "ode_period_steps": orbit.period / eta,
        "ode_max_y": ode["max_abs_Y"],
        "ode_max_abs_x": ode["max_X"],
    }

    fig = plt.figure(figsize=(14, 8.5))
    grid = fig.add_gridspec(3, 2, width_ratios=[1.5, 1], hspace=0.42, wspace=0.22)
    ax_s, ax_x, ax_l = (fig.add_subplot(grid[i, 0]) for i in range(3))
    ax_x.sharex(ax_s), ax_l.sharex(ax_s)
    ax_phase, ax_all = fig.add_subplot(grid[:2, 1]), fig.add_subplot(grid[2, 1])
    t, lab = steps[zoom], labels[zoom]
    for ax in (ax_s, ax_x, ax_l):
        _shade_stages(ax, t, lab)
    _label_stages(ax_s, t, lab)

    # no period-2 wiggle on this toy: grad S . u = 0 at theta*, and S depends on x only via x^2
    ax_s.plot(t, sharp[zoom], color="k", lw=1.4, label=r"$S(\theta_t)$ (exact top eigenvalue)")
    ax_s.plot(t, 2 / eta + y[zoom], color="tab:purple", ls="--", lw=1.0, label=r"$2/\eta + y_t$")
    ax_s.axhline(2 / eta, color="k", ls=":", lw=1.0, label=r"$2/\eta$")
    ax_s.set_ylabel("sharpness")
    ax_s.legend(fontsize=8, loc="lower left")
    ax_s.set_title(f"cycle {c + 1}: the four stages", pad=16)

    ax_x.plot(t, x[zoom], ".", ms=2.0, color="tab:blue", label=r"$x_t = u\cdot(\theta_t-\theta^*)$")
    ax_x.plot(t, np.abs(x[zoom]), color="tab:blue", lw=0.8, label=r"$|x_t|$")
    for sign in (1, -1):
        ax_x.axhline(sign * delta, color="k", ls=":", lw=1.0, label=r"$\pm\delta$" if sign > 0 else None)
    ax_x.set_ylabel("displacement along $u$")
    ax_x.legend(fontsize=8, loc="upper left")

    ax_l.semilogy(t, (loss - loss_c)[zoom], color="tab:red", lw=1.2, label=r"$L(\theta_t) - L(\theta_t^\dagger)$")
    ax_l.semilogy(t, x[zoom] ** 2 / eta, color="k", ls="--", lw=0.9, label=r"$x_t^2/\eta$ (Thm 1)")
    ax_l.set_ylabel("loss above $\\theta^\\dagger_t$")
    ax_l.set_xlabel("step")
    ax_l.legend(fontsize=8, loc="upper left")

    for k, (a, b) in enumerate(zip(starts[:-1], starts[1:])):
        ax_phase.plot(np.abs(x[a:b + 1]), y[a:b + 1], color="0.75", lw=0.7, label="GD, all cycles" if k == 0 else None)
    for stage, a, b in theory.stage_runs(lab):
        sl = slice(zoom.start + a, zoom.start + b)
        ax_phase.plot(np.abs(x[sl]), y[sl], ".", ms=3, color=STAGE_COLORS[stage])
    for stage in range(1, 5):
        ax_phase.plot([], [], ".", color=STAGE_COLORS[stage], label=f"{stage}: {theory.STAGE_NAMES[stage]}")
    ax_phase.plot(orbit.X, orbit.Y, "k--", lw=0.9, label="ODE eq. (4) from $(|x_0|, 0)$")
    ax_phase.axhline(0, color="k", lw=0.6)
    ax_phase.axvline(delta, color="k", ls=":", lw=0.8)
    ax_phase.plot([delta], [0], "k*", ms=9)
    ax_phase.set_xlabel(r"$|x_t|$")
    ax_phase.set_ylabel(r"$y_t = \nabla S\cdot(\theta_t-\theta^*) \approx S - 2/\eta$")
    ax_phase.legend(fontsize=7.5, loc="center", bbox_to_anchor=(0.55, 0.7))  # clear of the fixed point
    ax_phase.set_title("the cycle in the $(|x|, y)$ plane")

    ax_all.plot(steps, sharp, color="k", lw=0.9)
    ax_all.axhline(2 / eta, color="k", ls=":", lw=1.0)
    for s in starts:
        ax_all.axvline(steps[s], color="tab:orange", lw=0.6, alpha=0.7)
    ax_all.set_xlabel("step")
    ax_all.set_ylabel(r"sharpness $S(\theta_t)$")
    ax_all.set_title(f"whole run: {len(starts) - 1} cycles (orange: cycle starts)")

    data = df.assign(stage=labels, cycle=np.searchsorted(starts, np.arange(len(df)), side="right") - 1)
    return FigureOutput(fig, data, diverged.finish(ctx, fig, values))
