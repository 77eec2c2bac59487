"""The bigram language generator and its closed forms (Lemma 4.1, optimum = mean entropy)."""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from optdyn.theory import bigram as B


@pytest.fixture(scope="module")
def paper_language():
    t0 = time.perf_counter()
    P, is_det = B.make_language(1800, 1800, 10, 0.2, 1.0, seed=0)
    return P, is_det, time.perf_counter() - t0


def test_paper_sized_language_is_fast_and_satisfies_the_constraints(paper_language):
    P, is_det, seconds = paper_language
    assert seconds < 1.0  # measured ~10 ms
    assert P.shape == (3600, 10) and P.dtype == np.float64
    assert is_det.dtype == bool and is_det[:1800].all() and not is_det[1800:].any()
    np.testing.assert_allclose(P.sum(-1), 1.0, atol=1e-12)
    assert (P > 0).all()
    H = B.entropy(P)
    assert H[is_det].max() < 0.2 and H[~is_det].min() > 1.0
    # catalog's reference generator: mean H 0.024 (deterministic) and 1.93 (stochastic)
    assert abs(H[is_det].mean() - 0.024) < 0.01
    assert abs(H[~is_det].mean() - 1.93) < 0.05


def test_generator_is_deterministic_in_seed_and_validates_entropy():
    a, _ = B.make_language(5, 7, 6, 0.2, 1.0, seed=3)
    b, _ = B.make_language(5, 7, 6, 0.2, 1.0, seed=3)
    c, _ = B.make_language(5, 7, 6, 0.2, 1.0, seed=4)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    with pytest.raises(ValueError):
        B.make_language(2, 2, 2, 0.2, 1.0)  # log 2 < 1 nat: no row could be accepted


def test_entropy_and_gini_closed_forms():
    P = np.array([[1.0, 0.0, 0.0], [1 / 3, 1 / 3, 1 / 3], [0.5, 0.5, 0.0]])
    np.testing.assert_allclose(B.entropy(P), [0.0, np.log(3), np.log(2)], atol=1e-15)
    np.testing.assert_allclose(B.gini(P), [0.0, 2 / 3, 0.5], atol=1e-15)


def test_population_loss_at_log_p_is_the_mean_entropy(paper_language, x64):
    P, _, _ = paper_language
    theta = np.log(P)
    np.testing.assert_allclose(B.population_loss(theta, P), B.entropy(P), atol=1e-12)
    # ... it is the minimum: zero gradient there, and a shift of theta rows changes nothing
    grad_fn = jax.jit(jax.grad(lambda th: B.population_loss(th, P[:50]).mean()))
    g = grad_fn(jnp.asarray(theta[:50]))
    assert float(jnp.abs(g).max()) < 1e-15
    np.testing.assert_allclose(B.population_loss(theta + 3.0, P), B.entropy(P), atol=1e-12)
    assert (B.population_loss(np.zeros_like(P), P) > B.entropy(P)).all()


def test_lemma_4_1_trace_of_hessian_is_gini(paper_language, x64):
    P, _, _ = paper_language
    blocks = B.city_hessian_block(P)  # q = softmax(log P) = P at the optimum
    np.testing.assert_allclose(np.trace(blocks, axis1=-2, axis2=-1), B.gini(P), atol=1e-12)
    # and independently by differentiating one city's CE loss twice with JAX
    hess = jax.jit(jax.vmap(jax.hessian(B.population_loss)))
    idx = np.r_[0:20, 1800:1820]
    Hj = np.asarray(hess(jnp.asarray(np.log(P[idx])), jnp.asarray(P[idx])))
    np.testing.assert_allclose(Hj, blocks[idx], atol=1e-12)
    np.testing.assert_allclose(np.trace(Hj, axis1=-2, axis2=-1), B.gini(P[idx]), atol=1e-12)


def test_hessian_block_matches_jax_away_from_optimum(x64):
    rng = np.random.default_rng(1)
    theta, P = rng.normal(size=(4, 6)), rng.dirichlet(np.ones(6), size=4)
    q = np.exp(theta) / np.exp(theta).sum(-1, keepdims=True)
    hess = jax.jit(jax.vmap(jax.hessian(B.population_loss)))
    Hj = hess(jnp.asarray(theta), jnp.asarray(P))
    np.testing.assert_allclose(np.asarray(Hj), B.city_hessian_block(q), atol=1e-12)
