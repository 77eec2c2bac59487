"""IRE as an Optax wrapper: bit-identity at kappa = 0, the mask rule against numpy, the refresh
cadence; SAM's perturbations against their closed forms."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from optdyn.optim.ire import flat_count, flat_mask, ire, refresh_due
from optdyn.optim.sam import perturbation, sam_value_and_grad


def _params(key):
    k1, k2, k3 = jax.random.split(key, 3)
    return {"w": jax.random.normal(k1, (4, 3)), "b": jax.random.normal(k2, (3,)), "s": jax.random.normal(k3, ())}


def _loss(p, x):
    return jnp.sum((jnp.tanh(x @ p["w"] + p["b"]) * p["s"] - 1.0) ** 2)


def _bases():
    sched = optax.cosine_decay_schedule(0.1, 20)
    sgd = optax.chain(optax.add_decayed_weights(5e-4), optax.sgd(sched, momentum=0.9))
    adamw = optax.chain(optax.clip_by_global_norm(1.0), optax.adamw(sched, b1=0.9, b2=0.95, weight_decay=0.1))
    return {"sgd_momentum_wd": sgd, "adamw_clip": adamw}


def _given(params, fisher_diag, **_):
    """An estimator that returns the estimate the test passes as an extra argument of update."""
    return fisher_diag


def _train(tx, steps, extra):
    params = _params(jax.random.PRNGKey(0))
    state = tx.init(params)
    out = []
    for t in range(steps):
        x = jax.random.normal(jax.random.PRNGKey(100 + t), (5, 4))
        g = jax.grad(_loss)(params, x)
        h = jax.tree.map(lambda a: a**2, g)  # any estimate: kappa = 0 must ignore it
        upd, state = tx.update(g, state, params, **extra(t, h))
        params = optax.apply_updates(params, upd)
        out.append(params)
    return out


@pytest.mark.slow  # > 1.5 s: kept out of the fast unit run (pytest -m 'not slow')
@pytest.mark.parametrize("name", ["sgd_momentum_wd", "adamw_clip"])
def test_kappa_zero_is_the_base_optimizer_bit_for_bit(name):
    base = _bases()[name]
    ref = _train(base, 12, lambda t, h: {})
    got = _train(ire(base, kappa=0.0, gamma=0.6, every=3, start=2, fisher_fn=_given), 12, lambda t, h: {"fisher_diag": h})
    for a, b in zip(ref, got):
        for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
            np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def test_before_start_ire_is_the_base_and_after_it_enhances_the_masked_coordinates():
    base = _bases()["adamw_clip"]
    tx = ire(base, kappa=3.0, gamma=0.5, every=2, start=4, fisher_fn=_given)
    params = _params(jax.random.PRNGKey(1))
    s_ire, s_base = tx.init(params), base.init(params)
    for t in range(8):
        g = jax.grad(_loss)(params, jax.random.normal(jax.random.PRNGKey(t), (5, 4)))
        h = jax.tree.map(lambda a: a**2, g)
        u_base, s_base = base.update(g, s_base, params)
        u_ire, s_ire = tx.update(g, s_ire, params, fisher_diag=h)
        factor = jax.tree.map(lambda m: 1 + 3.0 * m, s_ire.mask)
        for ub, ui, f in zip(jax.tree.leaves(u_base), jax.tree.leaves(u_ire), jax.tree.leaves(factor)):
            np.testing.assert_array_equal(np.asarray(ui), np.asarray(ub * f))
        if t < 4:
            assert all(float(jnp.sum(m)) == 0 for m in jax.tree.leaves(s_ire.mask))
        params = optax.apply_updates(params, u_base)  # same trajectory for both: compare updates only


def _numpy_mask(leaves, gamma, rows=1):
    flat = np.concatenate([np.abs(np.asarray(x)).reshape(rows, -1) for x in leaves], axis=1)
    k = math.floor(gamma * flat.shape[1] + 1e-9)
    if k == 0:
        return np.zeros_like(flat, bool)
    thr = np.sort(flat, axis=1)[:, k - 1][:, None]
    return flat <= thr


@pytest.mark.parametrize("gamma", [0.05, 0.3, 0.5, 0.6, 0.9, 1.0])
def test_mask_is_the_global_gamma_fraction_with_ties_to_flat(gamma):
    rng = np.random.default_rng(0)
    # integer values: many ties, across leaves (the ranking must be global, not per leaf)
    h = {"a": jnp.asarray(rng.integers(0, 5, (3, 4)).astype(np.float32)), "b": jnp.asarray(rng.integers(0, 5, (6,)).astype(np.float32))}
    mask = flat_mask(h, gamma)
    leaves = jax.tree.leaves(h)
    want = _numpy_mask(leaves, gamma)
    got = np.concatenate([np.asarray(m).reshape(1, -1) for m in jax.tree.leaves(mask)], axis=1)
    np.testing.assert_array_equal(got.astype(bool), want)
    assert got.sum() >= flat_count(18, gamma)


def test_mask_fraction_is_gamma_without_ties_and_empty_when_floor_is_zero():
    h = {"a": jnp.arange(7.0)[::-1], "b": jnp.arange(7.0, 10.0)}
    for gamma in (0.1, 0.35, 0.7, 0.99):
        got = sum(float(jnp.sum(m)) for m in jax.tree.leaves(flat_mask(h, gamma)))
        assert got == math.floor(gamma * 10 + 1e-9)
    assert sum(float(jnp.sum(m)) for m in jax.tree.leaves(flat_mask(h, 0.09))) == 0  # floor(0.9) = 0
    assert flat_count(100, 0.29) == 29  # 0.29 * 100 = 28.999999999999996 in floating point


def test_mask_ranks_each_replica_on_its_own():
    rng = np.random.default_rng(1)
    h = {"x": jnp.asarray(rng.normal(size=(3, 5))), "y": jnp.asarray(rng.normal(size=(3, 2)) * 10)}
    got = flat_mask(h, 0.5, per_replica=True)
    want = _numpy_mask(jax.tree.leaves(h), 0.5, rows=3)
    flat = np.concatenate([np.asarray(m).reshape(3, -1) for m in jax.tree.leaves(got)], axis=1)
    np.testing.assert_array_equal(flat.astype(bool), want)
    assert flat.sum(axis=1).tolist() == [3, 3, 3]


def test_mask_refreshes_at_start_then_every_k_steps():
    tx = ire(optax.sgd(0.1), kappa=1.0, gamma=0.5, every=4, start=3, fisher_fn=_given)
    params = jnp.zeros(6)
    state = tx.init(params)
    refreshed_from = None
    for t in range(16):
        h = jnp.asarray(np.random.default_rng(t).permutation(6).astype(np.float32))  # a new ranking each step
        _, state = tx.update(jnp.ones(6), state, params, fisher_diag=h)
        due = bool(refresh_due(t, 3, 4))
        assert due == (t in (3, 7, 11, 15))
        if due:
            refreshed_from = h
        expected = np.zeros(6) if refreshed_from is None else np.asarray(refreshed_from) < 3
        np.testing.assert_array_equal(np.asarray(state.mask).astype(bool), expected)


@pytest.mark.parametrize("start, every", [(0, 1), (0, 3), (3, 4), (5, 10)])
def test_the_wrapper_calls_its_estimator_exactly_on_its_refresh_steps(start, every):
    """IRE owns its cadence: inside one jitted update per step, ``fisher_fn`` runs at steps
    start, start + every, ... (hand-computed) and nowhere else, with the step's extra args."""
    calls = []

    def fisher_fn(params, key, tag):
        jax.debug.callback(lambda t: calls.append(int(t)), tag)
        return jnp.abs(jax.random.normal(key, params.shape))

    tx = ire(optax.sgd(0.1), kappa=1.0, gamma=0.5, every=every, start=start, fisher_fn=fisher_fn)
    params = jnp.zeros(6)
    state, step = tx.init(params), jax.jit(tx.update)
    masks = []
    for t in range(25):
        _, state = step(jnp.ones(6), state, params, key=jax.random.PRNGKey(t), tag=t)
        masks.append(np.asarray(state.mask))
    jax.effects_barrier()
    want = {(0, 1): list(range(25)), (0, 3): [0, 3, 6, 9, 12, 15, 18, 21, 24], (3, 4): [3, 7, 11, 15, 19, 23],
            (5, 10): [5, 15]}[(start, every)]
    assert calls == want
    assert int(state.count) == 25
    for t in range(25):  # the mask is the one ranked at the latest refresh step, zeros before start
        last = max([r for r in want if r <= t], default=None)
        expected = np.zeros(6) if last is None else flat_mask(jnp.abs(jax.random.normal(jax.random.PRNGKey(last), (6,))), 0.5)
        np.testing.assert_array_equal(masks[t], np.asarray(expected))


