"""Fig. 4 (caption lost, rebuilt from Sec. 3.3.2 and App. B): the Phase-II drift of label-noise SGD
along the minima manifold M towards the minimum-norm interpolant w_dagger, against the effective
dynamics of Lemma 3.3 and the rate of Theorem 3.4."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from optdyn.figures import diverged
from optdyn.figures.common import FigureContext, FigureOutput
from optdyn.models.latedecay import ReparamLinearProblem
from optdyn.registry import figure
from optdyn.theory import latedecay as theory
from optdyn.train.results import RunResult


def replica_matrix(run: RunResult, name: str) -> tuple[np.ndarray, np.ndarray]:
    """(steps, values of shape (steps, replicas)) of a per-replica metric, eval rows only (a
    diverged run's up to its last finite step)."""
    df = diverged.finite_metrics(run)
    cols = [c for c in df.columns if c.startswith(f"{name}[")]
    cols.sort(key=lambda c: int(c[len(name) + 1 : -1]))
    rows = df[cols].notna().all(axis=1)
    return df.loc[rows, "step"].to_numpy(), df.loc[rows, cols].to_numpy(np.float64)


def _noise(run: RunResult) -> tuple[float, float]:
    """(eta, sigma^2) of a constant-LR label-noise run: sigma^2 = s^2/n for full-batch GD (catalog 1.3)."""
    m = run.spec.model
    return run.spec.schedule.lr, m.label_noise**2 / m.n


def _geometry_panel(ax, ctx: FigureContext, values: dict) -> None:
    ex = ctx.plot.example
    x, g = np.asarray(ex.x), ex.gamma
    inst = theory.Instance(x[:, None], np.asarray(ex.w_star), g)
    grid = np.linspace(ex.lo, ex.hi, ex.grid)
    W = np.stack(np.meshgrid(grid, grid), -1)
    train = theory.train_loss(W, inst.X, inst.y, "reparam", g)
    ax.contourf(grid, grid, np.log10(train + 1e-6), levels=25, cmap="Greys_r", alpha=0.6)
    ax.contour(grid, grid, theory.alpha(W, "reparam", g) @ x - inst.y[0], levels=[0.0], colors="k", linewidths=1.2)
    t = np.array([-3.0, 3.0])
    ax.plot(t * x[0] / np.linalg.norm(x), t * x[1] / np.linalg.norm(x), "k--", lw=0.8, label="col(X)")
    pts = theory.manifold_points_2d(x, inst.y[0], "reparam", g, r_max=2.8, grid=4001)
    pts = pts[np.linspace(0, len(pts) - 1, ctx.plot.arrows).astype(int)]
    for p in pts:
        v = theory.effective_drift(p, inst.X, g, eta=1.0, sigma2=1.0)
        positive = theory.C_of_w(p, inst.X, g) >= 0
        u = 0.25 * v / max(np.linalg.norm(v), 1e-300)
        ax.arrow(*p, *u, width=0.012, head_width=0.09, head_length=0.08, zorder=3,
                 color="tab:blue" if positive else "tab:red", length_includes_head=True)
    r_c = theory.stall_radius(inst)
    th = np.linspace(0, 2 * np.pi, 200)
    ax.plot(r_c * np.cos(th), r_c * np.sin(th), ":", color="tab:red", lw=1, label=f"$r_c$ = {r_c:.3f} (C = 0)")
    w_dag = theory.min_norm_interpolant(inst)
    ax.plot(*w_dag, "o", color="tab:orange", mec="k", ms=7, label=r"$w^\dagger$")
    ax.plot([], [], color="tab:blue", lw=2, label=r"drift, $C \geq 0$")
    ax.plot([], [], color="tab:red", lw=2, label=r"drift, $C < 0$")
    ax.set(xlim=(ex.lo, ex.hi), ylim=(ex.lo, ex.hi), aspect="equal", xlabel="$w_1$", ylabel="$w_2$",
           title=r"(a) effective drift on $\mathcal{M}$ ($d=2$, $n=1$, $\gamma=2$)")
    ax.legend(fontsize=7, loc="lower left")
    values["stall_radius_2d"] = r_c


def _towards_col_x(inst: theory.Instance, points: np.ndarray) -> list[bool]:
    """At points of M with C >= 0: does the drift shrink the distance to col(X)?"""
    out, P = [], np.eye(inst.X.shape[0]) - inst.proj_X()
    for p in points:
        if theory.C_of_w(p, inst.X, inst.gamma) >= 0:
            out.append(bool((P @ p) @ theory.effective_drift(p, inst.X, inst.gamma, 1.0, 1.0) < 0))
    return out


@figure("latedecay", "fig04")
def fig04(ctx: FigureContext) -> FigureOutput:
    plot = ctx.plot
    fig, axes = plt.subplots(1, 4, figsize=(20, 4.8))
    values: dict = {}
    _geometry_panel(axes[0], ctx, values)
    ex = plot.example
    inst2d = theory.Instance(np.asarray(ex.x)[:, None], np.asarray(ex.w_star), ex.gamma)
    towards = _towards_col_x(inst2d, theory.manifold_points_2d(ex.x, inst2d.y[0], "reparam", ex.gamma, r_max=10.0, grid=2001))

    rows, norm_ratio, dist_ratio, gaps, rate_ratio, printed_ratio, c_min, ou = [], [], [], [], [], [], [], []
    colors = {"phase2_g1": "tab:blue", "phase2_g2": "tab:green"}
    for name, color in colors.items():
        run = ctx.runs[name]
        inst = ReparamLinearProblem(run.spec.model).instance
        g, eta_s2 = inst.gamma, _noise(run)
        r_dag = float(np.linalg.norm(theory.min_norm_interpolant(inst)))
        steps, norms = replica_matrix(run, "norm")
        _, dists = replica_matrix(run, "dist_dagger")
        _, train = replica_matrix(run, "train_loss")
        mean = norms.mean(axis=1)
        start = int(np.searchsorted(steps, plot.ode_start_step))
        t = eta_s2[0] * steps
        ode = np.full(len(steps) - start, np.nan)
        with diverged.tolerated(run):  # a diverged run's path may not reach the ODE's start: no stats
            ode = theory.norm_trajectory(inst, mean[start], t[start:], *eta_s2)
            gaps.append(float(np.max(np.abs(mean[start:] - ode) / ode)))
        norm_ratio.append(float(mean[-1] / r_dag) if not run.diverged else np.nan)
        with diverged.tolerated(run):
            dist_ratio.append(float(dists[-1].mean() / dists[start].mean()))
        lin, b19 = theory.linearized_rate(inst, *eta_s2), theory.b19_rate(inst, *eta_s2)
        rate_ratio.append(lin / b19)
        printed_ratio.append(lin / theory.b19_rate(inst, *eta_s2, as_printed=True))
        with diverged.tolerated(run):
            r_lo = max(float(norms[start:].min()), r_dag * (1 + 1e-9))
            c_min.append(float(theory.C_of_w(theory.manifold_point(inst, r_lo), inst.X, g) / inst.X.shape[0]))
        radii = np.geomspace(r_dag * 1.01, 3.0, 12)
        towards += _towards_col_x(inst, np.array([theory.manifold_point(inst, r) for r in radii]))
        # (3.13): the stationary normal fluctuation costs E L = (sigma^2 eta / 4) tr hess L on M
        with diverged.tolerated(run):
            late = steps >= steps[-1] * (1 - plot.late_fraction)
            predicted = 0.25 * eta_s2[0] * eta_s2[1] * theory.hessian_trace_on_manifold(inst, norms[late])
            ou.append(float(train[late].mean() / predicted.mean()))

        ax = axes[1]
        lo, hi = np.percentile(norms, [10, 90], axis=1)
        ax.fill_between(t, lo, hi, color=color, alpha=0.2)
        ax.plot(t, mean, color=color, lw=1.6, label=diverged.label(fr"label-noise GD, $\gamma={g:g}$", run))
        diverged.mark_end(ax, run, t, mean)
        ax.plot(t[start:], ode, "--", color="k", lw=1.0)
        ax.axhline(r_dag, color=color, ls=":", lw=1.2)
        rows.append(pd.DataFrame({"panel": "b", "run": name, "gamma": g, "step": steps, "sde_time": t, "norm_mean": mean,
                                  "norm_ode": np.r_[np.full(start, np.nan), ode], "norm_w_dagger": r_dag,
                                  "dist_dagger_mean": dists.mean(axis=1), "train_loss_mean": train.mean(axis=1)}))
        if name == "phase2_g1":
            _plane_panel(axes[2], run, inst, rows)
            values["numerical_rank_sq"] = theory.numerical_rank_sq(inst.X)
    axes[1].plot([], [], "k--", lw=1, label="effective dynamics (3.15)")
    axes[1].plot([], [], "k:", lw=1, label=r"$\|w^\dagger\|$")
    axes[1].set(xlabel=r"SDE time $t = \eta k$", ylabel=r"$\|w\|$", yscale="log", title="(b) norm along $\\mathcal{M}$, $d=100$, $n=10$")
    axes[1].legend(fontsize=8)
    values.update(
        drift_towards_col_x_where_c_positive=bool(all(towards)), norm_over_w_dagger=norm_ratio,
        dist_dagger_final_over_start=dist_ratio[0], dist_dagger_final_over_start_per_gamma=dist_ratio,
        ode_max_rel_gap=max(gaps, default=np.nan), ode_max_rel_gap_per_gamma=gaps, linearized_rate_over_b19=min(rate_ratio),
        linearized_rate_over_b19_per_gamma=rate_ratio, linearized_rate_over_b19_as_printed=printed_ratio,
        min_c_over_d_on_path=min(c_min, default=np.nan), train_loss_over_ou_prediction=ou)
    values["timescale_collapse_max_rel_spread"] = _collapse_panel(axes[3], ctx, rows)
    fig.tight_layout()
    return FigureOutput(fig, pd.concat(rows, ignore_index=True), diverged.finish(ctx, fig, values))


def _plane_panel(ax, run: RunResult, inst: theory.Instance, rows: list) -> None:
    """Trajectories in (a, b) = (w . e_dagger, ||P_Xperp w||); on M, a (a^2 + b^2)^(g/2) = ||alpha*_X||."""
    steps, a = replica_matrix(run, "coord_dagger")
    _, b = replica_matrix(run, "coord_perp")
    g = inst.gamma
    ax_norm = np.linalg.norm(inst.proj_X() @ inst.alpha_star)
    bb = np.linspace(0, 3.2, 400)
    # solve a (a^2 + b^2)^(g/2) = ||alpha*_X|| for a by bisection-free fixed point on the monotone map
    aa = np.array([_solve_a(ax_norm, bi, g) for bi in bb])
    ax.plot(aa, bb, "k", lw=1.4, label=r"$\mathcal{M}$")
    for r in range(min(a.shape[1], 8)):
        ax.plot(a[:, r], b[:, r], lw=0.8, alpha=0.8)
    r_dag = ax_norm ** (1 / (1 + g))
    ax.plot(r_dag, 0, "o", color="tab:orange", mec="k", ms=8, label=r"$w^\dagger$", zorder=5)
    ax.set(xlabel=r"$\langle w, \bar w^\dagger\rangle$", ylabel=r"$\|P_{X^\perp} w\|$", xlim=(-0.5, 1.0),
           title=fr"(c) trajectories, $\gamma={g:g}$ (8 of {a.shape[1]} replicas)")
    ax.legend(fontsize=8)
    rows.append(pd.DataFrame({"panel": "c", "run": run.run_id, "step": np.repeat(steps, a.shape[1]),
                              "replica": np.tile(np.arange(a.shape[1]), len(steps)), "coord_dagger": a.ravel(),
                              "coord_perp": b.ravel()}))


def _solve_a(c: float, b: float, g: float) -> float:
    lo, hi = 0.0, c ** (1 / (1 + g)) + 1e-12
    for _ in range(100):  # f(a) = a (a^2+b^2)^(g/2) is increasing in a >= 0
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if mid * (mid * mid + b * b) ** (g / 2) < c else (lo, mid)
    return 0.5 * (lo + hi)


def _collapse_panel(ax, ctx: FigureContext, rows: list) -> float:
    """||w|| against s^2 eta^2 k for runs differing only in (eta, s): the drift takes
    Theta(1/(sigma^2 eta)) SDE time, i.e. Theta(1/(s^2 eta^2)) steps; returns the largest relative
    spread of the runs' mean norms at the marks."""
    at_marks = []
    for name in ctx.plot.collapse_runs:
        run = ctx.runs[name]
        eta, s = run.spec.schedule.lr, run.spec.model.label_noise
        steps, norms = replica_matrix(run, "norm")
        clock = s * s * eta * eta * steps
        ax.plot(clock, norms.mean(axis=1), lw=1.4, label=diverged.label(fr"$\eta$={eta:g}, s={s:g}", run))
        diverged.mark_end(ax, run, clock, norms.mean(axis=1))
        # a diverged run has no norm after its divergence: NaN there, not its last value
        marks = np.asarray(ctx.plot.collapse_marks, float)
        at = np.interp(marks, clock, norms.mean(axis=1)) if len(clock) else np.full(len(marks), np.nan)
        at_marks.append(np.where(marks <= (clock[-1] if len(clock) else -np.inf), at, np.nan) if run.diverged else at)
        rows.append(pd.DataFrame({"panel": "d", "run": name, "eta": eta, "s": s, "step": steps, "clock": clock,
                                  "norm_mean": norms.mean(axis=1)}))
    for m in ctx.plot.collapse_marks:
        ax.axvline(m, color="grey", lw=0.6, ls=":")
    ax.set(xlabel=r"$s^2\eta^2 k$", ylabel=r"$\|w\|$", title="(d) time-scale collapse ($\\gamma=1$)",
           xlim=(0, 1.1 * max(ctx.plot.collapse_marks)))
    ax.legend(fontsize=8)
    at_marks = np.array(at_marks)
    return float(np.max((at_marks.max(axis=0) - at_marks.min(axis=0)) / at_marks.mean(axis=0)))
