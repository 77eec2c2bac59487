"""The 2-D river's numerics against finite differences, closed forms and the catalog's numbers."""

from __future__ import annotations

import numpy as np
import pytest

from optdyn.theory import river2d as R

RNG = np.random.default_rng(0)
# points away from the kink x1 = 10, where L is not differentiable
POINTS = np.stack([RNG.uniform(-3, 9.5, 50), RNG.uniform(-2, 2, 50)], axis=-1)


def _fd(f, w, eps=1e-6):
    cols = []
    for k in range(2):
        e = np.zeros(2)
        e[k] = eps
        cols.append((f(w + e) - f(w - e)) / (2 * eps))
    return np.stack(cols, axis=-1)


def test_grad_and_hessian_match_finite_differences():
    np.testing.assert_allclose(R.grad(POINTS), _fd(R.loss, POINTS), atol=1e-7)
    np.testing.assert_allclose(R.hessian(POINTS), _fd(R.grad, POINTS), atol=1e-7)
    assert R.loss(POINTS).shape == (50,) and R.hessian(POINTS).shape == (50, 2, 2)


def test_min_eigvec_is_the_min_eigenvector_pointing_downstream():
    H = R.hessian(POINTS)
    v = R.min_eigvec(POINTS)
    lam, vecs = np.linalg.eigh(H)
    np.testing.assert_allclose(np.abs(np.sum(v * vecs[..., 0], -1)), 1.0, atol=1e-12)
    np.testing.assert_allclose(np.einsum("nij,nj->ni", H, v), lam[:, :1] * v, atol=1e-10)
    assert np.all(v[:, 0] >= 0)


def test_river_offsets_match_the_catalog():
    x1 = np.array([0.0, 1.5, 3.0, 6.0])
    offsets = R.river_curve(x1) - np.sin(x1)
    np.testing.assert_allclose(offsets, [-0.050, -0.007, 0.050, -0.050], atol=1e-3)


def test_river_is_where_the_gradient_is_along_v_min_and_matches_first_order_form():
    x1 = np.linspace(0, 9.9, 400)
    x2 = R.river_curve(x1)
    assert not np.isnan(x2).any()
    np.testing.assert_allclose(x2, R.river_curve_approx(x1), atol=2e-3)  # measured 9e-4
    w = np.stack([x1, x2], -1)
    g, v = R.grad(w), R.min_eigvec(w)
    cross = g[:, 0] * v[:, 1] - g[:, 1] * v[:, 0]
    assert np.max(np.abs(cross) / np.linalg.norm(g, axis=-1)) < 1e-9
    assert np.all(np.sum(g * v, -1) < 0)  # downhill along v_d points downstream


def test_projection_flow_lands_on_the_river_and_fixes_river_points():
    pts = np.stack([RNG.uniform(0.5, 9, 20), RNG.uniform(-1.5, 1.5, 20)], -1)
    phi = R.project_to_river(pts)
    np.testing.assert_allclose(phi[:, 1], R.river_curve(phi[:, 0]), atol=1e-8)
    on = np.stack([phi[:, 0], R.river_curve(phi[:, 0])], -1)
    np.testing.assert_allclose(R.project_to_river(on), on, atol=1e-9)


def test_reference_flow_time_matches_first_order_closed_form():
    # On the first-order river dx1/dT = slope/(1 + cos^2 x1): T(x1) = 5(1.5 x1 + sin(2 x1)/4).
    x1 = np.linspace(0.0, 9.9, 12)
    on = np.stack([x1, R.river_curve(x1)], -1)
    T = R.reference_flow_time(on, on[0], project=False)
    closed = 5 * (1.5 * x1 + np.sin(2 * x1) / 4)
    np.testing.assert_allclose(T, closed, rtol=5e-3, atol=1e-3)


@pytest.fixture(scope="module")
def gd_trajectory():
    w, traj = np.array([0.0, 2.0]), []
    for _ in range(100):
        traj.append(w)
        w = w - 0.6 * R.grad(w)
    return np.array(traj)


def test_gd_reaches_the_end_in_81_steps(gd_trajectory):
    # catalog: eta = 0.6 from (0, 2) reaches x1 >= 10 in 81 steps
    assert int(np.argmax(gd_trajectory[:, 0] >= 10)) == 81


def test_gd_progress_along_reference_flow_is_eta_t(gd_trajectory):
    """Thm 3.3 / Fig. 3b inset: after the initial oscillations, T~(t) grows by eta per step."""
    eta, t = 0.6, np.arange(81)
    T = R.reference_flow_time(gd_trajectory[:81], gd_trajectory[0])
    late = t >= 15
    slope = np.polyfit(eta * t[late], T[late], 1)[0]
    assert abs(slope - 1) < 0.03  # measured 1.00
    steps = np.diff(T[late]) / eta
    assert np.all((steps > 0.85) & (steps < 1.15))
    # mean x1 progress per step in the settled phase (catalog: ~0.08)
    x1 = gd_trajectory[:81, 0]
    assert 0.06 < (x1[80] - x1[15]) / 65 < 0.12
