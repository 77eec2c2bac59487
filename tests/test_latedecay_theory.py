"""Late-LR-decay toy models: closed forms against direct evaluation, autodiff and Monte Carlo."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from optdyn.models.latedecay import ReparamLinearProblem
from optdyn.spec.problems.latedecay import ReparamLinear
from optdyn.theory import latedecay as T

X2, W_STAR2 = np.array([0.15, -0.7]), np.array([-1.0, 0.5])


pytestmark = pytest.mark.usefixtures("x64")
F64 = np.float64  # the problems built here compute in float64


def _alpha_jax(w, gamma):
    return jnp.linalg.norm(w) ** gamma * w


def test_losses_match_direct_per_sample_sums():
    rng = np.random.default_rng(0)
    inst = T.draw_instance(7, 3, 1.5, 1)
    w = rng.standard_normal((5, 7))
    direct = [np.mean([0.5 * (np.linalg.norm(v) ** 1.5 * v @ x - yi) ** 2 for x, yi in zip(inst.X.T, inst.y)]) for v in w]
    np.testing.assert_allclose(T.train_loss(w, inst.X, inst.y, "reparam", 1.5), direct, rtol=1e-12)
    # population loss: Monte Carlo over fresh x ~ N(0, x_var I)
    xs = np.sqrt(inst.x_var) * rng.standard_normal((400_000, 7))
    mc = 0.5 * np.mean((xs @ (T.alpha(w[0], "reparam", 1.5) - inst.alpha_star)) ** 2)
    assert T.test_loss(w[0], inst.alpha_star, "reparam", 1.5, inst.x_var) == pytest.approx(mc, rel=0.01)
    for kind, a in (("linear", w[0]), ("diag", w[0] ** 3)):
        np.testing.assert_allclose(T.alpha(w[0], kind), a)


@pytest.mark.parametrize("kind,degree", [("linear", 1), ("diag", 3), ("reparam", 3)])
def test_manifold_radius_lands_on_the_manifold(kind, degree):
    y = float(X2 @ T.alpha(W_STAR2, kind, 2.0))
    theta = np.linspace(-np.pi, np.pi, 301)
    r = T.manifold_radius_2d(theta, X2, y, kind, 2.0)
    pts = r[:, None] * np.stack([np.cos(theta), np.sin(theta)], -1)
    ok = np.isfinite(r)
    assert ok.sum() > 50
    np.testing.assert_allclose(T.alpha(pts[ok], kind, 2.0) @ X2, y, rtol=1e-10)
    assert T.DEGREE[kind](2.0) == degree


def test_min_norm_interpolant_closed_form_2d_and_fig3_values():
    inst = T.Instance(X2[:, None], W_STAR2, 2.0)
    closed = T.min_norm_interpolant(inst)
    np.testing.assert_allclose(T.min_norm_point_2d(X2, inst.y[0], "reparam", 2.0), closed, atol=1e-7)
    np.testing.assert_allclose(closed, [-0.2003, 0.9345], atol=1e-4)
    # linear regression: the min-norm interpolant is P_X w* (pseudo-inverse solution)
    lin = T.min_norm_point_2d(X2, float(X2 @ W_STAR2), "linear")
    np.testing.assert_allclose(lin, np.linalg.pinv(X2[None, :]) @ [X2 @ W_STAR2], atol=1e-7)


def test_min_norm_interpolant_is_feasible_in_col_x_and_shortest():
    inst = T.draw_instance(30, 5, 2.0, 4)
    w = T.min_norm_interpolant(inst)
    np.testing.assert_allclose(T.alpha(w, "reparam", 2.0) @ inst.X, inst.y, rtol=1e-10)
    np.testing.assert_allclose(inst.proj_X() @ w, w, atol=1e-12)  # w_dagger in col(X)
    r_dag = np.linalg.norm(w)
    assert r_dag == pytest.approx(np.linalg.norm(inst.proj_X() @ inst.alpha_star) ** (1 / 3))
    rng = np.random.default_rng(1)
    P_perp = np.eye(30) - inst.proj_X()
    for r in (1.001 * r_dag, 1.5 * r_dag):  # other points of M, in random X_perp directions
        d = P_perp @ rng.standard_normal(30)
        p = T.manifold_point(inst, r, d / np.linalg.norm(d))
        np.testing.assert_allclose(T.alpha(p, "reparam", 2.0) @ inst.X, inst.y, rtol=1e-9)
        assert np.linalg.norm(p) > r_dag
    with pytest.raises(ValueError):
        T.manifold_point(inst, 0.9 * r_dag)


@pytest.mark.slow  # > 1.5 s: kept out of the fast unit run (pytest -m 'not slow')
def test_jacobian_C_and_hessian_trace_against_autodiff():
    inst = T.draw_instance(12, 4, 2.0, 2)
    g = inst.gamma
    w = T.manifold_point(inst, 1.3 * np.linalg.norm(T.min_norm_interpolant(inst)))
    np.testing.assert_allclose(T.jacobian(w, g), jax.jacobian(lambda v: _alpha_jax(v, g))(jnp.asarray(w)), rtol=1e-10)
    train = lambda v: jnp.sum((_alpha_jax(v, g) @ inst.X - inst.y) ** 2) / (2 * inst.n)  # noqa: E731
    H = np.asarray(jax.hessian(train)(jnp.asarray(w)))
    np.testing.assert_allclose(H, T.jacobian(w, g) @ inst.X @ inst.X.T @ T.jacobian(w, g) / inst.n, atol=1e-10)
    r = np.linalg.norm(w)
    assert np.trace(H) == pytest.approx(T.hessian_trace_on_manifold(inst, r), rel=1e-10)
    # C is the radial derivative of tr hess L along M over 2 g r^(2g-1) (catalog Sec. 1.5)
    h = 1e-5
    tr = [np.trace(np.asarray(jax.hessian(train)(jnp.asarray(T.manifold_point(inst, r * (1 + s * h)))))) for s in (-1, 1)]
    dtr = (tr[1] - tr[0]) / (2 * r * h)
    assert dtr == pytest.approx(2 * g * r ** (2 * g - 1) * T.C_of_w(w, inst.X, g), rel=1e-6)


def test_tangent_projector_and_its_closed_form():
    inst = T.draw_instance(10, 3, 1.0, 5)
    r = 1.7 * np.linalg.norm(T.min_norm_interpolant(inst))
    w = T.manifold_point(inst, r)
    P = T.tangent_projector(w, inst.X, 1.0)
    A = T.jacobian(w, 1.0)
    np.testing.assert_allclose(P @ A @ inst.X, 0, atol=1e-12)  # normal space A X
    perp = np.linalg.svd(np.eye(10) - inst.proj_X())[0][:, :7]
    np.testing.assert_allclose(P @ np.linalg.solve(A, perp), np.linalg.solve(A, perp), atol=1e-12)  # tangent A^-1 X_perp
    wb = w / r
    assert wb @ P @ wb == pytest.approx(T.tangent_share_closed_form(inst, r), rel=1e-10)


def test_norm_ode_rates_closed_forms():
    inst = T.draw_instance(40, 8, 2.0, 0)
    eta, s2 = 0.1, 0.03
    r_dag = np.linalg.norm(T.min_norm_interpolant(inst))
    r = 1.4 * r_dag
    w = T.manifold_point(inst, r)
    expected = -0.5 * eta * s2 * 2.0 * r**3 * T.C_of_w(w, inst.X, 2.0) * T.tangent_share_closed_form(inst, r)
    assert T.norm_rate_on_manifold(inst, r, eta, s2) == pytest.approx(expected, rel=1e-10)
    # linearization at w_dagger: eta s2 g r^(2g-2) C(w_dagger) / (1 + g), derived from (3.15)
    c_dag = T.C_of_w(T.min_norm_interpolant(inst), inst.X, 2.0)
    assert T.linearized_rate(inst, eta, s2) == pytest.approx(eta * s2 * 2.0 * r_dag**2 * c_dag / 3.0, rel=1e-4)
    assert T.b19_rate(inst, eta, s2) == pytest.approx(T.b19_rate(inst, eta, s2, as_printed=True) * r_dag**2)
    traj = T.norm_trajectory(inst, 2 * r_dag, np.linspace(0, 5 / T.linearized_rate(inst, eta, s2), 50), eta, s2)
    assert np.all(np.diff(traj) < 0) and traj[-1] == pytest.approx(r_dag, rel=0.02)


def test_stall_radius_is_where_C_changes_sign():
    inst = T.Instance(X2[:, None], W_STAR2, 2.0)
    r_c = T.stall_radius(inst)
    assert r_c == pytest.approx(1.204, abs=1e-3)  # catalog Sec. 1.5
    for f, sign in ((0.98, -1), (1.02, 1)):
        assert np.sign(T.C_of_w(T.manifold_point(inst, f * r_c, np.array([0.7, 0.15]) / np.hypot(0.7, 0.15)), inst.X, 2.0)) == sign


@pytest.mark.slow  # > 1.5 s: kept out of the fast unit run (pytest -m 'not slow')
def test_problem_metrics_match_theory():
    spec = ReparamLinear(name="reparam_linear", d=9, n=3, gamma=1.0, instance_seed=7, replicas=4, init_radius=2.0)
    prob = ReparamLinearProblem(spec, dtype=F64)
    inst = prob.instance
    w = np.asarray(prob.init(jax.random.PRNGKey(0)))
    np.testing.assert_allclose(np.linalg.norm(w, axis=1), 2.0, rtol=1e-12)
    m = jax.device_get(prob.metrics(jnp.asarray(w)))
    np.testing.assert_allclose(m["train_loss"], T.train_loss(w, inst.X, inst.y, "reparam", 1.0), rtol=1e-10)
    np.testing.assert_allclose(m["test_loss"], T.test_loss(w, inst.alpha_star, "reparam", 1.0, inst.x_var), rtol=1e-10)
    w_dag = T.min_norm_interpolant(inst)
    np.testing.assert_allclose(m["dist_dagger"], np.linalg.norm(w - w_dag, axis=1), rtol=1e-10)
    np.testing.assert_allclose(m["coord_dagger"] ** 2 + m["coord_perp"] ** 2 + np.sum(((inst.proj_X() @ w.T).T - np.outer(m["coord_dagger"], w_dag / np.linalg.norm(w_dag))) ** 2, 1),
                               np.sum(w**2, 1), rtol=1e-10)
    zero_noise = prob.sample_batch(jax.random.PRNGKey(1))
    assert float(prob.loss(jnp.asarray(w), zero_noise)) == pytest.approx(np.sum(m["train_loss"]), rel=1e-10)


def test_label_noise_gd_drifts_as_lemma_3_3_predicts():
    """Monte Carlo over replicas started on M: the mean tangent displacement of label-noise GD
    after K steps is K eta times the effective drift (3.15), sigma^2 = s^2/n."""
    eta, s, K = 0.05, 0.5, 200
    spec = ReparamLinear(name="reparam_linear", d=8, n=4, gamma=1.0, instance_seed=3, replicas=8000, label_noise=s)
    prob = ReparamLinearProblem(spec, dtype=F64)
    inst = prob.instance
    w0 = T.manifold_point(inst, 2.0 * np.linalg.norm(T.min_norm_interpolant(inst)))
    assert T.C_of_w(w0, inst.X, 1.0) > 0

    @jax.jit
    def run(key):
        def step(W, k):
            return W - eta * jax.grad(prob.loss)(W, prob.sample_batch(jax.random.fold_in(key, k))), None
        return jax.lax.scan(step, jnp.tile(jnp.asarray(w0), (spec.replicas, 1)), jnp.arange(K))[0]

    disp = np.asarray(run(jax.random.PRNGKey(0))).mean(axis=0) - w0
    pred = K * eta * T.effective_drift(w0, inst.X, 1.0, eta, s * s / spec.n)
    tangent = T.tangent_projector(w0, inst.X, 1.0) @ disp
    assert tangent @ pred / (np.linalg.norm(tangent) * np.linalg.norm(pred)) > 0.99
    # the OU fluctuation needs ~n/(eta lambda) steps to build up, so the first steps drift a bit less
    assert np.linalg.norm(tangent) / np.linalg.norm(pred) == pytest.approx(1.0, abs=0.1)
    # and inward: the distance to col(X) shrinks
    P_perp = np.eye(8) - inst.proj_X()
    assert np.linalg.norm(P_perp @ (w0 + disp)) < np.linalg.norm(P_perp @ w0)
