"""Closed forms of the late-LR-decay paper's toy models (Ren, Ma, Ying 2024, Sec. 3, App. B).

Three reparametrizations alpha(w) of linear regression y = alpha^T x (Fig. 3):
  linear  alpha = w;  diag  alpha = w^{o3} (the L = 3 diagonal net);  reparam  alpha = ||w||^g w.
All three are homogeneous of degree p (1, 3, g + 1), which gives the minima manifold of a 2-D,
n = 1 instance as one radius per direction: r(u) = (y / x^T alpha(u))^{1/p}.

Losses (paper Sec. 3.1, with x ~ N(0, x_var I), so the population loss carries x_var):
  train  (1/2n) ||X^T alpha - y||^2,   test  (x_var/2) ||alpha - alpha*||^2.

The Phase-II quantities (A(w), C(w), the tangent projector, the effective drift (3.15) and the
norm ODE it implies on the manifold) are numpy float64 and refer to a ``Instance`` (X, w*).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DEGREE = {"linear": lambda gamma: 1.0, "diag": lambda gamma: 3.0, "reparam": lambda gamma: gamma + 1.0}


def alpha(w, kind: str = "reparam", gamma: float = 2.0) -> np.ndarray:
    """The effective linear predictor of parameters w (..., d)."""
    w = np.asarray(w, dtype=np.float64)
    if kind == "linear":
        return w
    if kind == "diag":
        return w**3
    if kind == "reparam":
        return np.linalg.norm(w, axis=-1, keepdims=True) ** gamma * w
    raise ValueError(f"unknown toy model {kind!r}; allowed: linear, diag, reparam")


def w_of_alpha(a, gamma: float) -> np.ndarray:
    """Inverse of the reparam map: w = ||alpha||^{-g/(1+g)} alpha (Sec. 3.1)."""
    a = np.asarray(a, dtype=np.float64)
    return np.linalg.norm(a, axis=-1, keepdims=True) ** (-gamma / (1 + gamma)) * a


def train_loss(w, X, y, kind: str = "reparam", gamma: float = 2.0) -> np.ndarray:
    X = np.asarray(X, dtype=np.float64)
    r = alpha(w, kind, gamma) @ X - y
    return np.sum(r**2, axis=-1) / (2 * X.shape[1])


def test_loss(w, alpha_star, kind: str = "reparam", gamma: float = 2.0, x_var: float = 1.0) -> np.ndarray:
    return 0.5 * x_var * np.sum((alpha(w, kind, gamma) - alpha_star) ** 2, axis=-1)


# --- the d = 2, n = 1 landscapes of Fig. 3 -------------------------------------------------------


def manifold_radius_2d(theta, x, y: float, kind: str, gamma: float = 2.0) -> np.ndarray:
    """Radius where the ray at angle theta meets the manifold x^T alpha(w) = y; nan if it doesn't."""
    u = np.stack([np.cos(theta), np.sin(theta)], axis=-1)
    ratio = y / (alpha(u, kind, gamma) @ np.asarray(x, dtype=np.float64))
    with np.errstate(invalid="ignore"):
        return np.where(ratio > 0, ratio ** (1 / DEGREE[kind](gamma)), np.nan)


def min_norm_point_2d(x, y: float, kind: str, gamma: float = 2.0, grid: int = 20001) -> np.ndarray:
    """argmin ||w|| on the manifold, by a fine angle grid refined with a bounded scalar search
    (independent of the closed form, which it is tested against)."""
    from scipy.optimize import minimize_scalar  # lazy: the trainer imports this module, and scipy costs seconds

    theta = np.linspace(-np.pi, np.pi, grid)
    r = manifold_radius_2d(theta, x, y, kind, gamma)
    k = int(np.nanargmin(r))
    h = theta[1] - theta[0]
    res = minimize_scalar(lambda t: float(manifold_radius_2d(np.asarray(t), x, y, kind, gamma)),
                          bounds=(theta[k] - h, theta[k] + h), method="bounded", options={"xatol": 1e-13})
    t = res.x
    return float(manifold_radius_2d(np.asarray(t), x, y, kind, gamma)) * np.array([np.cos(t), np.sin(t)])


def manifold_points_2d(x, y: float, kind: str, gamma: float = 2.0, r_max: float = 1e3, grid: int = 4001) -> np.ndarray:
    """Points of the manifold (in angle order) with radius below r_max, shape (m, 2)."""
    theta = np.linspace(-np.pi, np.pi, grid)
    r = manifold_radius_2d(theta, x, y, kind, gamma)
    ok = np.isfinite(r) & (r < r_max)
    return (r[:, None] * np.stack([np.cos(theta), np.sin(theta)], -1))[ok]


