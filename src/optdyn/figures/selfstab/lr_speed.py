"""Self-stabilization Fig. 6 (App. G.1): full-batch GD at several fixed learning rates, and the
"stable" rule eta_t = 1/S(theta_t). Larger eta enters the edge of stability yet trains faster; its
sharpness ends bounded by 2/eta, smaller for larger eta, which goes with better test accuracy.

"Final" values are means over the last ``final_fraction`` of the run's evaluations, so a single
evaluation on a period-2 oscillation at the edge of stability does not decide a claim.
"""

from __future__ import annotations

from itertools import pairwise

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from optdyn.figures import diverged
from optdyn.figures.common import FigureContext, FigureOutput
from optdyn.registry import figure


def steps_to_loss(run, target: float) -> int | None:
    """First step whose (full-batch) training loss is at most ``target`` (None: never)."""
    per_step = run.metrics.dropna(subset=["batch_loss"]).sort_values("step")
    hits = np.flatnonzero(per_step["batch_loss"].to_numpy() <= target)
    return int(per_step["step"].iloc[hits[0]]) if hits.size else None


def _evals(run) -> pd.DataFrame:
    return diverged.finite_metrics(run, "sharpness").sort_values("step").reset_index(drop=True)


def final_mean(evals: pd.DataFrame, column: str, fraction: float) -> float:
    tail = max(1, round(fraction * len(evals)))
    return float(evals[column].iloc[-tail:].mean())


def _strictly_decreasing(values: list[float]) -> bool:
    return all(b < a for a, b in pairwise(values))


def _ratio(a: float | None, b: float | None) -> float | None:
    """a / b with a run that never gets there counted as infinitely slow."""
    if b is None:
        return None
    return float("inf") if a is None else a / b


def _rank_correlation(x: list[float], y: list[float]) -> float:
    """Spearman's rho; 0 when y is constant (no ordering at all)."""
    if len(set(y)) < 2:
        return 0.0
    return float(spearmanr(x, y).statistic)


@figure("selfstab", "fig06")
def fig06(ctx: FigureContext) -> FigureOutput:
    plot = ctx.plot
    fixed = sorted(((n, r) for n, r in ctx.runs.items() if n != plot.inverse_sharpness_run),
                   key=lambda kv: kv[1].spec.schedule.lr)
    inverse = ctx.runs[plot.inverse_sharpness_run]
    fig, (ax_loss, ax_acc, ax_s) = plt.subplots(1, 3, figsize=(16, 4.4))
    frames, lrs, to_target, final_s, final_acc = [], [], [], [], []
    for k, (name, run) in enumerate(fixed):
        eta = float(run.spec.schedule.lr)
        ev = _evals(run)
        color = f"C{k}"
        label = diverged.label(f"$\\eta$ = {eta:g}", run)
        per_step = diverged.finite_metrics(run, "batch_loss").sort_values("step")
        ax_loss.plot(per_step["step"], per_step["batch_loss"], color=color, lw=1.0, label=label)
        diverged.mark_end(ax_loss, run, per_step["step"], per_step["batch_loss"])
        ax_acc.plot(ev["step"], ev["test_accuracy"], color=color, lw=1.2, label=label)
        ax_s.plot(ev["step"], ev["sharpness"], color=color, lw=1.2, label=label)
        ax_s.axhline(2.0 / eta, color=color, ls="--", lw=0.9)
        lrs.append(eta)
        to_target.append(steps_to_loss(run, plot.target_loss))
        final_s.append(final_mean(ev, "sharpness", plot.final_fraction) * eta / 2.0)
        final_acc.append(final_mean(ev, "test_accuracy", plot.final_fraction))
        frames.append(ev.assign(run=name, lr=eta, rule="fixed"))
    ev_inv = _evals(inverse)
    per_step = diverged.finite_metrics(inverse, "batch_loss").sort_values("step")
    ax_loss.plot(per_step["step"], per_step["batch_loss"], color="k", lw=1.0, label=diverged.label("$\\eta_t = 1/S(\\theta_t)$", inverse))
    diverged.mark_end(ax_loss, inverse, per_step["step"], per_step["batch_loss"])
    ax_acc.plot(ev_inv["step"], ev_inv["test_accuracy"], color="k", lw=1.2, label="$\\eta_t = 1/S(\\theta_t)$")
    ax_s.plot(ev_inv["step"], ev_inv["sharpness"], color="k", lw=1.2, label="$\\eta_t = 1/S(\\theta_t)$")
    frames.append(ev_inv.assign(run=plot.inverse_sharpness_run, lr=np.nan, rule="inverse_sharpness"))
    ax_loss.axhline(plot.target_loss, color="grey", ls=":", lw=0.9)
    ax_loss.set(yscale="log", xlabel="step", ylabel="train loss", title="training loss (dotted: target)")
    ax_acc.set(xlabel="step", ylabel="test accuracy", title="test accuracy")
    # range the axis over the curves after their first 10% of steps (issue 12's review: a 0-1 axis
    # hid the few-point gap between the rules); the early rise from chance is cut off
    late = [e.loc[e["step"] >= 0.1 * e["step"].max(), "test_accuracy"] for e in frames]
    late = pd.concat(late).dropna() if late else pd.Series(dtype=float)
    if len(late) and late.max() > late.min():
        pad = 0.08 * (late.max() - late.min())
        ax_acc.set_ylim(late.min() - pad, late.max() + pad)
    ax_s.set(yscale="log", xlabel="step", ylabel="sharpness $S(\\theta_t)$", title="sharpness (dashed: $2/\\eta$)")
    for ax in (ax_loss, ax_acc, ax_s):
        ax.legend(fontsize=8)
    fig.tight_layout()

    inv_steps = steps_to_loss(inverse, plot.target_loss)
    inv_acc = final_mean(ev_inv, "test_accuracy", plot.final_fraction)
    reached = [s for s in to_target if s is not None]
    values = {
        "lrs": lrs,
        "target_loss": plot.target_loss,
        "steps_to_target_loss": to_target,
        # never reaching the target counts as slowest; ties are not faster
        "faster_with_larger_lr": len(reached) == len(to_target) and _strictly_decreasing(to_target),
        "final_sharpness_over_threshold": final_s,
        "max_final_sharpness_over_threshold": max(final_s),
        "final_sharpness": [s * 2.0 / eta for s, eta in zip(final_s, lrs)],
        "final_sharpness_decreasing_in_lr": _strictly_decreasing([s * 2.0 / eta for s, eta in zip(final_s, lrs)]),
        "final_test_accuracy": final_acc,
        "test_accuracy_rank_correlation_with_lr": _rank_correlation(lrs, final_acc),
        "inverse_sharpness_steps_to_target_loss": inv_steps,
        "inverse_sharpness_final_test_accuracy": inv_acc,
        "inverse_sharpness_slowdown_vs_largest_lr": _ratio(inv_steps, to_target[-1]),
        "largest_lr_test_accuracy_gain_over_inverse_sharpness": final_acc[-1] - inv_acc,
    }
    return FigureOutput(fig, pd.concat(frames, ignore_index=True), diverged.finish(ctx, fig, values))
