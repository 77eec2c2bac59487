"""App. E's quantities (``probes/selfstab_assumptions.py``) against closed forms on a separable
quartic f(x) = sum_i h_i x_i^2/2 + a_i x_i^3/6 + b_i x_i^4/24, whose derivatives are diagonal:
D^2 f = diag(h + a x + b x^2/2), D^3 f[v, w]_i = (a_i + b_i x_i) v_i w_i, D^4 f[v, v, v]_i = b_i v_i^3."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from optdyn.probes.selfstab_assumptions import AssumptionStats
from optdyn.theory.selfstab_predicted import Centre

pytestmark = pytest.mark.usefixtures("x64")

H = np.array([3.0, 1.0, 0.5, -0.2])
A = np.array([0.4, -2.0, 0.7, 0.1])
B = np.array([1.5, 0.3, -4.0, 0.2])
X = np.array([-0.1, 0.2, 0.3, 0.05])
ETA = 0.7


def f(x):
    return jnp.sum(H * x**2 / 2 + A * x**3 / 6 + B * x**4 / 24)


def _centre(u):
    x = jnp.asarray(X)
    grad = H * X + A * X**2 / 2 + B * X**3 / 6
    third = A + B * X
    grad_s = third * u * u  # D^3 f[u, u]
    S = 2.5  # any positive value: the ratio is divided by it
    return Centre(x, f(x), jnp.asarray(grad), jnp.asarray([S, 0.0]), jnp.stack([u, u], axis=1), jnp.asarray(grad_s))


@pytest.mark.slow  # ~5 s on a shared 2-core box (compiles)
def test_assumption_values_match_closed_forms(x64):
    u = jnp.asarray([0.6, 0.0, 0.8, 0.0])
    c = _centre(u)
    v_hat = jnp.asarray([0.3, 1.0, -0.2, 0.5])
    got = jax.device_get(AssumptionStats(f, ETA).values(c, v_hat))
    u_np, third = np.asarray(u), A + B * X
    grad = H * X + A * X**2 / 2 + B * X**3 / 6
    gs = third * u_np**2
    gs_perp = gs - u_np * (u_np @ gs)
    alpha = -(grad @ gs_perp)
    assert alpha > 0  # so delta = sqrt(2 alpha / beta) and F at delta are defined

    def unit_perp(v):
        w = v - u_np * (u_np @ v)
        return w / np.linalg.norm(w)

    vbar, gbar = unit_perp(np.asarray(v_hat)), unit_perp(grad)
    hess = H + A * X + B * X**2 / 2
    np.testing.assert_allclose(got["grad_norm"], np.linalg.norm(grad), rtol=1e-12)
    np.testing.assert_allclose(got["grad_s_perp_norm"], np.linalg.norm(gs_perp), rtol=1e-12)
    np.testing.assert_allclose(got["gamma"], alpha / (np.linalg.norm(grad) * np.linalg.norm(gs_perp)), rtol=1e-12)
    np.testing.assert_allclose(got["d3_vhat_norm"], np.linalg.norm(third * vbar**2), rtol=1e-12)
    np.testing.assert_allclose(got["d3_grad_norm"], np.linalg.norm(third * gbar**2), rtol=1e-12)
    np.testing.assert_allclose(got["d2_vhat_ratio"], abs(vbar @ (hess * vbar)) / 2.5, rtol=1e-12)
    # F(x) = f(X + x u) - f(X) - x^2/eta along u at x = delta = sqrt(2 alpha / beta), by finite differences
    delta = np.sqrt(2 * alpha / (gs_perp @ gs_perp))

    def F(x):
        return float(f(jnp.asarray(X + x * u_np)) - f(jnp.asarray(X))) - x**2 / ETA

    h = 1e-4
    np.testing.assert_allclose(got["F_delta"], F(delta), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(got["F1_delta"], (F(delta + h) - F(delta - h)) / (2 * h), rtol=1e-7)
    np.testing.assert_allclose(got["F2_delta"], (F(delta + h) - 2 * F(delta) + F(delta - h)) / h**2, rtol=1e-5)


@pytest.mark.slow  # ~3 s (compiles)
def test_power_method_finds_the_largest_diagonal_entry(x64):
    # from a start with weight on every axis the power method on a diagonal tensor goes to the
    # axis with the largest |entry| (x_2's for D^3, x_3's for D^4): rho_3 = |a + b x|_max, rho_4 = |b|_max
    u = jnp.asarray([0.5, 0.5, 0.5, 0.5])
    got = jax.device_get(AssumptionStats(f, ETA, iters=40).slow(jnp.asarray(X), u))
    np.testing.assert_allclose(got["rho3"], np.max(np.abs(A + B * X)), rtol=1e-9)
    # D^3 f is quadratic in x here, so rho_4's central difference of D^3 f is exact up to round-off
    np.testing.assert_allclose(got["rho4"], np.max(np.abs(B)), rtol=1e-9)
