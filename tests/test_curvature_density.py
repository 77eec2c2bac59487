"""Stochastic Lanczos quadrature (``curvature.slq_density``) against ``eigh`` of the dense
Hessian of a tiny MLP: moments within the probe-count error, the top of the spectrum exactly,
and the mass above a threshold; plus an operator whose SLQ is exact (few distinct eigenvalues,
Rademacher probes) and the Gaussian-smoothed density."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from optdyn import curvature as C

pytestmark = pytest.mark.usefixtures("x64")

PROBES, ITERS = 30, 60


def tiny_mlp(seed=0):
    """A 4-16-8-3 tanh MLP (243 params), mean cross-entropy on 32 random examples, at its random
    init (an indefinite Hessian); returns (loss, params, args)."""
    rng = np.random.default_rng(seed)
    X, y = jnp.asarray(rng.normal(size=(32, 4))), jnp.asarray(rng.integers(0, 3, 32))
    sizes, names = [4, 16, 8, 3], ["dense1", "dense2", "out"]
    params = {n: {"w": jnp.asarray(rng.normal(size=(a, b)) / np.sqrt(a)), "b": jnp.asarray(rng.normal(size=b) / 4)}
              for n, a, b in zip(names, sizes[:-1], sizes[1:])}

    def loss(p, X, y):
        h = X
        for n in names[:-1]:
            h = jnp.tanh(h @ p[n]["w"] + p[n]["b"])
        logits = h @ p["out"]["w"] + p["out"]["b"]
        return -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(logits), y[:, None], axis=1))

    return loss, params, (X, y)


def hutchinson_std(A, probes):
    """The standard error of the mean of ``probes`` estimates z^T A z / n (Rademacher z)."""
    n = A.shape[0]
    return np.sqrt(2 * (np.sum(A * A) - np.sum(np.diag(A) ** 2)) / n**2 / probes)


@pytest.fixture(scope="module")
def mlp_slq():
    with jax.enable_x64(True):
        loss, params, args = tiny_mlp()
        f, x, _ = C.flatten(loss, params, *args)
        H = np.asarray(jax.jit(jax.hessian(f))(x))
        result = C.slq_density(lambda v: C.hvp(f, x, v), x, PROBES, ITERS, jax.random.PRNGKey(1))
        return H, np.linalg.eigvalsh(H)[::-1], jax.device_get(result)


@pytest.mark.slow  # > 1.5 s: kept out of the fast unit run (pytest -m 'not slow')
def test_structure(mlp_slq):
    H, ev, r = mlp_slq
    assert r.nodes.shape == r.weights.shape == (PROBES, ITERS)
    assert (r.dim, r.num_probes, r.iters, r.probe) == (H.shape[0], PROBES, ITERS, "rademacher")
    assert r.nodes.dtype == np.float64
    np.testing.assert_allclose(np.sum(r.weights, axis=1), 1, atol=1e-12)
    assert np.all(r.weights >= 0)
    # Ritz values interlace: never outside the spectrum
    assert r.nodes.min() >= ev[-1] - 1e-10 and r.nodes.max() <= ev[0] + 1e-10


def test_moments_within_probe_error(mlp_slq):
    """Gauss quadrature with 60 nodes is exact for t and t^2, so the only error is the probes'."""
    H, ev, r = mlp_slq
    for p, A in ((1, H), (2, H @ H)):
        exact = np.mean(ev**p)
        assert abs(float(r.moment(p)) - exact) < 5 * hutchinson_std(A, PROBES), p


def test_top_of_the_spectrum(mlp_slq):
    """The top Ritz values of every probe are the top eigenvalues (converged in 60 steps), and
    the weight above a threshold in a gap is the fraction of eigenvalues above it."""
    H, ev, r = mlp_slq
    top = np.sort(r.nodes, axis=1)[:, ::-1][:, :4]
    np.testing.assert_allclose(top, np.broadcast_to(ev[:4], top.shape), rtol=1e-10, atol=1e-12)
    j = int(np.argmax(ev[:10] / ev[1:11]))  # the widest relative gap among the top 11
    threshold = (ev[j] + ev[j + 1]) / 2
    V = np.linalg.eigh(H)[1][:, ::-1][:, : j + 1]
    fraction = (j + 1) / H.shape[0]
    assert abs(float(r.mass_above(threshold)) - fraction) < 5 * hutchinson_std(V @ V.T, PROBES)


def test_smoothed_density(mlp_slq):
    H, ev, r = mlp_slq
    sigma = 0.02
    grid = np.linspace(ev[-1] - 8 * sigma, ev[0] + 8 * sigma, 2001)
    rho = np.asarray(r.density(grid, sigma))
    assert np.all(rho >= 0)
    assert np.trapezoid(rho, grid) == pytest.approx(1, abs=1e-8)
    assert np.trapezoid(grid * rho, grid) == pytest.approx(float(r.moment(1)), abs=1e-8)
    # with the exact eigenvalues and weights 1/n it is the smoothed true density
    exact = np.asarray(C.smoothed_density(ev, np.full_like(ev, 1 / ev.size), grid, sigma))
    ref = np.mean(np.exp(-0.5 * ((grid[:, None] - ev) / sigma) ** 2), axis=1) / (sigma * np.sqrt(2 * np.pi))
    np.testing.assert_allclose(exact, ref, rtol=1e-12, atol=1e-12)


@pytest.mark.slow  # > 1.5 s: kept out of the fast unit run (pytest -m 'not slow')
def test_few_distinct_eigenvalues_exact():
    """diag(1 x10, 2 x6, 5 x4) with Rademacher probes: (u^T e_i)^2 = 1/n, so every probe's
    quadrature puts exactly the eigenvalues' multiplicities / n on them, and Lanczos breaks down
    after 3 steps: the Ritz values found after it carry no weight."""
    d = jnp.asarray([1.0] * 10 + [2.0] * 6 + [5.0] * 4)
    r = C.slq_density(lambda v: d * v, 20, num_probes=3, iters=10, key=jax.random.PRNGKey(2))
    for p in (1, 2, 3):
        assert float(r.moment(p)) == pytest.approx(float(jnp.mean(d**p)), rel=1e-12)
    assert float(r.mass_above(3.0)) == pytest.approx(0.2, abs=1e-12)
    assert float(r.mass_above(1.5)) == pytest.approx(0.5, abs=1e-12)
    weighted = np.asarray(r.nodes)[np.asarray(r.weights) > 1e-12]
    assert np.isclose(weighted[:, None], np.array([1.0, 2.0, 5.0]), atol=1e-10).any(axis=1).all()


@pytest.mark.slow  # > 1.5 s: kept out of the fast unit run (pytest -m 'not slow')
def test_jit_and_gaussian_probes():
    d = jnp.linspace(-1.0, 3.0, 50)
    run = jax.jit(lambda key: C.slq_density(lambda v: d * v, d, 200, 25, key, probe="gaussian"))
    r = run(jax.random.PRNGKey(3))
    assert isinstance(r, C.SpectralDensity) and r.probe == "gaussian" and r.iters == 25
    # a uniform unit vector: var(u^T A u) = 2 (mean(l^2) - mean(l)^2) / (n + 2) per probe
    std = np.sqrt(2 * float(jnp.var(d)) / 52 / 200)
    assert abs(float(r.moment(1)) - float(jnp.mean(d))) < 5 * std
    with pytest.raises(ValueError, match="probe"):
        C.slq_density(lambda v: v, 5, probe="sphere")
