"""WSD paper, Sec. 4 (text only): a language model fine-tuned on the city -> name language with a
constant ("stable") and a decaying ("decay") schedule from one parent. Per city, the loss on the
name token (``probes/cities.py``, exact in the name) is differenced between the two models and
rank-correlated with the city's entropy (the paper: Spearman 0.388); the stable run should be
better on the deterministic cities and the decayed run on the stochastic ones."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from optdyn.figures import diverged
from optdyn.figures.common import FigureContext, FigureOutput
from optdyn.registry import figure

COLORS = {True: "C0", False: "C3"}  # deterministic / stochastic, as in Fig. 6


def paired(stable: pd.DataFrame, decay: pd.DataFrame) -> pd.DataFrame:
    """One row per city with both runs' losses and ``diff`` = stable - decay; the probes must
    describe the same language (cities, entropies, types)."""
    a, b = stable.sort_values("city").reset_index(drop=True), decay.sort_values("city").reset_index(drop=True)
    same = len(a) == len(b) and np.array_equal(a["city"], b["city"]) and np.array_equal(a["is_det"], b["is_det"])
    if not same or not np.allclose(a["entropy"], b["entropy"], rtol=0, atol=1e-12):
        raise ValueError("the stable and decay city_loss probes are on different languages (cities or entropies differ)")
    return pd.DataFrame({
        "city": a["city"], "is_det": a["is_det"].astype(bool), "entropy": a["entropy"], "gini": a["gini"],
        "loss_stable": a["loss"], "loss_decay": b["loss"], "diff": a["loss"] - b["loss"],
        "step_stable": a["step"], "step_decay": b["step"],
    })


def _rho(x, y) -> tuple[float, float]:
    r = spearmanr(x, y)
    return float(r.statistic), float(r.pvalue)


def sec4_values(df: pd.DataFrame) -> dict:
    det = df["is_det"].to_numpy()
    rho, p = _rho(df["diff"], df["entropy"])
    return {
        "spearman_rho": rho,
        "spearman_pvalue": p,
        "spearman_rho_det": _rho(df["diff"][det], df["entropy"][det])[0],
        "spearman_rho_sto": _rho(df["diff"][~det], df["entropy"][~det])[0],
        "det_loss_stable_minus_decay": float(df["diff"][det].mean()),
        "sto_loss_stable_minus_decay": float(df["diff"][~det].mean()),
        "loss_stable_minus_decay": float(df["diff"].mean()),
        "mean_loss_stable": {"all": float(df["loss_stable"].mean()), "deterministic": float(df["loss_stable"][det].mean()),
                             "stochastic": float(df["loss_stable"][~det].mean())},
        "mean_loss_decay": {"all": float(df["loss_decay"].mean()), "deterministic": float(df["loss_decay"][det].mean()),
                            "stochastic": float(df["loss_decay"][~det].mean())},
        "mean_entropy": {"all": float(df["entropy"].mean()), "deterministic": float(df["entropy"][det].mean()),
                         "stochastic": float(df["entropy"][~det].mean())},
    }


def _excess_bars(ax, df: pd.DataFrame, runs: dict) -> None:
    """Mean loss above the entropy (the reachable part) per subpopulation and run."""
    groups = [("deterministic", df["is_det"]), ("stochastic", ~df["is_det"]), ("all", np.ones(len(df), bool))]
    x = np.arange(len(groups))
    for k, (run, color) in enumerate((("stable", "C2"), ("decay", "C1"))):
        heights = [float((df[f"loss_{run}"] - df["entropy"])[mask].mean()) for _, mask in groups]
        bad = runs[run].diverged  # a diverged run's bars are hatched and say so
        ax.bar(x + (k - 0.5) * 0.38, heights, width=0.38, color=color, label=diverged.label(run, runs[run]),
               hatch="xx" if bad else None, edgecolor="tab:red" if bad else None)
    ax.set_xticks(x, [g for g, _ in groups])
    ax.set_ylabel("mean loss - entropy (nats)")
    ax.set_title("loss above the optimum, per subpopulation")
    ax.legend(fontsize=8)


@figure("wsd", "sec4")
def sec4(ctx: FigureContext) -> FigureOutput:
    df = paired(ctx.probes["stable"], ctx.probes["decay"])
    values = sec4_values(df)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), gridspec_kw={"width_ratios": [1.6, 1]})
    ax = axes[0]
    for det, label in ((True, "deterministic"), (False, "stochastic")):
        part = df[df["is_det"] == det]
        ax.scatter(part["entropy"], part["diff"], s=7, alpha=0.7, color=COLORS[det], label=f"{label} ({len(part)})")
        ax.plot([part["entropy"].min(), part["entropy"].max()], [part["diff"].mean()] * 2, color=COLORS[det], lw=2,
                ls="--")
    ax.axhline(0.0, color="k", lw=0.8)
    ax.set_xlabel("entropy of the city's name distribution (nats)")
    ax.set_ylabel("loss(stable) - loss(decay) on the name")
    ax.set_title(f"Spearman rho = {values['spearman_rho']:.3f} (p = {values['spearman_pvalue']:.1g}; paper 0.388)")
    ax.legend(fontsize=8, title="city type (dashed: mean)", title_fontsize=8)
    _excess_bars(axes[1], df, ctx.runs)
    fig.tight_layout()
    return FigureOutput(fig, df, diverged.finish(ctx, fig, values))
