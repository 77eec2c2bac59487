"""The generic ``hessian_spectrum`` probe on a tiny trained toy run: restored (and replayed)
checkpoints, each solver against the dense Hessian of the restored parameters."""

from __future__ import annotations

from pathlib import Path

import jax
import numpy as np
import pytest
from pydantic import ValidationError

from optdyn.probes import kinds
from optdyn.probes.spectrum import hessian_spectrum
from optdyn.spec.load import load_plan
from optdyn.spec.probes import HessianSpectrum
from optdyn.train.results import load_run
from optdyn.train.run import train_run
from optdyn.train.trainer import Trainer

from train_helpers import restore, rid_of, write_config

STEPS = 30
#: 4 replicas of the 2-D river valley (8 params), GD from different starts
RIVER = {
    "model": {"name": "river2d", "replicas": 4, "init": [[0.0, 2.0], [1.0, -1.0], [2.5, 0.5], [-1.0, 1.5]]},
    "schedule": {"name": "constant", "lr": 0.1}, "steps": STEPS, "dtype": "float64",
    "checkpoint_steps": [10, 20], "eval_every": 10, "progress": False,
}


@pytest.fixture(scope="module")
def trained(tmp_path_factory, x64_module):  # a float64 run: x64 on for the module's tests
    root = tmp_path_factory.mktemp("spectrum")
    plan = load_plan(write_config(root, {"rv": RIVER}))
    rid = rid_of(plan, "rv")
    assert train_run(plan, rid)["status"] == "completed"
    return plan, rid


def probe(**kw) -> HessianSpectrum:
    return HessianSpectrum.model_validate({"kind": "hessian_spectrum", "run": "rv", **kw})


def dense_top(plan, rid, params, k) -> np.ndarray:
    problem = Trainer(plan.runs[rid].spec).problem
    batch = problem.sample_batch(jax.random.PRNGKey(0))
    H = np.asarray(jax.hessian(lambda p: problem.loss(p, batch))(params)).reshape(8, 8)
    return np.sort(np.linalg.eigvalsh(H))[::-1][:k]


def test_kind_is_registered():
    assert kinds()["hessian_spectrum"] is hessian_spectrum


@pytest.mark.slow  # > 1.5 s: kept out of the fast unit run (pytest -m 'not slow')
@pytest.mark.parametrize("method", ["lanczos", "lobpcg", "dense"])
def test_spectrum_at_every_checkpoint_matches_dense_eigh(trained, method: str) -> None:
    plan, rid = trained
    x64 = jax.config.jax_enable_x64
    k = 2 if method != "lobpcg" else 1  # LOBPCG needs 5 k < 8 params
    iters = 8 if method == "lanczos" else 100  # Lanczos: the whole 8-dim Krylov space
    table = hessian_spectrum(load_run(plan, rid), probe(k=k, method=method, iters=iters, trace_samples=64))
    assert jax.config.jax_enable_x64 == x64  # the probe leaves the x64 switch as it found it
    assert sorted(table.step.unique()) == [10, 20, STEPS]
    assert set(table.columns) >= {"step", "rank", "eigenvalue", "residual", "solver", "iterations", "dtype", "loss",
                                  "warm_started", "trace_hutchinson"}
    assert (table.dtype == "float64").all() and (table.solver == method).all()
    for step, rows in table.groupby("step"):
        params = restore(plan, rid, step)["params"]
        np.testing.assert_allclose(rows.sort_values("rank").eigenvalue, dense_top(plan, rid, params, k), rtol=1e-9)
        assert (rows.residual < 1e-8).all()
    assert list(table.drop_duplicates("step").warm_started) == [False, True, True]


@pytest.mark.slow  # > 1.5 s: kept out of the fast unit run (pytest -m 'not slow')
def test_steps_between_checkpoints_are_replayed(trained) -> None:
    plan, rid = trained
    table = hessian_spectrum(load_run(plan, rid), probe(steps=[0, 15, 25], k=1, dtype="float32"))
    assert list(table.step) == [0, 15, 25] and (table.dtype == "float32").all()
    spec = plan.runs[rid].spec
    trainer = Trainer(spec)
    state = trainer.init_state()
    for step in (0, 15, 25):
        if step:
            state, _ = trainer.advance(state, step - int(state["step"]))
        want = dense_top(plan, rid, state["params"], 1)
        np.testing.assert_allclose(table.loc[table.step == step, "eigenvalue"], want, rtol=1e-5)


def test_invalid_requests_are_refused(trained) -> None:
    plan, rid = trained
    with pytest.raises(ValueError, match="no state at steps"):
        hessian_spectrum(load_run(plan, rid), probe(steps=[STEPS + 1]))
    with pytest.raises(ValidationError, match="largest"):
        probe(method="lobpcg", which="LM")
    with pytest.raises(ValueError, match="5 k"):
        hessian_spectrum(load_run(plan, rid), probe(method="lobpcg", k=2, steps=[10]))


def test_probe_in_a_figure_yaml_validates(tmp_path: Path) -> None:
    import yaml

    cfg = write_config(tmp_path, {"rv": RIVER})
    doc_path = tmp_path / "config" / "papers" / "wsd.yaml"
    doc = yaml.safe_load(doc_path.read_text())
    probe_yaml = {"kind": "hessian_spectrum", "run": "rv", "k": 2, "steps": [10, 20]}
    doc["figures"]["fig04"]["probes"] = {"rv_spectrum": probe_yaml}
    doc_path.write_text(yaml.safe_dump(doc))
    plan = load_plan(cfg)
    (pid,) = [p for p, r in plan.probes.items() if r.spec.kind == "hessian_spectrum"]
    assert plan.probes[pid].run_id == rid_of(plan, "rv")
