"""Top Hessian eigenpair for the normsharp problems, jittable, with a fixed Krylov size.

A thin adapter over the shared ``optdyn.probes.curvature.top_eigenpairs``: dense ``eigh`` for
the small problems (3-D toy, linear regression), Lanczos with full reorthogonalization for
matrix completion. Lanczos (not power iteration) because away from minimizers the Hessian is
indefinite and the eigenvalue of largest *magnitude* can be negative (catalog 3.1).
"""

from __future__ import annotations

from typing import Callable

import jax

from optdyn.probes.curvature import top_eigenpairs

DENSE_MAX_DIM = 64


def top_hessian_eig(f: Callable, x: jax.Array, iters: int) -> tuple[jax.Array, jax.Array]:
    """(lambda_1, unit eigenvector) of hess f(x) for a flat x: dense for x.size <= 64, else
    ``iters`` Lanczos steps (a fixed random start, so the logged series is deterministic)."""
    method = "dense" if x.size <= DENSE_MAX_DIM else "lanczos"
    vals, vecs = top_eigenpairs(f, x, k=1, method=method, iters=None if method == "dense" else min(iters, x.size))
    return vals[0], vecs[:, 0]
