"""IRE's diagonal Fisher with labels sampled from the model and Tr(Fisher), against the exact
expectation by enumerating every label assignment of tiny softmax models."""

from __future__ import annotations

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree

from optdyn import curvature as C


def tiny_mlp(seed=0, d=3, hidden=4, classes=3):
    """logits = tanh(x W1 + b1) W2 + b2 (31 params); logits may carry extra leading axes."""
    rng = np.random.default_rng(seed)
    params = {"w1": jnp.asarray(rng.normal(size=(d, hidden))), "b1": jnp.asarray(rng.normal(size=hidden) / 2),
              "w2": jnp.asarray(rng.normal(size=(hidden, classes))), "b2": jnp.asarray(rng.normal(size=classes) / 2)}

    def logits_fn(p, x):
        return jnp.tanh(x @ p["w1"] + p["b1"]) @ p["w2"] + p["b2"]

    return logits_fn, params


def enumerated_expectation(logits_fn, params, inputs):
    """E over all joint labels y ~ prod_i softmax(logits_i) of h(y), summing every C^N
    assignment weighted by its probability."""
    logp = np.asarray(jax.nn.log_softmax(logits_fn(params, inputs), axis=-1))
    shape, classes = logp.shape[:-1], logp.shape[-1]
    at_labels = jax.jit(lambda y: ravel_pytree(C.fisher_diag_at_labels(logits_fn, params, inputs, y))[0])
    total = 0.0
    flat_logp = logp.reshape(-1, classes)
    for labels in itertools.product(range(classes), repeat=flat_logp.shape[0]):
        weight = np.exp(sum(flat_logp[i, c] for i, c in enumerate(labels)))
        total = total + weight * np.asarray(at_labels(jnp.asarray(labels).reshape(shape)))
    return total


def gauss_newton_trace(logits_fn, params, inputs):
    """Tr of (1/N) sum_i J_i^T (diag p_i - p_i p_i^T) J_i with J_i the Jacobian of the *logits*
    (the Fisher of a softmax model in Gauss-Newton form): an independent reference."""
    flat, unravel = ravel_pytree(params)
    logits = logits_fn(params, inputs)
    c = logits.shape[-1]
    p = np.asarray(jax.nn.softmax(logits, axis=-1)).reshape(-1, c)
    J = np.asarray(jax.jacrev(lambda x: logits_fn(unravel(x), inputs))(flat)).reshape(-1, c, flat.shape[0])
    return float(np.mean([np.trace(Ji.T @ (np.diag(pi) - np.outer(pi, pi)) @ Ji) for Ji, pi in zip(J, p)]))


@pytest.mark.slow  # > 1.5 s: kept out of the fast unit run (pytest -m 'not slow')
@pytest.mark.parametrize("shape", [(3,), (1, 2)], ids=["3_examples", "1x2_tokens"])
def test_fisher_estimator_is_unbiased_for_the_exact_diagonal(x64, shape):
    """Enumerating all 3^3 (or 3^2) label draws: E[h] is exactly the mean per-prediction diagonal
    Fisher, for examples and for (batch, token) logits alike (N = every leading position)."""
    logits_fn, params = tiny_mlp()
    inputs = jnp.asarray(np.random.default_rng(1).normal(size=(*shape, 3)))
    expected = enumerated_expectation(logits_fn, params, inputs)
    exact = np.asarray(ravel_pytree(C.fisher_diag_exact(logits_fn, params, inputs))[0])
    np.testing.assert_allclose(expected, exact, rtol=1e-10, atol=1e-14)
    trace = float(C.fisher_trace(logits_fn, params, inputs, method="exact"))
    np.testing.assert_allclose(trace, exact.sum(), rtol=1e-12)
    np.testing.assert_allclose(exact.sum(), gauss_newton_trace(logits_fn, params, inputs), rtol=1e-10)


@pytest.mark.slow  # > 1.5 s: kept out of the fast unit run (pytest -m 'not slow')
def test_sampled_fisher_draws_labels_from_the_model(x64):
    """Monte Carlo over many label draws: the mean of the sampled estimator is the exact
    diagonal within its standard error (labels drawn any other way, e.g. argmax, would miss)."""
    logits_fn, params = tiny_mlp(seed=2)
    inputs = jnp.asarray(np.random.default_rng(3).normal(size=(4, 3)))
    draws = 4000
    one = jax.jit(lambda k: ravel_pytree(C.sampled_fisher_diag(logits_fn, params, inputs, k))[0])
    hs = np.asarray(jax.lax.map(one, jax.random.split(jax.random.PRNGKey(0), draws)))
    exact = np.asarray(ravel_pytree(C.fisher_diag_exact(logits_fn, params, inputs))[0])
    se = hs.std(axis=0) / np.sqrt(draws)
    z = (hs.mean(axis=0) - exact) / np.maximum(se, 1e-12)
    assert np.all(np.abs(z) < 5), z
    # the argmax labels give a different (biased) value on these weights
    argmax = np.asarray(ravel_pytree(C.fisher_diag_at_labels(
        logits_fn, params, inputs, jnp.argmax(logits_fn(params, inputs), axis=-1)))[0])
    assert np.max(np.abs(argmax - exact) / (se + 1e-12)) > 20
    # the samples= argument averages independent draws
    avg = C.sampled_fisher_diag(logits_fn, params, inputs, jax.random.PRNGKey(1), samples=2000)
    avg = np.asarray(ravel_pytree(avg)[0])
    assert np.all(np.abs(avg - exact) < 5 * hs.std(axis=0) / np.sqrt(2000) + 1e-12)


@pytest.mark.slow  # > 1.5 s: kept out of the fast unit run (pytest -m 'not slow')
def test_sampled_fisher_trace_is_unbiased(x64):
    logits_fn, params = tiny_mlp(seed=4)
    inputs = jnp.asarray(np.random.default_rng(5).normal(size=(6, 3)))
    exact = float(C.fisher_trace(logits_fn, params, inputs, method="exact"))
    one = jax.jit(lambda k: C.fisher_trace(logits_fn, params, inputs, k))
    ts = np.asarray(jax.lax.map(one, jax.random.split(jax.random.PRNGKey(0), 4000)))
    assert abs(ts.mean() - exact) < 5 * ts.std() / np.sqrt(ts.size), (ts.mean(), exact)


def test_fisher_pytrees_keep_the_params_structure_and_dtype():
    logits_fn, params = tiny_mlp()
    params = jax.tree.map(lambda a: a.astype(jnp.float32), params)
    inputs = jnp.ones((5, 3), jnp.float32)
    h = C.sampled_fisher_diag(logits_fn, params, inputs, jax.random.PRNGKey(0))
    assert jax.tree.structure(h) == jax.tree.structure(params)
    for a, b in zip(jax.tree.leaves(h), jax.tree.leaves(params)):
        assert a.shape == b.shape and a.dtype == jnp.float32
    assert all(bool(jnp.all(a >= 0)) for a in jax.tree.leaves(h))
    with pytest.raises(ValueError, match="PRNG key"):
        C.fisher_trace(logits_fn, params, inputs)
