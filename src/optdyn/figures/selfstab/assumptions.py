"""Self-stabilization App. E: the assumptions of Thm 1 measured along the constrained trajectory.

One block of eight panels per (setting, eta), each a run ``<name>`` with its ``selfstab_tracking``
probe ``<name>_tracking`` (the same tracking Fig. 4 draws; ``probes/selfstab_assumptions.py``
logs the quantities): alpha_t, epsilon_t, gamma_t, ||grad S_perp|| vs rho_3, rho_4 vs eta rho_3^2
and the three Assumption-5 ratios against epsilon_t. rho_3 and rho_4 exist only every 50 steps;
a ratio over rho_3 uses the latest one (forward-filled), as the tracked quantities between two
power-method steps are divided by the same rho_3 the authors would plot.

The eigengap (Assumption 2) is read before the stopping row: tracking stops at the first checked
step with lambda_2 >= 1.9/eta and logs that row, so "holds by the stopping rule" means the rows before it.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from optdyn.figures import diverged, style
from optdyn.figures.common import FigureContext, FigureOutput
from optdyn.registry import figure

RATIOS = {  # column of the ratio -> panel title
    "d3_vhat_over_rho3": r"$\|\nabla^3 L(\bar v, \bar v)\| / \rho_3$, $\bar v \parallel \hat v^\perp$",
    "d3_grad_over_rho3": r"$\|\nabla^3 L(\bar g, \bar g)\| / \rho_3$, $\bar g \parallel \nabla L^\perp$",
    "d2_vhat_ratio": r"$|\nabla^2 L(\bar v, \bar v)| / \|\nabla^2 L\|$",
}


def derived(df: pd.DataFrame) -> pd.DataFrame:
    """The tracking table with the ratios of App. E's plots 4-8 added."""
    eta = float(df["eta"].iloc[0])
    d = df.sort_values("step").reset_index(drop=True).copy()
    rho3 = d["rho3"].ffill()
    d["grad_s_perp_over_rho3"] = d["grad_s_perp_norm"] / d["rho3"]  # only at the rho steps
    d["eta_rho3_sq"] = eta * d["rho3"] ** 2
    d["rho4_over_eta_rho3_sq"] = d["rho4"] / d["eta_rho3_sq"]
    d["d3_vhat_over_rho3"] = d["d3_vhat_norm"] / rho3
    d["d3_grad_over_rho3"] = d["d3_grad_norm"] / rho3
    return d


def _range(x: pd.Series) -> list[float | None]:
    x = x.dropna()
    return [float(x.min()), float(x.max())] if len(x) else [None, None]


def setting_values(d: pd.DataFrame) -> dict:
    eta = float(d["eta"].iloc[0])
    stopped = str(d["stopped"].iloc[0])
    before_stop = d.iloc[:-1] if stopped == "lambda2" and len(d) > 1 else d
    ratio_over_eps = {k: float(np.nanmax(d[k] / d["epsilon"])) for k in RATIOS}
    return {
        "eta": eta, "tracked_steps": len(d), "stopped": stopped,
        "min_alpha": float(d["alpha"].min()), "alpha_positive": bool((d["alpha"] > 0).all()),
        "epsilon_range": _range(d["epsilon"]), "gamma_range": _range(d["gamma"]),
        "grad_s_perp_over_rho3_range": _range(d["grad_s_perp_over_rho3"]),
        "rho4_over_eta_rho3_sq_range": _range(d["rho4_over_eta_rho3_sq"]),
        "assumption5_max_ratio_over_epsilon": ratio_over_eps,
        "lambda2_over_threshold": float((before_stop["lambda2"] * eta / 2).max()),
    }


