"""Self-stabilization Fig. 3: the ODE of eq. (4), X' = XY, Y' = alpha - beta X^2/2: closed orbits
for several X(0) (left) and the four stages of edge of stability on one orbit (right)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from scipy.optimize import root

from optdyn.figures.common import FigureContext, FigureOutput
from optdyn.registry import figure
from optdyn.theory import selfstab as theory

from .toy import STAGE_COLORS

LABEL_OFFSETS = {1: (10, 0), 2: (10, -6), 3: (-20, -22), 4: (-20, 14)}  # points, inside the orbit


def _strictly_decreasing(v) -> bool:
    return bool(np.all(np.diff(v) < 0))


@figure("selfstab", "fig03")
def fig03(ctx: FigureContext) -> FigureOutput:
    p = ctx.plot
    a, b = p.alpha, p.beta
    delta = theory.delta(a, b)
    x0s = sorted(p.x0_values)
    solve = dict(rtol=p.rtol, atol=p.atol, max_step=p.max_step)
    orbits = {x0: theory.integrate_orbit(x0, a, b, **solve) for x0 in x0s}
    closed = {x0: theory.orbit_extremes(x0, a, b) for x0 in x0s}

    drift, closure, extreme_err, below = 0.0, 0.0, 0.0, False
    for x0, o in orbits.items():
        g = theory.conserved(o.X, o.Y, a, b)
        drift = max(drift, float(np.abs(g - g[0]).max() / g[0]))
        closure = max(closure, float(np.hypot(o.end_state[0] - x0, o.end_state[1]) / x0))
        max_y = np.abs(o.Y_at_delta).max()
        extreme_err = max(extreme_err, abs(o.X.max() / closed[x0]["max_X"] - 1), abs(max_y / closed[x0]["max_abs_Y"] - 1))
        below |= bool(o.X.min() < x0 * (1 - 1e-9))  # relative solver tolerance
    max_x = [float(orbits[x0].X.max()) for x0 in x0s]
    max_y = [float(np.abs(orbits[x0].Y_at_delta).max()) for x0 in x0s]
    periods = [orbits[x0].period for x0 in x0s]
    small = [x0 for x0 in x0s if x0 <= p.bound_x0_max]
    scales = {x0: theory.corollary1_scales(x0, a, b) for x0 in small}
    fixed = root(lambda s: theory.rhs(0.0, s, a, b), [0.5 * delta, 0.5], tol=1e-14)
    stage_orbit = theory.integrate_orbit(p.stage_orbit_x0, a, b, **solve)
    labels = theory.stages(stage_orbit.X, stage_orbit.Y, delta)
    values = {
        "conserved_max_relative_drift": drift,
        "orbit_closure_max_relative_error": closure,
        "fixed_point": [float(v) for v in fixed.x],
        "extremes_max_relative_error_vs_closed_form": float(extreme_err),
        "smaller_x0_larger_orbits": _strictly_decreasing(max_x) and _strictly_decreasing(max_y) and _strictly_decreasing(periods),
        "x_never_below_x0": not below,
        "corollary1_constant_x": max(float(orbits[x0].X.max()) / scales[x0]["X"] for x0 in small),
        "corollary1_constant_y": max(float(np.abs(orbits[x0].Y_at_delta).max()) / scales[x0]["Y"] for x0 in small),
        "stages_in_order_on_orbit": bool(theory.stages_in_order(labels)),
        "x0_values": x0s,
        "periods": periods,
        "max_x": max_x,
        "max_abs_y": max_y,
        "small_oscillation_period": theory.small_oscillation_period(a, b),
    }

    fig, (ax_l, ax_r) = plt.subplots(1, 2, figsize=(13, 5.2))
    cmap = plt.get_cmap("viridis")
    for k, x0 in enumerate(x0s):
        o = orbits[x0]
        ax_l.plot(o.X, o.Y, color=cmap(k / max(1, len(x0s) - 1)), lw=1.4, label=f"$X(0)$ = {x0:g}")
    ax_l.plot([delta], [0], "k*", ms=10, label=r"fixed point $(\delta, 0)$")
    ax_l.set_xlabel("$X$")
    ax_l.set_ylabel("$Y$")
    ax_l.set_title(rf"effect of $X(0)$ ($\alpha = {a:g}$, $\beta = {b:g}$)")
    ax_l.legend(fontsize=8, loc="upper right")

    for stage, i, j in theory.stage_runs(labels):
        sl = slice(i, min(j + 1, len(labels)))  # overlap one point so the arcs join
        ax_r.plot(stage_orbit.X[sl], stage_orbit.Y[sl], color=STAGE_COLORS[stage], lw=3)
        if j - i > 10:  # skip the one-point return to the start
            mid = (i + j) // 2
            ax_r.annotate(str(stage), (stage_orbit.X[mid], stage_orbit.Y[mid]), textcoords="offset points",
                          xytext=LABEL_OFFSETS[stage], color=STAGE_COLORS[stage], fontweight="bold", fontsize=13)
    for stage in range(1, 5):
        ax_r.plot([], [], color=STAGE_COLORS[stage], lw=3, label=f"{stage}: {theory.STAGE_NAMES[stage]}")
    k, dk = len(labels) // 10, len(labels) // 40
    ax_r.annotate("", xy=(stage_orbit.X[k + dk], stage_orbit.Y[k + dk]), xytext=(stage_orbit.X[k], stage_orbit.Y[k]),
                  arrowprops=dict(arrowstyle="-|>", color="k", lw=1.5))
    ax_r.axhline(0, color="k", lw=0.6)
    ax_r.axvline(delta, color="k", ls=":", lw=0.8)
    ax_r.plot([delta], [0], "k*", ms=10)
    ax_r.plot([p.stage_orbit_x0], [0], "ko", ms=4)
    ax_r.set_xlabel(r"$X \approx |x_t|$")
    ax_r.set_ylabel(r"$Y \approx S(\theta_t) - 2/\eta$")
    ax_r.set_title(f"the four stages on the orbit from $X(0)$ = {p.stage_orbit_x0:g}")
    ax_r.legend(fontsize=8, loc="center", bbox_to_anchor=(0.64, 0.5))  # clear of the fixed point
    fig.tight_layout()

    data = pd.concat([pd.DataFrame({"x0": x0, "t": o.t, "X": o.X, "Y": o.Y,
                                    "g": theory.conserved(o.X, o.Y, a, b)}) for x0, o in orbits.items()], ignore_index=True)
    return FigureOutput(fig, data, values)
