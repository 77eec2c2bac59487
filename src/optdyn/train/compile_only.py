"""Check-tier runs too big to step here are compiled instead (docs/check-tier.md).

A check-tier run (``spec/check_tier.py`` marks it ``compile_over_budget``) first gets its cost
estimate (``train/cost.py``) at the paper's shapes. It **steps** when that fits this machine's
budget, ``BUDGET_BYTES`` of memory per device and ``BUDGET_FLOPS`` per step (3 steps and two
evaluations then take seconds to a minute on one CPU core); otherwise it is **compiled only**:
the real training step is lowered and compiled with the real shapes and sharding
(``jit(step).lower(state, batch).compile()``, from ``jax.eval_shape``: no parameter is
allocated), so shape, dtype and sharding errors surface, and XLA's memory analysis is recorded
beside the estimate. Nothing is trained: the run's status is ``compiled_only`` with
``steps_done: 0``, its metrics table is empty and its checkpoint folder holds nothing. Figures
draw such runs as "compiled only, not stepped" (``figures/check_panel.py``) and their claims are
not evaluated. A branch of a compiled-only parent is compiled only too (there is no state to
branch from).

Every check-tier run, stepped or not, records its cost under ``status.json``'s ``cost`` key;
the check tier's report shows it (``report/cost.py``).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pandas as pd

from .cost import Estimate, abstract_batch, estimate, human, step_fn, xla_bytes

#: a run steps here when its estimate is within both (memory per device, FLOPs per step)
BUDGET_BYTES = 2 * 2**30
BUDGET_FLOPS = 2e10
COMPILED_ONLY = "compiled_only"


def over_budget(est: Estimate) -> str | None:
    """Why ``est`` does not step on this machine, or None when it does."""
    why = []
    if est.per_device() > BUDGET_BYTES:
        why.append(f"~{human(est.per_device())}/device > {human(BUDGET_BYTES)}")
    if est.flops_step > BUDGET_FLOPS:
        why.append(f"{human(est.flops_step, '')}FLOP/step > {human(BUDGET_FLOPS, '')}FLOP")
    return " and ".join(why) or None


def real_examples_of(dataset: dict | None) -> int | None:
    """The real training set's size where the check-tier dataset is a smaller fake."""
    from optdyn.data.fake_formats import real_examples

    if not dataset or dataset.get("kind") != "fake":
        return None
    real = dataset["params"]["of"]
    return real_examples(real["kind"], real["params"])


def real_rows_of(trainer, dataset: dict | None) -> int | None:
    """The real examples per step of a full-batch run whose check-tier dataset is a smaller fake."""
    from .plan_cost import real_rows

    return real_rows(trainer, real_examples_of(dataset))


def cost_record(est: Estimate, compiled_bytes: int | None = None) -> dict[str, Any]:
    """What the report shows of a run's cost (bytes, FLOPs, the smallest fitting device)."""
    fit = est.fit()
    out = {"params": est.params, "estimate_bytes": est.per_device(), "parts": est.parts(),
           "flops_step": est.flops_step, "flops_total": est.flops_total, "microbatches": est.microbatches,
           "smallest_device": est.fit_text(), "fits": fit is not None, "notes": list(est.notes),
           "budget": {"bytes": BUDGET_BYTES, "flops_step": BUDGET_FLOPS}}
    if compiled_bytes is not None:
        out["compiled_bytes"] = compiled_bytes
        out["estimate_over_compiled"] = round(est.per_device() / compiled_bytes, 3) if compiled_bytes else None
    return out


def plan_here(trainer, dataset: dict | None) -> tuple[Estimate, str | None]:
    """The run's estimate at the paper's shapes and why it does not step here (None: it steps)."""
    est = estimate(trainer, real_rows_of(trainer, dataset), examples=real_examples_of(dataset))
    return est, over_budget(est)


def compile_step(trainer, est: Estimate, dataset: dict | None) -> int:
    """Lower and compile the real step at the paper's shapes; XLA's peak bytes."""
    import jax

    state = jax.eval_shape(trainer.init_state)
    batch = abstract_batch(trainer, real_rows_of(trainer, dataset))
    compiled = jax.jit(step_fn(trainer)).lower(state, batch).compile()
    return xla_bytes(compiled)


def write_compiled_only(run, trainer, est: Estimate, why: str, out_dir: Path, started: float) -> dict:
    """Compile the run's step and leave the run folder as a run that was not stepped."""
    from .provenance import record, write_json

    compiled = compile_step(trainer, est, run.dataset)
    (out_dir / "checkpoints").mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"step": pd.Series([], dtype="int64")}).to_parquet(out_dir / "metrics.parquet")
    wall = time.time() - started
    origin = f"compiled only, not stepped ({why})"
    cost = cost_record(est, compiled) | {"ran": COMPILED_ONLY}
    write_json(out_dir / "provenance.json", record(run_id=run.run_id, parent=run.parent, spec=run.spec.model_dump(mode="json"),
                                                   wall_time_s=wall, origin=origin, cost=cost))
    status = {"run_id": run.run_id, "status": COMPILED_ONLY, "steps": run.spec.steps, "steps_done": 0, "origin": origin,
              "reason": why, "cost": cost, "wall_time_s": round(wall, 3)}
    write_json(out_dir / "status.json", status)
    return status


def parent_not_stepped(parent_dir: Path | None) -> bool:
    if parent_dir is None or not (parent_dir / "status.json").exists():
        return False
    return json.loads((parent_dir / "status.json").read_text()).get("status") == COMPILED_ONLY


def check_cost(run, trainer, out_dir: Path, parent_dir: Path | None, started: float) -> tuple[dict | None, dict]:
    """For a check-tier run: (the compiled-only status, its cost) when it does not step here,
    else (None, its cost) and the caller steps it. A run whose estimate fails (a toy with no
    batch) steps: stepping raises any real error of its problem."""
    try:
        est, why = plan_here(trainer, run.dataset)
    except (ValueError, TypeError, NotImplementedError, AttributeError) as exc:
        return None, {"error": f"no estimate: {exc}"}
    if why is None and parent_not_stepped(parent_dir):
        why = "its parent was compiled only"
    if why is None:
        return None, cost_record(est) | {"ran": "stepped"}
    return write_compiled_only(run, trainer, est, why, out_dir, started), {}
