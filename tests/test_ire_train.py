"""IRE and SAM through the trainer on the paper's toy: eq. (3), the exact u-mask, the Fisher
cadence, SAM-IRE's closed-form step, and the spec's optimizer blocks."""

from __future__ import annotations

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from optdyn.models.ire import IREValleyProblem
from optdyn.optim.ire import flat_mask
from optdyn.spec.paper import RunSpec
from optdyn.theory.ire import gd_ire_path
from optdyn.train.trainer import Trainer


def _spec(optimizer: dict, lr: float = 1.0, steps: int = 50, **model) -> RunSpec:
    raw = {"model": {"name": "ire_valley", **model}, "optimizer": optimizer, "dtype": "float64",
           "schedule": {"name": "constant", "lr": lr}, "steps": steps, "progress": False}
    return RunSpec.model_validate_json(json.dumps(raw))


def _path(spec: RunSpec) -> np.ndarray:
    trainer = Trainer(spec)
    state, rows = trainer.init_state(), [np.asarray(trainer.init_state()["params"])[0]]
    for _ in range(spec.steps):
        state, _ = trainer.advance(state, 1)
        rows.append(np.asarray(state["params"])[0])
    return np.stack(rows)


@pytest.mark.parametrize("kappa", [0.0, 90.0, 9000.0])
def test_gd_ire_on_the_2d_toy_is_eq3(kappa, x64):
    opt = {"name": "ire", "kappa": kappa, "gamma": 0.5, "base": {"name": "sgd"}}
    got = _path(_spec(opt, steps=40, init_u=1.0, init_v=0.01))
    want = gd_ire_path(1.0, 0.01, 1.0, kappa, 40)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)


@pytest.mark.slow  # > 1.5 s: kept out of the fast unit run (pytest -m 'not slow')
def test_toy_fisher_mask_is_exactly_the_flat_block(x64):
    spec = _spec({"name": "sgd"}, flat_dims=9, sharp_dims=1, replicas=4, init_u=1.0, init_v=0.3).model
    problem = IREValleyProblem(spec, dtype=jnp.float64)
    params = problem.init(jax.random.PRNGKey(0)) * jnp.linspace(0.5, 2.0, 10)  # uneven coordinates
    mask = np.asarray(flat_mask(problem.fisher_diag(params, None), 0.9, per_replica=True))
    np.testing.assert_array_equal(mask, np.tile([1.0] * 9 + [0.0], (4, 1)))
    # the Gauss-Newton diagonal matches the one of the residual Jacobian
    u, v = params[0, :9], params[0, 9:]
    jac = jax.jacobian(lambda th: jnp.sqrt(1 + jnp.sum(th[:9] ** 2)) * th[9:])(params[0])
    np.testing.assert_allclose(problem.fisher_diag(params, None)[0], np.sum(np.asarray(jac) ** 2, axis=0), rtol=1e-12)
    assert u.shape == (9,) and v.shape == (1,)


def test_fisher_is_evaluated_once_per_refresh_step(x64):
    calls = []

    class Counting(IREValleyProblem):
        def fisher_diag(self, params, key):
            jax.debug.callback(lambda: calls.append(1))
            return super().fisher_diag(params, key)

    spec = _spec({"name": "ire", "kappa": 2.0, "gamma": 0.5, "every": 10, "start": 5, "base": {"name": "sgd"}}, lr=0.5, steps=47)
    trainer = Trainer(spec)
    trainer.problem = Counting(spec.model, dtype=jnp.float64)
    state, logged = trainer.advance(trainer.init_state(), 47)
    jax.effects_barrier()
    assert len(calls) == 5  # steps 5, 15, 25, 35, 45
    np.testing.assert_array_equal(logged["ire_flat_fraction"], np.where(np.arange(47) >= 5, 0.5, 0.0))


def test_sam_ire_step_on_the_2d_toy_matches_the_closed_form(x64):
    rho, kappa, eta = 0.05, 20.0, 0.1
    opt = {"name": "ire", "kappa": kappa, "gamma": 0.5, "base": {"name": "sam", "rho": rho, "base": {"name": "sgd"}}}
    got = _path(_spec(opt, lr=eta, steps=30, init_u=1.0, init_v=1e-3))
    u, v = 1.0, 1e-3
    for t in range(30):
        g = np.array([u * v * v, (1 + u * u) * v])
        eu, ev = rho * g / (np.linalg.norm(g) + 1e-12)
        pu, pv = u + eu, v + ev
        u, v = u - eta * (1 + kappa) * pu * pv * pv, v - eta * (1 + pu * pu) * pv
        np.testing.assert_allclose(got[t + 1], [u, v], rtol=1e-10)


