"""Closed forms and reference recursions of the IRE paper's toy analyses (Sec. 2, App. A, Sec. 5).

The toy is L(u, v) = h(u) |v|^2 / 2 with h = 1 + |u|^2 (``models/ire.py``)."""

from __future__ import annotations

import numpy as np


def valley_loss(u, v):
    """L(u, v) = (1 + u^2) v^2 / 2, elementwise (the Fig. 1 landscape)."""
    return (1 + np.asarray(u) ** 2) * np.asarray(v) ** 2 / 2


def gd_ire_path(u0: float, v0: float, eta: float, kappa: float, steps: int) -> np.ndarray:
    """Eq. (3) on the 2-D toy: u <- u - (1+kappa) eta u v^2, v <- (1 - eta (1+u^2)) v (kappa = 0:
    GD, eq. 2); both from the same iterate. Rows (u_t, v_t), t = 0..steps, float64."""
    out = np.empty((steps + 1, 2))
    u, v = float(u0), float(v0)
    out[0] = u, v
    for t in range(1, steps + 1):
        u, v = u - (1 + kappa) * eta * u * v * v, v - eta * (1 + u * u) * v
        out[t] = u, v
    return out


def sgd_v_variance(eta: float, sigma: float, h) -> np.ndarray:
    """Stationary E[v^2] of label-noise SGD's sharp coordinate, v <- (1 - eta h) v + eta sigma sqrt(h) xi:
    eta sigma^2 / (2 - eta h); eta sigma^2 / 2 is the paper's continuous (SDE) limit."""
    return eta * sigma**2 / (2 - eta * np.asarray(h))


def effective_lr(kind: str, eta, rho, kappa, p: int = 1):
    """Step size of the effective dynamics (9) on Tr(Hess)/2: (1+kappa) eta rho^2 for standard SAM
    (Thm 5.6), (1+kappa) eta rho^2 / p for average SAM (Thm 5.5)."""
    base = (1 + np.asarray(kappa)) * np.asarray(eta) * np.asarray(rho) ** 2
    if kind == "standard":
        return base
    if kind == "average":
        return base / p
    raise ValueError(f"unknown SAM kind {kind!r}")


#: Table 6 as printed: leading-order exponents of eta_eff (IRE rows use kappa = 1/rho; average SAM rho = sqrt(eta))
TABLE6 = (
    {"algorithm": "average SAM", "eta_eff": "eta^2 / p", "exponent_of": "eta", "exponent": 2.0},
    {"algorithm": "IRE + average SAM", "eta_eff": "eta^1.5 / p", "exponent_of": "eta", "exponent": 1.5},
    {"algorithm": "standard SAM", "eta_eff": "eta rho^2", "exponent_of": "rho", "exponent": 2.0},
    {"algorithm": "IRE + standard SAM", "eta_eff": "eta rho", "exponent_of": "rho", "exponent": 1.0},
)


def loglog_slope(x, y) -> float:
    """Least-squares slope of ln y against ln x."""
    return float(np.polyfit(np.log(np.asarray(x, float)), np.log(np.asarray(y, float)), 1)[0])


def decay_rate(steps, log_values) -> float:
    """-d(ln value)/dt by a least-squares line through (step, ln value)."""
    return float(-np.polyfit(np.asarray(steps, float), np.asarray(log_values, float), 1)[0])
