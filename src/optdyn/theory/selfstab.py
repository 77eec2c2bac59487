"""Self-stabilization (Damian, Nichani, Lee 2023), Sec. 4: the simplified dynamics (eq. 3), the
ODE (eq. 4) with its conserved quantity (Lemma 3) and bounds (Corollary 1), and the four stages.

Everything is numpy float64. Conventions:
- ODE time is tau = eta * (GD steps): per step, log|x| moves by ~eta*y and y by eta*(alpha -
  beta x^2/2) (eq. 3), so one GD step is a time-eta Euler step of eq. (4) in (log X, Y).
- The four stages are the quadrants around the fixed point (delta, 0) of (X, Y) = (|x|, S - 2/eta)
  (the paper gives no formal rule; catalog 004 Sec. 3.1): 1 progressive sharpening (X < delta,
  Y < 0), 2 blowup (X < delta, Y >= 0), 3 self-stabilization (X >= delta, Y >= 0), 4 return to
  stability (X >= delta, Y < 0). The text's order 1 -> 2 -> 3 -> 4 -> 1 is clockwise in the
  (X, Y) plane.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.integrate import solve_ivp
from scipy.special import lambertw

STAGE_NAMES = {1: "progressive sharpening", 2: "blowup", 3: "self-stabilization", 4: "return to stability"}


def delta(alpha: float, beta: float) -> float:
    """|x| at the fixed point, sqrt(2 alpha / beta)."""
    return float(np.sqrt(2 * alpha / beta))


def h(z):
    """h(z) = z - log z - 1 >= 0, zero only at z = 1."""
    z = np.asarray(z, dtype=np.float64)
    return z - np.log(z) - 1


def conserved(X, Y, alpha: float, beta: float):
    """Lemma 3: g(X, Y) = h(beta X^2 / (2 alpha)) + Y^2 / alpha, constant along eq. (4)."""
    X, Y = np.asarray(X, dtype=np.float64), np.asarray(Y, dtype=np.float64)
    return h(beta * X**2 / (2 * alpha)) + Y**2 / alpha


def rhs(_t, state, alpha: float, beta: float):
    X, Y = state
    return [X * Y, alpha - beta * X**2 / 2]


def _h_inverse(c: float, branch: int) -> float:
    """The z with h(z) = c: branch 0 gives z <= 1, branch -1 gives z >= 1 (z e^-z = e^-(1+c))."""
    return float(-lambertw(-np.exp(-(1 + c)), k=branch).real)


def orbit_extremes(X0: float, alpha: float, beta: float, Y0: float = 0.0) -> dict[str, float]:
    """Closed forms on the orbit through (X0, Y0) from g: max |Y| = sqrt(alpha g) (at X = delta);
    min/max X solve h(beta X^2/(2 alpha)) = g (at Y = 0)."""
    g = float(conserved(X0, Y0, alpha, beta))
    scale = 2 * alpha / beta
    return {"g": g, "max_abs_Y": float(np.sqrt(alpha * g)),
            "min_X": float(np.sqrt(scale * _h_inverse(g, 0))), "max_X": float(np.sqrt(scale * _h_inverse(g, -1)))}


def corollary1_scales(X0: float, alpha: float, beta: float) -> dict[str, float]:
    """The right-hand sides of Corollary 1 without their constants: delta sqrt(log(delta/X0)) for
    X, sqrt(alpha log(delta/X0)) for |Y| (meaningful for X0 << delta)."""
    log_ratio = np.log(delta(alpha, beta) / X0)
    return {"X": float(delta(alpha, beta) * np.sqrt(log_ratio)), "Y": float(np.sqrt(alpha * log_ratio))}


@dataclass
class Orbit:
    t: np.ndarray
    X: np.ndarray
    Y: np.ndarray
    period: float
    end_state: np.ndarray  # (X, Y) at t = period, to compare with the start
    Y_at_delta: np.ndarray  # Y where X crosses delta: the extremes of Y, located by the solver


def integrate_orbit(X0: float, alpha: float, beta: float, *, rtol: float = 1e-11, atol: float = 1e-13,
                    max_step: float = 0.01, t_max: float = 100.0) -> Orbit:
    """One period of eq. (4) from (X0, 0) with 0 < X0 < delta, by an adaptive 8th-order
    Runge-Kutta (DOP853). Y first rises, falls through 0 (half-way, at max X) and comes back up
    through 0 at the period; both zeros are located by the solver's event root-finding. (Two
    legs, because an event that starts exactly on its zero would fire at t = 0.)"""
    d = delta(alpha, beta)
    if not 0 < X0 < d:
        raise ValueError("the period is measured from (X0, 0) with 0 < X0 < delta")

    def x_at_delta(_t, s, *_args):
        return s[0] - d

    t0, state, ts, Xs, Ys, extremes = 0.0, np.array([X0, 0.0]), [], [], [], []
    for direction in (-1.0, 1.0):
        def y_zero(_t, s, *_args):
            return s[1]

        y_zero.direction, y_zero.terminal = direction, True
        sol = solve_ivp(rhs, (t0, t_max), state, method="DOP853", rtol=rtol, atol=atol, max_step=max_step,
                        args=(alpha, beta), events=(y_zero, x_at_delta))
        if sol.status != 1:
            raise RuntimeError(f"Y did not cross 0 before t_max = {t_max} ({sol.message})")
        t0, state = float(sol.t_events[0][0]), np.asarray(sol.y_events[0][0])
        extremes.extend(sol.y_events[1][:, 1])
        keep = sol.t < t0
        ts.append(sol.t[keep]), Xs.append(sol.y[0][keep]), Ys.append(sol.y[1][keep])
    return Orbit(np.r_[np.concatenate(ts), t0], np.r_[np.concatenate(Xs), state[0]],
                 np.r_[np.concatenate(Ys), state[1]], t0, state, np.asarray(extremes))


def small_oscillation_period(alpha: float, beta: float) -> float:
    """Linearized at (delta, 0): xi' = delta Y, Y' = -beta delta xi, so omega^2 = 2 alpha."""
    return float(2 * np.pi / np.sqrt(2 * alpha))


def simplified_dynamics(x0: float, y0: float, eta: float, alpha: float, beta: float, steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Eq. (3) iterated: x <- -(1 + eta y) x, y <- y + eta (alpha - beta x^2/2). Rows 0..steps."""
    x, y = np.empty(steps + 1), np.empty(steps + 1)
    x[0], y[0] = x0, y0
    for t in range(steps):
        x[t + 1] = -(1 + eta * y[t]) * x[t]
        y[t + 1] = y[t] + eta * (alpha - beta * x[t] ** 2 / 2)
    return x, y


