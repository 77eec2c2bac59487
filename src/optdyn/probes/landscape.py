"""Loss landscapes through checkpoints of one or several runs (WSD Figs. 5, 12, 13, 14).

Every point is theta = origin + c @ directions for a coefficient row c, so a line (one
direction) and a plane (two) are one evaluation: ``lax.map`` over the coefficient rows in
chunks of ``spec.chunk``, each chunk vmapped, so at most ``chunk`` parameter copies exist at
once (an LM's params times the grid would not fit). The loss is that of the first point's run
(its problem, in its dtype): ``eval.metric``, a scalar of ``problem.metrics``, or the training
loss on the fixed batch ``sample_batch(PRNGKey(eval.batch_seed))``. Any ``Problem`` works.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
from jax.flatten_util import ravel_pytree

from optdyn.registry import probe_kind
from optdyn.spec.probes import CheckpointRef, Interpolation, Linspace, PlaneSlice
from optdyn.train.results import RunResult
from optdyn.train.trainer import Trainer

from .restore import params_at


def grid(values: Linspace | list[float]) -> np.ndarray:
    if isinstance(values, Linspace):
        return np.linspace(values.start, values.stop, values.num)
    return np.asarray(values, dtype=np.float64)


@probe_kind(Interpolation)
def interpolation(runs: dict[str, RunResult], spec: Interpolation) -> pd.DataFrame:
    """theta(alpha) = (1 - alpha) A + alpha B, evaluated as A + alpha (B - A)."""
    (a, b), f = _points(runs, [spec.start, spec.end], spec)
    alphas = grid(spec.alphas)
    losses = _evaluate(f, a, (b - a)[None], alphas[:, None], spec.chunk)
    distance = float(np.linalg.norm(np.asarray(b, np.float64) - np.asarray(a, np.float64)))
    return pd.DataFrame({
        "alpha": alphas, "loss": losses, "distance": distance, "n_params": int(a.shape[0]), "loss_of": _eval_name(spec),
        **_labels("start", spec.start), **_labels("end", spec.end),
    })


@probe_kind(PlaneSlice)
def plane_slice(runs: dict[str, RunResult], spec: PlaneSlice) -> pd.DataFrame:
    """theta = O + a (P_a - O) + b (P_b - O) (raw), or O + a |u| e1 + b |v| e2 (orthonormal)."""
    (o, pa, pb), f = _points(runs, [spec.origin, spec.a_point, spec.b_point], spec)
    u, v = np.asarray(pa - o, np.float64), np.asarray(pb - o, np.float64)
    basis = gram_schmidt(u, v)
    a_vals, b_vals = grid(spec.a_values), grid(spec.b_values)
    a, b = (m.ravel() for m in np.meshgrid(a_vals, b_vals, indexing="ij"))
    if spec.basis == "raw":
        dirs = np.stack([u, v])
        x, y = a * basis["dist_a"] + b * basis["v_along_e1"], b * basis["v_across_e1"]
    else:
        dirs = np.stack([basis["dist_a"] * basis["e1"], basis["dist_b"] * basis["e2"]])
        x, y = a * basis["dist_a"], b * basis["dist_b"]
    losses = _evaluate(f, o, jnp.asarray(dirs, o.dtype), np.stack([a, b], axis=1), spec.chunk)
    return pd.DataFrame({
        "a": a, "b": b, "x": x, "y": y, "loss": losses, "basis": spec.basis,
        "dist_a": basis["dist_a"], "dist_b": basis["dist_b"], "angle_deg": basis["angle_deg"],
        "n_params": int(o.shape[0]), "loss_of": _eval_name(spec),
        **_labels("origin", spec.origin), **_labels("a_point", spec.a_point), **_labels("b_point", spec.b_point),
    })


def gram_schmidt(u: np.ndarray, v: np.ndarray) -> dict:
    """e1 along u, e2 along the part of v orthogonal to u; |u|, |v|, v's coordinates in (e1, e2)
    and the angle between u and v, in float64."""
    dist_a, dist_b = float(np.linalg.norm(u)), float(np.linalg.norm(v))
    if dist_a == 0 or dist_b == 0:
        raise ValueError(f"a plane needs two distinct directions; |a_point - origin| = {dist_a}, |b_point - origin| = {dist_b}")
    e1 = u / dist_a
    along = float(e1 @ v)
    w = v - along * e1
    across = float(np.linalg.norm(w))
    if across <= 1e-12 * dist_b:
        raise ValueError("the three points are collinear: they span no plane")
    cos = np.clip(along / dist_b, -1.0, 1.0)
    return {"e1": e1, "e2": w / across, "dist_a": dist_a, "dist_b": dist_b, "v_along_e1": along,
            "v_across_e1": across, "angle_deg": float(np.degrees(np.arccos(cos)))}


def _points(runs: dict[str, RunResult], refs: list[CheckpointRef], spec):
    """Flat params at each point (in the first point's dtype) and the loss f(flat) (the first
    point's run's problem, built in that run's dtype)."""
    first = refs[0].run
    restored = {}
    for name in [n for n in dict.fromkeys(r.run for r in refs) if n != first] + [first]:
        trainer = runs[name].trainer()  # each run replayed in its own dtype; the first run's last
        restored[name] = params_at(runs[name], [r.step for r in refs if r.run == name], trainer)
    x0, unravel = ravel_pytree(restored[first][refs[0].step])
    flats = [jnp.asarray(ravel_pytree(restored[r.run][r.step])[0], x0.dtype) for r in refs]
    return flats, _loss(trainer.problem, spec.eval, unravel, x0)


def _loss(problem, how, unravel, x0):
    if how.metric is None:
        batch = problem.sample_batch(jax.random.PRNGKey(how.batch_seed))
        return lambda x: problem.loss(unravel(x), batch)
    shapes = jax.eval_shape(problem.metrics, unravel(x0))
    if how.metric not in shapes:
        raise ValueError(f"eval.metric '{how.metric}' is not a metric of this problem; it has: {', '.join(shapes)}")
    if shapes[how.metric].shape != ():
        raise ValueError(f"eval.metric '{how.metric}' has shape {shapes[how.metric].shape}; a landscape needs a scalar")
    return lambda x: problem.metrics(unravel(x))[how.metric]


def _evaluate(f, origin, directions, coeffs: np.ndarray, chunk: int) -> np.ndarray:
    @jax.jit
    def losses(origin, directions, coeffs):
        return jax.lax.map(lambda c: f(origin + c @ directions), coeffs, batch_size=chunk)

    return np.asarray(jax.device_get(losses(origin, directions, jnp.asarray(coeffs, origin.dtype))), np.float64)


def _eval_name(spec) -> str:
    return spec.eval.metric if spec.eval.metric is not None else f"train_loss@batch_seed={spec.eval.batch_seed}"


def _labels(prefix: str, ref: CheckpointRef) -> dict:
    return {f"{prefix}_run": ref.run, f"{prefix}_step": ref.step}
