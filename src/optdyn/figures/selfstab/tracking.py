"""Self-stabilization Fig. 4: after the first instability, the predicted dynamics (eq. (5)/(6))
track gradient descent's loss, two-step-averaged sharpness and distance to the constrained
trajectory theta^dagger, while gradient flow drifts away from theta^dagger.

Per setting (an MLP, a CNN, a Transformer) three columns (train loss, sharpness with 2/eta,
||theta - theta^dagger||); the top row zooms on one GD cycle, drawn as a dashed rectangle in the
bottom row (the whole tracked window). A GD cycle starts at the instability (or at the previous
cycle's return), blows up when |x_t| = |u_t . (theta_t - theta^dagger_t)| first exceeds the
predicted fixed point delta_t, and ends when |x_t| falls back below delta_t.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.patches import Rectangle

from optdyn.figures import diverged
from optdyn.figures.common import FigureContext, FigureOutput
from optdyn.registry import figure

SERIES = {  # label -> (color, linestyle)
    "Gradient Descent": ("C0", "-"),
    "Predicted Dynamics": ("C1", "-"),
    "Constrained Trajectory": ("C2", "-"),
    "Gradient Flow": ("C3", "--"),
    "Predicted Fixed Point": ("0.4", ":"),
}


def gd_cycles(df: pd.DataFrame, column: str = "x_gd") -> list[tuple[int, int, int | None]]:
    """(start, blow-up, return) row indices of the complete-or-not cycles of |x| around delta:
    blow-up = first row with |x| > delta after the start, return = first later row with |x| <
    delta (None: the window ends before it); the next cycle starts at the return."""
    x, delta = np.abs(df[column].to_numpy()), df["delta"].to_numpy()
    out, start = [], 0
    while start < len(x):
        up = np.flatnonzero(x[start:] > delta[start:])
        if not up.size:
            break
        up = start + int(up[0])
        down = np.flatnonzero(x[up:] < delta[up:])
        if not down.size:
            out.append((start, up, None))
            break
        down = up + int(down[0])
        out.append((start, up, down))
        start = down
    return out


def _first_blowup(df: pd.DataFrame, column: str) -> int | None:
    up = np.flatnonzero(np.abs(df[column].to_numpy()) > df["delta"].to_numpy())
    return int(up[0]) if up.size else None


def _rel_max(err: np.ndarray, scale: np.ndarray) -> float:
    """max |err| / max |scale|; NaN anywhere (e.g. predicted dynamics undefined) stays NaN."""
    return float(np.max(np.abs(err)) / np.max(np.abs(scale)))


def setting_values(df: pd.DataFrame) -> dict:
    """The claim quantities of one setting's tracking table."""
    eta = float(df["eta"].iloc[0])
    two = 2.0 / eta
    cycles = gd_cycles(df)
    complete = [c for c in cycles if c[2] is not None]
    out = {
        "eta": eta, "instability_step": int(df["instability_step"].iloc[0]), "tracked_steps": len(df),
        "epsilon": float(np.nanmedian(df["epsilon"])), "cycles": cycles, "complete": bool(complete),
        "constrained_sharpness_rel_error": float(np.max(np.abs(df["sharpness_dagger"] / two - 1))),
        "constrained_grad_dot_u": float(np.max(np.abs(df["grad_dot_u"]))),
        "constrained_loss_increase": float(max(0.0, np.max(np.diff(df["loss_dagger"].to_numpy()), initial=0.0))),
        "gd_sharpness_mean_over_threshold": float(np.nanmean(df["sharpness_gd_avg2"].iloc[1:]) / two),
    }
    if not complete:
        return out | dict.fromkeys(("gd_over_gf_distance_after_cycle", "pred_peak_timing_error", "pred_loss_error",
                                    "pred_sharpness_error", "pred_distance_error"))
    ret = complete[0][2]
    after = df.iloc[ret:]
    first = df.iloc[: ret + 1]
    up_gd, up_pred = _first_blowup(df, "x_gd"), _first_blowup(df, "x_pred")
    s_gd = first["sharpness_gd_avg2"].iloc[1:].to_numpy()
    return out | {
        # "stays below": the largest ratio from the first return to the end of the window
        "gd_over_gf_distance_after_cycle": float(np.max(after["dist_gd"] / after["dist_gf"])),
        "pred_peak_timing_error": None if up_pred is None else abs(up_pred - up_gd) / up_gd,
        # errors over the first cycle relative to what the cycle does: the loss spike above
        # L(theta^dagger), the sharpness excursion around 2/eta and the largest distance
        "pred_loss_error": _rel_max(first["loss_pred"] - first["loss_gd"], first["loss_gd"] - first["loss_dagger"]),
        "pred_sharpness_error": _rel_max(first["sharpness_pred_avg2"].iloc[1:].to_numpy() - s_gd, s_gd - two),
        "pred_distance_error": _rel_max(first["dist_pred"] - first["dist_gd"], first["dist_gd"]),
    }


