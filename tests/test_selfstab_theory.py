"""Self-stabilization Sec. 4 theory (theory/selfstab.py) against closed forms: the ODE's
conserved quantity, the orbit extremes, the small-oscillation period, Corollary 1's asymptotic
constant, and the four-stage classifier on synthetic trajectories."""

from __future__ import annotations

import numpy as np
import pytest

from optdyn.theory import selfstab as T


@pytest.mark.parametrize("alpha,beta", [(1.0, 1.0), (2.0, 0.5), (0.25, 3.0)])
def test_g_has_zero_derivative_along_the_vector_field(alpha, beta):
    rng = np.random.default_rng(0)
    X, Y = rng.uniform(0.05, 5, 50), rng.uniform(-3, 3, 50)
    eps = 1e-6
    dX, dY = T.rhs(0.0, (X, Y), alpha, beta)
    # central differences of g along the flow direction: d/dt g(X + t X', Y + t Y') at t = 0
    dg = (T.conserved(X + eps * dX, Y + eps * dY, alpha, beta) - T.conserved(X - eps * dX, Y - eps * dY, alpha, beta)) / (2 * eps)
    scale = np.abs(dX) + np.abs(dY) + 1
    assert np.max(np.abs(dg) / scale) < 1e-7
    # and g vanishes exactly at the fixed point only
    assert T.conserved(T.delta(alpha, beta), 0.0, alpha, beta) == pytest.approx(0.0, abs=1e-15)
    assert np.all(T.conserved(X, Y, alpha, beta) > 0)


@pytest.mark.parametrize("alpha,beta", [(1.0, 1.0), (2.0, 0.5)])
@pytest.mark.parametrize("x0_over_delta", [0.7, 0.1, 1e-3])
def test_orbit_conserves_g_closes_and_matches_closed_form_extremes(alpha, beta, x0_over_delta):
    X0 = x0_over_delta * T.delta(alpha, beta)
    orbit = T.integrate_orbit(X0, alpha, beta)
    g = T.conserved(orbit.X, orbit.Y, alpha, beta)
    assert np.max(np.abs(g - g[0])) / g[0] < 1e-10
    assert orbit.end_state == pytest.approx([X0, 0.0], abs=1e-8 * X0)
    closed = T.orbit_extremes(X0, alpha, beta)
    assert closed["min_X"] == pytest.approx(X0, rel=1e-12)
    assert orbit.X.max() == pytest.approx(closed["max_X"], rel=1e-9)
    assert np.abs(orbit.Y_at_delta) == pytest.approx(closed["max_abs_Y"], rel=1e-9)
    # the sampled orbit never exceeds the closed-form extremes (up to solver tolerance)
    assert np.abs(orbit.Y).max() <= closed["max_abs_Y"] * (1 + 1e-9)


def test_h_inverse_branches():
    for c in (1e-6, 0.3, 5.0, 40.0):
        lo, hi = T._h_inverse(c, 0), T._h_inverse(c, -1)
        assert lo < 1 < hi
        assert T.h(lo) == pytest.approx(c, rel=1e-10)
        assert T.h(hi) == pytest.approx(c, rel=1e-10)


@pytest.mark.parametrize("alpha,beta", [(1.0, 1.0), (2.0, 0.5)])
def test_small_orbits_have_the_linearized_period(alpha, beta):
    orbit = T.integrate_orbit(0.999 * T.delta(alpha, beta), alpha, beta)
    assert orbit.period == pytest.approx(T.small_oscillation_period(alpha, beta), rel=1e-4)
    assert T.small_oscillation_period(1.0, 1.0) == pytest.approx(2 * np.pi / np.sqrt(2))


def test_smaller_x0_gives_larger_orbits_and_corollary1_constant_tends_to_sqrt2():
    x0s = [0.5, 0.1, 1e-3, 1e-6, 1e-12]
    ext = [T.orbit_extremes(x0, 1.0, 1.0) for x0 in x0s]
    assert np.all(np.diff([e["max_X"] for e in ext]) > 0)
    assert np.all(np.diff([e["max_abs_Y"] for e in ext]) > 0)
    ratios = [e["max_X"] / T.corollary1_scales(x0, 1.0, 1.0)["X"] for x0, e in zip(x0s[1:], ext[1:])]
    assert np.all(np.diff(ratios) < 0) and ratios[-1] > np.sqrt(2)
    assert ratios[-1] == pytest.approx(np.sqrt(2), rel=0.06)
    # the catalog's measured period table (catalog 004 Sec. 3.2)
    assert T.integrate_orbit(0.1, 1.0, 1.0).period == pytest.approx(6.041, abs=1e-3)
    assert T.integrate_orbit(0.01, 1.0, 1.0).period == pytest.approx(7.490, abs=1e-3)


def test_simplified_dynamics_track_the_ode_as_eta_shrinks():
    """eq. (3) is an Euler discretization of eq. (4) in (log X, Y): the first cycle's length in
    ODE time converges to the period with an O(eta) error."""
    period = T.integrate_orbit(0.1, 1.0, 1.0).period
    errors = []
    for eta in (0.02, 0.01, 0.005):
        x, y = T.simplified_dynamics(0.1, 0.0, eta, 1.0, 1.0, int(1.5 * period / eta))
        starts = T.cycle_starts(y)
        errors.append(abs(starts[1] * eta / period - 1))
    assert errors[0] > errors[1] > errors[2]
    assert errors[1] / errors[2] == pytest.approx(2.0, rel=0.3)


# --- the four stages ---------------------------------------------------------------------------


def _clockwise_circle(delta, r=0.5, turns=2.0, n=400, phase=0.1):
    """(X, Y) going clockwise around (delta, 0): X = delta - r cos(phi), Y = r sin(phi)."""
    phi = phase + np.linspace(0, 2 * np.pi * turns, n)
    return delta - r * np.cos(phi), r * np.sin(phi)


def test_stage_classifier_quadrants():
    d = 1.0
    X = np.array([0.5, 0.5, 1.5, 1.5, 1.0, 0.5])
    Y = np.array([-1.0, 1.0, 1.0, -1.0, 0.0, 0.0])
    assert T.stages(X, Y, d).tolist() == [1, 2, 3, 4, 3, 2]  # boundaries: X = delta -> high, Y = 0 -> up
    assert T.stages(-X, Y, d).tolist() == [1, 2, 3, 4, 3, 2]  # x's sign does not matter


def test_stages_in_order_on_a_synthetic_clockwise_cycle():
    X, Y = _clockwise_circle(1.0)
    labels = T.stages(X, Y, 1.0)
    runs = T.stage_runs(labels)
    assert [s for s, _, _ in runs][:5] == [2, 3, 4, 1, 2]
    assert T.stages_in_order(labels)
    assert not T.stages_in_order(labels[::-1])  # counter-clockwise: 1 -> 4 -> 3 ...
    assert not T.stages_in_order(np.array([1, 1, 3, 4]))  # a skipped stage
    # runs tile the sequence
    assert runs[0][1] == 0 and runs[-1][2] == len(labels)
    assert all(a[2] == b[1] for a, b in zip(runs, runs[1:]))


def test_cycle_starts_are_upward_zero_crossings():
    X, Y = _clockwise_circle(1.0, turns=3.0, n=900, phase=0.0)
    Y[0] = 0.0
    starts = T.cycle_starts(Y)
    assert starts[0] == 0 and len(starts) == 3
    assert np.all(Y[starts[1:] - 1] < 0) and np.all(Y[starts[1:]] >= 0)
    assert np.diff(starts) == pytest.approx([300, 300], abs=1)
