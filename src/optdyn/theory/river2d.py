"""Numerics of the WSD paper's 2-D river, L(x1, x2) = (x2 - sin x1)^2 + slope*|end - x1| (Fig. 3).

Everything here is numpy float64 and vectorized over points of shape (..., 2). The JAX version
that is trained lives in ``models/toy.py``; this module is the reference it is tested against and
what the figure uses to draw the river and measure progress along it.

Conventions:
- ``sign(end - x1)`` is the subgradient at the kink x1 = end (0 there), as ``jnp.abs`` does.
- v_d (``min_eigvec``) is oriented with a non-negative x1 component, i.e. downstream, so a figure
  can draw it as an arrow; only v_d v_d^T enters the dynamics, so the sign is otherwise free.
- ``project_to_river`` is the projection *flow* of Def. C.3, dphi = -(I - v_d v_d^T) grad L(phi),
  run to convergence, not the nearest river point: it is what the theorems use and it moves a
  point only along mountain directions, so it needs no river grid.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.optimize import brentq

SLOPE = 0.2
END = 10.0


def _split(w):
    w = np.asarray(w, dtype=np.float64)
    return w[..., 0], w[..., 1]


def loss(w, slope: float = SLOPE, end: float = END) -> np.ndarray:
    x1, x2 = _split(w)
    return (x2 - np.sin(x1)) ** 2 + slope * np.abs(end - x1)


def grad(w, slope: float = SLOPE, end: float = END) -> np.ndarray:
    x1, x2 = _split(w)
    r = x2 - np.sin(x1)
    return np.stack([-2 * r * np.cos(x1) - slope * np.sign(end - x1), 2 * r], axis=-1)


def hessian(w, slope: float = SLOPE, end: float = END) -> np.ndarray:
    """(..., 2, 2); the |end - x1| term is piecewise linear, so it adds nothing (off the kink)."""
    x1, x2 = _split(w)
    r, c, s = x2 - np.sin(x1), np.cos(x1), np.sin(x1)
    h11 = 2 * c**2 + 2 * r * s
    h12 = -2 * c
    h22 = np.full_like(h11, 2.0)
    return np.stack([np.stack([h11, h12], -1), np.stack([h12, h22], -1)], -2)


def _mountain_dir(h: np.ndarray) -> np.ndarray:
    """Unit max-eigenvector of symmetric 2x2 blocks, in closed form: a batched ``eigh`` would
    return arbitrary signs and cost more, and in 2-D the mountain direction is just v_d rotated."""
    a, b, d = h[..., 0, 0], h[..., 0, 1], h[..., 1, 1]
    theta = 0.5 * np.arctan2(2 * b, a - d)
    return np.stack([np.cos(theta), np.sin(theta)], axis=-1)


def min_eigvec(w, slope: float = SLOPE, end: float = END) -> np.ndarray:
    """v_d, the Hessian's min-eigenvector (the river direction), oriented with v[0] >= 0."""
    u = _mountain_dir(hessian(w, slope, end))
    v = np.stack([u[..., 1], -u[..., 0]], axis=-1)
    return np.where(v[..., :1] < 0, -v, v)


def river_curve_approx(x1, slope: float = SLOPE) -> np.ndarray:
    """First-order river: g || null vector (1, cos x1) of the r = 0 Hessian gives
    x2 = sin x1 - (slope/2) cos x1 / (1 + cos^2 x1); the catalog's check (slope 0.2)."""
    c = np.cos(np.asarray(x1, dtype=np.float64))
    return np.sin(x1) - 0.5 * slope * c / (1 + c**2)


# --- the river locus: grad L || v_d -------------------------------------------------------------


def _cross_and_rq(a: float, b: float, slope: float, end: float) -> tuple[float, float, float]:
    """(g x Hg, Rayleigh quotient g'Hg/g'g, lambda_min) at one point; scalar math because brentq
    calls it point by point and numpy's per-call overhead would dominate."""
    s, c = math.sin(a), math.cos(a)
    r = b - s
    g1 = -2 * r * c - slope * (1.0 if end > a else -1.0 if end < a else 0.0)
    g2 = 2 * r
    h11, h12, h22 = 2 * c * c + 2 * r * s, -2 * c, 2.0
    hg1, hg2 = h11 * g1 + h12 * g2, h12 * g1 + h22 * g2
    gg = g1 * g1 + g2 * g2
    rq = (g1 * hg1 + g2 * hg2) / gg if gg > 0 else math.nan
    lam_min = 0.5 * (h11 + h22) - math.hypot(0.5 * (h11 - h22), h12)
    return g1 * hg2 - g2 * hg1, rq, lam_min