# --- the reparametrized model on a general instance (Sec. 3.3, App. B) --------------------------


@dataclass(frozen=True)
class Instance:
    X: np.ndarray  # (d, n), columns are the samples
    w_star: np.ndarray
    gamma: float
    x_var: float = 1.0  # variance of each feature of x (the test loss's weight)

    @property
    def alpha_star(self) -> np.ndarray:
        return alpha(self.w_star, "reparam", self.gamma)

    @property
    def y(self) -> np.ndarray:
        return self.X.T @ self.alpha_star

    @property
    def n(self) -> int:
        return self.X.shape[1]

    def proj_X(self) -> np.ndarray:
        Q, _ = np.linalg.qr(self.X)
        return Q @ Q.T


def draw_instance(d: int, n: int, gamma: float, seed: int, x_std: float | None = None) -> Instance:
    """x_i ~ N(0, x_std^2 I), w* ~ N(0, I/d) (catalog Sec. 3; x_std = 1/sqrt(d) by default)."""
    x_std = 1 / np.sqrt(d) if x_std is None else x_std
    rng = np.random.default_rng(seed)
    X = x_std * rng.standard_normal((d, n))
    w_star = rng.standard_normal(d) / np.sqrt(d)
    return Instance(X, w_star, gamma, x_std**2)


def min_norm_interpolant(inst: Instance) -> np.ndarray:
    """Lemma B.4: w_dagger = ||alpha*_X||^{-g/(1+g)} alpha*_X with alpha*_X = P_X alpha*."""
    return w_of_alpha(inst.proj_X() @ inst.alpha_star, inst.gamma)


def numerical_rank_sq(X) -> float:
    """r(X)^2 = ||X||_F^2 / ||X||_2^2 (Remark 3.5: C >= 0 on M when it is >= gamma + 2)."""
    return float(np.sum(X**2) / np.linalg.norm(X, 2) ** 2)


def jacobian(w, gamma: float) -> np.ndarray:
    """A(w) = d alpha / d w = ||w||^g (I + g wbar wbar^T) (A.1)."""
    r = np.linalg.norm(w)
    wb = w / r
    return r**gamma * (np.eye(w.size) + gamma * np.outer(wb, wb))


def C_of_w(w, X, gamma: float) -> np.ndarray:
    """C(w) = (tr X^T X - (g + 2) wbar^T X X^T wbar) / n (3.16); w of shape (..., d)."""
    wb = w / np.linalg.norm(w, axis=-1, keepdims=True)
    return (np.sum(X**2) - (gamma + 2) * np.sum((wb @ X) ** 2, axis=-1)) / X.shape[1]


def tangent_projector(w, X, gamma: float) -> np.ndarray:
    """Orthogonal projector on the tangent space A^{-1} X_perp = (span A X)^perp (Prop. B.1)."""
    Q, _ = np.linalg.qr(jacobian(w, gamma) @ X)
    return np.eye(w.size) - Q @ Q.T


def effective_drift(w, X, gamma: float, eta: float, sigma2: float) -> np.ndarray:
    """Lemma 3.3 (3.15): dw_M/dt = -A ||w||^{2g-1} C(w) P_T wbar, A = eta sigma^2 g / 2."""
    r = np.linalg.norm(w)
    return -0.5 * eta * sigma2 * gamma * r ** (2 * gamma - 1) * C_of_w(w, X, gamma) * tangent_projector(w, X, gamma) @ (w / r)


def manifold_point(inst: Instance, r: float, direction=None) -> np.ndarray:
    """The point of M with norm r in the plane of w_dagger and a unit ``direction`` of X_perp.

    On M, P_X w = ||w||^{-g} alpha*_X, so w = a e_dagger + b e_perp with a = r^{-g} ||alpha*_X||
    and b = sqrt(r^2 - a^2) (Prop. B.3); every point of M with norm r is such a point up to a
    rotation of X_perp, which leaves X and hence all the Phase-II quantities unchanged."""
    ax = inst.proj_X() @ inst.alpha_star
    a = r**-inst.gamma * np.linalg.norm(ax)
    if a > r:
        raise ValueError(f"no point of M has norm {r} < ||w_dagger|| = {np.linalg.norm(ax) ** (1 / (1 + inst.gamma))}")
    if direction is None:
        direction = np.linalg.svd(np.eye(inst.X.shape[0]) - inst.proj_X())[0][:, 0]
    return a * ax / np.linalg.norm(ax) + np.sqrt(r**2 - a**2) * direction


