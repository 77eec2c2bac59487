"""Validation-loss readings of language-model runs, shared by the WSD LM figures.

A loss compared at a budget is the run's own evaluation at that exact step; a diverged run reads
as +inf at and after the point where it stopped (worse than anything).
"""

from __future__ import annotations

import math

import pandas as pd

from optdyn.figures.diverged import finite_metrics
from optdyn.train.results import RunResult


def val_curve(run: RunResult) -> pd.Series:
    """Validation loss by step, at the run's evaluated steps only (a diverged run's up to its last
    finite one)."""
    if "val_loss" not in run.metrics:
        raise ValueError(f"run {run.run_id} logged no val_loss (a language-model run is needed)")
    df = finite_metrics(run, "val_loss")
    return pd.Series(df["val_loss"].to_numpy(float), index=df["step"].to_numpy(int), name=run.run_id)


def val_frame(run: RunResult) -> pd.DataFrame:
    """``val_curve`` as tidy (step, val_loss) rows."""
    return val_curve(run).rename("val_loss").rename_axis("step").reset_index()


def loss_at(run: RunResult, curve: pd.Series, step: int) -> float:
    """``curve`` (the run's ``val_curve``) at ``step``."""
    if step in curve.index:
        return float(curve.loc[step])
    if run.diverged and step > curve.index.max():
        return math.inf
    raise ValueError(f"run {run.run_id} has no validation loss at step {step}; make eval_every divide it")


def final_loss(run: RunResult) -> float:
    """The validation loss at the run's last step."""
    return math.inf if run.diverged else loss_at(run, val_curve(run), run.spec.steps)
