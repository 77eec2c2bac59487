"""One training job: resume or branch, train in chunks, checkpoint, log, finish with a status.

A run that produces a non-finite (or over-threshold) loss ends with ``status: diverged`` and
its metrics up to that step: divergence is a result the figures draw, not a crash.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from optdyn.spec.load import Plan, ResolvedRun
from optdyn.spec.identity import canonical

from .checkpoint import Checkpoints
from .metrics import MetricsLog, frame
from .provenance import record, write_json
from .trainer import Trainer


class BranchError(RuntimeError):
    pass


def train_run(plan: Plan, rid: str) -> dict:
    run = plan.runs[rid]
    run_dir = plan.run_dir(rid)
    status_path = run_dir / "status.json"
    run_dir.mkdir(parents=True, exist_ok=True)
    write_json(run_dir / "spec.json", {"run_id": rid, "parent": run.parent, "used_by": run.used_by,
                                        "spec": run.spec.model_dump(mode="json"), "hashed": canonical(run.spec, run.parent, run.dataset)})
    started = time.time()
    spec = run.spec
    trainer = Trainer(spec, _data_root(plan))
    ckpts = Checkpoints(run_dir / "checkpoints")
    log = MetricsLog(run_dir)
    template = trainer.init_state()
    latest = ckpts.latest_at_most(spec.steps)
    if latest is not None:
        state, start, origin = ckpts.restore(latest, template), latest, f"resumed from checkpoint {latest}"
    elif run.parent is not None:
        start = spec.branch_from.step
        state, origin = _restore_parent(plan, run, template), f"branched from {run.parent} at step {start}"
    else:
        state, start, origin = template, 0, "initialized"
    log.resume(start)
    if latest is None:
        _log_eval(trainer, state, start, log)

    keep = set(run.checkpoint_steps) | {spec.steps}
    periodic = spec.checkpoint_every
    bounds = set(range(start + spec.eval_every - start % spec.eval_every, spec.steps, spec.eval_every))
    bounds |= {s for s in keep if start < s <= spec.steps} | {spec.steps}
    if periodic:
        bounds |= set(range(start + periodic - start % periodic, spec.steps, periodic))
    status = {"run_id": rid, "status": "completed", "steps": spec.steps, "origin": origin}
    t = start
    bar = tqdm(total=spec.steps, initial=start, desc=rid, unit="step", disable=not spec.progress, mininterval=1.0)
    for b in sorted(x for x in bounds if x > start):  # a finished run resumed at its end trains nothing
        state, logged = trainer.advance(state, b - t)
        bad = _first_bad(logged["batch_loss"], spec.divergence_threshold)
        if bad is not None:
            log.add(frame(np.arange(t, t + bad + 1), {k: v[: bad + 1] for k, v in logged.items()}))
            status.update(status="diverged", diverged_at=t + bad, steps_done=t + bad)
            break
        log.add(frame(np.arange(t, b), logged))
        bar.update(b - t)
        t = b
        if b % spec.eval_every == 0 or b == spec.steps:
            values = _log_eval(trainer, state, b, log)
            if "loss" in values and _first_bad(np.atleast_1d(values["loss"]), spec.divergence_threshold) is not None:
                status.update(status="diverged", diverged_at=b, steps_done=b)
                break
        if b in keep or (periodic and b % periodic == 0):
            # rows first: a kill between the two then resumes from the previous checkpoint, which
            # drops this partial file, instead of from this checkpoint without its rows
            log.flush(b)
            ckpts.save(b, state)
            _prune_periodic(ckpts, keep, b)
    bar.close()
    metrics = log.collect()
    metrics.to_parquet(run_dir / "metrics.parquet")
    ckpts.close()
    wall = time.time() - started
    write_json(run_dir / "provenance.json", record(run_id=rid, parent=run.parent, spec=spec.model_dump(mode="json"), wall_time_s=wall, origin=origin))
    status["wall_time_s"] = round(wall, 3)
    write_json(status_path, status)
    return status


def _data_root(plan: Plan) -> Path:
    return Path(plan.config.resources) / "data"


def _log_eval(trainer: Trainer, state: dict, step: int, log: MetricsLog) -> dict:
    values = trainer.evaluate(state)
    log.add(frame(np.array([step]), {k: np.asarray(v)[None] for k, v in values.items()}))
    return values


def _first_bad(losses: np.ndarray, threshold: float | None) -> int | None:
    losses = np.asarray(losses, dtype=np.float64)
    bad = ~np.isfinite(losses)
    if threshold is not None:
        bad |= losses > threshold
    idx = np.flatnonzero(bad)
    return int(idx[0]) if idx.size else None


def _prune_periodic(ckpts: Checkpoints, keep: set[int], current: int) -> None:
    """Periodic checkpoints exist for resuming: only the newest one is worth its disk space."""
    for s in ckpts.steps():
        if s < current and s not in keep:
            ckpts.delete(s)


def _restore_parent(plan: Plan, run: ResolvedRun, template: dict) -> dict:
    step = run.spec.branch_from.step
    parent_dir = plan.run_dir(run.parent)
    ckpts = Checkpoints(parent_dir / "checkpoints")
    if step not in ckpts.steps():
        _materialize(plan, run.parent, step, ckpts)
    try:
        return ckpts.restore(step, template)
    except (ValueError, KeyError, TypeError) as exc:
        raise BranchError(f"run {run.run_id}: cannot continue {run.parent} at step {step} "
                          f"(optimizer or model differs from the parent's?): {exc}") from None
    finally:
        ckpts.close()


def _materialize(plan: Plan, parent_id: str, step: int, ckpts: Checkpoints) -> None:
    """The parent was trained before this branch point was declared: replay it (training is a
    pure function of seed and step) from its nearest earlier checkpoint up to ``step``."""
    parent = plan.runs[parent_id]
    status = Path(plan.run_dir(parent_id) / "status.json")
    diverged_at = json.loads(status.read_text()).get("diverged_at") if status.exists() else None
    if diverged_at is not None and diverged_at <= step:
        raise BranchError(f"parent {parent_id} diverged at step {diverged_at}; it has no state at step {step} to branch from")
    trainer = Trainer(parent.spec, _data_root(plan))
    template = trainer.init_state()
    base = ckpts.latest_at_most(step)
    state = ckpts.restore(base, template) if base is not None else template
    state, _ = trainer.advance(state, step - (base or 0))
    ckpts.save(step, state)
