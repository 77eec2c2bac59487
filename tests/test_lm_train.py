"""Language models through the real trainer: the loss falls on a Markov language, gradient
accumulation is the full-batch gradient, a killed LM run resumes exactly and a WSD decay branch
continues from the main run's checkpoint exactly."""

from __future__ import annotations

import json
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import yaml
from pandas.testing import assert_frame_equal
from train_helpers import (
    assert_trees_equal,
    ckpt_steps,
    from_step,
    metrics,
    read_json,
    rid_of,
    write_config,
)

from optdyn.data.prepare import prepare
from optdyn.spec.load import load_plan
from optdyn.spec.paper import RunSpec
from optdyn.train import run as run_mod
from optdyn.train.checkpoint import Checkpoints
from optdyn.train.run import train_run
from optdyn.train.trainer import Trainer

DATASET = {"kind": "markov", "vocab": 32, "train_tokens": 20000, "val_tokens": 2000, "seed": 0}
MODEL = {"name": "llama", "hidden": 32, "intermediate": 64, "layers": 1, "heads": 2, "seq_len": 16, "batch_size": 8,
         "eval_windows": 8}
ADAMW = {"name": "adamw", "weight_decay": 0.1, "grad_clip": 1.0}


def _run(model: dict | None = None, **kw) -> dict:
    return {"model": MODEL | (model or {}), "data": {"name": "prepared", "dataset": "lm"}, "optimizer": ADAMW,
            "schedule": {"name": "constant", "lr": 1e-2}, "steps": 40, "seed": 1, "progress": False} | kw


def _spec(**kw) -> RunSpec:
    return RunSpec.model_validate_json(json.dumps(_run(**kw)))


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    data = tmp_path_factory.mktemp("resources")
    prepare("lm", DATASET["kind"], {k: v for k, v in DATASET.items() if k != "kind"}, data / "data")
    return data


@pytest.fixture
def shared_trainers(monkeypatch):
    """train_run builds one Trainer per job; here jobs of the same spec share one, so the
    jitted chunks compile once per spec (the state still goes through the checkpoints on disk)."""
    made: dict = {}

    def trainer(spec, data_root):
        key = (spec.model_dump_json(), str(data_root))
        if key not in made:
            made[key] = Trainer(spec, data_root)
        return made[key]

    monkeypatch.setattr(run_mod, "Trainer", trainer)
    return trainer


def _plan(tmp: Path, resources: Path, runs: dict):
    cfg = write_config(tmp, runs)
    doc = yaml.safe_load(cfg.read_text()) | {"resources": str(resources)}
    cfg.write_text(yaml.safe_dump(doc))
    (cfg.parent / "data.yaml").write_text(yaml.safe_dump({"datasets": {"lm": DATASET}}))
    return load_plan(cfg)


def _restore(plan, rid: str, step: int, template: dict) -> dict:
    ckpts = Checkpoints(plan.run_dir(rid) / "checkpoints")
    try:
        return ckpts.restore(step, template)
    finally:
        ckpts.close()


@pytest.mark.slow  # > 1.5 s: kept out of the fast unit run (pytest -m 'not slow')
def test_validation_loss_falls_on_a_markov_language(root):
    trainer = Trainer(_spec(), data_root=root / "data")
    state = trainer.init_state()
    before = float(trainer.evaluate(state)["val_loss"])
    assert before == pytest.approx(np.log(32), abs=0.1)  # N(0, 0.02^2) init: near-uniform predictions
    state, logged = trainer.advance(state, 60)
    after = float(trainer.evaluate(state)["val_loss"])
    assert np.all(np.isfinite(logged["batch_loss"])) and after < before - 0.5


@pytest.mark.slow  # > 1.5 s: kept out of the fast unit run (pytest -m 'not slow')
def test_accumulated_gradient_equals_the_full_batch_gradient(root):
    full = Trainer(_spec(), data_root=root / "data")
    accum = Trainer(_spec(model={"microbatches": 4}), data_root=root / "data")
    params = full.init_state()["params"]
    batch = full.problem.sample_batch(jax.random.PRNGKey(3))
    (l1, g1), (l4, g4) = jax.jit(full._value_and_grad)(params, batch), jax.jit(accum._value_and_grad)(params, batch)
    np.testing.assert_allclose(l4, l1, rtol=1e-6)
    for a, b in zip(jax.tree.leaves(g4), jax.tree.leaves(g1)):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-7)
    assert max(float(np.abs(g).max()) for g in jax.tree.leaves(g1)) > 1e-3


class Killed(BaseException):
    """Stands for a SIGKILL: nothing in train_run may catch it."""


