"""Self-stabilization tracking (probes/selfstab_tracking.py) on exact cases: the App. B toy, where
theta^dagger is known in closed form and GD is eq. (3), so the predicted dynamics must equal GD to
rounding (catalog 004 §3.1, §5.3); the projection onto M; gradient-flow sub-steps; the lambda_2
stop rule; resuming from a saved state; and the instability search with backtracking."""

from __future__ import annotations

import itertools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from optdyn.models.selfstab import toy_loss
from optdyn.probes.selfstab_tracking import (
    Tracker,
    TrackState,
    find_instability,
    gf_substeps,
    track,
)
from optdyn.theory import selfstab as T

pytestmark = pytest.mark.usefixtures("x64")

ETA, ALPHA, BETA, X0 = 0.01, 1.0, 1.0, 0.1


def _toy(eta=ETA, alpha=ALPHA, beta=BETA):
    return lambda th: toy_loss(th, eta, alpha, beta)


def _toy_plus(curv0: float, growth: float, extra: int = 1):
    """The toy with ``extra`` decoupled coordinates w_i of curvature (curv0 + i + growth z): along
    the constrained trajectory z^dagger = eta t, so lambda_2(theta^dagger) = curv0 + extra - 1 +
    growth eta t rises linearly, a second eigenvalue heading for 2/eta."""
    toy, offsets = _toy(), jnp.arange(extra, dtype=jnp.float64)

    def f(th):
        w, z = th[3:], th[2]
        return toy(th[:3]) + 0.5 * jnp.sum((curv0 + offsets + growth * z) * w**2)
    return f


@pytest.mark.slow  # > 1.5 s: kept out of the fast unit run (pytest -m 'not slow')
def test_toy_constrained_trajectory_and_predicted_dynamics_are_exact():
    steps = 300
    s = track(_toy(), jnp.array([X0, 0.0, 0.0]), ETA, steps)
    log = s.table()
    assert s.stopped == "steps" and s.step == steps
    t = log["step"]
    # closed form (App. B, with L's "-z" as written): theta^dagger_t = (0, 0, eta t), L(theta^dagger_t) = -eta t
    np.testing.assert_allclose(np.asarray(s.dagger), [0.0, 0.0, ETA * steps], atol=1e-10)
    np.testing.assert_allclose(log["loss_dagger"], -ETA * t, atol=1e-10)
    np.testing.assert_allclose(log["sharpness_dagger"], 2 / ETA, rtol=1e-12)
    np.testing.assert_allclose(log["grad_dot_u"], 0.0, atol=1e-10)
    np.testing.assert_allclose(log["delta"], T.delta(ALPHA, BETA), rtol=1e-12)
    # GD is eq. (3) in (x, Y = grad S . theta) exactly, and so are the predicted dynamics (§5.3: machine precision)
    x_ref, y_ref = T.simplified_dynamics(X0, 0.0, ETA, ALPHA, BETA, steps - 1)
    sign = np.sign(log["x_gd"][0]) * np.sign(X0)  # u's sign is arbitrary
    np.testing.assert_allclose(sign * log["x_gd"], x_ref, atol=1e-11)
    np.testing.assert_allclose(log["y_gd"], y_ref, atol=1e-11)
    np.testing.assert_allclose(log["x_pred"], log["x_gd"], atol=1e-11)
    np.testing.assert_allclose(log["y_pred"], log["y_gd"], atol=1e-11)
    np.testing.assert_allclose(log["loss_pred"], log["loss_gd"], atol=1e-9)
    np.testing.assert_allclose(log["dist_pred"], log["dist_gd"], atol=1e-11)
    # the blow-up happened (|x| passed delta) inside the window, so this is not a trivial match
    assert np.max(np.abs(log["x_gd"])) > 2 * T.delta(ALPHA, BETA)


@pytest.mark.slow  # > 1.5 s: kept out of the fast unit run (pytest -m 'not slow')
@pytest.mark.parametrize("predicted,generalized", [("paper", True), ("code", False), ("code", True)])
def test_toy_other_predicted_forms_are_exact(predicted, generalized):
    # on the toy u is constant (both forms coincide) and F_t = 0 (the loss is exactly quadratic along u)
    s = track(_toy(), jnp.array([X0, 0.0, 0.0]), ETA, 300, predicted=predicted, generalized=generalized)
    log = s.table()
    assert np.max(np.abs(log["x_gd"])) > 2 * T.delta(ALPHA, BETA)
    np.testing.assert_allclose(log["x_pred"], log["x_gd"], atol=1e-11)
    np.testing.assert_allclose(log["y_pred"], log["y_gd"], atol=1e-11)


