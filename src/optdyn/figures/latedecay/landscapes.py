"""Fig. 3: train and test loss landscapes of linear regression, the L = 3 diagonal network and
the reparametrized model y = ||w||^2 w^T x on the paper's d = 2, n = 1 example (analytic)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.colors import LogNorm

from optdyn.curvature import top_eigenpairs
from optdyn.figures.common import FigureContext, FigureOutput
from optdyn.precision import require_x64
from optdyn.registry import figure
from optdyn.theory import latedecay as theory

MODELS = (("linear", r"linear regression $y=w^\top x$"), ("diag", r"diagonal net $y=(w^{\odot 3})^\top x$"),
          ("reparam", r"ours $y=\|w\|^{\gamma} w^\top x$"))


def _alpha_jax(w, kind: str, gamma: float):
    if kind == "linear":
        return w
    if kind == "diag":
        return w**3
    return jnp.linalg.norm(w) ** gamma * w


def _hessian_eigs(loss, w) -> np.ndarray:
    """All eigenvalues (descending) of the Hessian of ``loss`` at w, by autodiff in float64."""
    require_x64(jnp.float64, "the Hessian eigenvalues of Fig. 3")
    x = jnp.asarray(w, jnp.float64)
    vals, _ = top_eigenpairs(loss, x, k=x.shape[0], method="dense")
    return np.asarray(vals)


def _touches_boundary(mask: np.ndarray) -> bool:
    return bool(mask[0].any() or mask[-1].any() or mask[:, 0].any() or mask[:, -1].any())


def _width_exponent(x, y, kind, gamma, norms) -> float:
    """Slope of log(valley width) against log||w|| along M, width = 1/sqrt(top Hessian eigenvalue)
    (the sublevel set {L <= eps} across the valley is sqrt(2 eps / lambda) wide)."""
    pts = theory.manifold_points_2d(x, y, kind, gamma, r_max=10 * norms[1], grid=200001)
    r = np.linalg.norm(pts, axis=1)
    picks = [pts[np.argmin(np.abs(r - target))] for target in np.geomspace(*norms, 6)]
    loss = lambda w: 0.5 * (jnp.dot(jnp.asarray(x), _alpha_jax(w, kind, gamma)) - y) ** 2  # noqa: E731
    lam = [_hessian_eigs(loss, p)[0] for p in picks]
    return float(np.polyfit(np.log(np.linalg.norm(picks, axis=1)), -0.5 * np.log(lam), 1)[0])


@figure("latedecay", "fig03")
def fig03(ctx: FigureContext) -> FigureOutput:
    ex, gamma = ctx.plot.example, ctx.plot.example.gamma
    x, w_star = np.asarray(ex.x), np.asarray(ex.w_star)
    grid = np.linspace(ex.lo, ex.hi, ex.grid)
    W = np.stack(np.meshgrid(grid, grid), axis=-1)  # W[i, j] = (grid[j], grid[i])
    fig, axes = plt.subplots(2, 3, figsize=(14, 8.6), sharex=True, sharey=True)
    values: dict = {"train_hessian_null_dims_on_manifold": [], "train_sublevel_touches_boundary": [],
                    "test_sublevel_touches_boundary": []}
    test_min_eigs, grid_errors, rows = [], [], []
    for col, (kind, label) in enumerate(MODELS):
        a_star = theory.alpha(w_star, kind, gamma)
        y = float(x @ a_star)
        train = theory.train_loss(W, x[:, None], np.array([y]), kind, gamma)
        test = theory.test_loss(W, a_star, kind, gamma)
        w_min = theory.min_norm_point_2d(x, y, kind, gamma)
        values[f"min_norm_{kind}"] = w_min.tolist()
        values[f"min_norm_norm_{kind}"] = float(np.linalg.norm(w_min))
        values[f"test_loss_at_min_norm_{kind}"] = float(theory.test_loss(w_min, a_star, kind, gamma))
        values[f"test_loss_at_zero_{kind}"] = float(theory.test_loss(np.zeros(2), a_star, kind, gamma))

        # minima: M (a curve, one flat Hessian direction at each of its points) against w*
        manifold = theory.manifold_points_2d(x, y, kind, gamma, r_max=3 * ex.hi)
        train_fn = lambda w, k=kind, yy=y: 0.5 * (jnp.dot(jnp.asarray(x), _alpha_jax(w, k, gamma)) - yy) ** 2  # noqa: E731
        test_fn = lambda w, k=kind, a=a_star: 0.5 * jnp.sum((_alpha_jax(w, k, gamma) - a) ** 2)  # noqa: E731
        nulls = []
        for p in manifold[:: max(1, len(manifold) // 7)]:
            eig = _hessian_eigs(train_fn, p)
            nulls.append(int(np.sum(np.abs(eig) <= 1e-9 * max(abs(eig[0]), 1.0))))
        values["train_hessian_null_dims_on_manifold"].append(max(nulls) if min(nulls) == max(nulls) else -1)
        test_min_eigs.append(float(_hessian_eigs(test_fn, w_star)[-1]))
        i, j = np.unravel_index(np.argmin(test), test.shape)
        grid_errors.append(float(np.linalg.norm(W[i, j] - w_star)))
        values["train_sublevel_touches_boundary"].append(_touches_boundary(train <= ctx.plot.sublevel))
        values["test_sublevel_touches_boundary"].append(_touches_boundary(test <= ctx.plot.sublevel))
        values[f"valley_width_exponent_{kind}"] = _width_exponent(x, y, kind, gamma, ctx.plot.width_norms)

        for row, (name, Z) in enumerate((("train", train), ("test", test))):
            ax = axes[row, col]
            levels = np.geomspace(max(Z.min(), 1e-4), Z.max(), 30)
            cs = ax.contourf(grid, grid, np.clip(Z, levels[0], None), levels=levels, norm=LogNorm(), cmap="viridis")
            fig.colorbar(cs, ax=ax, format="%.0e", ticks=levels[::6])
            ax.contour(grid, grid, theory.alpha(W, kind, gamma) @ x - y, levels=[0.0], colors="white", linewidths=1.4)
            ax.plot([], [], color="white", lw=1.4, label=r"minima manifold $\mathcal{M}$")
            t = np.linspace(-3, 3, 2)
            ax.plot(t * x[0] / np.linalg.norm(x), t * x[1] / np.linalg.norm(x), "w--", lw=0.9, label="col(X)")
            ax.plot(*w_star, "*", color="tab:red", ms=13, mec="k", label=r"$w^*$ (test minimum)")
            ax.plot(*w_min, "o", color="tab:orange", ms=7, mec="k", label="min-norm interpolant")
            ax.set_xlim(ex.lo, ex.hi)
            ax.set_ylim(ex.lo, ex.hi)
            ax.set_aspect("equal")
            if row == 0:
                ax.set_title(f"({'abc'[col]}) {label}", fontsize=10)
            if col == 0:
                ax.set_ylabel(f"{name} loss\n$w_2$")
            if row == 1:
                ax.set_xlabel("$w_1$")
        thin = (slice(None, None, 4), slice(None, None, 4))  # the csv keeps every 4th grid line
        rows.append(pd.DataFrame({"model": kind, "w1": W[thin][..., 0].ravel(), "w2": W[thin][..., 1].ravel(),
                                  "train_loss": train[thin].ravel(), "test_loss": test[thin].ravel()}))
    axes[0, 0].legend(loc="lower left", fontsize=7, framealpha=0.8)
    fig.suptitle(fr"Train vs test landscapes: $d=2$, $n=1$, $w^*={tuple(ex.w_star)}$, $X={tuple(ex.x)}^\top$, $\gamma={gamma:g}$")
    fig.tight_layout()

    inst = theory.Instance(x[:, None], w_star, gamma)
    closed = theory.min_norm_interpolant(inst)
    a_perp = inst.alpha_star - inst.proj_X() @ inst.alpha_star
    values["min_norm_reparam_closed_form"] = closed.tolist()
    values["min_norm_reparam_minus_closed_form"] = float(np.max(np.abs(np.asarray(values["min_norm_reparam"]) - closed)))
    values["half_sq_norm_alpha_star_perp"] = float(0.5 * a_perp @ a_perp)
    values["test_hessian_min_eig"] = min(test_min_eigs)
    values["test_hessian_min_eig_per_model"] = test_min_eigs
    values["test_minimizer_on_grid"] = max(grid_errors)
    values["valley_width_exponent"] = [values["valley_width_exponent_linear"], values["valley_width_exponent_reparam"]]
    values["stall_radius"] = theory.stall_radius(inst)
    return FigureOutput(fig, pd.concat(rows, ignore_index=True), values)