def river_curve(
    x1_grid, slope: float = SLOPE, end: float = END, halfwidth: float = 0.3, n_scan: int = 61
) -> np.ndarray:
    """x2 of the river (grad L || v_min) above each x1, NaN where none is found.

    The catalog's sign-free recipe: grad L is an eigenvector iff g x Hg = 0, which needs no
    eigenvector sign (bracketing v_max . g breaks where eigh flips signs). Scan x2 in
    sin x1 +- halfwidth for sign changes, refine with brentq, and keep the root whose Rayleigh
    quotient is lambda_min (a root with RQ = lambda_max would be a ridge, not a river)."""
    x1_grid = np.atleast_1d(np.asarray(x1_grid, dtype=np.float64))
    out = np.full(x1_grid.shape, np.nan)
    offsets = np.linspace(-halfwidth, halfwidth, n_scan)
    for i, a in enumerate(x1_grid.flat):
        f = lambda b, a=a: _cross_and_rq(a, b, slope, end)[0]  # noqa: E731
        bs = math.sin(a) + offsets
        fs = np.array([f(b) for b in bs])
        roots = [bs[k] for k in np.flatnonzero(fs == 0)]
        for k in np.flatnonzero(fs[:-1] * fs[1:] < 0):
            roots.append(brentq(f, bs[k], bs[k + 1], xtol=1e-14, rtol=4 * np.finfo(float).eps))
        best, best_err = np.nan, np.inf
        for b in roots:
            _, rq, lam_min = _cross_and_rq(a, b, slope, end)
            lam_max = 2.0 + 2 * math.cos(a) ** 2 + 2 * (b - math.sin(a)) * math.sin(a) - lam_min
            err = abs(rq - lam_min)
            if err < abs(rq - lam_max) and err < best_err:
                best, best_err = b, err
        out.flat[i] = best
    return out


# --- projection onto the river and progress along the reference flow ----------------------------


def _projection_field(phi: np.ndarray, slope: float, end: float) -> np.ndarray:
    u = _mountain_dir(hessian(phi, slope, end))
    g = grad(phi, slope, end)
    return -u * np.sum(u * g, axis=-1, keepdims=True)  # -(I - v v^T) g = -u u^T g in 2-D


def project_to_river(
    points,
    slope: float = SLOPE,
    end: float = END,
    dt: float = 0.05,
    max_steps: int = 20_000,
    tol: float = 1e-10,
) -> np.ndarray:
    """Phi(points): the projection flow dphi = -(I - v_d v_d^T) grad L (Def. C.3) integrated by
    RK4 until |(I - v_d v_d^T) grad L| < tol. The mountain curvature is 2(1 + cos^2) in [2, 4]
    near the river, so dt = 0.05 is far inside RK4's stability region and each point converges
    in a few hundred steps; converged points are frozen so stragglers cost little. At the kink
    x1 = end the field is discontinuous and a point may chatter there at O(dt) amplitude."""
    pts = np.asarray(points, dtype=np.float64)
    phi = pts.reshape(-1, 2).copy()
    active = np.ones(len(phi), dtype=bool)
    for _ in range(max_steps):
        p = phi[active]
        k1 = _projection_field(p, slope, end)
        active_idx = np.flatnonzero(active)
        done = np.linalg.norm(k1, axis=-1) < tol
        if done.all():
            break
        active[active_idx[done]] = False
        p, k1 = p[~done], k1[~done]
        k2 = _projection_field(p + 0.5 * dt * k1, slope, end)
        k3 = _projection_field(p + 0.5 * dt * k2, slope, end)
        k4 = _projection_field(p + dt * k3, slope, end)
        phi[active_idx[~done]] = p + dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
    return phi.reshape(pts.shape)


def river_speed(x1, slope: float = SLOPE, end: float = END) -> np.ndarray:
    """dx1/dT of the reference flow dx = -v_d v_d^T grad L dT on the river. On the river grad L
    is itself along v_d, so the reference flow there is the gradient flow and dx1/dT = -g1;
    about slope/(1 + cos^2 x1), positive for x1 < end, so x1 is monotone along the flow."""
    x1 = np.asarray(x1, dtype=np.float64)
    x2 = river_curve(x1, slope, end)
    return -grad(np.stack([x1, x2.reshape(x1.shape)], axis=-1), slope, end)[..., 0]


def reference_flow_time(
    points, x0, slope: float = SLOPE, end: float = END, h: float = 0.005, project: bool = True
) -> np.ndarray:
    """T~ for each point: the time the reference flow started at Phi(x0) needs to reach
    Phi(point) (Thm 3.3; the Fig. 3b inset plots it against eta*t).

    Because x1 is monotone along the flow, T~ = integral of dx1 / (dx1/dT) from x1(Phi(x0)) to
    x1(Phi(point)), computed by the trapezoid rule on a grid of spacing ~h (the integrand is
    smooth and in [1/slope, 2/slope]). Negative when the point lies upstream of x0. The river
    ends at x1 = end, so projections past it are clipped there: T~ saturates at the time to reach
    the end. ``project=False`` takes the points (and x0) as already on the river."""
    pts = np.asarray(points, dtype=np.float64)
    x0 = np.asarray(x0, dtype=np.float64)
    if project:
        pts, x0 = project_to_river(pts, slope, end), project_to_river(x0, slope, end)
    hi_cap = end - 1e-9
    a = np.minimum(pts[..., 0], hi_cap)
    a0 = min(float(x0[0]), hi_cap)
    lo, hi = float(np.min(a, initial=a0)), float(np.max(a, initial=a0))
    n = max(2, int(math.ceil((hi - lo) / h)) + 1)
    grid = np.linspace(lo, hi, n)
    inv_speed = 1.0 / river_speed(grid, slope, end)
    cum = np.concatenate([[0.0], np.cumsum(0.5 * (inv_speed[1:] + inv_speed[:-1]) * np.diff(grid))])
    return np.interp(a, grid, cum) - np.interp(a0, grid, cum)