def _cubic(dim=6, seed=0):
    """f = 1/2 x^T A x + (w.x)^3/6 + g.x: hess = A + (w.x) w w^T, so S and grad S vary with x."""
    rng = np.random.default_rng(seed)
    A = np.diag(np.linspace(0.5, 2.0, dim))
    w, g = rng.normal(size=dim), rng.normal(size=dim)
    A, w, g = (jnp.asarray(a) for a in (A, w, g))
    return lambda x: 0.5 * x @ A @ x + (w @ x) ** 3 / 6 + g @ x


@pytest.mark.slow  # > 1.5 s: kept out of the fast unit run (pytest -m 'not slow')
@pytest.mark.parametrize("active", [False, True])
@pytest.mark.parametrize("case", ["toy", "cubic"])
def test_projection_lands_on_stable_set(case, active):
    if case == "toy":
        f, p, eta = _toy(), jnp.array([0.05, 0.3, 1.0]), ETA  # S = 2/eta + 0.3 + O(eta x^2) > 2/eta
    else:
        cubic, p = _cubic(), 2.0 * jnp.asarray(np.random.default_rng(0).normal(size=6))  # the seed of _cubic's w: w.p > 0
        vals, vecs = jnp.linalg.eigh(jax.hessian(cubic)(p))
        u0, S0 = vecs[:, -1], float(vals[-1])
        # a linear term (no effect on the Hessian) makes grad L . u = 0 at p, as after a step from M: the
        # projection's job is then the sharpness, as in tracking; a large Newton move along u is not its regime
        slope = float(jax.grad(cubic)(p) @ u0)
        f = lambda x: cubic(x) - slope * (u0 @ x)
        eta = 2 / (0.999 * S0)  # 0.1% above the threshold (tracking steps overshoot by eta alpha, less)
    tracker = Tracker(f, eta, method="dense")
    U = jnp.linalg.qr(jax.random.normal(jax.random.PRNGKey(1), (p.shape[0], 2)))[0]
    q, _ = tracker.project(p, U, active=active)
    vals, vecs = jnp.linalg.eigh(jax.hessian(f)(q))
    S = float(vals[-1])
    # first-order moves: the residual is second order in the initial excess (toy: 1.5e-3 relative, with
    # grad S exactly constant, so only the Newton step's O(eta x^2) is left; cubic: 1e-3, u and grad S rotate)
    tol = 1e-10 if case == "toy" else 1e-6
    if active:  # two-sided (theta_0^dagger): on S = 2/eta
        assert S == pytest.approx(2 / eta, rel=tol)
    else:  # one-sided, as the authors' code: inside M, short of 2/eta by the linearization error only
        slack = 1e-6 if case == "toy" else 5e-5
        assert 2 / eta * (1 - slack) <= S <= 2 / eta * (1 + 1e-10)
    grad = jax.grad(f)(q)
    assert abs(float(grad @ vecs[:, -1])) <= (1e-10 if case == "toy" else 1e-5) * float(jnp.linalg.norm(grad))


def test_projection_converges_quadratically_with_a_newton_move():
    """With grad L . u != 0 the Newton step along u moves S by (u . grad S) b: the joint
    linearization cancels it, so the residual |S - 2/eta| shrinks quadratically per projection
    (the authors' S-only form leaves that first-order term and shrinks it only linearly)."""
    f, p = _cubic(), 2.0 * jnp.asarray(np.random.default_rng(0).normal(size=6))
    S0 = float(jnp.linalg.eigvalsh(jax.hessian(f)(p))[-1])
    eta = 2 / (0.99 * S0)
    tracker = Tracker(f, eta, method="dense", proj_steps=1)
    U = jnp.linalg.qr(jax.random.normal(jax.random.PRNGKey(1), (p.shape[0], 2)))[0]
    residuals, newton = [], []
    for _ in range(4):
        c = tracker.centre(p, U)
        residuals.append(abs(float(c.sharpness) * eta / 2 - 1))
        newton.append(abs(float(jnp.vdot(c.u, c.grad))))
        p, U = tracker.project_once(c, True), c.vecs
    assert newton[0] > 1e-2, newton  # the Newton move is really there
    for before, after in itertools.pairwise(residuals[:3]):
        assert after <= 10 * before**2, residuals
    assert residuals[3] <= 1e-12, residuals


