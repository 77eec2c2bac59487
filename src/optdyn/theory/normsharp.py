"""Closed forms of the normalization / sharpness-reduction paper (Lyu, Li, Arora 2022).

GD+WD on a scale-invariant loss (effective LR, norm recursion, EoS entry), the 3-D toy of
App. F, linear regression with BN (Sec. 5: the gradient-flow projection onto the minimizer
manifold, the flattest interpolant, the exact population test loss) and the Hamiltonian
system (17) of App. H.2.
"""

from __future__ import annotations

import numpy as np

# scipy is imported inside the functions that need it: the trainer imports this module through
# the problems, and scipy.signal alone costs seconds of start-up on the 2-core box.

# --- GD+WD on a scale-invariant loss -----------------------------------------------------------


def effective_lr(norm_sq, lr: float, wd: float):
    """eta~_t = eta / ((1 - eta lambda) ||w_t||^2) (Lemma 3.1)."""
    return lr / ((1.0 - lr * wd) * np.asarray(norm_sq))


def norm_sq_trajectory(norm0_sq: float, grad_norm: np.ndarray, lr: float, wd: float) -> np.ndarray:
    """||w_t||^2 for t = 0..T from ||w_0||^2 and ||grad L(w_t)||, t < T (Lemma E.1):
    ||w_{t+1}||^2 = (1 - eta lambda)^2 ||w_t||^2 + eta^2 ||grad L(w_t)||^2, exact because the
    gradient of a scale-invariant loss is orthogonal to w."""
    from scipy.signal import lfilter

    a = (1.0 - lr * wd) ** 2
    drive = np.concatenate([[norm0_sq], lr**2 * np.asarray(grad_norm, dtype=np.float64) ** 2])
    return lfilter([1.0], [1.0, -a], drive)


def eos_entry_index(two_over_eta: np.ndarray, sharpness: np.ndarray) -> int | None:
    """First index where 2/eta~_t has come down to the spherical sharpness (Thm 4.3's t_1)."""
    hit = np.flatnonzero(np.asarray(two_over_eta) <= np.asarray(sharpness))
    return int(hit[0]) if hit.size else None


# --- 3-D toy (App. F) ----------------------------------------------------------------------------


def toy3d_F(p):
    """F(x, y, z) = 2 - (x + y)/sqrt(x^2 - xy + y^2); works on numpy or jax arrays (..., 3)."""
    x, y = p[..., 0], p[..., 1]
    return 2.0 - (x + y) / (x * x - x * y + y * y) ** 0.5


def toy3d_sharpness_on_manifold(z):
    """lambda_1 of hess F at (x, x, z) on the unit sphere: 6/(1 - z^2) (App. F)."""
    return 6.0 / (1.0 - np.asarray(z) ** 2)


def random_rotation(seed: int, dim: int = 3) -> np.ndarray:
    q, r = np.linalg.qr(np.random.default_rng(seed).normal(size=(dim, dim)))
    return q * np.sign(np.diag(r))


# --- linear regression with BN (Sec. 5, App. O / Q.2) -------------------------------------------


def linreg_data(d: int, n: int, bias_variance: float, seed: int) -> dict[str, np.ndarray]:
    """w_GT uniform on S^{d-1}, b_GT ~ N(0, bias_variance), x ~ N(0, diag(1/d, 2/d, ..., 1))."""
    rng = np.random.default_rng(seed)
    w_gt = rng.normal(size=d)
    w_gt /= np.linalg.norm(w_gt)
    b_gt = rng.normal() * np.sqrt(bias_variance)
    cov = np.arange(1, d + 1) / d
    x = rng.normal(size=(n, d)) * np.sqrt(cov)
    return {"x": x, "y": x @ w_gt + b_gt, "w_gt": w_gt, "b_gt": np.asarray(b_gt), "cov": cov}


def linreg_centered(x: np.ndarray, y: np.ndarray):
    """Centered design X~ = X - mu_x and targets y~ = y - mu_y."""
    return x - x.mean(0), y - y.mean()


