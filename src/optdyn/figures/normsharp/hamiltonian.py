"""The dynamical system (17) as a particle in a potential well (Fig. 5; App. H.2)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from optdyn.figures.common import FigureContext, FigureOutput
from optdyn.registry import figure
from optdyn.theory import normsharp as th

DT = 1e-3


def _orbit(e_above: float, k: float, c_b: float, periods: float = 1.0):
    """Leapfrog orbit started at the well's bottom with kinetic energy ``e_above``, over about
    ``periods`` quadrature periods."""
    x0 = th.potential_minimum(k, c_b)
    v0 = np.sqrt(2 * e_above)
    e = th.energy(x0, v0, k, c_b)
    period = th.orbit_period(e, k, c_b)
    xs, vs = th.leapfrog(x0, v0, k, c_b, DT, int(np.ceil(periods * period / DT)) + 1)
    return xs, vs, e, period


def _measured_period(xs: np.ndarray, vs: np.ndarray) -> float:
    """Time between the first two upward crossings of the start position (x at the bottom)."""
    up = np.flatnonzero((xs[:-1] < xs[0]) & (xs[1:] >= xs[0]) & (vs[1:] > 0))
    if len(up) < 2:
        return float("nan")
    frac = lambda i: i + (xs[0] - xs[i]) / (xs[i + 1] - xs[i])  # noqa: E731
    return (frac(up[1]) - frac(up[0])) * DT


@figure("normsharp", "fig05")
def fig05(ctx: FigureContext) -> FigureOutput:
    k, c_b = ctx.plot.k, ctx.plot.c_b
    x_star = th.potential_minimum(k, c_b)
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4.2))
    xg = np.linspace(-4.0, 0.5, 400)
    a1.plot(xg, th.potential(xg, k, c_b))
    a1.axvline(x_star, color="0.5", ls=":", lw=1)
    a1.set(xlabel=r"$x = \log|h|$", ylabel=r"$U(x) = K^2e^{2x} - C_b x$", title="(a) potential well")
    rows, drifts = [], []
    for e_above in ctx.plot.energies:
        xs, vs, e, period = _orbit(max(e_above, 1e-6), k, c_b, periods=2.2)
        energies = th.energy(xs, vs, k, c_b)
        drifts.append(float(np.max(np.abs(energies / e - 1))))
        a2.plot(xs, vs, lw=1.0, label=f"E - U(x*) = {e_above:g}")
        rows.append(pd.DataFrame({"orbit": e_above, "t": np.arange(len(xs)) * DT, "x": xs, "v": vs}))
    # the largest orbit is the most anharmonic: the strongest test of <h^2> and of the period
    xs, vs, _, period = _orbit(max(ctx.plot.energies), k, c_b, periods=2.2)
    measured = _measured_period(xs, vs)
    h2 = float(np.mean(np.exp(2 * xs[: int(round(measured / DT))])))  # time average of h^2, one period
    a2.plot([x_star], [0.0], "k*", ms=10)
    a2.set(xlabel=r"$x = \log|h|$", ylabel=r"$v = -u$", title="(b) phase portrait")
    a2.legend(fontsize=7)
    xs, vs, _, _ = _orbit(1e-6, k, c_b, periods=2.2)
    values = {
        "x_star": x_star,
        "energy_rel_drift": float(max(drifts)),
        "mean_h2": h2,
        "small_period": _measured_period(xs, vs),
        "large_orbit_period_rel_err": float(abs(measured / period - 1)),
    }
    fig.suptitle(f"Dynamical system (17), K = {k:g}, C_b = {c_b:g}")
    return FigureOutput(fig, pd.concat(rows, ignore_index=True), values)
