"""AdmIRE on a LLaMA through the real trainer: kappa = 0 is AdamW (weight decay, clipping) bit
for bit; a killed run resumes bit-exactly across a mask refresh; the train_loss_below rule fires
at the first epoch whose mean batch loss is below the threshold, is logged, and resumes exactly."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from optdyn.data.prepare import prepare
from optdyn.spec.paper import RunSpec
from optdyn.train.checkpoint import Checkpoints
from optdyn.train.trainer import Trainer, steps_per_epoch
from train_helpers import advance_one_by_one, assert_trees_equal

MODEL = {"name": "llama", "hidden": 32, "intermediate": 64, "layers": 1, "heads": 2, "seq_len": 16, "batch_size": 8,
         "eval_windows": 8}
ADAMW = {"name": "adamw", "weight_decay": 0.1, "grad_clip": 1.0, "eps": 1e-16}  # the authors' LLM eps


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    data = tmp_path_factory.mktemp("resources") / "data"
    # 896 train tokens: an epoch is 896 // (8 x 16) = 7 steps
    prepare("lm", "markov", {"vocab": 32, "train_tokens": 896, "val_tokens": 400, "seed": 0}, data)
    return data


def _spec(optimizer: dict, steps: int = 12, warmup: int = 0) -> RunSpec:
    raw = {"model": MODEL, "data": {"name": "prepared", "dataset": "lm"}, "optimizer": optimizer, "steps": steps, "seed": 1,
           "schedule": {"name": "cosine", "peak_lr": 1e-2, "warmup_steps": warmup, "total_steps": steps}, "progress": False}
    return RunSpec.model_validate_json(json.dumps(raw))


def _admire(**kw) -> dict:
    return {"name": "ire", "kappa": 2.0, "gamma": 0.6, "every": 4, "base": ADAMW} | kw


@pytest.mark.slow  # two LLaMA compilations
def test_kappa_zero_admire_is_adamw_bit_for_bit_on_the_llama(root):
    base, _ = Trainer(_spec(ADAMW), root).advance(Trainer(_spec(ADAMW), root).init_state(), 12)
    ire_trainer = Trainer(_spec(_admire(kappa=0.0, every=3)), root)
    state, logged = ire_trainer.advance(ire_trainer.init_state(), 12)
    assert_trees_equal(base["params"], state["params"])
    assert logged["ire_flat_fraction"][0] > 0  # the mask was computed, and changed nothing


@pytest.mark.slow  # one LLaMA compilation
def test_train_loss_below_fires_at_the_right_epoch_and_a_killed_run_resumes_exactly(root, tmp_path):
    spec = _spec(_admire(start={"train_loss_below": 3.3}), steps=28)
    trainer = Trainer(spec, root)
    assert steps_per_epoch(trainer.problem) == 7
    straight, logged = advance_one_by_one(trainer, trainer.init_state(), 28)
    means = logged["batch_loss"].reshape(4, 7).astype(np.float64).mean(axis=1)
    below = np.flatnonzero(means < 3.3)
    assert below.size and below[0] < 3, f"epoch means {means}: pick a threshold the run crosses"
    fired = 7 * (below[0] + 1)
    # logged when it fires: the step's row after the epoch's last update carries the start step
    np.testing.assert_array_equal(logged["ire_start"], np.where(np.arange(28) >= fired - 1, fired, -1))
    assert np.all(logged["ire_flat_fraction"][:fired] == 0) and logged["ire_flat_fraction"][fired] > 0
    # killed mid-epoch before it fired, and after it fired between the refreshes at fired + 4k
    for at in (fired - 3, fired + 6):
        state, _ = advance_one_by_one(trainer, trainer.init_state(), at)
        ckpts = Checkpoints(tmp_path / f"ckpt{at}")
        ckpts.save(at, state)
        restored = ckpts.restore(at, Trainer(spec, root).init_state())
        ckpts.close()
        resumed, _ = advance_one_by_one(trainer, restored, 28 - at)
        assert_trees_equal(straight, resumed)
