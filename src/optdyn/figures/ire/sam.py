"""IRE paper, Table 6 (Thms 5.5-5.6): the effective LR of SAM's implicit regularization, without
and with IRE, measured on L = (1 + |u|^2)|v|^2 / 2 with one sharp direction.

On this toy grad_M Tr(Hess)/2 = u, so the effective dynamics (9) is du/dt = -eta_eff u and
eta_eff is the decay rate of ln|u|, fitted over the late part of each run (phase II). Runs are
classified by their optimizer spec (SAM perturbation, rho, kappa), eta and p."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from optdyn.figures import diverged
from optdyn.figures.common import FigureContext, FigureOutput
from optdyn.figures.ire.toy import kappa_of
from optdyn.figures.tables import draw_table
from optdyn.optim.optimizers import find
from optdyn.registry import figure
from optdyn.theory import ire as theory


def _measure(name: str, run, skip: int, max_drop: float) -> dict:
    sam = find(run.spec.optimizer, "sam")
    model = run.spec.model
    p = model.flat_dims + model.sharp_dims
    row = {"run": name, "kind": sam.perturbation, "eta": run.spec.schedule.lr, "rho": sam.rho,
           "kappa": kappa_of(run), "ire": find(run.spec.optimizer, "ire") is not None, "p": p,
           "diverged_at": diverged.diverged_at(run)}
    df = diverged.finite_metrics(run, "log_u_norm")  # a diverged run's up to its last finite step
    log_u = df["log_u_norm"].to_numpy()
    # phase II only, and only while |u| is well above the noise floor that average SAM's random
    # perturbation of u sets (the drift is exponential, the floor is not)
    fell = np.flatnonzero(log_u < log_u[0] - max_drop) if log_u.size else np.zeros(0, int)
    end = int(df["step"].iloc[fell[0]]) if fell.size else int(df["step"].max()) + 1 if log_u.size else 0
    window = df[(df["step"] >= skip) & (df["step"] < end)]
    row["rate"] = diverged.guarded(run, theory.decay_rate, window["step"], window["log_u_norm"])
    row["fit_steps"] = f"{int(window['step'].iloc[0])}-{int(window['step'].iloc[-1])}" if len(window) else "-"
    row["v_sq_late"] = float(df["v_sq"][df["step"] >= skip].mean())
    row["peak_loss"] = _peak_loss(run)
    row["predicted"] = float(theory.effective_lr(sam.perturbation, row["eta"], row["rho"], row["kappa"], p))
    row["measured_over_predicted"] = row["rate"] / row["predicted"]
    return row


def paired_rate_ratio(fast: pd.DataFrame, slow: pd.DataFrame, skip: int, max_drop: float) -> float:
    """rate(fast) / rate(slow), both fitted over the same window of ln|u|: the part of ln|u| that
    both runs cross in phase II (after ``skip`` steps, within ``max_drop`` of their start).

    Each run's own window would compare a slow run's early u range with a fast run's much wider
    one; the rate drifts with u (the O(eta rho) oscillation of v depends on h(u)), which biased
    the rho = 0.02 ratio from 51 to 48."""
    parts = []
    for df in (fast, slow):
        late = df[df["step"] >= skip]
        log_u = late["log_u_norm"].to_numpy()
        parts.append((late, log_u))
    top = min(lu[0] for _, lu in parts)
    bottom = max(max(lu.min(), lu[0] - max_drop) for _, lu in parts)
    rates = []
    for late, log_u in parts:
        inside = (log_u <= top) & (log_u >= bottom)
        if inside.sum() < 3:
            return float("nan")
        rates.append(theory.decay_rate(late["step"][inside], log_u[inside]))
    return rates[0] / rates[1]


def _peak_loss(run) -> float:
    return float("inf") if run.diverged else float(run.metrics["batch_loss"].max())


def _slope(df: pd.DataFrame, x: str) -> float:
    return theory.loglog_slope(df[x], df["rate"])


@figure("ire", "tab06")
def tab06(ctx: FigureContext) -> FigureOutput:
    skip, max_drop = ctx.plot.fit_skip_steps, ctx.plot.fit_max_drop
    rows = pd.DataFrame([_measure(n, r, skip, max_drop) for n, r in ctx.runs.items() if n != "std_global_lr"])
    std = rows[rows["kind"] == "standard"].sort_values("rho")
    avg = rows[rows["kind"] == "average"]
    p_ref = int(avg["p"].min())
    eta_ref = float(avg["eta"].max())
    avg_eta = avg[avg["p"] == p_ref].sort_values("eta")
    avg_p = avg[avg["eta"] == eta_ref].sort_values("p")
    std_sam, std_ire = std[~std["ire"]], std[std["ire"]]

    slopes = {
        "average SAM": _slope(avg_eta[~avg_eta["ire"]], "eta"),
        "IRE + average SAM": _slope(avg_eta[avg_eta["ire"]], "eta"),
        "standard SAM": _slope(std_sam, "rho"),
        "IRE + standard SAM": _slope(std_ire, "rho"),
    }
    slope_p = [_slope(avg_p[~avg_p["ire"]], "p"), _slope(avg_p[avg_p["ire"]], "p")]
    table = pd.DataFrame([
        {"algorithm": t["algorithm"], "eta_eff (paper)": t["eta_eff"],
         "exponent of": t["exponent_of"], "paper": t["exponent"], "measured": round(slopes[t["algorithm"]], 3),
         "exponent of p (measured)": round(slope_p[t["algorithm"].startswith("IRE")], 3) if "average" in t["algorithm"] else "-",
         "rate / (1+kappa) eta rho^2 [/p]": _ratio_range(avg_eta if "average" in t["algorithm"] else std,
                                                          t["algorithm"].startswith("IRE"))}
        for t in theory.TABLE6
    ])

    fig = plt.figure(figsize=(16, 7.4))
    grid = fig.add_gridspec(2, 3, height_ratios=[0.45, 1.2])
    draw_table(fig.add_subplot(grid[0, :]), table,
               "Table 6: effective LR of SAM's implicit regularization (paper's exponents vs measured log-log slopes)",
               row_scale=1.5)
    panels = [(std, "rho", "standard SAM ($\\eta$ = %g)" % std["eta"].iloc[0], "$\\rho$"),
              (avg_eta, "eta", f"average SAM (p = {p_ref}, $\\rho = \\sqrt{{\\eta}}$)", "$\\eta$"),
              (avg_p, "p", f"average SAM ($\\eta$ = {eta_ref:g})", "p")]
    for k, (df, x, title, xlabel) in enumerate(panels):
        ax = fig.add_subplot(grid[1, k])
        for ire, marker, color in ((False, "o", "tab:blue"), (True, "s", "tab:orange")):
            part = df[df["ire"] == ire]
            label = ("IRE ($\\kappa = 1/\\rho$)" if ire else "SAM") + f", slope {_slope(part, x):.2f}"
            ax.loglog(part[x], part["rate"], marker, color=color, ms=7, label=label)
            ax.loglog(part[x], part["predicted"], "--", color=color, lw=1)
            for _, bad in part[part["diverged_at"].notna()].iterrows():  # no rate: an x on its prediction
                ax.loglog([bad[x]], [bad["predicted"]], "x", color="tab:red", ms=10, mew=2.5,
                          label=f"{bad['run']} diverged at step {int(bad['diverged_at'])}")
        ax.set_xlabel(xlabel)
        ax.set_ylabel("$\\eta_{\\rm eff}$ = decay rate of ln|u|")
        ax.set_title(title + "\n(dashed: $(1+\\kappa)\\eta\\rho^2$" + (" / p)" if x != "rho" else ")"), fontsize=10)
        ax.legend(fontsize=8)
    fig.tight_layout()

    glob = ctx.runs["std_global_lr"]
    values = {
        "rows": table.to_dict(orient="records"),
        "standard_sam_slope_rho": slopes["standard SAM"],
        "standard_ire_slope_rho": slopes["IRE + standard SAM"],
        "standard_ire_over_sam": _paired_ratios(ctx, std_ire, std_sam, skip, max_drop),
        "standard_one_plus_kappa": (1 + std_ire["kappa"]).tolist(),
        "average_sam_slope_eta": slopes["average SAM"],
        "average_ire_slope_eta": slopes["IRE + average SAM"],
        "average_slope_p": slope_p,
        "global_lr": glob.spec.schedule.lr,
        "global_lr_status": glob.status["status"],
        "standard_ire_over_sam_v_sq": (std_ire["v_sq_late"].to_numpy() / std_sam["v_sq_late"].to_numpy()).tolist(),
        "standard_peak_loss": {"SAM": std_sam["peak_loss"].tolist(), "IRE": std_ire["peak_loss"].tolist(),
                               f"SAM at lr {glob.spec.schedule.lr:g}": _peak_loss(glob)},
        "peak_loss_ire_over_sam_max": float((std_ire["peak_loss"].to_numpy() / std_sam["peak_loss"].to_numpy()).max()),
        "peak_loss_global_lr_over_ire": float(_peak_loss(glob) / std_ire["peak_loss"].iloc[-1]),
        "measured_over_predicted": dict(zip(rows["run"], rows["measured_over_predicted"].round(4))),
    }
    return FigureOutput(fig, rows, diverged.finish(ctx, fig, values))


def _paired_ratios(ctx: FigureContext, ire_rows: pd.DataFrame, sam_rows: pd.DataFrame, skip: int, max_drop: float) -> list:
    """IRE over SAM at each rho (rows in the same rho order), each pair fitted over one u-window."""
    frames = {n: diverged.finite_metrics(ctx.runs[n], "log_u_norm") for n in [*ire_rows["run"], *sam_rows["run"]]}
    return [paired_rate_ratio(frames[i], frames[s], skip, max_drop) for i, s in zip(ire_rows["run"], sam_rows["run"])]


def _ratio_range(df: pd.DataFrame, ire: bool) -> str:
    r = df[df["ire"] == ire]["measured_over_predicted"]
    return f"{r.min():.2f}-{r.max():.2f}"
