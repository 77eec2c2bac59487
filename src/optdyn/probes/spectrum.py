"""Generic curvature probes on a run's checkpoints (built on ``optdyn.curvature``).

``hessian_spectrum``: for each requested step, the run's params are restored (``restore.py``:
its Orbax checkpoint, or a replay from the nearest earlier one), the problem's loss is fixed
on one batch ``sample_batch(PRNGKey(batch_seed))``, and the top-k Hessian eigenpairs are
computed on the flat parameter vector. Every value is recorded
with its solver, iteration count, residual ||Hv - lv|| and dtype (conventions.md, lesson 5).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
from jax.flatten_util import ravel_pytree

from optdyn import curvature
from optdyn.precision import cast_floats, require_x64
from optdyn.registry import probe_kind
from optdyn.spec.probes import HessianSpectrum
from optdyn.train.trainer import Trainer

from .restore import params_at


@probe_kind(HessianSpectrum)
def hessian_spectrum(run, spec) -> pd.DataFrame:
    """The params are replayed in the run's dtype and solved in the probe's (float64 needs x64,
    switched on at process start: ``optdyn.precision.needs_x64``)."""
    dtype = jnp.dtype(spec.dtype or run.spec.dtype)
    require_x64(dtype, f"hessian_spectrum in {dtype}")
    trainer = run.trainer()  # the run's problem, in the run's dtype
    params = params_at(run, spec.steps, trainer)
    batch = jax.device_get(trainer.problem.sample_batch(jax.random.PRNGKey(spec.batch_seed)))
    return _spectrum_table(trainer.problem.loss, params, batch, dtype, spec)


def _solver(loss, unravel, batch, spec):
    def f_of(x):
        return lambda y: loss(unravel(y), batch)

    @jax.jit
    def solve(x, v0, key):
        f = f_of(x)
        matvec = lambda v: curvature.hvp(f, x, v)  # noqa: E731
        if spec.method == "lobpcg":
            vals, vecs, n = curvature.lobpcg(matvec, v0, spec.iters, spec.tol)
        else:
            start = None if spec.method == "dense" else v0.sum(axis=1)
            vals, vecs = curvature.top_eigenpairs(f, x, spec.k, spec.method, iters=spec.iters, key=key,
                                                  v0=start, which=spec.which)
            n = jnp.asarray(0 if spec.method == "dense" else min(spec.iters, x.shape[0]))
        out = {"vals": vals, "vecs": vecs, "iterations": n, "residual": curvature.residual_norms(matvec, vals, vecs),
               "loss": f(x)}
        if spec.trace_samples:
            out["trace"] = curvature.hutchinson_trace(matvec, x.shape[0], spec.trace_samples,
                                                      jax.random.fold_in(key, 1), dtype=x.dtype)
        return out

    return solve


def _spectrum_table(loss, params_at: dict, batch, dtype, spec) -> pd.DataFrame:
    batch = cast_floats(batch, dtype)
    rows, solve, prev = [], None, None
    key = jax.random.PRNGKey(spec.seed)
    for step in sorted(params_at):
        x, unravel = ravel_pytree(cast_floats(params_at[step], dtype))
        if spec.method == "lobpcg" and 5 * spec.k >= x.shape[0]:
            raise ValueError(f"lobpcg needs 5 k < number of parameters ({x.shape[0]}); use lanczos or dense")
        if spec.method != "dense" and spec.k > min(spec.iters, x.shape[0]):
            raise ValueError(f"k = {spec.k} needs iters >= k (and at most {x.shape[0]} parameters)")
        solve = solve or _solver(loss, unravel, batch, spec)
        skey = jax.random.fold_in(key, step)
        warm = spec.warm_start and prev is not None
        noise = jax.random.normal(skey, (x.shape[0], spec.k), dtype)
        # a warm start keeps a random 10% part: an exact eigenvector of a block-diagonal Hessian
        # (independent replicas) spans an invariant subspace the solver could never leave
        v0 = prev + 0.1 * noise / np.sqrt(x.shape[0]) if warm else noise
        out = jax.device_get(solve(x, v0, skey))
        prev = jnp.asarray(out["vecs"], dtype)
        for r in range(spec.k):
            rows.append({
                "step": step, "rank": r, "eigenvalue": float(out["vals"][r]), "residual": float(out["residual"][r]),
                "loss": float(out["loss"]), "solver": spec.method, "which": spec.which,
                "iterations": int(out["iterations"]), "warm_started": bool(warm), "dtype": str(dtype),
                "batch_seed": spec.batch_seed, "n_params": int(x.shape[0]),
                **({"trace_hutchinson": float(out["trace"]), "trace_samples": spec.trace_samples}
                   if spec.trace_samples else {}),
            })
    return pd.DataFrame(rows)