def test_replicas_get_independent_sam_perturbations_and_label_noise(x64):
    opt = {"name": "sam", "rho": 0.1, "perturbation": "average", "base": {"name": "sgd"}}
    spec = _spec(opt, lr=0.05, steps=5, flat_dims=3, replicas=6, label_noise=1.0)
    trainer = Trainer(spec)
    state, _ = trainer.advance(trainer.init_state(), 5)
    rows = np.asarray(state["params"])
    assert len({tuple(np.round(r, 12)) for r in rows}) == 6


def test_optimizer_blocks_are_strict():
    with pytest.raises(Exception, match="kapa|extra"):
        _spec({"name": "ire", "kapa": 1.0, "gamma": 0.5, "base": {"name": "sgd"}})
    with pytest.raises(Exception):
        _spec({"name": "sam", "rho": 0.1, "base": {"name": "ire", "kappa": 1.0, "gamma": 0.5, "base": {"name": "sgd"}}})


def test_a_float64_run_without_x64_is_refused_in_one_line():
    with pytest.raises(RuntimeError, match="configure_process"):
        Trainer(_spec({"name": "sgd"}))


def test_a_problem_without_fisher_cannot_run_ire():
    raw = {"model": {"name": "quadratic_river"}, "optimizer": {"name": "ire", "kappa": 1.0, "gamma": 0.5, "base": {"name": "sgd"}},
           "schedule": {"name": "constant", "lr": 0.1}, "steps": 5}
    with pytest.raises(ValueError, match="fisher_diag"):
        Trainer(RunSpec.model_validate_json(json.dumps(raw)))


@pytest.mark.slow  # > 1.5 s: kept out of the fast unit run (pytest -m 'not slow')
def test_ire_on_a_classifier_ranks_by_the_sampled_label_fisher(monkeypatch):
    """The interface networks use: ``fisher_diag`` = curvature.sampled_fisher_diag on a
    batch drawn from the key; the mask is the gamma-fraction of its smallest entries."""
    from optdyn.curvature import sampled_fisher_diag
    from optdyn.train import trainer as trainer_mod

    x = jax.random.normal(jax.random.PRNGKey(0), (32, 5))
    y = jax.random.randint(jax.random.PRNGKey(1), (32,), 0, 3)
    logits = lambda p, inp: inp @ p["w"] + p["b"]  # noqa: E731

    class Softmax:
        def init(self, key):
            return {"w": 0.1 * jax.random.normal(key, (5, 3)), "b": jnp.zeros(3)}

        def sample_batch(self, key):
            return jnp.asarray(0)

        def loss(self, p, batch):
            return -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(logits(p, x)), y[:, None], axis=1))

        def fisher_diag(self, p, key):
            return sampled_fisher_diag(logits, p, x, key)

        def metrics(self, p):
            return {"loss": self.loss(p, None)}

    monkeypatch.setattr(trainer_mod, "build_problem", lambda spec, data_root=None, **_: Softmax())
    spec = RunSpec.model_validate_json(json.dumps({
        "model": {"name": "quadratic_river"}, "schedule": {"name": "constant", "lr": 0.1}, "steps": 12, "progress": False,
        "optimizer": {"name": "ire", "kappa": 2.0, "gamma": 0.6, "every": 4, "base": {"name": "sgd", "momentum": 0.9}}}))
    trainer = Trainer(spec)
    state8, logged = trainer.advance(trainer.init_state(), 8)
    state9, _ = trainer.advance(state8, 1)  # refreshes at step 8 from the params after 8 steps
    key8 = jax.random.fold_in(jax.random.fold_in(trainer.data_key, 8), trainer_mod._FISHER_KEY)  # step 8 Fisher key
    want = flat_mask(sampled_fisher_diag(logits, state8["params"], x, key8), 0.6)
    for a, b in zip(jax.tree.leaves(state9["opt_state"].mask), jax.tree.leaves(want)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    np.testing.assert_allclose(logged["ire_flat_fraction"], np.floor(0.6 * 18) / 18)


@pytest.mark.slow  # > 1.5 s: kept out of the fast unit run (pytest -m 'not slow')
def test_sam_ire_run_resumes_exactly_from_a_checkpoint(tmp_path, x64):
    from optdyn.train.checkpoint import Checkpoints

    opt = {"name": "ire", "kappa": 3.0, "gamma": 0.9, "every": 3, "start": 2,
           "base": {"name": "sam", "rho": 0.1, "perturbation": "average", "base": {"name": "sgd", "momentum": 0.9}}}
    spec = _spec(opt, lr=0.02, steps=20, flat_dims=9, replicas=3)
    trainer = Trainer(spec)
    straight, _ = trainer.advance(trainer.init_state(), 20)
    half, _ = trainer.advance(trainer.init_state(), 10)
    ckpts = Checkpoints(tmp_path / "ckpt")
    ckpts.save(10, half)
    restored = ckpts.restore(10, Trainer(spec).init_state())
    ckpts.close()
    resumed, _ = Trainer(spec).advance(restored, 10)
    for a, b in zip(jax.tree.leaves(straight), jax.tree.leaves(resumed)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
