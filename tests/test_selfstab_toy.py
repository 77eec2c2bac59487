"""The App. B toy of the self-stabilization paper as a Problem (models/selfstab.py): its Hessian,
sharpness and grad S (Lemma 2) against closed forms and finite differences, and GD on it through
the trainer against the simplified dynamics eq. (3)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from optdyn.models.selfstab import SelfstabToyProblem, sharpness_and_gradient
from optdyn.spec.paper import RunSpec
from optdyn.spec.problems.selfstab import SelfstabToy
from optdyn.theory import selfstab as T
from optdyn.train.trainer import Trainer


pytestmark = pytest.mark.usefixtures("x64")
F64 = np.float64  # the problems built here compute in float64


def _toy(eta=0.01, alpha=2.0, beta=0.5, x0=0.1):
    return SelfstabToyProblem(SelfstabToy(name="selfstab_toy", eta=eta, alpha=alpha, beta=beta, x0=x0), dtype=F64)


def _points(n=8, seed=0):
    rng = np.random.default_rng(seed)
    return [jnp.asarray(p) for p in rng.uniform([-3, -2, -5], [3, 2, 5], (n, 3))]


def test_hessian_and_sharpness_closed_forms():
    prob = _toy()
    eta, b = prob.spec.eta, prob.spec.beta
    hessian, eig = jax.jit(jax.hessian(prob.f)), jax.jit(lambda th: sharpness_and_gradient(prob.f, th))
    for theta in _points():
        x, y, _ = np.asarray(theta)
        a11 = 2 / eta + np.sqrt(b) * y
        H = np.array([[a11, np.sqrt(b) * x, 0], [np.sqrt(b) * x, 0, 0], [0, 0, 0]])
        assert np.asarray(hessian(theta)) == pytest.approx(H, rel=1e-12, abs=1e-12)
        S, u, _ = eig(theta)
        assert float(S) == pytest.approx((a11 + np.sqrt(a11**2 + 4 * b * x**2)) / 2, rel=1e-12)
        assert np.asarray(H @ np.asarray(u)) == pytest.approx(float(S) * np.asarray(u), rel=1e-10, abs=1e-10)


@pytest.mark.slow  # > 1.5 s: kept out of the fast unit run (pytest -m 'not slow')
def test_grad_sharpness_is_the_third_derivative_contraction_lemma2():
    """grad S from D^3 L[u, u, .] equals central finite differences of the top eigenvalue."""
    prob = _toy()
    eig = jax.jit(lambda th: sharpness_and_gradient(prob.f, th))
    h = 1e-5
    for theta in _points(seed=1):
        _, _, grad_s = eig(theta)
        top = lambda th: eig(th)[0]  # noqa: E731
        fd = np.array([(top(theta + h * e) - top(theta - h * e)) / (2 * h) for e in jnp.eye(3)])
        assert np.asarray(grad_s) == pytest.approx(fd, rel=1e-6, abs=1e-7)


def test_reference_point_quantities_are_app_b():
    """At theta* = 0: u = e1, grad S = [0, sqrt(beta), 0], alpha = -grad L . grad S, beta = |grad S|^2."""
    prob = _toy(alpha=2.0, beta=0.5)
    m = jax.jit(prob.metrics)(prob.init(None))
    assert float(m["alpha_ref"]) == pytest.approx(2.0, rel=1e-12)
    assert float(m["beta_ref"]) == pytest.approx(0.5, rel=1e-12)
    S, u, grad_s = jax.jit(lambda th: sharpness_and_gradient(prob.f, th))(prob.reference())
    assert float(S) == pytest.approx(2 / prob.spec.eta)
    assert np.asarray(u) == pytest.approx([1, 0, 0], abs=1e-15)
    assert np.asarray(grad_s) == pytest.approx([0, np.sqrt(0.5), 0], rel=1e-12, abs=1e-15)
    assert float(m["x"]) == pytest.approx(0.1) and float(m["y"]) == 0.0
    assert float(m["loss_constrained"]) == 0.0


def test_gd_through_the_trainer_is_eq3_exactly():
    eta, alpha, beta, x0, steps = 2.0**-7, 2.0, 0.5, 0.1, 400
    spec = RunSpec.model_validate({
        "model": {"name": "selfstab_toy", "eta": eta, "alpha": alpha, "beta": beta, "x0": x0},
        "schedule": {"name": "constant", "lr": eta}, "steps": steps, "dtype": "float64", "progress": False,
    })
    trainer = Trainer(spec)
    state = trainer.init_state()
    xs, ys, zs = [], [], []
    for _ in range(steps + 1):
        m = trainer.evaluate(state)
        xs.append(float(m["x"])), ys.append(float(m["y"])), zs.append(float(m["theta"][2]))
        state, _ = trainer.advance(state, 1)
    x_ref, y_ref = T.simplified_dynamics(x0, 0.0, eta, alpha, beta, steps)
    assert np.asarray(xs) == pytest.approx(x_ref, rel=1e-11, abs=1e-13)
    assert np.asarray(ys) == pytest.approx(y_ref, rel=1e-11, abs=1e-13)
    assert np.asarray(zs) == pytest.approx(eta * np.arange(steps + 1), rel=1e-12, abs=1e-15)  # z moves by +eta per step
