"""One training job: resume or branch, train in chunks, checkpoint, log, finish with a status.

A run that produces a non-finite (or over-threshold) loss ends with ``status: diverged`` and
its metrics up to that step: divergence is a result the figures draw, not a crash.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

import jax

from optdyn.spec.identity import canonical
from optdyn.spec.load import Plan, ResolvedRun
from optdyn.spec.paper import RunSpec

from .checkpoint import Checkpoints
from .metrics import MetricsLog, frame
from .provenance import record, write_json
from .trainer import Trainer


class BranchError(RuntimeError):
    pass


def train_run(plan: Plan, rid: str) -> dict:
    """Train a run of the plan in the standard results layout (tests, interactive use)."""
    run = plan.runs[rid]
    return train(run, plan.run_dir(rid), parent_dir=plan.run_dir(run.parent) if run.parent else None, data_root=plan.data_root)


def train(run: ResolvedRun, out_dir: Path, *, parent_dir: Path | None = None, data_root: Path | None = None,
          work_dir: Path | None = None) -> dict:
    """Train ``run`` into ``out_dir``; a branch starts from the finished parent in ``parent_dir``.

    ``work_dir`` holds what a killed job resumes from (checkpoints, partial metrics); when it
    differs from ``out_dir`` the checkpoints move into ``out_dir`` at the end. The workflow uses
    a separate one because Snakemake deletes a failed job's declared outputs before rerunning it.
    """
    rid = run.run_id
    out_dir, work_dir = Path(out_dir), Path(work_dir or out_dir)
    status_path = out_dir / "status.json"
    out_dir.mkdir(parents=True, exist_ok=True)
    work_dir.mkdir(parents=True, exist_ok=True)
    write_json(out_dir / "spec.json", {"run_id": rid, "parent": run.parent, "used_by": run.used_by,
                                        "spec": run.spec.model_dump(mode="json"), "hashed": canonical(run.spec, run.parent, run.dataset)})
    started = time.time()
    spec = run.spec
    trainer = Trainer(spec, data_root or Path("resources/data"))
    cost = None
    if run.compile_over_budget:  # the check tier: too big to step here -> compile only (train/compile_only.py)
        from .compile_only import check_cost

        done, cost = check_cost(run, trainer, out_dir, parent_dir, started)
        if done is not None:
            return done
    ckpts = Checkpoints(work_dir / "checkpoints")
    log = MetricsLog(work_dir)
    template = trainer.init_state()
    latest = ckpts.latest_at_most(spec.steps)
    if latest is not None:
        state, start, origin = ckpts.restore(latest, template), latest, f"resumed from checkpoint {latest}"
    elif run.parent is not None:
        start = spec.branch_from.step
        state, origin = _restore_parent(run, parent_dir, trainer, template), f"branched from {run.parent} at step {start}"
        if spec.branch_from.reset_optimizer:
            state = {**state, "opt_state": template["opt_state"]}  # tx.init's state: zero momentum, fresh counts
            origin += " (optimizer state reset)"
        ckpts.save(start, state)  # the run's own first state: probes of this run need only its folder
    else:
        state, start, origin = template, 0, "initialized"
    log.resume(start)
    if latest is None:
        _log_eval(trainer, state, start, log)

    keep = set(run.checkpoint_steps) | {spec.steps} | ({spec.branch_from.step} if run.parent is not None else set())
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
    metrics.to_parquet(out_dir / "metrics.parquet")
    ckpts.close()
    if work_dir.resolve() != out_dir.resolve():
        _publish(work_dir, out_dir)
    wall = time.time() - started
    write_json(out_dir / "provenance.json", record(run_id=rid, parent=run.parent, spec=spec.model_dump(mode="json"), wall_time_s=wall, origin=origin,
                                                      **({"cost": cost} if cost is not None else {})))
    status["wall_time_s"] = round(wall, 3)
    if cost is not None:
        status["cost"] = cost
    write_json(status_path, status)
    return status


def _publish(work_dir: Path, out_dir: Path) -> None:
    """Move the finished run's checkpoints into its declared output folder; drop the scratch."""
    target = out_dir / "checkpoints"
    if target.exists():
        shutil.rmtree(target)
    shutil.move(str(work_dir / "checkpoints"), str(target))
    shutil.rmtree(work_dir, ignore_errors=True)


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


def _restore_parent(run: ResolvedRun, parent_dir: Path | None, trainer: Trainer, template: dict) -> dict:
    """The parent's state at the branch point: its checkpoint there, or (when the parent was
    trained before this branch point was declared) a replay from its nearest earlier checkpoint
    (training is a pure function of seed and step). Nothing is written into the parent's folder."""
    step = run.spec.branch_from.step
    if parent_dir is None:
        raise BranchError(f"run {run.run_id} branches from {run.parent}: pass that run's folder")
    status = Path(parent_dir) / "status.json"
    if not status.exists():
        raise BranchError(f"run {run.run_id} branches from {run.parent}, which has not finished ({status} missing)")
    diverged_at = json.loads(status.read_text()).get("diverged_at")
    if diverged_at is not None and diverged_at <= step:
        raise BranchError(f"parent {run.parent} diverged at step {diverged_at}; it has no state at step {step} to branch from")
    ckpts = Checkpoints(Path(parent_dir) / "checkpoints")
    try:
        base = ckpts.latest_at_most(step)
        if base == step:
            return ckpts.restore(step, template)
        parent = Trainer(_parent_spec(parent_dir), trainer.data_root)
        parent_template = parent.init_state()
        state = ckpts.restore(base, parent_template) if base is not None else parent_template
        state, _ = parent.advance(state, step - (base or 0))
        return _conform(state, template)
    except (ValueError, KeyError, TypeError) as exc:
        raise BranchError(f"run {run.run_id}: cannot continue {run.parent} at step {step} "
                          f"(optimizer or model differs from the parent's?): {exc}") from None
    finally:
        ckpts.close()


def _parent_spec(parent_dir: Path) -> RunSpec:
    meta = json.loads((Path(parent_dir) / "spec.json").read_text())
    return RunSpec.model_validate_json(json.dumps(meta["spec"]))


def _conform(state: dict, template: dict) -> dict:
    """A replayed parent state in the branch's structure (the check a checkpoint restore makes)."""
    if jax.tree.structure(state) != jax.tree.structure(template):
        raise ValueError(f"state structure {jax.tree.structure(state)} != {jax.tree.structure(template)}")
    return state
