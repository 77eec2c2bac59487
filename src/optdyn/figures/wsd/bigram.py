"""WSD paper, Sec. 4: the toy city -> name bigram language (Fig. 6) and what the stable and
decay phases of WSD learn on it (Fig. 7)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from optdyn.figures import diverged
from optdyn.figures.common import FigureContext, FigureOutput
from optdyn.precision import require_x64
from optdyn.registry import figure
from optdyn.theory import bigram


def hessian_traces_at_optimum(P: np.ndarray) -> np.ndarray:
    """Tr of d^2 l_i / d theta_i^2 at theta_i = log P_i, by automatic differentiation (an
    independent check of Lemma 4.1's closed form), in float64."""

    def city_loss(theta, p):
        return -jnp.sum(p * jax.nn.log_softmax(theta))

    require_x64(jnp.float64, "the Hessian traces of Fig. 6")
    logp = jnp.log(jnp.asarray(P, jnp.float64))
    hess = jax.vmap(jax.hessian(city_loss))(logp, jnp.asarray(P, jnp.float64))
    return np.asarray(jnp.trace(hess, axis1=-2, axis2=-1))


@figure("wsd", "fig06")
def fig06(ctx: FigureContext) -> FigureOutput:
    lang = ctx.plot.language
    P, is_det = bigram.make_language(lang.n_deterministic, lang.n_stochastic, lang.names,
                                     lang.det_entropy_max, lang.sto_entropy_min, lang.seed)
    H, U = bigram.entropy(P), bigram.gini(P)
    trace = hessian_traces_at_optimum(P)
    det_city, sto_city = int(np.flatnonzero(is_det)[0]), int(np.flatnonzero(~is_det)[0])
    fig, axes = plt.subplots(1, 3, figsize=(14, 3.8))
    names = np.arange(1, lang.names + 1)
    for ax, city, kind, color in ((axes[0], det_city, "deterministic", "C0"), (axes[1], sto_city, "stochastic", "C3")):
        ax.bar(names, P[city], color=color)
        ax.set_title(f"{kind} city {city}: entropy {H[city]:.3f} nats")
        ax.set_xlabel("name")
        ax.set_xticks(names)
        ax.set_ylim(0, 1)
    axes[0].set_ylabel("P(name | city)")
    axes[2].scatter(U[is_det], trace[is_det], s=6, color="C0", label="deterministic")
    axes[2].scatter(U[~is_det], trace[~is_det], s=6, color="C3", label="stochastic")
    axes[2].plot([0, 1], [0, 1], "k--", lw=0.8, label="y = x")
    axes[2].set_xlabel("Gini impurity $1-\\sum_j P_{ij}^2$")
    axes[2].set_ylabel("Tr Hessian at the optimum")
    axes[2].set_title("Lemma 4.1 (all cities)")
    axes[2].legend(fontsize=8)
    fig.tight_layout()
    df = pd.DataFrame({"city": np.arange(len(P)), "deterministic": is_det, "entropy": H, "gini": U, "hessian_trace": trace})
    for j in range(lang.names):
        df[f"P[{j}]"] = P[:, j]
    values = {
        "max_abs_trace_minus_gini": float(np.max(np.abs(trace - U))),
        "max_entropy_deterministic": float(H[is_det].max()),
        "min_entropy_stochastic": float(H[~is_det].min()),
        "mean_entropy": {"deterministic": float(H[is_det].mean()), "stochastic": float(H[~is_det].mean())},
    }
    return FigureOutput(fig, df, values)


@figure("wsd", "fig07")
def fig07(ctx: FigureContext) -> FigureOutput:
    wsd = ctx.runs["wsd"]
    (decay_start, decay_end), = wsd.spec.schedule.decays
    tau = decay_end - decay_start
    cols = ["loss", "loss_det", "loss_sto"]
    # a diverged run's curves stop at its last finite step; readings after it are NaN
    series = {name: diverged.finite_metrics(ctx.runs[name], "loss").set_index("step")[cols] for name in ("constant", "cosine", "wsd")}
    series = {name: df.reindex(df.index.union([decay_start - tau, decay_start, decay_end])) for name, df in series.items()}
    lang = wsd.spec.data
    P, is_det = bigram.make_language(lang.n_deterministic, lang.n_stochastic, lang.names,
                                     lang.det_entropy_max, lang.sto_entropy_min, lang.seed)
    H = bigram.entropy(P)
    optimum = {"loss": H.mean(), "loss_det": H[is_det].mean(), "loss_sto": H[~is_det].mean()}
    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    titles = {"loss": "all cities", "loss_det": "deterministic cities", "loss_sto": "stochastic cities"}
    for ax, col in zip(axes, cols):
        for name, df in series.items():
            ax.plot(df.index, df[col] - optimum[col], lw=1.5,
                    label=diverged.label(name.upper() if name == "wsd" else name, ctx.runs[name]))
            diverged.mark_end(ax, ctx.runs[name], df.index, df[col] - optimum[col])
        ax.axvline(decay_start, color="0.4", ls=":", lw=0.8)
        ax.set_yscale("log")
        ax.set_title(f"{titles[col]} (optimum {optimum[col]:.3f} nats)")
        ax.set_xlabel("step")
    axes[0].set_ylabel("population loss - optimum (nats)")
    axes[0].legend()
    fig.tight_layout()
    w = series["wsd"]
    before = w.loc[decay_start - tau]
    at_d, at_end = w.loc[decay_start], w.loc[decay_end]
    stable_drop, decay_drop = before - at_d, at_d - at_end
    values = {
        # share of the improvement over the last 2*tau steps that comes in the decay: ~0.5 for a
        # steady decrease, ~1 for a plateau followed by a sharp drop
        "decay_share_of_late_drop": float(decay_drop["loss"] / (stable_drop["loss"] + decay_drop["loss"])),
        "gap_wsd_minus_cosine_at_decay_start": float(at_d["loss"] - series["cosine"].loc[decay_start, "loss"]),
        "sto_share_of_decay_drop": float(decay_drop["loss_sto"] / (decay_drop["loss_sto"] + decay_drop["loss_det"])),
        "det_loss_wsd_minus_cosine_at_end": float(at_end["loss_det"] - series["cosine"].loc[decay_end, "loss_det"]),
        "sto_loss_wsd_minus_constant_at_end": float(at_end["loss_sto"] - series["constant"].loc[decay_end, "loss_sto"]),
        "final_loss": {k: float(v["loss"].iloc[-1]) for k, v in series.items()},
        "final_loss_det": {k: float(v["loss_det"].iloc[-1]) for k, v in series.items()},
        "final_loss_sto": {k: float(v["loss_sto"].iloc[-1]) for k, v in series.items()},
    }
    frames = [df.dropna(how="all").reset_index().assign(schedule=name) for name, df in series.items()]
    return FigureOutput(fig, pd.concat(frames, ignore_index=True), diverged.finish(ctx, fig, values))
