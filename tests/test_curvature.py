"""The curvature library against dense references: ``jax.hessian`` + ``numpy.linalg.eigh``,
quadratics with a known spectrum, and finite differences."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from optdyn import curvature as C


# --- test problems ------------------------------------------------------------------------------


def quadratic(eigvals, seed=0, dtype=np.float64):
    """f(x) = x^T A x / 2 with A = Q diag(eigvals) Q^T for a random orthogonal Q; returns (f, A)."""
    n = len(eigvals)
    q, _ = np.linalg.qr(np.random.default_rng(seed).normal(size=(n, n)))
    a = (q * np.asarray(eigvals)) @ q.T
    A = jnp.asarray((a + a.T) / 2, dtype)
    return (lambda x: 0.5 * x @ A @ x), np.asarray(A, np.float64)


def mlp_problem(seed=0, hidden=16):
    """A 4-16-3 tanh MLP (131 params) with mean squared error on 24 fixed random examples, at a
    random point (not a minimum, so the Hessian has negative eigenvalues too)."""
    rng = np.random.default_rng(seed)
    X, Y = jnp.asarray(rng.normal(size=(24, 4))), jnp.asarray(rng.normal(size=(24, 3)))
    params = {"w1": jnp.asarray(rng.normal(size=(4, hidden)) / 2), "b1": jnp.asarray(rng.normal(size=hidden) / 4),
              "w2": jnp.asarray(rng.normal(size=(hidden, 3)) / 4), "b2": jnp.zeros(3)}

    def loss(p, batch):
        x, y = batch
        out = jnp.tanh(x @ p["w1"] + p["b1"]) @ p["w2"] + p["b2"]
        return 0.5 * jnp.mean(jnp.sum((out - y) ** 2, axis=-1))

    return C.flatten(loss, params, (X, Y))


def scale_invariant_problem(seed=0, dim=20):
    """Logistic loss of a linear classifier through w / ||w||: f(c w) = f(w) for c > 0."""
    rng = np.random.default_rng(seed)
    X = jnp.asarray(rng.normal(size=(40, dim)))
    y = jnp.asarray(np.sign(rng.normal(size=40)))
    f = lambda w: jnp.mean(jax.nn.softplus(-3.0 * y * (X @ w) / jnp.linalg.norm(w)))  # noqa: E731
    return f, jnp.asarray(rng.normal(size=dim))


@functools.lru_cache
def jitted_hessian(f):
    return jax.jit(jax.hessian(f))


def dense_spectrum(f, x):
    """Eigenvalues (descending) and eigenvectors of the dense Hessian, in numpy float64."""
    vals, vecs = np.linalg.eigh(np.asarray(jitted_hessian(f)(x), np.float64))
    return vals[::-1], vecs[:, ::-1]


# --- flatten and HVP ----------------------------------------------------------------------------


def test_flatten_round_trips_params_and_evaluates_the_loss(x64):
    f, x0, unravel = mlp_problem()
    assert x0.shape == (131,) and x0.dtype == jnp.float64
    p = unravel(x0)
    assert set(p) == {"w1", "b1", "w2", "b2"} and p["w1"].shape == (4, 16)
    assert np.isfinite(float(f(x0)))


@pytest.mark.slow  # > 1.5 s: kept out of the fast unit run (pytest -m 'not slow')
def test_hvp_equals_dense_hessian_times_vector(x64):
    f, x, _ = mlp_problem()
    H = np.asarray(jax.jit(jax.hessian(f))(x))
    for i in range(3):
        v = jax.random.normal(jax.random.PRNGKey(i), x.shape, x.dtype)
        np.testing.assert_allclose(C.hvp(f, x, v), H @ np.asarray(v), rtol=1e-11, atol=1e-13)


# --- top eigenpairs: Lanczos, LOBPCG, dense -----------------------------------------------------


@pytest.mark.slow  # > 1.5 s: kept out of the fast unit run (pytest -m 'not slow')
def test_lanczos_and_lobpcg_match_dense_eigh_on_an_mlp(x64):
    f, x, _ = mlp_problem()
    ref_vals, ref_vecs = dense_spectrum(f, x)
    assert ref_vals[-1] < 0  # an indefinite Hessian: "top" must mean algebraically largest
    k = 3
    for method, iters in (("lanczos", 60), ("lobpcg", 200)):
        vals, vecs = C.top_eigenpairs(f, x, k, method, iters=iters, key=jax.random.PRNGKey(1))
        np.testing.assert_allclose(vals, ref_vals[:k], rtol=1e-6, err_msg=method)
        overlap = np.abs(np.sum(np.asarray(vecs) * ref_vecs[:, :k], axis=0))  # sign-free
        np.testing.assert_allclose(overlap, 1.0, atol=1e-6, err_msg=method)
        res = jax.jit(lambda a, b: C.residual_norms(lambda v: C.hvp(f, x, v), a, b))(vals, vecs)
        assert np.all(np.asarray(res) < 1e-5 * abs(ref_vals[0])), (method, res)
    vals, _ = C.top_eigenpairs(f, x, k, "dense")
    np.testing.assert_allclose(vals, ref_vals[:k], rtol=1e-12)


@pytest.mark.slow  # > 1.5 s: kept out of the fast unit run (pytest -m 'not slow')
def test_lanczos_recovers_a_known_spectrum_and_largest_magnitude(x64):
    eig = np.concatenate([[9.0, 7.0, 5.0], np.linspace(-4.0, 2.0, 57)])
    f, _ = quadratic(eig)
    x = jnp.zeros(60)
    vals, _ = C.top_eigenpairs(f, x, 3, iters=40)
    np.testing.assert_allclose(vals, [9.0, 7.0, 5.0], rtol=1e-10)
    vals, _ = C.top_eigenpairs(f, x, 5, iters=60, which="LM")  # a full Krylov space: exact
    np.testing.assert_allclose(vals, [9.0, 7.0, 5.0, -4.0, -4.0 + 6 / 56], rtol=1e-10)


def test_lanczos_restarts_when_the_krylov_space_closes(x64):
    """Three distinct eigenvalues, all negative: the Krylov space closes after 3 steps. Without
    a restart the tridiagonal would be padded with zeros and report 0 as the top eigenvalue."""
    eig = np.repeat([-1.0, -2.0, -3.0], 10)
    f, _ = quadratic(eig, seed=1)
    vals, vecs = C.top_eigenpairs(f, jnp.zeros(30), 4, iters=12)
    np.testing.assert_allclose(vals, [-1.0] * 4, rtol=1e-10)
    np.testing.assert_allclose(np.asarray(vecs).T @ np.asarray(vecs), np.eye(4), atol=1e-10)


@pytest.mark.slow  # > 1.5 s: kept out of the fast unit run (pytest -m 'not slow')
def test_power_iteration_returns_the_dominant_negative_eigenvalue_lanczos_the_top_one(x64):
    """|lambda_min| = 10 > lambda_max = 3: power iteration converges to -10 (largest magnitude)
    while Lanczos and LOBPCG return the sharpness +3."""
    rng = np.random.default_rng(2)
    eig = np.concatenate([[-10.0, 3.0], rng.uniform(-2.0, 2.0, 38)])
    f, A = quadratic(eig, seed=3)
    x = jnp.zeros(40)
    matvec = lambda v: C.hvp(f, x, v)  # noqa: E731
    val, v = C.power_iteration(matvec, 40, 200, jax.random.PRNGKey(0), dtype=jnp.float64)
    np.testing.assert_allclose(float(val), -10.0, rtol=1e-9)
    for method, iters in (("lanczos", 30), ("lobpcg", 100)):
        vals, _ = C.top_eigenpairs(f, x, 1, method, iters=iters)
        np.testing.assert_allclose(float(vals[0]), 3.0, rtol=1e-8, err_msg=method)
    # on a positive semi-definite matrix power iteration is right
    f_psd, _ = quadratic(np.concatenate([[4.0], rng.uniform(0.0, 2.0, 39)]), seed=4)
    val, _ = C.power_iteration(lambda v: C.hvp(f_psd, x, v), 40, 300, jax.random.PRNGKey(0), dtype=jnp.float64)
    np.testing.assert_allclose(float(val), 4.0, rtol=1e-9)


@pytest.mark.slow  # > 1.5 s: kept out of the fast unit run (pytest -m 'not slow')
def test_lobpcg_warm_start_converges_in_fewer_iterations(x64):
    f, x, _ = mlp_problem()
    solve = jax.jit(lambda y, X: C.lobpcg(lambda v: C.hvp(f, y, v), X, iters=300, tol=1e-9))
    cold = jax.random.normal(jax.random.PRNGKey(0), (x.shape[0], 2), x.dtype)
    vals, vecs, _ = solve(x, cold)
    np.testing.assert_allclose(vals, dense_spectrum(f, x)[0][:2], rtol=1e-6)
    # the next point of a trajectory, warm-started from the previous eigenvectors
    x2 = x + 1e-3 * jax.random.normal(jax.random.PRNGKey(1), x.shape, x.dtype)
    vals_warm, _, n_warm = solve(x2, vecs)
    vals_cold, _, n_cold = solve(x2, cold)
    assert int(n_warm) < int(n_cold), (int(n_warm), int(n_cold))
    np.testing.assert_allclose(vals_warm, vals_cold, rtol=1e-8)


@pytest.mark.slow  # > 1.5 s: kept out of the fast unit run (pytest -m 'not slow')
def test_lobpcg_clamps_tolerance_to_the_dtype_epsilon():
    """float32 with tol 1e-9 (Damian et al.'s setting) would never converge early; clamped to
    eps(float32) it stops before the iteration cap and is accurate to float32 precision."""
    f, _ = quadratic(np.concatenate([[5.0, 4.0], np.linspace(0.0, 1.0, 48)]), dtype=np.float32)
    x = jnp.zeros(50, jnp.float32)
    start = jax.random.normal(jax.random.PRNGKey(0), (50, 1), jnp.float32)
    vals, vecs, n = C.lobpcg(lambda v: C.hvp(f, x, v), start, iters=500, tol=1e-9)
    assert vals.dtype == jnp.float32 and vecs.dtype == jnp.float32
    assert int(n) < 500
    np.testing.assert_allclose(float(vals[0]), 5.0, rtol=1e-5)


@pytest.mark.slow  # > 1.5 s: kept out of the fast unit run (pytest -m 'not slow')
def test_float32_inputs_stay_float32_even_under_x64(x64):
    f, A = quadratic(np.concatenate([[6.0, 2.0], np.linspace(-1.0, 1.0, 38)]), dtype=np.float32)
    x = jnp.zeros(40, jnp.float32)
    for method in ("lanczos", "lobpcg", "dense"):
        vals, vecs = C.top_eigenpairs(f, x, 1, method)
        assert vals.dtype == jnp.float32 and vecs.dtype == jnp.float32, method
        np.testing.assert_allclose(float(vals[0]), 6.0, rtol=2e-6, err_msg=method)


def test_top_eigenpairs_and_lanczos_are_jittable():
    f, _ = quadratic(np.concatenate([[3.0], np.linspace(0.0, 1.0, 29)]), dtype=np.float32)
    vals, _ = jax.jit(lambda x: C.top_eigenpairs(f, x, 2, iters=30))(jnp.zeros(30, jnp.float32))
    assert vals.dtype == jnp.float32
    np.testing.assert_allclose(np.asarray(vals), [3.0, 1.0], rtol=1e-5)


# --- traces, third derivatives, sharpness on the sphere ----------------------------------------


def test_hutchinson_trace_within_monte_carlo_error(x64):
    f, x, _ = mlp_problem()
    H = np.asarray(jax.jit(jax.hessian(f))(x))
    samples = 400
    est = C.hutchinson_trace(lambda v: C.hvp(f, x, v), x.shape[0], samples, jax.random.PRNGKey(7), dtype=x.dtype)
    # Var(z^T H z) for Rademacher z = 2 (||H||_F^2 - sum_i H_ii^2)
    se = np.sqrt(2 * (np.sum(H**2) - np.sum(np.diag(H) ** 2)) / samples)
    assert abs(float(est) - np.trace(H)) < 4 * se, (float(est), np.trace(H), se)


def test_third_derivative_contraction_matches_finite_differences(x64):
    f, x, _ = mlp_problem()
    u = jax.random.normal(jax.random.PRNGKey(3), x.shape, x.dtype)
    u = u / jnp.linalg.norm(u)
    got = np.asarray(C.third_derivative_contraction(f, x, u))
    quad = jax.jit(lambda y: jnp.vdot(u, C.hvp(f, y, u)))  # u^T H(y) u
    h = 1e-5
    eye = np.eye(x.shape[0])
    fd = np.array([(quad(x + h * e) - quad(x - h * e)) / (2 * h) for e in eye])
    np.testing.assert_allclose(got, fd, rtol=1e-6, atol=1e-7 * np.abs(fd).max())


def test_third_derivative_along_top_eigenvector_is_gradient_of_sharpness(x64):
    f, x, _ = mlp_problem()
    _, vecs = dense_spectrum(f, x)
    grad_s = np.asarray(C.third_derivative_contraction(f, x, jnp.asarray(vecs[:, 0])))
    d = np.asarray(jax.random.normal(jax.random.PRNGKey(5), x.shape, x.dtype))
    h = 1e-5
    lam = lambda y: dense_spectrum(f, y)[0][0]  # noqa: E731
    fd = (lam(x + h * d) - lam(x - h * d)) / (2 * h)
    np.testing.assert_allclose(grad_s @ d, fd, rtol=1e-6)


@pytest.mark.slow  # > 1.5 s: kept out of the fast unit run (pytest -m 'not slow')
def test_tensor_power_norm_on_an_orthogonally_decomposable_cubic(x64):
    """f = sum_i a_i (q_i . x)^3 has D^3 f = 6 sum_i a_i q_i (x) q_i (x) q_i; the symmetric power
    method converges to a component: value 6 |a_i| and vector +-q_i."""
    a = np.array([2.0, -1.5, 0.7, 0.3])
    q, _ = np.linalg.qr(np.random.default_rng(0).normal(size=(12, 4)))
    Q = jnp.asarray(q)
    f = lambda x: jnp.sum(jnp.asarray(a) * (Q.T @ x) ** 3)  # noqa: E731
    val, v = C.tensor_power_norm(f, jnp.zeros(12), 3, 100, jax.random.PRNGKey(0))
    i = int(np.argmax(np.abs(q.T @ np.asarray(v))))
    np.testing.assert_allclose(float(val), 6 * abs(a[i]), rtol=1e-9)
    np.testing.assert_allclose(abs(float(q[:, i] @ np.asarray(v))), 1.0, rtol=1e-9)
    f4 = lambda x: jnp.sum(jnp.asarray(a) * (Q.T @ x) ** 4)  # noqa: E731  D^4 = 24 sum a_i q^4
    val4, v4 = C.tensor_power_norm(f4, jnp.zeros(12), 4, 100, jax.random.PRNGKey(0))
    i = int(np.argmax(np.abs(q.T @ np.asarray(v4))))
    np.testing.assert_allclose(float(val4), 24 * a[i], rtol=1e-9)


@pytest.mark.slow  # > 1.5 s: kept out of the fast unit run (pytest -m 'not slow')
def test_spherical_sharpness_is_scale_invariant_and_matches_dense(x64):
    f, w = scale_invariant_problem()
    np.testing.assert_allclose(float(f(3.0 * w)), float(f(w)), rtol=1e-13)
    ref = float(jnp.vdot(w, w)) * dense_spectrum(f, w)[0][0]
    for method in ("lanczos", "dense"):
        sharpness = jax.jit(lambda y: C.spherical_sharpness(f, y, method=method, iters=20))  # noqa: B023
        for c in (1.0, 0.25, 7.0):
            np.testing.assert_allclose(float(sharpness(c * w)), ref, rtol=1e-8, err_msg=f"{method} c={c}")
    # while the plain sharpness scales as 1/c^2
    np.testing.assert_allclose(dense_spectrum(f, 7.0 * w)[0][0], dense_spectrum(f, w)[0][0] / 49, rtol=1e-8)