@pytest.mark.slow  # > 1.5 s: kept out of the fast unit run (pytest -m 'not slow')
def test_killed_lm_run_resumes_to_the_uninterrupted_run(tmp_path, root, monkeypatch, shared_trainers):
    run = _run(checkpoint_every=10, eval_every=10)
    plan, ref_plan = _plan(tmp_path / "killed", root, {"lm": run}), _plan(tmp_path / "ref", root, {"lm": run})
    rid = rid_of(plan, "lm")
    real = Checkpoints.save

    def dying(self, step, state):
        real(self, step, state)
        if step == 20:
            raise Killed

    monkeypatch.setattr(Checkpoints, "save", dying)
    with pytest.raises(Killed):
        train_run(plan, rid)
    monkeypatch.setattr(Checkpoints, "save", real)
    assert not (plan.run_dir(rid) / "status.json").exists()
    status = train_run(plan, rid)
    assert status["status"] == "completed" and status["origin"] == "resumed from checkpoint 20"
    assert train_run(ref_plan, rid)["origin"] == "initialized"
    assert_frame_equal(metrics(plan, rid), metrics(ref_plan, rid), check_exact=True)
    template = shared_trainers(plan.runs[rid].spec, root / "data").init_state()
    assert_trees_equal(_restore(plan, rid, 40, template), _restore(ref_plan, rid, 40, template))


@pytest.mark.slow  # > 1.5 s: kept out of the fast unit run (pytest -m 'not slow')
def test_wsd_decay_branch_continues_the_main_lm_run_exactly(tmp_path, root, shared_trainers):
    d, t = 20, 30
    schedule = {"peak_lr": 1e-2, "decays": [[d, t]], "shape": "inverse_proportional"}
    wsd = _run(schedule={"name": "wsd", **schedule}, steps=None, eval_every=5)
    wsd_s = _run(schedule={"name": "wsd_s", **schedule}, steps=None, eval_every=5)
    plan = _plan(tmp_path, root, {"wsd": wsd, "wsd_s": wsd_s})
    main, branch, single = rid_of(plan, "wsd"), rid_of(plan, "wsd_decay1"), rid_of(plan, "wsd_s")
    assert train_run(plan, main)["steps"] == d and d in ckpt_steps(plan, main)
    status = train_run(plan, branch)
    assert status["status"] == "completed" and status["origin"] == f"branched from {main} at step {d}"
    train_run(plan, single)
    # the branch (restored params + Adam moments at step d, then decayed) is the continuous
    # WSD-S run from d on, bit for bit
    got, ref = metrics(plan, branch), from_step(metrics(plan, single), d)
    assert list(got.step) == list(range(d, t + 1))
    assert_frame_equal(got, ref[got.columns], check_exact=True)
    assert got.set_index("step")["val_loss"].dropna().iloc[-1] < got.set_index("step")["val_loss"].dropna().iloc[0]
    assert read_json(plan.run_dir(branch) / "provenance.json")["parent"] == main
    template = shared_trainers(plan.runs[single].spec, root / "data").init_state()
    assert_trees_equal(_restore(plan, branch, t, template), _restore(plan, single, t, template))


@pytest.mark.slow  # > 1.5 s: kept out of the fast unit run (pytest -m 'not slow')
def test_batches_are_windows_of_the_stream_and_val_loss_is_the_fixed_windows_mean():
    from optdyn.models.lm.problem import LMProblem, fixed_windows
    from optdyn.spec.components import Llama

    train = np.arange(1000) % 50
    val = (np.arange(300) * 7) % 50
    spec = Llama(**(MODEL | {"vocab_size": 50, "eval_windows": 11, "microbatches": 2}))
    problem = LMProblem(spec, train, val)
    batch = np.asarray(problem.sample_batch(jax.random.PRNGKey(0)))
    assert batch.shape == (8, 17) and batch.dtype == np.int32
    for row in batch:  # a contiguous slice of the stream: consecutive ids mod 50
        assert np.all((np.diff(row) % 50) == 1)
    windows = fixed_windows(val, 11, 16)
    assert windows[0, 0] == val[0] and windows[-1, -1] == val[-1]
    params = problem.init(jax.random.PRNGKey(1))
    want = float(jnp.mean(problem.token_losses(params, jnp.asarray(windows))))
    # 11 windows in chunks of one micro-batch (4): 5 padding windows must carry no weight
    assert float(jax.jit(problem.metrics)(params)["val_loss"]) == pytest.approx(want, rel=1e-6)
    assert float(problem.loss(params, jnp.asarray(batch))) == pytest.approx(float(jnp.mean(problem.token_losses(params, jnp.asarray(batch)))))
