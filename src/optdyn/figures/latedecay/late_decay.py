"""Toy analogue of Fig. 1 (catalog Sec. 5.3): a label-noise main path at eta_L on the
reparametrized model and decay subpaths at eta_S branched from its checkpoints; the final test
loss against the decay time, and the Phase-II/III checks of Thms 3.4 and 3.6."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.colors import LogNorm
from scipy.stats import spearmanr

from optdyn.figures import diverged
from optdyn.figures.common import FigureContext, FigureOutput
from optdyn.models.latedecay import ReparamLinearProblem
from optdyn.registry import figure
from optdyn.theory import latedecay as theory

from .phase2 import replica_matrix


def _at(steps: np.ndarray, values: np.ndarray, step: int) -> np.ndarray:
    return values[int(np.searchsorted(steps, step))]


@figure("latedecay", "fig01toy")
def fig01toy(ctx: FigureContext) -> FigureOutput:
    main = ctx.runs["main"]
    branches = sorted(((r.spec.branch_from.step, name, r) for name, r in ctx.runs.items()
                       if r.spec.branch_from is not None and r.spec.branch_from.run == "main"), key=lambda b: b[0])
    if len(branches) < 2:
        raise ValueError("fig01toy needs at least two runs branched from 'main'")
    inst = ReparamLinearProblem(main.spec.model).instance
    w_dag = theory.min_norm_interpolant(inst)
    test_dag = float(theory.test_loss(w_dag, inst.alpha_star, "reparam", inst.gamma, inst.x_var))
    r_dag = float(np.linalg.norm(w_dag))

    m_steps, m_test = replica_matrix(main, "test_loss")
    _, m_train = replica_matrix(main, "train_loss")
    # 2 x 2 at 13 in: text stays readable when the report shows the figure ~1000 px wide
    fig, axes = plt.subplots(2, 2, figsize=(13, 9.5))
    axes = axes.ravel()
    ax = axes[0]
    ax.plot(m_steps, m_train.mean(axis=1), color="tab:blue", label=diverged.label("train loss", main))
    ax.plot(m_steps, m_test.mean(axis=1), color="tab:orange", label="test loss")
    diverged.mark_end(ax, main, m_steps, m_train.mean(axis=1))
    ax.axhline(test_dag, color="tab:orange", ls=":", lw=1, label=r"test loss of $w^\dagger$")
    for k, _, _ in branches:
        ax.axvline(k, color="grey", lw=0.5, ls="--")
    eta_l = main.spec.schedule.lr
    ax.set(yscale="log", xlabel="step", ylabel="loss", title=fr"(a) main path, $\eta_L$ = {eta_l:g} (decay times dashed)")
    ax.legend(fontsize=10)

    rows, finals, maps = [], [], {"train_loss": [], "test_loss": []}
    for k, name, run in branches:
        steps, test = replica_matrix(run, "test_loss")
        _, train = replica_matrix(run, "train_loss")
        _, norm = replica_matrix(run, "norm")
        _, dist = replica_matrix(run, "dist_dagger")
        maps["train_loss"].append(train.mean(axis=1))
        maps["test_loss"].append(test.mean(axis=1))
        if run.diverged:  # no final state: its subpath stops at the divergence (NaN from there on)
            finals.append({"decay_step": k, "run": name, "final_test": np.nan, "final_test_sem": np.nan, "final_train": np.nan,
                           "pre_decay_train": np.nan, "final_norm": np.nan, "final_dist_dagger": np.nan,
                           "diverged_at": diverged.diverged_at(run)})
        else:
            finals.append({"decay_step": k, "run": name, "final_test": test[-1].mean(), "final_test_sem": test[-1].std() / np.sqrt(test.shape[1]),
                           "final_train": train[-1].mean(), "pre_decay_train": _at(m_steps, m_train, k).mean(),
                           "final_norm": norm[-1].mean(), "final_dist_dagger": dist[-1].mean()})
        rows.append(pd.DataFrame({"decay_step": k, "run": name, "steps_after_decay": steps - k,
                                  "train_loss_mean": train.mean(axis=1), "test_loss_mean": test.mean(axis=1)}))
    after = max((r["steps_after_decay"].to_numpy() for r in rows), key=len)
    decay = np.array([b[0] for b in branches])
    eta_s = branches[0][2].spec.schedule.lr
    for ax, key, label in ((axes[1], "train_loss", "(b) train loss"), (axes[2], "test_loss", "(c) test loss")):
        Z = np.array([np.pad(z[: len(after)], (0, len(after) - len(z[: len(after)])), constant_values=np.nan) for z in maps[key]])
        mesh = ax.pcolormesh(after, decay, Z, shading="nearest", norm=LogNorm(), cmap="viridis")
        fig.colorbar(mesh, ax=ax)
        ax.set(xlabel=fr"steps after decay ($\eta_S$ = {eta_s:g})", ylabel="decay step", title=f"{label} of the subpaths")

    fin = pd.DataFrame(finals)
    ax = axes[3]
    ax.errorbar(fin["decay_step"], fin["final_test"], yerr=fin["final_test_sem"], fmt="o-", color="tab:orange", label="final test loss")
    ax.axhline(test_dag, color="tab:orange", ls=":", lw=1)
    ax.set(yscale="log", xlabel="decay step", ylabel="final test loss", title="(d) final test loss and norm vs decay time")
    twin = ax.twinx()
    twin.plot(fin["decay_step"], fin["final_norm"], "s--", color="tab:purple", label=r"final $\|w\|$")
    twin.axhline(r_dag, color="tab:purple", ls=":", lw=1)
    twin.set_ylabel(r"$\|w\|$ (dotted: $\|w^\dagger\|$)")
    for _, bad in fin[fin["final_test"].isna()].iterrows():
        ax.axvline(bad["decay_step"], color="tab:red", lw=1.5, ls="--",
                   label=f"decay at {bad['decay_step']}: diverged at step {bad['diverged_at']}")
    twin.grid(False)
    handles = ax.get_legend_handles_labels()[0] + twin.get_legend_handles_labels()[0]
    ax.legend(handles=handles, fontsize=10)
    fig.tight_layout()

    values = {
        "decay_steps": decay.tolist(),
        "final_test_loss": fin["final_test"].tolist(),
        "test_loss_w_dagger": test_dag,
        "spearman_decay_step_vs_final_test": float(spearmanr(decay, fin["final_test"]).statistic),
        "final_test_first_over_last": float(fin["final_test"].iloc[0] / fin["final_test"].iloc[-1]),
        "final_test_last_over_w_dagger": float(fin["final_test"].iloc[-1] / test_dag),
        "final_norm_last_over_w_dagger": float(fin["final_norm"].iloc[-1] / r_dag),
        "final_dist_dagger_last_over_first": float(fin["final_dist_dagger"].iloc[-1] / fin["final_dist_dagger"].iloc[0]),
        "post_decay_train_over_pre_decay": float((fin["final_train"] / fin["pre_decay_train"]).mean()),
        "final_train_loss": fin["final_train"].tolist(),
    }
    return FigureOutput(fig, pd.concat(rows + [fin.assign(kind="final")], ignore_index=True), diverged.finish(ctx, fig, values))
