"""Loss landscape in the PCA plane of a set of trajectories (``pca_landscape``; late-decay
Fig. 2, after Lorch 2016 and Li et al. 2018). Generic: any problem, any runs of one model.

The flattened states of every path are the rows of an exact PCA through the Gram matrix
(N x N, N states): at our sizes N << P, so this is cheaper than an SVD of the N x P matrix and
needs no randomized solver. The losses are then evaluated on the plane mean + x1 pc1 + x2 pc2
and, as the authors' code does (``landscape_pca.py``), on the surface bent along PC3 to follow
the trajectory, mean + x1 pc1 + x2 pc2 + (a x1^2 + b x1 + c) pc3, (a, b, c) the least-squares
fit of the states' PC3 coordinate on their PC1 coordinate. The grid is evaluated as one jitted
``lax.map`` (``landscape._evaluate``); the probe keeps no partial state, since redoing it is
cheaper than checkpointing it at our sizes (see the tests' timing).
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pandas as pd
from jax.flatten_util import ravel_pytree

from optdyn.registry import probe_kind
from optdyn.spec.probes import PCALandscape
from optdyn.train.results import RunResult

from .landscape import _evaluate, _loss, grid
from .restore import first_step, last_step, params_at


def path_steps(run: RunResult, every: int, from_step: int | None = None) -> list[int]:
    """The run's states every ``every`` steps from its first (or ``from_step``, if later) to its
    last, both included."""
    lo, hi = first_step(run), last_step(run)
    lo = max(lo, from_step or 0)
    if lo > hi:
        raise ValueError(f"run {run.run_id} has no state at or after step {from_step} (its last is {hi})")
    return sorted(set(range(lo, hi + 1, every)) | {hi})


def gram_pca(x: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Exact PCA of the rows of x (N, P): (mean (P,), unit components (k, P), coordinates (N, k),
    explained-variance ratios (min(N, k),)), in float64. Each component's sign is fixed so that
    its largest-magnitude coordinate is positive (runs of the probe agree)."""
    x = np.asarray(x, np.float64)
    mean = x.mean(axis=0)
    xc = x - mean
    lam, u = np.linalg.eigh(xc @ xc.T)
    order = np.argsort(lam)[::-1]
    lam, u = np.clip(lam[order], 0.0, None), u[:, order]
    total = lam.sum()
    k = min(k, x.shape[0])
    comps = np.zeros((k, x.shape[1]))
    for i in range(k):
        if lam[i] > 1e-12 * max(total, 1e-300):
            comps[i] = xc.T @ u[:, i] / np.sqrt(lam[i])
    coords = xc @ comps.T
    for i in range(k):
        j = np.argmax(np.abs(coords[:, i]))
        if coords[j, i] < 0:
            comps[i], coords[:, i] = -comps[i], -coords[:, i]
    explained = lam[:k] / total if total > 0 else np.zeros(k)
    return mean, comps, coords, explained


def curve_fit(c1: np.ndarray, c3: np.ndarray) -> tuple[float, float, float]:
    """(a, b, c) of the least-squares c3 ~ a c1^2 + b c1 + c (the authors' np.polyfit, degree 2)."""
    if len(c1) < 3:
        return 0.0, 0.0, float(np.mean(c3)) if len(c3) else 0.0
    a, b, c = np.polyfit(c1, c3, 2)
    return float(a), float(b), float(c)


def _axis(values, coords: np.ndarray, num: int, margin: float) -> np.ndarray:
    if values is not None:
        return grid(values)
    lo, hi = float(coords.min()), float(coords.max())
    pad = margin * max(hi - lo, 1e-12)
    return np.linspace(lo - pad, hi + pad, num)


@probe_kind(PCALandscape)
def pca_landscape(runs: dict[str, RunResult], spec: PCALandscape) -> pd.DataFrame:
    rows, flats, unravel, problem, dtype = [], [], None, None, None
    for ref in spec.paths:
        run = runs[ref.run]
        trainer = run.trainer()  # each run replayed in its own problem and dtype
        if problem is None:
            problem = trainer.problem
        for step, params in params_at(run, path_steps(run, ref.every, ref.from_step), trainer).items():
            flat, unr = ravel_pytree(params)
            if unravel is None:
                unravel, dtype = unr, flat.dtype
            elif flat.shape != flats[0].shape:
                raise ValueError(f"run '{ref.run}' has {flat.shape[0]} parameters, the first path {flats[0].shape[0]}: a PCA landscape needs one model")
            flats.append(np.asarray(flat, np.float64))
            rows.append({"run": ref.run, "step": int(step), "branch_step": first_step(run)})
    x = np.stack(flats)
    mean, comps, coords, explained = gram_pca(x, spec.components)
    if comps.shape[0] < 3:
        raise ValueError(f"a PCA landscape needs at least 3 states (has {comps.shape[0]})")
    a, b, c = curve_fit(coords[:, 0], coords[:, 2])
    x1 = _axis(spec.x1, coords[:, 0], spec.grid[0], spec.margin)
    x2 = _axis(spec.x2, coords[:, 1], spec.grid[1], spec.margin)
    g1, g2 = (m.ravel() for m in np.meshgrid(x1, x2, indexing="ij"))
    x0 = jnp.asarray(flats[0], dtype)
    fns = {name: _loss(problem, how, unravel, x0) for name, how in spec.losses.items()}
    origin = jnp.asarray(mean, dtype)
    surfaces = ["plane", "curved"] if spec.surface == "both" else [spec.surface]
    tables = []
    for surface in surfaces:
        dirs = jnp.asarray(comps[:2] if surface == "plane" else comps[:3], dtype)

        def coeffs(p1, p2, surface=surface):
            if surface == "plane":
                return np.stack([p1, p2], axis=1)
            return np.stack([p1, p2, a * p1**2 + b * p1 + c], axis=1)

        grid_losses = {n: _evaluate(f, origin, dirs, coeffs(g1, g2), spec.chunk) for n, f in fns.items()}
        tables.append(pd.DataFrame({"part": "grid", "surface": surface, "x1": g1, "x2": g2, **grid_losses}))
        # each state's projection onto this surface, and its losses there
        proj = {f"{n}_projected": _evaluate(f, origin, dirs, coeffs(coords[:, 0], coords[:, 1]), spec.chunk)
                for n, f in fns.items()}
        tables.append(pd.DataFrame({"part": "path", "surface": surface, "x1": coords[:, 0], "x2": coords[:, 1],
                                    "x3": coords[:, 2], **proj, **pd.DataFrame(rows)}))
    # the states' own losses (off the surface), once
    states = jnp.asarray(x, dtype)
    own = {n: _evaluate(f, states[0], states - states[0], np.eye(len(flats)), spec.chunk) for n, f in fns.items()}
    tables.append(pd.DataFrame({"part": "state", "x1": coords[:, 0], "x2": coords[:, 1], "x3": coords[:, 2], **own,
                                **pd.DataFrame(rows)}))
    tables.append(pd.DataFrame({"part": "pca", "pc": np.arange(1, len(explained) + 1), "explained": explained}))
    out = pd.concat(tables, ignore_index=True)
    out["curve_a"], out["curve_b"], out["curve_c"] = a, b, c
    out["n_params"], out["n_states"] = int(x.shape[1]), int(x.shape[0])
    return out
