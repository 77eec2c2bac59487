"""A training chunk reads its learning rates from a table of the schedule's values, and takes the
data key as an argument: runs that differ only in seed or schedule compile one program."""

from __future__ import annotations

import json

import jax
import jax.numpy as jnp
import numpy as np

from optdyn.optim.schedules import build_schedule
from optdyn.spec.paper import RunSpec
from optdyn.train.trainer import Trainer

WSD = {"name": "wsd", "peak_lr": 0.05, "warmup_steps": 3, "decays": [[8, 12]], "shape": "inverse_proportional",
       "min_lr_ratio": 0.1}
COSINE = {"name": "cosine", "peak_lr": 0.02, "warmup_steps": 2, "total_steps": 12}


def _spec(schedule: dict, seed: int = 0, momentum: float = 0.9) -> RunSpec:
    return RunSpec.model_validate_json(json.dumps({
        "model": {"name": "quadratic_river"}, "schedule": schedule, "steps": 12, "seed": seed, "progress": False,
        "optimizer": {"name": "sgd", "momentum": momentum}}))


def _chunk_program(spec: RunSpec, n: int = 6) -> str:
    trainer = Trainer(spec)
    state = trainer.init_state()
    trainer.advance(state, n)
    return trainer._chunks[n].lower(state, trainer.data_key, trainer.schedule.table(0, n)).as_text()


def test_the_logged_learning_rates_are_the_schedules_values():
    for schedule in (WSD, COSINE):
        spec = _spec(schedule)
        trainer = Trainer(spec)
        state, first = trainer.advance(trainer.init_state(), 5)
        _, rest = trainer.advance(state, 7)  # a second chunk reads its own table, from step 5
        want = np.asarray(build_schedule(spec.schedule)(np.arange(12)))
        np.testing.assert_allclose(np.concatenate([first["lr"], rest["lr"]]), want, rtol=1e-6)
        assert want[0] == 0.0 and want.max() > 0.0


def test_runs_that_differ_in_seed_or_schedule_compile_one_program():
    base = _chunk_program(_spec(WSD))
    assert _chunk_program(_spec(WSD, seed=7)) == base
    assert _chunk_program(_spec({**WSD, "peak_lr": 0.01, "decays": [[6, 12]]})) == base
    assert _chunk_program(_spec(COSINE)) == base
    # an optimizer constant is still part of the program
    assert _chunk_program(_spec(WSD, momentum=0.5)) != base


def test_outside_a_chunk_the_schedule_is_the_schedule_itself():
    trainer = Trainer(_spec(WSD))
    direct = build_schedule(_spec(WSD).schedule)
    for t in (0, 2, 5, 9, 11):
        assert float(trainer.schedule(t)) == float(direct(t))
    assert float(jax.jit(trainer.schedule)(9)) == float(jax.jit(direct)(9))


def test_the_optimizer_reads_the_same_learning_rates_as_the_schedule_in_the_step(monkeypatch):
    """The table is indexed by the optimizer's own step count: a run with it matches, to float32
    rounding, the same run with the schedule computed inside the step (an off-by-one would not)."""
    from contextlib import nullcontext

    from optdyn.train.trainer import ChunkSchedule

    spec = _spec({**WSD, "peak_lr": 0.5})
    tabled = Trainer(spec)
    state, _ = tabled.advance(tabled.init_state(), 7)
    state, _ = tabled.advance(state, 5)
    monkeypatch.setattr(ChunkSchedule, "reading", lambda self, values, first: nullcontext())
    inline = Trainer(spec)
    ref, _ = inline.advance(inline.init_state(), 12)
    for a, b in zip(jax.tree.leaves(state["params"]), jax.tree.leaves(ref["params"])):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-7)
    # the same check fails on a table shifted by one step
    monkeypatch.undo()
    monkeypatch.setattr(ChunkSchedule, "table", lambda self, first, n: self._values(jnp.arange(first + 1, first + n + 1)))
    shifted = Trainer(spec)
    other, _ = shifted.advance(shifted.init_state(), 12)
    assert not all(np.allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-7)
                   for a, b in zip(jax.tree.leaves(other["params"]), jax.tree.leaves(ref["params"])))
