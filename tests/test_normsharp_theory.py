"""Closed forms of the normsharp paper against direct computation: the GD+WD norm recursion
(Lemma E.1), the Hamiltonian system (17), the 3-D toy's and linear regression's sharpness on the
minimizer manifold, and the exact test loss."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from optdyn.theory import normsharp as th

pytestmark = pytest.mark.usefixtures("x64")
F64 = np.float64  # the problems built here compute in float64


def _toy_loss(w, rot):
    return th.toy3d_F(rot @ w)


@pytest.mark.slow  # > 1.5 s: kept out of the fast unit run (pytest -m 'not slow')
def test_norm_recursion_matches_gd_wd():
    """||w_t||^2 from the gradient norms alone equals the norms of an explicit GD+WD run."""
    rot = jnp.asarray(th.random_rotation(3))
    grad = jax.grad(_toy_loss)
    w, lr, wd = jnp.asarray([0.3, 1.3, 1.2]), 0.5, 0.08
    norms, grads = [float(w @ w)], []
    for _ in range(300):
        g = grad(w, rot)
        grads.append(float(jnp.linalg.norm(g)))
        w = (1 - lr * wd) * w - lr * g
        norms.append(float(w @ w))
    rec = th.norm_sq_trajectory(norms[0], np.array(grads), lr, wd)
    np.testing.assert_allclose(rec, norms, rtol=1e-12)


def test_gd_wd_direction_is_projected_gd_with_effective_lr():
    """Lemma 3.1: theta_{t+1} = Pi(theta_t - eta~_t grad L(theta_t))."""
    rot = jnp.asarray(th.random_rotation(0))
    grad = jax.grad(_toy_loss)
    w, lr, wd = jnp.asarray([0.3, 1.3, 1.2]), 0.5, 0.08
    theta = w / jnp.linalg.norm(w)
    for _ in range(50):
        eta_eff = th.effective_lr(float(w @ w), lr, wd)
        theta = theta - eta_eff * grad(theta, rot)
        theta = theta / jnp.linalg.norm(theta)
        w = (1 - lr * wd) * w - lr * grad(w, rot)
        np.testing.assert_allclose(theta, w / jnp.linalg.norm(w), atol=1e-12)


@pytest.mark.slow  # > 1.5 s: kept out of the fast unit run (pytest -m 'not slow')
def test_toy3d_sharpness_on_manifold():
    """lambda_1(hess F) at (x, x, z) on the unit sphere is 6/(1 - z^2) (App. F)."""
    for z in (0.0, 0.3, 0.669):
        x = np.sqrt((1 - z**2) / 2)
        hess = jax.hessian(th.toy3d_F)(jnp.asarray([x, x, z]))
        assert np.linalg.eigvalsh(np.asarray(hess))[-1] == pytest.approx(th.toy3d_sharpness_on_manifold(z), rel=1e-10)


def test_hamiltonian_energy_period_and_mean_h2():
    k, c_b, dt = 2.0, 1.0, 1e-3
    x_star = th.potential_minimum(k, c_b)
    assert np.exp(2 * x_star) == pytest.approx(c_b / (2 * k**2))
    e = th.energy(x_star, 2.0, k, c_b)  # a large, anharmonic orbit
    period = th.orbit_period(e, k, c_b)
    xs, vs = th.leapfrog(x_star, 2.0, k, c_b, dt, int(period / dt) + 2)
    assert np.max(np.abs(th.energy(xs, vs, k, c_b) / e - 1)) < 1e-5
    # back at the start after one quadrature period
    n = int(round(period / dt))
    assert xs[n] == pytest.approx(x_star, abs=5e-3) and vs[n] == pytest.approx(2.0, abs=5e-3)
    # <dv/dt> = 0 over a period  =>  <2 K^2 h^2> = C_b for every orbit
    assert np.mean(np.exp(2 * xs[:n])) == pytest.approx(c_b / (2 * k**2), rel=1e-3)
    assert period > th.small_oscillation_period(c_b)  # anharmonic orbits are slower
    assert th.orbit_period(th.energy(x_star, 1e-3, k, c_b), k, c_b) == pytest.approx(
        th.small_oscillation_period(c_b), rel=1e-4)


@pytest.mark.slow  # > 1.5 s: kept out of the fast unit run (pytest -m 'not slow')
def test_linreg_sharpness_on_manifold_and_population_loss():
    from optdyn.models.normsharp import LinearRegressionBNProblem
    from optdyn.spec.problems.normsharp import LinearRegressionBN

    problem = LinearRegressionBNProblem(LinearRegressionBN(name="linear_regression_bn"), dtype=F64)
    d = problem.data
    theta = jnp.asarray(problem.w_flat_dir)
    assert float(problem.loss(theta)) < 1e-20  # the flattest interpolant is a minimizer
    dense = np.linalg.eigvalsh(np.asarray(jax.hessian(problem.loss)(theta)))[-1]
    w_tilde, _ = th.linreg_equivalent(problem.w_flat_dir, d["x"], d["y"])
    np.testing.assert_allclose(w_tilde, problem.w_flat, rtol=1e-10)
    assert dense == pytest.approx(th.linreg_sharpness_on_manifold(w_tilde, d["x"], d["y"]), rel=1e-8)
    # exact population MSE against Monte Carlo
    rng = np.random.default_rng(1)
    x = rng.normal(size=(400_000, len(d["cov"]))) * np.sqrt(d["cov"])
    b = d["y"].mean() - w_tilde @ d["x"].mean(0)
    mc = np.mean((x @ w_tilde + b - x @ d["w_gt"] - d["b_gt"]) ** 2)
    assert th.linreg_population_loss(w_tilde, b, d["w_gt"], d["b_gt"], d["cov"]) == pytest.approx(mc, rel=1e-2)


def test_eos_entry_and_crossings():
    from optdyn.figures.normsharp.series import crossings

    assert th.eos_entry_index(np.array([5.0, 4.0, 3.0, 2.0]), np.array([3.0, 3.0, 3.0, 3.0])) == 2
    assert th.eos_entry_index(np.array([5.0, 4.0]), np.array([3.0, 3.0])) is None
    t = np.arange(400)
    a = 1 + 0.1 * np.sin(2 * np.pi * t / 100) + 0.05 * (-1) ** t  # period-2 flicker is ignored
    assert crossings(a, np.ones_like(a)) == 7
