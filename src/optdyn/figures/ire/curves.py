"""Loss curves of the IRE paper's language-model figures, and the speed-up read off them
(catalog sec. 5, "shared metric definitions"):

    speed-up = T_ref / first step at which the candidate's (smoothed) curve is <= the reference
               run's final value

The training loss is the per-step batch loss, smoothed by an EMA (noisy: one batch per step);
the validation loss is evaluated on fixed windows (deterministic), so it is read as logged."""

from __future__ import annotations

import numpy as np
import pandas as pd


def ema(values: np.ndarray, decay: float) -> np.ndarray:
    """y_0 = x_0, y_t = decay y_{t-1} + (1 - decay) x_t."""
    out = np.empty(len(values), dtype=np.float64)
    acc = float(values[0]) if len(values) else 0.0
    for i, x in enumerate(np.asarray(values, dtype=np.float64)):
        acc = decay * acc + (1 - decay) * x
        out[i] = acc
    return out


def train_curve(run, decay: float) -> pd.DataFrame:
    """(step, loss): the EMA of the batch loss of update ``step``'s batch, at the params after
    ``step`` updates counted as step + 1 (the loss at params_t is logged with update t)."""
    df = run.metrics.dropna(subset=["batch_loss"]).sort_values("step")
    return pd.DataFrame({"step": df["step"].to_numpy() + 1, "loss": ema(df["batch_loss"].to_numpy(), decay)})


def val_curve(run) -> pd.DataFrame:
    """(step, loss): the logged validation loss at its evaluation steps."""
    df = run.metrics.dropna(subset=["val_loss"]).sort_values("step")
    return pd.DataFrame({"step": df["step"].to_numpy(), "loss": df["val_loss"].to_numpy(dtype=np.float64)})


def first_reach(curve: pd.DataFrame, target: float) -> int | None:
    """The first step at which ``curve`` is at or below ``target`` (None: never)."""
    hit = np.flatnonzero(curve["loss"].to_numpy() <= target)
    return int(curve["step"].iloc[hit[0]]) if hit.size else None


def speedup(reference_steps: int, curve: pd.DataFrame, target: float) -> float | None:
    reached = first_reach(curve, target)
    return None if reached is None else reference_steps / max(reached, 1)


def spearman(x, y) -> float:
    """Spearman's rank correlation (average ranks for ties)."""
    rx, ry = pd.Series(x).rank().to_numpy(), pd.Series(y).rank().to_numpy()
    if np.std(rx) == 0 or np.std(ry) == 0:
        return float("nan")
    return float(np.corrcoef(rx, ry)[0, 1])
