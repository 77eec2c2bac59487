"""Probes of the `ire` paper: Table 4's wall-clock cost of AdmIRE against AdamW."""

from __future__ import annotations

import time

import jax
import pandas as pd

from optdyn.registry import probe_kind
from optdyn.spec.problems.ire import StepTime
from optdyn.train.trainer import Trainer


def _timed(trainer: Trainer, state: dict, steps: int) -> tuple[dict, float]:
    start = time.perf_counter()
    state, _ = trainer.advance(state, steps)
    jax.block_until_ready(state)
    return state, time.perf_counter() - start


@probe_kind(StepTime)
def ire_step_time(run, spec: StepTime) -> pd.DataFrame:
    """One row per (repeat, optimizer): seconds per step of a ``spec.steps``-step chunk.

    Every trainer starts from the same initial state and compiles its chunk (and takes one
    untimed chunk) before any timing. The chunks start at step 0 of the run's schedule, where IRE
    with start 0 refreshes at 0, K, 2K...: the rule of the run's own IRE start is irrelevant to
    cost, so the timed IRE starts at 0. Optimizers take turns within each repeat (AdamW first),
    so a change of the machine's load hits a ratio's two chunks alike."""
    base = run.spec.optimizer
    specs = {"adamw": run.spec}
    for k in spec.every:
        ire = {"name": "ire", "kappa": spec.kappa, "gamma": spec.gamma, "every": k, "start": 0, "base": base.model_dump(mode="json")}
        specs[f"K={k}"] = run.spec.model_copy(update={"optimizer": type(run.spec).model_validate(
            {**run.spec.model_dump(mode="json"), "optimizer": ire}).optimizer})
    trainers = {name: Trainer(s, run.data_root) for name, s in specs.items()}
    states = {}
    for name, trainer in trainers.items():  # compile, and one warm chunk
        states[name], _ = _timed(trainer, trainer.init_state(), spec.steps)
    rows = []
    for repeat in range(spec.repeats):
        for name, trainer in trainers.items():
            states[name], seconds = _timed(trainer, states[name], spec.steps)
            rows.append({"repeat": repeat, "optimizer": name, "every": 0 if name == "adamw" else int(name[2:]),
                         "seconds_per_step": seconds / spec.steps, "steps": spec.steps, "device": jax.devices()[0].platform})
    return pd.DataFrame(rows)
