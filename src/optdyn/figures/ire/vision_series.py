"""Per-epoch series of the IRE paper's vision runs (``models/ire_vision.py`` logs, once an
evaluation): Tr F^, the full training-set loss, test accuracy; and the numbers the tables read."""

from __future__ import annotations

import numpy as np
import pandas as pd

from optdyn.figures import diverged
from optdyn.optim.optimizers import find

EVAL_COLUMNS = ("trace_fisher", "loss", "accuracy", "test_accuracy")


def epochs(run) -> pd.DataFrame:
    """One row per evaluation: epoch (step / the logged steps_per_epoch; runs logged before it
    was, step / eval_every: they evaluated once an epoch),
    trace_fisher, loss, accuracy, test_accuracy (and test_top_k_accuracy where logged)."""
    cols = [c for c in (*EVAL_COLUMNS, "test_top_k_accuracy") if c in run.metrics]
    df = diverged.finite_metrics(run, "trace_fisher").sort_values("step")
    df = df[["step", *cols]].dropna(subset=["trace_fisher"]).copy()
    df["epoch"] = df["step"] / _steps_per_epoch(run)
    return df.reset_index(drop=True)


def _steps_per_epoch(run) -> int:
    logged = run.metrics["steps_per_epoch"].dropna() if "steps_per_epoch" in run.metrics else []
    return int(logged.iloc[0]) if len(logged) else max(int(run.spec.eval_every or 1), 1)


def final(run, column: str, last: int = 1) -> float:
    """The mean of ``column`` over the last ``last`` evaluations (NaN for a diverged run)."""
    if run.diverged:
        return float("nan")
    df = epochs(run)
    return float(df[column].tail(last).mean()) if len(df) else float("nan")


def best(run, column: str = "test_accuracy") -> float:
    """The best value over the evaluations, as the authors' scripts print it (NaN if diverged)."""
    if run.diverged:
        return float("nan")
    df = epochs(run)
    return float(df[column].max()) if len(df) else float("nan")


def ire_start_epoch(run) -> float | None:
    """The epoch IRE was switched on at: the train_loss_below rule's logged step, else the
    spec's fixed start (None: not an IRE run, or the rule never fired)."""
    ire = find(run.spec.optimizer, "ire")
    if ire is None:
        return None
    per_epoch = _steps_per_epoch(run)
    if "ire_start" in run.metrics:
        fired = run.metrics["ire_start"].dropna()
        fired = fired[fired >= 0]
        return float(fired.iloc[0]) / per_epoch if len(fired) else None
    start = ire.start
    return float(start.epoch) if hasattr(start, "epoch") else float(start) / per_epoch


def inversions(values) -> int:
    """Adjacent pairs out of strictly decreasing order."""
    v = np.asarray(values, float)
    return int(np.sum(~(v[1:] < v[:-1])))


def members(ctx, name: str) -> list[tuple[dict, object]]:
    """A sweep's (values, run) pairs, or [({}, run)] for a plain run of that name."""
    if name in ctx.runs:
        return [({}, ctx.runs[name])]
    return ctx.group(name)