def _draw(axes, d: pd.DataFrame, colors) -> None:
    t = d["step"]
    slow = d.dropna(subset=["rho3"])
    panels = [
        (axes[0], [("alpha", r"$\alpha_t$")], r"(1) $\alpha_t = -\nabla L \cdot \nabla S$", "zero"),
        (axes[1], [("epsilon", r"$\epsilon_t$")], r"(2) $\epsilon_t = \eta\sqrt{\alpha_t}$", None),
        (axes[2], [("gamma", r"$\gamma_t$")], r"(3) $\gamma_t = \alpha_t / (\|\nabla L\| \|\nabla S^\perp\|)$", None),
    ]
    for ax, cols, title, ref in panels:
        for col, label in cols:
            ax.plot(t, d[col], color=colors[0], lw=1.2, label=label)
        if ref == "zero":
            ax.axhline(0.0, color="0.5", ls=":", lw=0.9)
        ax.set_title(title, fontsize=9)
    ax = axes[3]
    ax.plot(t, d["grad_s_perp_norm"], color=colors[0], lw=1.2, label=r"$\|\nabla S^\perp\|$")
    ax.plot(slow["step"], slow["rho3"], "o", color=colors[1], ms=4, label=r"$\rho_3$")
    ax.set_title(r"(4) $\|\nabla S^\perp\|$ vs $\rho_3$", fontsize=9)
    ax.legend(fontsize=7, frameon=False)
    ax = axes[4]
    ax.plot(slow["step"], slow["rho4"], "o-", color=colors[0], ms=4, lw=1.0, label=r"$\rho_4$")
    ax.plot(slow["step"], slow["eta_rho3_sq"], "s--", color=colors[1], ms=4, lw=1.0, label=r"$\eta\rho_3^2$")
    ax.set_yscale("log")
    ax.set_title(r"(5) $\rho_4$ vs $\eta\rho_3^2$", fontsize=9)
    ax.legend(fontsize=7, frameon=False)
    for k, (ax, (col, title)) in enumerate(zip(axes[5:], RATIOS.items())):
        ax.plot(t, d[col], color=colors[0], lw=1.1, label="ratio")
        ax.plot(t, d["epsilon"], color=colors[1], ls="--", lw=1.0, label=r"$\epsilon_t$")
        ax.set_yscale("log")
        style.log_range(ax, pd.concat([d[col], d["epsilon"]]).to_numpy())
        ax.set_title(f"({6 + k}) {title}", fontsize=9)
        ax.legend(fontsize=7, frameon=False)
    for ax in axes:
        ax.tick_params(labelsize=8)
        ax.set_xlabel("steps after the first instability", fontsize=8)


@figure("selfstab", "appE")
def appE(ctx: FigureContext) -> FigureOutput:
    names = [n for n in ctx.runs if f"{n}_tracking" in ctx.probes]
    colors = style.palette(2)
    fig, axes = plt.subplots(2 * len(names), 4, figsize=(16, 5.6 * len(names)), squeeze=False)
    frames, per = [], {}
    for k, name in enumerate(names):
        d = derived(ctx.probes[f"{name}_tracking"])
        per[name] = setting_values(d)
        block = [*axes[2 * k], *axes[2 * k + 1]]
        _draw(block, d, colors)
        head = f"{diverged.label(style.ran_line(ctx, name, 90), ctx.runs[name])}, $\\eta$ = {per[name]['eta']:g}"
        block[0].set_title(f"{head}\n{block[0].get_title()}", loc="left", fontsize=9)
        block[0].set_title("")  # the panel's own title moved under the setting's line (left)
        frames.append(d.assign(setting=name))
    fig.tight_layout()

    def each(key):
        return [per[n][key] for n in names]

    def bound(key, pick):
        vals = [r[pick] for r in each(key)]
        return None if any(v is None for v in vals) else (max(vals) if pick else min(vals))

    values = {
        "settings": names, "etas": each("eta"), "tracked_steps": each("tracked_steps"), "stopped": each("stopped"),
        "min_alpha": each("min_alpha"), "all_alpha_positive": all(each("alpha_positive")),
        "epsilon_range": each("epsilon_range"), "max_epsilon": bound("epsilon_range", 1),
        "gamma_range": each("gamma_range"), "min_gamma": bound("gamma_range", 0),
        "grad_s_perp_over_rho3_range": each("grad_s_perp_over_rho3_range"),
        "min_grad_s_perp_over_rho3": bound("grad_s_perp_over_rho3_range", 0),
        "rho4_over_eta_rho3_sq_range": each("rho4_over_eta_rho3_sq_range"),
        "max_rho4_over_eta_rho3_sq": bound("rho4_over_eta_rho3_sq_range", 1),
        "assumption5_max_ratio_over_epsilon": each("assumption5_max_ratio_over_epsilon"),
        "max_assumption5_ratio_over_epsilon": max(max(r.values()) for r in each("assumption5_max_ratio_over_epsilon")),
        "lambda2_over_threshold": each("lambda2_over_threshold"),
        "max_lambda2_over_threshold": max(each("lambda2_over_threshold")),
    }
    return FigureOutput(fig, pd.concat(frames, ignore_index=True), diverged.finish(ctx, fig, values))
