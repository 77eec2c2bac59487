"""eta_t = lr_t / S(theta_t) (optim/inverse_sharpness.py) against closed forms: on a quadratic
the step is exactly grad/S; on a quartic, whose sharpness moves, S is the one measured at the
last refresh step; the network problem's Lanczos sharpness matches a dense eigh."""

from __future__ import annotations

import json

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import optdyn.train.trainer as trainer_module
from optdyn.data.prepare import prepare
from optdyn.optim.inverse_sharpness import inverse_sharpness
from optdyn.spec.paper import RunSpec
from optdyn.train.trainer import Trainer


pytestmark = pytest.mark.usefixtures("x64")  # float64 runs: x64 on, as configure_process(True) does


def _rotation(n: int, seed: int = 0) -> np.ndarray:
    q, _ = np.linalg.qr(np.random.default_rng(seed).normal(size=(n, n)))
    return q


class Quadratic:
    """L = x^T A x / 2 with eigenvalues 1, 4, 9 in a rotated basis: S = 9 everywhere."""

    def __init__(self):
        q = _rotation(3)
        self.A = q @ np.diag([1.0, 4.0, 9.0]) @ q.T  # numpy: float64 under x64

    def init(self, key):
        return jnp.asarray([1.0, -2.0, 0.5])

    def sample_batch(self, key):
        return ()

    def loss(self, x, batch):
        return 0.5 * x @ self.A @ x

    def metrics(self, x):
        return {"loss": self.loss(x, ())}

    def sharpness(self, x, *, examples=None, iters=20):
        return jnp.linalg.eigvalsh(jax.hessian(self.loss)(x, ()))[-1]


class Quartic(Quadratic):
    """L = sum c_i x_i^4 / 4: Hessian diag(3 c_i x_i^2), so S moves as x shrinks."""

    c = np.asarray([1.0, 2.0, 0.5])

    def loss(self, x, batch):
        return jnp.sum(self.c * x**4) / 4


def _trainer(monkeypatch, problem, lr: float, every: int = 40, momentum: float = 0.0) -> Trainer:
    monkeypatch.setattr(trainer_module, "build_problem", lambda spec, root, **_: problem)
    raw = {"model": {"name": "quadratic_river"}, "dtype": "float64", "schedule": {"name": "constant", "lr": lr},
           "optimizer": {"name": "inverse_sharpness", "every": every, "base": {"name": "sgd", "momentum": momentum}},
           "steps": 10, "progress": False}
    return Trainer(RunSpec.model_validate_json(json.dumps(raw)))


def test_the_step_is_exactly_grad_over_S_on_a_quadratic(monkeypatch):
    problem = Quadratic()
    trainer = _trainer(monkeypatch, problem, lr=1.0)
    state = trainer.init_state()
    x = np.asarray(state["params"])
    a = np.asarray(problem.A)
    for _ in range(5):
        state, logged = trainer.advance(state, 1)
        x = x - a @ x / 9.0  # eta = 1/S = 1/9: the top mode is removed in one step
        np.testing.assert_allclose(np.asarray(state["params"]), x, rtol=0, atol=1e-14)
        np.testing.assert_allclose(logged["lr"], [1 / 9], rtol=1e-15)
        np.testing.assert_allclose(logged["inverse_sharpness_S"], [9.0], rtol=1e-14)


def test_the_schedule_scales_eta_t_as_lr_t_over_S(monkeypatch):
    problem = Quadratic()
    trainer = _trainer(monkeypatch, problem, lr=0.5)
    state = trainer.init_state()
    x0 = np.asarray(state["params"])
    state, _ = trainer.advance(state, 1)
    np.testing.assert_allclose(np.asarray(state["params"]), x0 - 0.5 * np.asarray(problem.A) @ x0 / 9.0, atol=1e-14)


def test_S_is_measured_on_refresh_steps_and_held_in_between(monkeypatch):
    problem, every, steps = Quartic(), 3, 10
    trainer = _trainer(monkeypatch, problem, lr=1.0, every=every)
    state = trainer.init_state()
    c, x, held = np.asarray(problem.c), np.asarray(state["params"]), None
    for t in range(steps):
        if t % every == 0:
            held = np.max(3 * c * x**2)
        x = x - c * x**3 / held
        state, logged = trainer.advance(state, 1)
        np.testing.assert_allclose(logged["inverse_sharpness_S"], [held], rtol=1e-13)
    np.testing.assert_allclose(np.asarray(state["params"]), x, rtol=1e-13)
    assert held < np.max(3 * c * np.asarray(trainer.init_state()["params"]) ** 2)  # S did move


