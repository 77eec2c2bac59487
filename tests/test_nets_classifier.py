"""Criteria (models/losses.py) against closed forms and ClassifierProblem (models/classifier.py):
GD steps vs a hand-written backward pass, ghost batches, mini-batches, purity of the loss in
the params pytree, curvature vs a dense Hessian, the Fisher hook."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx
from jax.flatten_util import ravel_pytree

from optdyn.models import losses
from optdyn.models.classifier import ClassifierProblem
from optdyn.models.nets import MLP
from optdyn.curvature import flatten, top_eigenpairs

RNG = np.random.default_rng(0)


def test_cat_mse_has_no_half_and_sums_over_classes():
    f, y = RNG.normal(size=(6, 4)), RNG.integers(0, 4, 6)
    expected = np.mean([sum((f[i, c] - (c == y[i])) ** 2 for c in range(4)) for i in range(6)])
    np.testing.assert_allclose(losses.cat_mse(jnp.asarray(f), jnp.asarray(y)), expected, rtol=1e-6)
    damian = np.mean([f[i] @ f[i] - 2 * f[i, y[i]] + 1 for i in range(6)])  # dictionaries.py's form
    np.testing.assert_allclose(losses.cat_mse(jnp.asarray(f), jnp.asarray(y)), damian, rtol=1e-6)
    np.testing.assert_allclose(losses.cat_mse(jnp.asarray(f), jnp.asarray(y), scale=0.5), expected / 2, rtol=1e-6)


def test_binary_criteria_read_the_first_output():
    f, y = RNG.normal(size=(7, 1)), RNG.choice([-1, 1], 7)
    np.testing.assert_allclose(losses.binary_mse(jnp.asarray(f), jnp.asarray(y)), np.mean((f[:, 0] - y) ** 2), rtol=1e-6)
    np.testing.assert_allclose(losses.logistic(jnp.asarray(f), jnp.asarray(y)),
                               np.mean(np.log1p(np.exp(-y * f[:, 0]))), rtol=1e-6)


def test_cross_entropy_matches_optax_and_the_closed_form():
    f, y = RNG.normal(size=(5, 3)), RNG.integers(0, 3, 5)
    ce = losses.cross_entropy(jnp.asarray(f), jnp.asarray(y))
    np.testing.assert_allclose(ce, jnp.mean(optax.softmax_cross_entropy_with_integer_labels(jnp.asarray(f), jnp.asarray(y))), rtol=1e-6)
    closed = np.mean([np.log(np.exp(f[i]).sum()) - f[i, y[i]] for i in range(5)])
    np.testing.assert_allclose(ce, closed, rtol=1e-6)


def test_accuracy_multiclass_and_binary():
    logits = jnp.array([[2.0, 1.0], [0.0, 3.0], [1.0, -1.0]])
    assert losses.accuracy(logits, jnp.array([0, 1, 1]), binary=False) == pytest.approx(2 / 3)
    assert losses.accuracy(jnp.array([[0.5], [-2.0], [1.0]]), jnp.array([1, -1, -1]), binary=True) == pytest.approx(2 / 3)


def _mlp_problem(n=8, d=4, hidden=5, classes=3, **kw):
    X = RNG.normal(size=(n, d))
    y = RNG.integers(0, classes, n)
    return ClassifierProblem(lambda r: MLP(d, classes, widths=(hidden,), rngs=r), X, y, **kw), X, y


@pytest.mark.slow  # > 1.5 s: kept out of the fast unit run (pytest -m 'not slow')
def test_full_batch_gd_step_matches_a_hand_written_backward_pass(x64):
    pb, X, y = _mlp_problem(dtype=jnp.float64)
    params = pb.init(jax.random.PRNGKey(0))
    assert all(p.dtype == jnp.float64 for p in jax.tree.leaves(params))
    lr = 0.1
    new = jax.tree.map(lambda p, g: p - lr * g, params, jax.grad(pb.loss)(params, pb.sample_batch(jax.random.PRNGKey(1))))

    W1, b1 = (np.asarray(params["layers"][0][k]) for k in ("kernel", "bias"))
    W2, b2 = (np.asarray(params["layers"][1][k]) for k in ("kernel", "bias"))
    z = X @ W1 + b1
    s = 1 / (1 + np.exp(-z))
    h = z * s
    f = h @ W2 + b2
    df = 2 * (f - np.eye(3)[y]) / len(y)  # d/df of mean ||f - e_y||^2 (no 1/2)
    dz = (df @ W2.T) * (s + z * s * (1 - s))  # swish'(z) = s + z s (1 - s)
    manual = {"W1": X.T @ dz, "b1": dz.sum(0), "W2": h.T @ df, "b2": df.sum(0)}
    np.testing.assert_allclose(new["layers"][0]["kernel"], W1 - lr * manual["W1"], rtol=1e-12)
    np.testing.assert_allclose(new["layers"][0]["bias"], b1 - lr * manual["b1"], rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(new["layers"][1]["kernel"], W2 - lr * manual["W2"], rtol=1e-12)
    np.testing.assert_allclose(new["layers"][1]["bias"], b2 - lr * manual["b2"], rtol=1e-12, atol=1e-15)


@pytest.mark.slow  # > 1.5 s: kept out of the fast unit run (pytest -m 'not slow')
def test_ghost_batch_loss_is_the_mean_of_sub_batch_losses():
    pb, X, y = _mlp_problem(n=12, ghost=4, criterion="ce")
    whole, _, _ = _mlp_problem(n=12, criterion="ce")
    params = pb.init(jax.random.PRNGKey(2))
    ghost_loss = pb.loss(params, (jnp.asarray(X, jnp.float32), jnp.asarray(y)))
    subs = [whole.loss(params, (jnp.asarray(X[i:i + 3], jnp.float32), jnp.asarray(y[i:i + 3]))) for i in range(0, 12, 3)]
    np.testing.assert_allclose(ghost_loss, np.mean(subs), rtol=1e-6)
    # BN-free nets and mean-reduced criteria: the same as the whole-batch loss, and the same gradient
    batch = (jnp.asarray(X, jnp.float32), jnp.asarray(y))
    np.testing.assert_allclose(ghost_loss, whole.loss(params, batch), rtol=1e-6)
    g1, g2 = (ravel_pytree(jax.grad(p.loss)(params, batch))[0] for p in (pb, whole))
    np.testing.assert_allclose(g1, g2, rtol=1e-5, atol=1e-7)
    with pytest.raises(ValueError, match="divide"):
        _mlp_problem(n=12, ghost=5)


def test_minibatches_are_distinct_rows_drawn_from_the_key():
    pb, X, y = _mlp_problem(n=10, batch_size=4)
    xb, yb = pb.sample_batch(jax.random.PRNGKey(3))
    rows = [int(np.argmin(np.abs(X - np.asarray(r)).sum(1))) for r in xb]
    assert len(set(rows)) == 4 and np.array_equal(np.asarray(yb), y[rows])
    np.testing.assert_array_equal(pb.sample_batch(jax.random.PRNGKey(3))[0], xb)
    assert not np.array_equal(pb.sample_batch(jax.random.PRNGKey(4))[0], xb)
    full, _, _ = _mlp_problem(n=10)
    assert full.sample_batch(jax.random.PRNGKey(3))[0].shape == (10, 4)


@pytest.mark.slow  # > 1.5 s: kept out of the fast unit run (pytest -m 'not slow')
def test_loss_is_a_pure_function_of_a_params_pytree():
    pb, _, _ = _mlp_problem()
    params = pb.init(jax.random.PRNGKey(4))
    batch = pb.sample_batch(jax.random.PRNGKey(0))
    flat, unravel = ravel_pytree(params)
    assert flat.shape == (4 * 5 + 5 + 5 * 3 + 3,)
    loss, grads = jax.jit(jax.value_and_grad(pb.loss))(unravel(flat), batch)
    np.testing.assert_allclose(loss, pb.loss(params, batch), rtol=1e-6)
    moved = unravel(flat - 0.5 * ravel_pytree(grads)[0])
    assert pb.loss(moved, batch) < loss  # same graph, new params: nothing cached in a module
    np.testing.assert_array_equal(ravel_pytree(pb.init(jax.random.PRNGKey(4)))[0], flat)


@pytest.mark.slow  # > 1.5 s: kept out of the fast unit run (pytest -m 'not slow')
def test_lanczos_sharpness_matches_a_dense_hessian(x64):
    pb, _, _ = _mlp_problem(n=10, d=3, hidden=4, dtype=jnp.float64)
    params = pb.init(jax.random.PRNGKey(5))
    f, x0, _ = flatten(pb.loss, params, pb.sample_batch(jax.random.PRNGKey(0)))
    dense = np.linalg.eigh(np.asarray(jax.hessian(f)(x0)))[0][::-1]
    vals, vecs = top_eigenpairs(f, x0, 3, method="lanczos", iters=x0.shape[0])
    np.testing.assert_allclose(vals, dense[:3], rtol=1e-8)
    assert vecs.shape == (x0.shape[0], 3)


def test_metrics_loss_accuracy_and_test_set():
    pb, X, y = _mlp_problem(n=8, ghost=2, eval_data=(RNG.normal(size=(3, 4)), np.array([0, 1, 2])))
    params = pb.init(jax.random.PRNGKey(6))
    m = pb.metrics(params)
    logits = pb.logits_fn(params, jnp.asarray(X, jnp.float32))
    np.testing.assert_allclose(m["loss"], losses.cat_mse(logits, jnp.asarray(y)), rtol=1e-6)
    np.testing.assert_allclose(m["accuracy"], np.mean(np.argmax(logits, 1) == y))
    assert set(m) == {"loss", "accuracy", "test_loss", "test_accuracy"}  # 3 test rows: no chunking


@pytest.mark.slow  # > 1.5 s: kept out of the fast unit run (pytest -m 'not slow')
def test_fisher_diag_is_params_shaped_and_binary_models_are_bernoulli():
    X, y = RNG.normal(size=(6, 4)), RNG.choice([-1, 1], 6)
    pb = ClassifierProblem(lambda r: MLP(4, 1, widths=(3,), rngs=r), X, y, "binary_mse", fisher_batch_size=4)
    params = pb.init(jax.random.PRNGKey(7))
    h = pb.fisher_diag(params, jax.random.PRNGKey(8))
    assert jax.tree.structure(h) == jax.tree.structure(params)
    assert all(bool(jnp.all(v >= 0)) for v in jax.tree.leaves(h))
    probs = jax.nn.softmax(pb._softmax_logits(params, jnp.asarray(X, jnp.float32)))
    f0 = pb.logits_fn(params, jnp.asarray(X, jnp.float32))[:, 0]
    np.testing.assert_allclose(probs[:, 1], jax.nn.sigmoid(f0), rtol=1e-6)


def test_modules_with_non_parameter_state_are_refused():
    class WithBN(nnx.Module):
        def __init__(self, rngs):
            self.lin = nnx.Linear(2, 2, rngs=rngs)
            self.bn = nnx.BatchNorm(2, rngs=rngs)

        def __call__(self, x):
            return self.bn(self.lin(x))

    with pytest.raises(ValueError, match="besides nnx.Param"):
        ClassifierProblem(WithBN, np.ones((2, 2)), np.array([0, 1]))