def fixed_point(df: pd.DataFrame, generalized: bool) -> tuple[pd.Series, pd.Series]:
    """The predicted fixed point's (loss, sharpness) per step: |x| = delta_t, y = 0 (Sec. 6), or for the
    generalized dynamics y = -F'(delta)/delta, so S = 2/eta - F'(delta)/delta + F''(delta) and
    L = L(theta^dagger) + delta^2/eta + F(delta) (App. F; F along u_t logged by the tracking)."""
    two = 2.0 / float(df["eta"].iloc[0])
    if not generalized:
        return df["loss_fixed_point"], pd.Series(two, index=df.index)
    return (df["loss_fixed_point"] + df["F_delta"],
            two - df["F1_delta"] / df["delta"] + df["F2_delta"])


def _draw(axes, df: pd.DataFrame, lo: int, hi: int, generalized: bool = False) -> None:
    d = df.iloc[lo:hi + 1].copy()
    d["loss_fixed_point"], d["sharpness_fixed_point"] = fixed_point(d, generalized)
    t = d["step"]
    ax_l, ax_s, ax_d = axes
    for ax, cols in ((ax_l, {"Gradient Descent": "loss_gd", "Predicted Dynamics": "loss_pred",
                             "Constrained Trajectory": "loss_dagger", "Gradient Flow": "loss_gf",
                             "Predicted Fixed Point": "loss_fixed_point"}),
                     (ax_s, {"Gradient Descent": "sharpness_gd_avg2", "Predicted Dynamics": "sharpness_pred_avg2",
                             "Constrained Trajectory": "sharpness_dagger", "Gradient Flow": "sharpness_gf",
                             "Predicted Fixed Point": "sharpness_fixed_point"}),
                     (ax_d, {"Gradient Descent": "dist_gd", "Predicted Dynamics": "dist_pred",
                             "Gradient Flow": "dist_gf", "Predicted Fixed Point": "delta"})):
        for label, col in cols.items():
            color, ls = SERIES[label]
            ax.plot(t, d[col], color=color, ls=ls, lw=1.3 if label == "Gradient Descent" else 1.1, label=label)
    color, ls = SERIES["Constrained Trajectory"]
    ax_d.plot(t, np.zeros(len(t)), color=color, ls=ls, lw=1.1, label="Constrained Trajectory")  # theta^dagger itself


def _zoom(df: pd.DataFrame, cycles, which: int, margin: float) -> tuple[int, int]:
    """Rows of the zoom: the cycle's active part, from |x| passing delta to its return below it,
    padded by ``margin`` of that span on each side. A cycle's quiet first stage (x growing from
    ~0, most of the steps after the instability) is left out: zooming from the cycle's start
    showed almost the whole window again (issue 12's review)."""
    if not cycles:
        return 0, len(df) - 1
    _start, up, ret = cycles[min(which, len(cycles) - 1)]
    end = ret if ret is not None else len(df) - 1
    pad = max(2, int(margin * (end - up)))
    return max(0, up - pad), min(len(df) - 1, end + pad)


def _label(run, df: pd.DataFrame) -> str:
    model, data = run.spec.model, run.spec.data
    return f"{model.name.upper()} + {model.criterion} on {getattr(data, 'dataset', '?')}, $\\eta$ = {df['eta'].iloc[0]:g}"