def test_gradient_flow_substeps():
    assert gf_substeps(0.01, 200.0) == 2
    assert gf_substeps(0.01, 201.0) == 3
    assert gf_substeps(0.01, 0.0) == 1 and gf_substeps(0.01, -5.0) == 1
    # the Cohen flow.py infinite loop: an unknown sharpness must still give a finite step count
    assert gf_substeps(0.01, float("nan"), 50) == 50 and gf_substeps(0.01, float("inf"), 50) == 50
    assert gf_substeps(0.01, 1e9, 50) == 50
    # Euler with n sub-steps of eta/n on 1/2 a x^2 multiplies x by (1 - eta a/n)^n
    tracker = Tracker(lambda x: 0.5 * 300.0 * jnp.sum(x**2), ETA, method="dense")
    out = tracker.gf_step(jnp.array([1.0, -2.0]), jnp.asarray(3))
    np.testing.assert_allclose(np.asarray(out), (1 - ETA * 300 / 3) ** 3 * np.array([1.0, -2.0]), rtol=1e-12)
    s = track(_toy(), jnp.array([X0, 0.0, 0.0]), ETA, 20)
    log = s.table()
    np.testing.assert_array_equal(log["gf_substeps"], [math.ceil(ETA * S) for S in log["sharpness_gf"]])


@pytest.mark.slow  # > 1.5 s: kept out of the fast unit run (pytest -m 'not slow')
def test_stop_rule_fires_when_lambda2_reaches_1_9_over_eta():
    # lambda_2(theta^dagger_t) = 180 + 50 eta t crosses 1.9/eta = 190 at t = 20
    s = track(_toy_plus(180.0, 50.0), jnp.array([X0, 0.0, 0.0, 0.0]), ETA, 100, method="dense")
    log = s.table()
    assert s.stopped == "lambda2"
    assert log["lambda2"][-1] >= 1.9 / ETA > log["lambda2"][-2]
    np.testing.assert_allclose(log["lambda2"], 180.0 + 50.0 * ETA * log["step"], rtol=1e-10)
    assert int(log["step"][-1]) == 20
    # resuming a stopped tracking adds nothing
    again = track(_toy_plus(180.0, 50.0), jnp.array([X0, 0.0, 0.0, 0.0]), ETA, 100, state=s)
    assert again.step == s.step and len(again.log["step"]) == len(s.log["step"])


@pytest.mark.slow  # > 1.5 s: kept out of the fast unit run (pytest -m 'not slow')
def test_resume_from_saved_state_continues_identically(tmp_path):
    # 12 dimensions so the warm-started LOBPCG (k = 2 needs dim > 10) is what runs, not dense
    f, x0 = _toy_plus(20.0, 0.0, extra=9), jnp.concatenate([jnp.array([X0, 0.0, 0.0]), 0.01 * jnp.ones(9)])
    whole = track(f, x0, ETA, 30, method="lobpcg")
    path = tmp_path / "state.npz"
    first = track(f, x0, ETA, 15, method="lobpcg", checkpoint=path, checkpoint_every=5)
    assert first.step == 15 and TrackState.load(path).step == 15
    resumed = track(f, x0, ETA, 30, method="lobpcg", checkpoint=path)
    assert resumed.stopped == whole.stopped == "steps"
    for k in whole.log:
        np.testing.assert_array_equal(resumed.log[k], whole.log[k], err_msg=k)
    for name in TrackState._ARRAYS:
        np.testing.assert_array_equal(np.asarray(getattr(resumed, name)), np.asarray(getattr(whole, name)))


def test_find_instability_backtracks_to_first_crossing():
    # the toy from y = -750/sqrt(beta) (S = 2/eta - 750 = 250 = 0.5/eta): S rises by eta alpha = 0.1 a
    # step and x decays, so the midpoint sharpness first reaches 2/eta at step 7500
    eta, alpha = 0.002, 50.0
    res = find_instability(_toy(eta, alpha), jnp.array([1e-3, -750.0, 0.0]), eta, max_steps=20_000,
                           dtype=jnp.float64)
    assert res["reached"] and res["step"] == 7500 and res["backtracked"]
    assert res["sharpness"] >= 2 / eta
    steps = [s for s, _ in res["checks"]]
    assert steps[1] - steps[0] == 500  # dt = 1 time unit = 1/eta steps while S < 1/eta
    before = [S for s, S in res["checks"] if s == 7499]
    assert before and before[0] < 2 / eta
