"""Per-step series of a GD+WD run on a scale-invariant loss, and the statistics the figures share.

The trainer logs the loss and ||grad L(w_t)|| every step and the problem's metrics (||w||^2,
sharpness, ...) every ``eval_every`` steps. ||w_t||^2, hence the effective LR, follows exactly
from the logged gradient norms (Lemma E.1), so 2/eta~_t is known at every step.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.ticker import FuncFormatter
from scipy.signal import find_peaks

from optdyn.figures import diverged
from optdyn.theory import normsharp as th


def hyper(run) -> tuple[float, float]:
    """(eta, lambda) of a constant-LR GD+WD run. eta is the LR the trainer applied (its logged
    ``lr`` column): the schedule emits float32 even in float64 runs, and the 1.5e-8 relative
    rounding of 0.1 compounds through (1 - eta lambda)^t into the norm recursion."""
    logged = run.metrics["lr"].dropna()
    lr = float(logged.iloc[0]) if len(logged) else float(run.spec.schedule.lr)
    return lr, float(run.spec.optimizer.weight_decay)


def gdwd_frame(run) -> pd.DataFrame:
    """One row per step: the logged columns plus ``norm_sq_rec`` (Lemma E.1 from the first
    logged ||w||^2) and ``two_over_eta`` = 2/eta~_t."""
    df = diverged.finite_metrics(run).sort_values("step").reset_index(drop=True)  # a diverged run's up to its last finite step
    if not np.array_equal(np.diff(df["step"].to_numpy()), np.ones(len(df) - 1)):
        raise ValueError(f"run {run.run_id}: per-step rows are not contiguous")
    lr, wd = hyper(run)
    norm_sq = th.norm_sq_trajectory(df["norm_sq"].iloc[0], df["grad_norm"].to_numpy()[:-1], lr, wd)
    df["norm_sq_rec"] = norm_sq
    df["two_over_eta"] = 2.0 / th.effective_lr(norm_sq, lr, wd)
    df["train_loss"] = df["batch_loss"].fillna(df.get("loss"))
    return df


def evals(df: pd.DataFrame) -> pd.DataFrame:
    """The rows where the problem's metrics were evaluated."""
    return df.dropna(subset=["sharpness"]).reset_index(drop=True)


def norm_recursion_error(df: pd.DataFrame) -> float:
    ev = evals(df)
    return float(np.max(np.abs(ev["norm_sq_rec"] / ev["norm_sq"] - 1.0)))


def eos_entry(df: pd.DataFrame, sharp_col: str = "sharpness") -> int | None:
    """First step at which 2/eta~_t (known every step) <= the sharpness, held at its last
    evaluated value between evaluations (it is constant at the minimizer before EoS), so the
    entry does not wait for the next evaluation."""
    held = df[sharp_col].ffill().to_numpy()
    ok = ~np.isnan(held)
    i = th.eos_entry_index(df["two_over_eta"].to_numpy()[ok], held[ok])
    return None if i is None else int(df["step"].to_numpy()[ok][i])


def crossings(a: np.ndarray, b: np.ndarray) -> int:
    """Sign changes of a - b after averaging consecutive pairs (removes the period-2 flicker)."""
    diff = np.asarray(a) - np.asarray(b)
    smooth = 0.5 * (diff[1:] + diff[:-1])
    s = np.sign(smooth[smooth != 0])
    return int(np.sum(s[1:] != s[:-1]))


def peak_period(values: np.ndarray, steps: np.ndarray, prominence: float) -> float:
    """Median spacing (in steps) of the peaks of a series; nan with fewer than two peaks."""
    peaks, _ = find_peaks(np.asarray(values), prominence=prominence)
    return float(np.median(np.diff(np.asarray(steps)[peaks]))) if len(peaks) > 1 else float("nan")


def small_period_steps(lr: float, wd: float) -> float:
    """Small-oscillation period of (17) in GD steps: C_b = 2, tau = t*sqrt(2 eta_in) (App. B,
    Thm B.9; App. H.2), so 2 pi/sqrt(2 C_b) / sqrt(2 eta lambda) = pi / sqrt(2 eta lambda)."""
    return th.small_oscillation_period(2.0) / np.sqrt(2.0 * lr * wd)


def entry_line(ax, step: int | None) -> None:
    """The EoS-entry marker; also labels the step axis in thousands (tick labels stay short)."""
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x / 1000:g}k" if x else "0"))
    if step is not None:
        ax.axvline(step, color="0.4", ls=":", lw=1.0, label="EoS entry")
