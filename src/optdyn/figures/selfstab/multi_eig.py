"""Self-stabilization Fig. 5 (Sec. 8.2): progressive sharpening goes on for the next eigenvalues
while the top one sits at the edge of stability, so lambda_2, lambda_3, ... reach 2/eta one after
the other; the loss is orderly while one eigenvalue is unstable and more erratic once several are.

Erraticness of the loss is measured by its roughness: the mean absolute second difference of
log L per step, |log L_{t+1} - 2 log L_t + log L_{t-1}|. Steady (even non-monotone but smooth)
descent has a second difference near 0 whatever its rate, while irregular spikes and step-to-step
jumps make it large, so the statistic compares windows taken at different loss levels and
descent speeds fairly (the catalog's "irregular loss, no clean cycles", item 12). Each step after
lambda_1's onset is labelled by how many eigenvalues were at or above 2/eta at the last probed
step, and the roughness of steps with several unstable eigenvalues is compared with that of
steps with exactly one, as the paper's sentence does.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from optdyn.figures import diverged
from optdyn.figures.common import FigureContext, FigureOutput
from optdyn.registry import figure


def eigen_table(probe: pd.DataFrame, k: int) -> pd.DataFrame:
    """step x rank table of the top-k eigenvalues (rank 0 = lambda_1)."""
    wide = probe.pivot(index="step", columns="rank", values="eigenvalue").sort_index()
    if wide.shape[1] < k:
        raise ValueError(f"the spectrum probe has {wide.shape[1]} eigenvalues per step; the plot asks for {k}")
    return wide.iloc[:, :k]


def crossing_steps(eig: pd.DataFrame, threshold: float) -> list[int | None]:
    """First probed step at which each lambda_i reaches ``threshold`` (None: never)."""
    out = []
    for col in eig.columns:
        hits = np.flatnonzero(eig[col].to_numpy() >= threshold)
        out.append(int(eig.index[hits[0]]) if hits.size else None)
    return out


def roughness_by_unstable_count(steps: np.ndarray, loss: np.ndarray, eig: pd.DataFrame, threshold: float,
                                 onset: int) -> tuple[dict[str, float | None], dict[str, float | None]]:
    """Mean |second difference of log L| and fraction of loss increases over the steps from
    ``onset`` on with exactly one / several eigenvalues >= threshold at the last probed step."""
    d2 = np.abs(np.diff(np.log(loss), 2))
    rises = np.diff(loss)[1:] > 0
    at = steps[1:-1]
    probed = eig.index.to_numpy()
    count = (eig.to_numpy() >= threshold).sum(axis=1)[np.clip(np.searchsorted(probed, at, side="right") - 1, 0, None)]
    windows = {"one": (at >= onset) & (count == 1), "several": (at >= onset) & (count >= 2)}
    rough = {k: float(d2[w].mean()) if w.sum() >= 10 else None for k, w in windows.items()}
    rising = {k: float(rises[w].mean()) if w.sum() >= 10 else None for k, w in windows.items()}
    return rough, rising


def last_crossing_dip(eig: pd.DataFrame, crossings: list[int | None], threshold: float) -> float | None:
    """min lambda_j / threshold between lambda_1's onset and lambda_j's own crossing, for the
    last eigenvalue j to cross: < 1 by a margin means it was stable while lambda_1 was at the edge
    of stability and sharpened up to 2/eta there (None: no later crossing)."""
    crossed = [(s, j) for j, s in enumerate(crossings) if s is not None and j > 0 and s > crossings[0]]
    if crossings[0] is None or not crossed:
        return None
    step, j = max(crossed)
    between = eig.iloc[:, j][(eig.index >= crossings[0]) & (eig.index < step)]
    return float(between.min() / threshold)


@figure("selfstab", "fig05")
def fig05(ctx: FigureContext) -> FigureOutput:
    run = ctx.runs["gd"]
    eta = float(run.spec.schedule.lr)
    threshold = 2.0 / eta
    eig = eigen_table(ctx.probes["spectrum"], ctx.plot.k)
    crossings = crossing_steps(eig, threshold)
    per_step = diverged.finite_metrics(run, "batch_loss").sort_values("step")
    steps, loss = per_step["step"].to_numpy(), per_step["batch_loss"].to_numpy(dtype=float)

    fig, (ax_eig, ax_loss) = plt.subplots(2, 1, figsize=(9, 7), sharex=True, height_ratios=[3, 2])
    for i, col in enumerate(eig.columns):
        ax_eig.plot(eig.index, eig[col], color=f"C{i}", lw=1.2, label=f"$\\lambda_{i + 1}$")
    ax_eig.axhline(threshold, color="k", ls="--", lw=1.0, label="$2/\\eta$")
    ax_loss.plot(steps, loss, color="k", lw=0.8)
    # onsets often share a probed step (lambda_1 and lambda_2 cross together): a line style per
    # eigenvalue and a stacked label at the top keep coinciding lines apart (issue 12's review)
    styles = [":", "--", "-.", (0, (1, 3)), (0, (5, 2, 1, 2))]
    for i, step in enumerate(crossings):
        if step is not None:
            for ax in (ax_eig, ax_loss):
                ax.axvline(step, color=f"C{i}", ls=styles[i % len(styles)], lw=1.4)
            ax_eig.annotate(f"$\\lambda_{i + 1}$", (step, 1.0), xycoords=("data", "axes fraction"),
                            xytext=(3, -12 - 12 * i), textcoords="offset points", color=f"C{i}", fontsize=9)
    ax_eig.set(ylabel="Hessian eigenvalue", title=f"top-{ctx.plot.k} eigenvalues, $\\eta$ = {eta:g} "
               "(vertical lines: first step each $\\lambda_i \\geq 2/\\eta$)")
    ax_eig.legend(loc="lower right", ncol=2)
    ax_loss.set(yscale="log", xlabel="step", ylabel="train loss")
    fig.tight_layout()

    first = crossings[0]
    after_onset = eig.iloc[:, 0][eig.index >= first] if first is not None else None
    rough, rising = roughness_by_unstable_count(steps, loss, eig, threshold, first) if first is not None else ({}, {})
    one, several = rough.get("one"), rough.get("several")
    values = {
        "lr": eta,
        "two_over_eta": threshold,
        "crossing_steps": crossings,
        "eigenvalues_reaching_threshold": sum(s is not None for s in crossings),
        "last_crossing_dip_over_threshold": last_crossing_dip(eig, crossings, threshold),
        "lambda1_mean_after_onset_over_threshold": float(after_onset.mean() / threshold) if after_onset is not None else None,
        "loss_roughness_one_unstable": one,
        "loss_roughness_several_unstable": several,
        "loss_roughness_ratio": several / one if one and several is not None else None,
        "loss_rise_fraction_one_unstable": rising.get("one"),
        "loss_rise_fraction_several_unstable": rising.get("several"),
    }
    frames = [eig.rename(columns=lambda r: f"lambda_{r + 1}").reset_index().assign(series="eigenvalues"),
              per_step[["step", "batch_loss"]].rename(columns={"batch_loss": "loss"}).assign(series="loss")]
    return FigureOutput(fig, pd.concat(frames, ignore_index=True).assign(lr=eta, two_over_eta=threshold), diverged.finish(ctx, fig, values))
