"""The 3-D scale-invariant toy (Fig. 3c, App. F)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np

from optdyn.figures import diverged
from optdyn.figures.common import FigureContext, FigureOutput
from optdyn.figures.style import colorbar, legend_outside, ran_line
from optdyn.registry import figure
from optdyn.theory import normsharp as th

from . import series as S


def _sphere_loss_map(n: int = 120):
    """F on the upper part of the unit sphere, parametrized by (x, y) in the disk."""
    g = np.linspace(-1, 1, n)
    x, y = np.meshgrid(g, g)
    z = np.sqrt(np.clip(1 - x**2 - y**2, 0, None))
    pts = np.stack([x, y, z], axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        f = th.toy3d_F(pts)
    return x, y, np.where(x**2 + y**2 <= 1, f, np.nan)


@figure("normsharp", "fig03")
def fig03(ctx: FigureContext) -> FigureOutput:
    run = ctx.runs["toy"]
    df = S.gdwd_frame(run)
    lr, wd = S.hyper(run)
    theta = df[["theta_f[0]", "theta_f[1]", "theta_f[2]"]].to_numpy()
    # the trajectory stays on one hemisphere (z > 0 at the start, z -> 0): plot it seen from above
    x, y, f = _sphere_loss_map()
    fig = plt.figure(figsize=(13, 5.2), layout="constrained")
    ax = fig.add_subplot(1, 2, 1)
    # low F light (the valley is pale), so Gamma is drawn black as its legend says
    cf = ax.contourf(x, y, f, levels=30, cmap="Greys")
    colorbar(fig, cf, ax, r"$F(\theta)$ on $S^2$", format="%.2g")
    t = np.linspace(0, np.pi / 2, 50)
    ax.plot(np.cos(t) / np.sqrt(2), np.cos(t) / np.sqrt(2), color="k", lw=2.2, label=r"$\Gamma$: $x = y > 0$")
    ax.plot(theta[:, 0], theta[:, 1], "-", color="C1", lw=0.7, marker=".", ms=2.5, label=diverged.label(r"$\theta_t$", run))
    diverged.mark_end(ax, run, theta[:, 0], theta[:, 1])
    ax.plot(*theta[0, :2], "o", color="C0", label=r"$\theta_0$")
    ax.plot(1 / np.sqrt(2), 1 / np.sqrt(2), "*", color="C3", mec="k", mew=0.8, ms=15, label=r"$\zeta^*$", zorder=5)
    ax.set(xlim=(-0.1, 1.0), ylim=(-0.1, 1.0), aspect="equal", xlabel="x", ylabel="y",
           title=r"$\theta_t$ on $S^2$ (top view, z = $\sqrt{1-x^2-y^2}$)")
    legend_outside(ax, "below", ncol=4)
    ax = fig.add_subplot(1, 2, 2)
    ax.plot(df["step"], df["sharpness"], label=r"sharpness $\lambda_1(\nabla^2 L(\theta_t))$")
    ax.plot(df["step"], th.toy3d_sharpness_on_manifold(theta[:, 2]), ls=":", label=r"$6/(1-z_t^2)$ (on $\Gamma$)")
    ax.plot(df["step"], df["two_over_eta"], ls="--", label=r"$2/\tilde\eta_t$")
    ax.set(xlabel="step", ylabel="sharpness", title="sharpness, threshold and z")
    twin = ax.twinx()
    twin.plot(df["step"], theta[:, 2], color="C3", lw=1.0, label=r"$z_t$ (right axis)")
    twin.set(ylabel="z", ylim=(-0.05, 0.75))
    twin.grid(False)
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = twin.get_legend_handles_labels()
    legend_outside(ax, "below", handles=h1 + h2, labels=l1 + l2, ncol=2)
    values = diverged.guarded(run, _values, df, theta, default=diverged.unmeasured(ctx))
    data = df[["step", "train_loss", "sharpness", "two_over_eta"]].assign(x=theta[:, 0], y=theta[:, 1], z=theta[:, 2])
    fig.suptitle(f"3-D scale-invariant toy, GD+WD ($\\eta$ = {lr}, $\\lambda$ = {wd}): {ran_line(ctx, 'toy', 200)}")
    return FigureOutput(fig, data, diverged.finish(ctx, fig, values))


def _values(df, theta: np.ndarray) -> dict:
    last, prev = theta[-1], theta[-2]
    mid = (last + prev) / np.linalg.norm(last + prev)
    hess = jax.hessian(th.toy3d_F)(jnp.asarray(mid))  # in F-coordinates: lambda_1 is rotation-invariant
    return {
        "initial_two_over_eta": float(df["two_over_eta"].iloc[0]),
        "initial_manifold_sharpness": float(th.toy3d_sharpness_on_manifold(theta[0, 2])),
        "final_abs_z": float(abs(last[2])),
        "final_orbit_xy": sorted([round(float(last[0]), 4), round(float(last[1]), 4)]),
        "final_sharpness_at_midpoint": float(np.linalg.eigvalsh(np.asarray(hess))[-1]),
        "period_two_residual": float(np.linalg.norm(last - theta[-3])),
    }