def test_the_wrapper_divides_the_whole_base_update_including_momentum():
    base = optax.sgd(0.1, momentum=0.9)
    wrapped = inverse_sharpness(base, every=2, sharpness_fn=lambda params, sharpness: sharpness)
    params = jnp.asarray([1.0, 2.0])
    s_base, s_wrapped = base.init(params), wrapped.init(params)
    for step, (g, s) in enumerate([([1.0, -1.0], 4.0), ([0.5, 0.5], 100.0), ([2.0, 0.0], 5.0)]):
        u_base, s_base = base.update(jnp.asarray(g), s_base, params)
        u, s_wrapped = wrapped.update(jnp.asarray(g), s_wrapped, params, sharpness=s)
        used = {0: 4.0, 1: 4.0, 2: 5.0}[step]  # step 1 is no refresh: its 100 is ignored
        np.testing.assert_allclose(np.asarray(u), np.asarray(u_base) / used, rtol=1e-6)
    with pytest.raises(ValueError):
        inverse_sharpness(base, every=0, sharpness_fn=lambda params: 1.0)


@pytest.mark.parametrize("start, every", [(0, 1), (0, 40), (0, 3), (2, 5)])
def test_the_wrapper_measures_S_exactly_on_its_refresh_steps(start, every):
    """The wrapper owns its cadence: in one jitted update per step, ``sharpness_fn`` runs at
    steps start, start + every, ... (hand-computed) and nowhere else; S is held in between."""
    calls = []

    def sharpness_fn(params, tag):
        jax.debug.callback(lambda t: calls.append(int(t)), tag)
        return 10.0 + tag  # S measured at step t is 10 + t

    wrapped = inverse_sharpness(optax.sgd(1.0), every=every, start=start, sharpness_fn=sharpness_fn)
    params = jnp.zeros(2)
    state, update = wrapped.init(params), jax.jit(wrapped.update)
    held = []
    for t in range(45):
        u, state = update(jnp.ones(2), state, params, tag=t)
        held.append(float(state.sharpness))
        np.testing.assert_allclose(np.asarray(u), -np.ones(2) / held[-1], rtol=1e-12)
    jax.effects_barrier()
    want = {(0, 1): list(range(45)), (0, 40): [0, 40], (0, 3): list(range(0, 45, 3)), (2, 5): [2, 7, 12, 17, 22, 27, 32, 37, 42]}
    assert calls == want[(start, every)]
    for t in range(45):
        last = max([r for r in calls if r <= t], default=None)
        assert held[t] == (1.0 if last is None else 10.0 + last)  # 1.0: the initial S, before start
    assert int(state.count) == 45


def test_the_spec_rejects_an_ire_base():
    raw = {"model": {"name": "quadratic_river"}, "schedule": {"name": "constant", "lr": 1.0}, "steps": 1,
           "optimizer": {"name": "inverse_sharpness", "base": {"name": "ire", "kappa": 1.0, "gamma": 0.5,
                                                                  "base": {"name": "sgd"}}}}
    with pytest.raises(ValueError):
        RunSpec.model_validate_json(json.dumps(raw))


def test_a_problem_without_sharpness_is_refused_before_training():
    raw = {"model": {"name": "quadratic_river"}, "schedule": {"name": "constant", "lr": 1.0}, "steps": 1,
           "optimizer": {"name": "inverse_sharpness", "base": {"name": "sgd"}}, "progress": False}
    with pytest.raises(ValueError, match="sharpness"):
        Trainer(RunSpec.model_validate_json(json.dumps(raw)))


@pytest.mark.slow  # > 1.5 s: kept out of the fast unit run (pytest -m 'not slow')
def test_the_network_sharpness_on_the_first_examples_matches_dense_eigh(tmp_path, x64):
    prepare("pair", "digits", {"rule": "first_per_class", "per_class": 20, "classes": [3, 5],
                               "normalization": "per_channel"}, tmp_path)
    raw = {"model": {"name": "mlp", "widths": [3], "criterion": "cat_mse"}, "dtype": "float64",
           "data": {"name": "prepared", "dataset": "pair"}, "schedule": {"name": "constant", "lr": 1.0},
           "optimizer": {"name": "inverse_sharpness", "examples": 16, "iters": 60, "base": {"name": "sgd"}},
           "steps": 1, "progress": False}
    trainer = Trainer(RunSpec.model_validate_json(json.dumps(raw)), data_root=tmp_path)
    problem, state = trainer.problem, trainer.init_state()
    x, unravel = jax.flatten_util.ravel_pytree(state["params"])
    sub = (problem.X[:16], problem.y[:16])
    dense = np.linalg.eigvalsh(np.asarray(jax.hessian(lambda v: problem.loss(unravel(v), sub))(x)))[-1]
    whole = np.linalg.eigvalsh(np.asarray(jax.hessian(lambda v: problem.loss(unravel(v), (problem.X, problem.y)))(x)))[-1]
    assert abs(dense - whole) > 1e-3 * whole  # the subset is a different loss: the test can tell
    s = float(problem.sharpness(state["params"], examples=16, iters=60))
    np.testing.assert_allclose(s, dense, rtol=1e-8)
    grads = jax.grad(problem.loss)(state["params"], (problem.X, problem.y))
    after, logged = trainer.advance(state, 1)
    expected = jax.tree.map(lambda p, g: p - g / s, state["params"], grads)
    for a, b in zip(jax.tree.leaves(after["params"]), jax.tree.leaves(expected)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(logged["lr"], [1 / s], rtol=1e-8)