def norm_rate_on_manifold(inst: Instance, r: float, eta: float, sigma2: float) -> float:
    """d||w_M||/dt of the effective dynamics (3.15) at norm r (a function of r alone on M)."""
    w = manifold_point(inst, r)
    return float(w @ effective_drift(w, inst.X, inst.gamma, eta, sigma2) / r)


def norm_trajectory(inst: Instance, r0: float, t, eta: float, sigma2: float) -> np.ndarray:
    """||w_M(t)|| of the effective dynamics from norm r0, at SDE times t (t = eta * steps)."""
    from scipy.integrate import solve_ivp

    t = np.asarray(t, dtype=np.float64)
    sol = solve_ivp(lambda _, r: [norm_rate_on_manifold(inst, float(r[0]), eta, sigma2)], (t[0], t[-1]), [r0],
                    t_eval=t, rtol=1e-8, atol=1e-10)
    return sol.y[0]


def tangent_share_closed_form(inst: Instance, r: float) -> float:
    """<wbar, P_T wbar> on M at norm r: ||v||^2 / ((1+g)^2 (1 - c||v||^2)), c = (g^2+2g)/(1+g)^2,
    ||v||^2 = 1 - r^{-2-2g} ||alpha*_X||^2. (App. B's Sherman-Morrison step prints 1 + c||v||^2 in
    the denominator; the lower bound ||v||^2/(1+g)^2 it is used for holds either way.)"""
    g = inst.gamma
    v2 = 1 - r ** (-2 - 2 * g) * np.sum((inst.proj_X() @ inst.alpha_star) ** 2)
    return float(v2 / ((1 + g) ** 2 * (1 - (g * g + 2 * g) / (1 + g) ** 2 * v2)))


def b19_rate(inst: Instance, eta: float, sigma2: float, as_printed: bool = False) -> float:
    """Rate of (B.19), ||w|| - ||w_dagger|| <= delta(0) exp(-rate t), with C_ d = inf C on the path
    = C(w_dagger) (C grows with ||w|| on M). The proof's last step linearizes r^{2g-1} at
    ||w_dagger|| and so carries ||alpha*_X||^{(2g-2)/(1+g)} = ||w_dagger||^{2g-2}; the printed
    (B.19) drops that factor (exact only when g = 1 or ||alpha*_X|| = 1): ``as_printed`` omits it."""
    g = inst.gamma
    w_dagger = min_norm_interpolant(inst)
    rate = sigma2 * eta * C_of_w(w_dagger, inst.X, g) * g * (2 * g - 1) / (2 * (g + 1) ** 2)
    return float(rate if as_printed else rate * np.linalg.norm(w_dagger) ** (2 * g - 2))


def hessian_trace_on_manifold(inst: Instance, r) -> np.ndarray:
    """tr hess L on M at norm r: (r^{2g} ||X||_F^2 + g(g+2) ||y||^2 r^-2) / n (catalog Sec. 1.5;
    the Hessian there is A X X^T A / n and ||X^T wbar||^2 = ||y||^2 / r^{2g+2})."""
    g, r = inst.gamma, np.asarray(r, dtype=np.float64)
    return (r ** (2 * g) * np.sum(inst.X**2) + g * (g + 2) * np.sum(inst.y**2) / r**2) / inst.n


def linearized_rate(inst: Instance, eta: float, sigma2: float, h: float = 1e-6) -> float:
    """-d(d||w||/dt)/d||w|| at w_dagger: the effective dynamics' exact exponential rate."""
    r = np.linalg.norm(min_norm_interpolant(inst))
    return -norm_rate_on_manifold(inst, r * (1 + h), eta, sigma2) / (r * h)


def stall_radius(inst: Instance) -> float:
    """Norm on M where C changes sign (C(w) = 0 <=> ||X^T wbar||^2 = ||X||_F^2/(g+2), and on M
    ||X^T wbar||^2 = ||y||^2 / r^{2g+2}); below it the drift points away from col(X)."""
    g = inst.gamma
    return float(((g + 2) * np.sum(inst.y**2) / np.sum(inst.X**2)) ** (1 / (2 * g + 2)))