def linreg_flattest(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """w~* = X~^+ y~: the min-norm interpolant of problem (M), the flattest point of Gamma."""
    xc, yc = linreg_centered(x, y)
    return np.linalg.pinv(xc) @ yc


def linreg_equivalent(w, x: np.ndarray, y: np.ndarray):
    """(w~, b~) of eq. (4): Phi(x; w) = w~^T x + b~ with w~ = sigma_y w/||w||_{Sigma_x}."""
    xc, yc = linreg_centered(x, y)
    w = np.asarray(w)
    scale = np.linalg.norm(yc) / np.linalg.norm(xc @ w, axis=-1, keepdims=True)
    w_tilde = scale * w
    return w_tilde, y.mean() - w_tilde @ x.mean(0)


def linreg_population_loss(w_tilde, b_tilde, w_gt, b_gt, cov) -> np.ndarray:
    """Exact test MSE E[(w~^T x + b~ - w_GT^T x - b_GT)^2] for x ~ N(0, diag(cov))."""
    diff = np.asarray(w_tilde) - w_gt
    return np.sum(cov * diff**2, axis=-1) + (np.asarray(b_tilde) - b_gt) ** 2


def linreg_sharpness_on_manifold(w_tilde: np.ndarray, x: np.ndarray, y: np.ndarray) -> float:
    """lambda_1 of H = 2||w~||^2 (Sigma_x - z z^T) on Gamma (Sec. 5), Sigma_x the empirical
    covariance and z = (1/n) sum_i (y_i - mu_y)/sigma_y (x_i - mu_x)."""
    xc, yc = linreg_centered(x, y)
    n = len(y)
    z = xc.T @ (yc / yc.std()) / n
    return 2.0 * float(w_tilde @ w_tilde) * float(np.linalg.eigvalsh(xc.T @ xc / n - np.outer(z, z))[-1])


# --- the Hamiltonian system (17) (App. H.2) -----------------------------------------------------


def potential(x, k: float, c_b: float):
    """U(x) = K^2 e^{2x} - C_b x, x = log|h|."""
    return k**2 * np.exp(2 * np.asarray(x)) - c_b * np.asarray(x)


def energy(x, v, k: float, c_b: float):
    return 0.5 * np.asarray(v) ** 2 + potential(x, k, c_b)


def potential_minimum(k: float, c_b: float) -> float:
    """x* with 2K^2 e^{2x*} = C_b, i.e. h*^2 = C_b/(2K^2)."""
    return 0.5 * np.log(c_b / (2 * k**2))


def small_oscillation_period(c_b: float) -> float:
    """2 pi / sqrt(U''(x*)) = 2 pi / sqrt(2 C_b), independent of K."""
    return 2 * np.pi / np.sqrt(2 * c_b)


def leapfrog(x0: float, v0: float, k: float, c_b: float, dt: float, steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Symplectic (velocity Verlet) orbit of x' = v, v' = -(2K^2 e^{2x} - C_b)."""
    xs, vs = np.empty(steps + 1), np.empty(steps + 1)
    x, v = x0, v0
    force = lambda x: -(2 * k**2 * np.exp(2 * x) - c_b)  # noqa: E731
    xs[0], vs[0] = x, v
    f = force(x)
    for i in range(steps):
        v_half = v + 0.5 * dt * f
        x = x + dt * v_half
        f = force(x)
        v = v_half + 0.5 * dt * f
        xs[i + 1], vs[i + 1] = x, v
    return xs, vs


def orbit_period(e: float, k: float, c_b: float, nodes: int = 2000) -> float:
    """Period of the closed orbit of energy e: 2 * int dx / sqrt(2(e - U(x))) between the turning
    points, by Gauss-Chebyshev quadrature (x = mid + half*y: the 1/sqrt(1 - y^2) endpoint
    singularity is the weight, the rest is smooth, and no node sits on a turning point)."""
    from scipy.optimize import brentq

    x_star = potential_minimum(k, c_b)
    if e <= potential(x_star, k, c_b):
        return small_oscillation_period(c_b)
    g = lambda x: e - potential(x, k, c_b)  # noqa: E731
    lo = brentq(g, x_star - 1.0 - abs(e) / c_b - 50.0, x_star, xtol=1e-15)
    hi = brentq(g, x_star, x_star + 0.5 * np.log(abs(e) / k**2 + 1.0) + 5.0, xtol=1e-15)
    mid, half = (lo + hi) / 2, (hi - lo) / 2
    y = np.cos((2 * np.arange(1, nodes + 1) - 1) * np.pi / (2 * nodes))
    smooth = half * np.sqrt(1 - y**2) / np.sqrt(np.maximum(2 * g(mid + half * y), 1e-300))
    return 2 * np.pi / nodes * float(np.sum(smooth))


def final_bn_min_loss(gamma: float, classes: int = 10) -> float:
    """The cross-entropy floor L_min behind a final BN with fixed gamma (App. R, eq. 53): the
    normalized logits of C classes are at best 3 gamma / -gamma/3 for C = 10, giving
    ln(1 + (C - 1) exp(-gamma (sqrt(C - 1) + 1/sqrt(C - 1)))); ln(100/91) at gamma = (3/10) ln 91."""
    r = np.sqrt(classes - 1.0)
    return float(np.log1p((classes - 1) * np.exp(-gamma * (r + 1.0 / r))))