def tracking_figure(ctx: FigureContext, names: list[str], labels: dict[str, str],
                    generalized: bool = False) -> FigureOutput:
    """Fig. 4's layout for the settings ``names`` (run ``<name>`` + probe ``<name>_tracking``): per
    setting a zoom on one GD cycle over the whole window; the values its claims read."""
    plot = ctx.plot
    fig, axes = plt.subplots(2 * len(names), 3, figsize=(14, 4.2 * len(names)), squeeze=False)
    frames, per = [], {}
    for k, name in enumerate(names):
        df = ctx.probes[f"{name}_tracking"].sort_values("step").reset_index(drop=True)
        v = per[name] = setting_values(df)
        lo, hi = _zoom(df, v["cycles"], plot.zoom_cycle, plot.zoom_margin)
        top, bottom = axes[2 * k], axes[2 * k + 1]
        _draw(top, df, lo, hi, generalized)
        _draw(bottom, df, 0, len(df) - 1, generalized)
        for ax_top, ax_bottom in zip(top, bottom):
            y0, y1 = ax_top.get_ylim()
            ax_bottom.add_patch(Rectangle((df["step"].iloc[lo], y0), df["step"].iloc[hi] - df["step"].iloc[lo], y1 - y0,
                                          fill=False, ls="--", lw=0.9, ec="k"))
            ax_bottom.set_xlabel("steps after the first instability")
        top[0].set_title(f"{diverged.label(labels[name], ctx.runs[name])}\ntrain loss", loc="left", fontsize=10)
        top[1].set_title("sharpness (two-step average)", fontsize=10)
        top[2].set_title("$\\|\\theta - \\theta^\\dagger\\|$", fontsize=10)
        for ax in (*top, *bottom):
            ax.tick_params(labelsize=8)
        frames.append(df.assign(setting=name))
    handles, labels_ = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels_, loc="upper center", ncol=len(SERIES), frameon=False)
    fig.tight_layout(rect=(0, 0, 1, 0.975))

    def each(key):
        return [per[n][key] for n in names]

    def worst(key, absolute=False):
        vals = each(key)
        if any(v is None or not np.isfinite(v) for v in vals):
            return None  # a setting without a complete cycle (or an undefined prediction) cannot pass
        return max(abs(v) for v in vals) if absolute else max(vals)

    values = {
        "settings": list(names), "etas": each("eta"), "instability_steps": each("instability_step"),
        "tracked_steps": each("tracked_steps"), "epsilons": each("epsilon"),
        "first_cycles": [[list(c) for c in per[n]["cycles"][:1]] for n in names],
        "all_complete_a_cycle": all(each("complete")),
        "max_constrained_sharpness_rel_error": worst("constrained_sharpness_rel_error"),
        "max_constrained_grad_dot_u": worst("constrained_grad_dot_u"),
        "max_constrained_loss_increase": worst("constrained_loss_increase"),
        "gd_sharpness_mean_over_threshold": each("gd_sharpness_mean_over_threshold"),
        "max_gd_sharpness_mean_rel_deviation": max(abs(v - 1) for v in each("gd_sharpness_mean_over_threshold")),
        "gd_over_gf_distance_after_cycle": each("gd_over_gf_distance_after_cycle"),
        "max_gd_over_gf_distance_after_cycle": worst("gd_over_gf_distance_after_cycle"),
        "pred_peak_timing_error": each("pred_peak_timing_error"),
        "max_pred_peak_timing_error": worst("pred_peak_timing_error"),
        "pred_loss_error": each("pred_loss_error"), "max_pred_loss_error": worst("pred_loss_error"),
        "pred_sharpness_error": each("pred_sharpness_error"), "max_pred_sharpness_error": worst("pred_sharpness_error"),
        "pred_distance_error": each("pred_distance_error"), "max_pred_distance_error": worst("pred_distance_error"),
    }
    return FigureOutput(fig, pd.concat(frames, ignore_index=True), diverged.finish(ctx, fig, values))


@figure("selfstab", "fig04")
def fig04(ctx: FigureContext) -> FigureOutput:
    # the paper's three settings; a tier may keep fewer (each present one is a run + its probe)
    names = [n for n in ("mlp", "cnn", "transformer") if f"{n}_tracking" in ctx.probes]
    labels = {n: _label(ctx.runs[n], ctx.probes[f"{n}_tracking"]) for n in names}
    return tracking_figure(ctx, names, labels)