# --- the four stages ------------------------------------------------------------------------


def stages(X, Y, delta_: float) -> np.ndarray:
    """Stage 1-4 of each point by the quadrant rule around (delta, 0); X is |x|."""
    X, Y = np.abs(np.asarray(X, dtype=np.float64)), np.asarray(Y, dtype=np.float64)
    low = X < delta_
    return np.where(low, np.where(Y < 0, 1, 2), np.where(Y >= 0, 3, 4))


def stage_runs(labels) -> list[tuple[int, int, int]]:
    """(stage, first index, last index + 1) of each maximal run of equal labels."""
    labels = np.asarray(labels)
    if labels.size == 0:
        return []
    starts = np.r_[0, np.flatnonzero(np.diff(labels)) + 1]
    ends = np.r_[starts[1:], labels.size]
    return [(int(labels[s]), int(s), int(e)) for s, e in zip(starts, ends)]


def stages_in_order(labels) -> bool:
    """Every change of stage goes to the next one, 1 -> 2 -> 3 -> 4 -> 1 (no skips, no returns)."""
    runs = stage_runs(labels)
    return all(b[0] == a[0] % 4 + 1 for a, b in zip(runs, runs[1:]))


def cycle_starts(Y) -> np.ndarray:
    """Indices where a cycle starts: Y crosses 0 upward (stage 1 -> 2), including an index-0 start
    on the boundary (Y[0] = 0 with Y rising), as for the paper's reference point theta*."""
    Y = np.asarray(Y, dtype=np.float64)
    ups = np.flatnonzero((Y[:-1] < 0) & (Y[1:] >= 0)) + 1
    if Y.size > 1 and Y[0] == 0 and Y[1] > 0:
        ups = np.r_[0, ups]
    return ups
