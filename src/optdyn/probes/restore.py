"""A finished run's parameters at any step, for the probes.

Each step is restored from the run's Orbax checkpoint there, or replayed from the nearest
earlier one (training is a pure function of seed and step). A branch run starts from its
parent's checkpoint at the branch point, which its training materialized.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import jax

from optdyn.train.checkpoint import Checkpoints
from optdyn.train.results import RunResult
from optdyn.train.trainer import Trainer


def first_step(run: RunResult) -> int:
    """The first step the run has a state of: its branch point, or 0."""
    return run.spec.branch_from.step if run.spec.branch_from is not None else 0


def last_step(run: RunResult) -> int:
    """The last step the run has a state of (a diverged run's last finite one)."""
    return run.status.get("steps_done", run.status.get("steps", run.spec.steps))


def check_steps(run: RunResult, steps: Iterable[int]) -> list[int]:
    lo, hi = first_step(run), last_step(run)
    bad = sorted(s for s in set(steps) if not lo <= s <= hi)
    if bad:
        raise ValueError(f"run {run.run_id} has no state at steps {bad}: it covers steps {lo}..{hi} "
                         f"({run.status.get('status')}{', branched at ' + str(lo) if lo else ''})")
    return sorted(set(steps))


def params_at(run: RunResult, steps: Iterable[int] | None = None, trainer: Trainer | None = None) -> dict[int, Any]:
    """Host params at each step (None: every checkpoint the run has), in the run's dtype."""
    trainer = trainer or run.trainer()  # the run's problem and schedule, in the run's dtype
    ckpts = Checkpoints(run.dir / "checkpoints")
    try:
        steps = ckpts.steps() if steps is None else check_steps(run, steps)
        return _replay(run, trainer, ckpts, steps)
    finally:
        ckpts.close()


def _replay(run: RunResult, trainer: Trainer, ckpts: Checkpoints, steps: list[int]) -> dict[int, Any]:
    template = trainer.init_state()
    out, cur_step, cur = {}, None, None
    for s in steps:
        base = ckpts.latest_at_most(s)
        if cur_step is None or (base is not None and base > cur_step):
            cur_step, cur = (base, ckpts.restore(base, template)) if base is not None else _start(run, template)
        if s > cur_step:
            cur, _ = trainer.advance(cur, s - cur_step)
            cur_step = s
        out[s] = jax.device_get(cur["params"])
    return out


def _start(run: RunResult, template: dict) -> tuple[int, dict]:
    """The state a run began from: its initialization, or its parent's at the branch point."""
    if run.spec.branch_from is None:
        return 0, template
    step = run.spec.branch_from.step
    parent = json.loads((run.dir / "spec.json").read_text())["parent"]
    ckpts = Checkpoints(run.dir.parent / parent / "checkpoints")
    try:
        return step, ckpts.restore(step, template)
    finally:
        ckpts.close()