def test_prog_decay_scales_kappa_with_the_lr():
    sched = optax.linear_schedule(1.0, 0.25, 10)
    tx = ire(optax.sgd(sched), kappa=4.0, gamma=1.0, every=1, kappa_scale=lambda t: sched(t) / 1.0, fisher_fn=_given)
    state = tx.init(jnp.zeros(2))
    for t in range(11):  # the base's own step count and IRE's step counter advance together
        upd, state = tx.update(jnp.ones(2), state, jnp.zeros(2), fisher_diag=jnp.ones(2))
        lr = float(sched(t))
        np.testing.assert_allclose(np.asarray(upd), -lr * (1 + 4.0 * lr) * np.ones(2), rtol=1e-6)


def test_standard_sam_takes_the_gradient_at_rho_along_the_normalized_gradient():
    A = jnp.diag(jnp.asarray([3.0, 1.0, 0.5]))
    loss = lambda p, b: 0.5 * p @ A @ p  # noqa: E731
    theta = jnp.asarray([1.0, -2.0, 0.5])
    value, g = sam_value_and_grad(loss, theta, None, jax.random.PRNGKey(0), rho=0.1)
    grad = A @ theta
    np.testing.assert_allclose(g, A @ (theta + 0.1 * grad / jnp.linalg.norm(grad)), rtol=1e-6)
    np.testing.assert_allclose(value, loss(theta, None), rtol=1e-6)


def test_perturbations_have_norm_rho_per_replica():
    d = {"a": jnp.asarray([[3.0, 4.0], [0.0, 1.0]]), "b": jnp.asarray([[0.0], [1.0]])}
    eps = perturbation(d, 0.2, per_replica=True)
    norms = np.sqrt(sum(np.sum(np.asarray(x) ** 2, axis=1) for x in jax.tree.leaves(eps)))
    np.testing.assert_allclose(norms, [0.2, 0.2], rtol=1e-6)
    np.testing.assert_allclose(np.asarray(eps["a"][1]), [0.0, 0.2 / np.sqrt(2)], rtol=1e-6)
    # average SAM: a random direction of length rho, independent of the gradient
    loss = lambda p, b: jnp.sum(p**2)  # noqa: E731
    theta = jnp.zeros((4, 3))
    _, g = sam_value_and_grad(loss, theta, None, jax.random.PRNGKey(3), rho=0.5, kind="average", per_replica=True)
    np.testing.assert_allclose(np.linalg.norm(np.asarray(g) / 2, axis=1), 0.5 * np.ones(4), rtol=1e-6)
