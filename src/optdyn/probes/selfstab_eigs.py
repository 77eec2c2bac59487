"""Warm-started LOBPCG driven from Python, one jitted call per iteration (the fast path of
``selfstab_tracking``; issue 17).

Why not ``curvature.lobpcg`` (``jax.experimental.sparse.linalg.lobpcg_standard``): it runs its
iterations in a ``lax.while_loop``, and XLA:CPU runs a convolution's or attention's HVP inside a
loop several times slower than dispatched from Python (``benchmarks/README.md``, curvature
section); in float64 on the 994-parameter digits CNN one warm solve of 3 iterations took ~0.6 s
against ~10 ms per block HVP. Tracking warm-starts every solve from the previous step's
eigenvectors, so a solve is usually 1-3 iterations and the per-iteration dispatch is cheap.

The convergence test is ``lobpcg_standard``'s, so ``tol`` means the same on both paths:
||A v_i - l_i v_i|| < tol * 10 * dim * (|l_i| + ||A v_i||) for every column i, with ``tol``
clamped to the dtype's machine epsilon (below it the test never fires and all ``iters`` run).
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from optdyn.curvature import hvp

__all__ = ["HostLobpcg"]


def _rayleigh_ritz(S: jax.Array, AS: jax.Array, k: int) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array]:
    """Top-k Ritz pairs of A on span(S) (columns of S need not be orthonormal; AS = A S):
    (vals desc, coefficient block C (m, k), X = S C, AX = AS C)."""
    G = S.T @ AS
    G = (G + G.T) / 2
    B = S.T @ S
    B = (B + B.T) / 2
    # Cholesky of the Gram matrix with a relative floor: near convergence R and P are almost
    # parallel, and the floor keeps B positive definite (the lost directions carry no new information)
    eps = jnp.finfo(S.dtype).eps
    B = B + eps * jnp.trace(B) * jnp.eye(B.shape[0], dtype=B.dtype)
    L = jnp.linalg.cholesky(B)
    Linv = jax.scipy.linalg.solve_triangular(L, jnp.eye(B.shape[0], dtype=B.dtype), lower=True)
    vals, W = jnp.linalg.eigh(Linv @ G @ Linv.T)
    order = jnp.argsort(-vals)[:k]
    C = Linv.T @ W[:, order]
    return vals[order], C, S @ C, AS @ C


def _normalize(V: jax.Array, AV: jax.Array) -> tuple[jax.Array, jax.Array]:
    n = jnp.linalg.norm(V, axis=0)
    n = jnp.where(n == 0, 1, n)
    return V / n, AV / n


class HostLobpcg:
    """Top-``k`` eigenpairs of the Hessian of ``f`` by LOBPCG from a warm block; ``solve(x, U)``
    returns (vals desc, vecs (dim, k), iterations). ``max_iters``: as ``curvature.lobpcg``'s
    ``iters`` (default 100)."""

    def __init__(self, f: Callable, k: int, *, tol: float | None = None, max_iters: int = 100):
        self.k, self.tol, self.max_iters = k, tol, max_iters
        self.iterations: list[int] = []  # per solve, for benchmarks and profiling
        block_hvp = lambda x, V: jax.vmap(lambda v: hvp(f, x, v), in_axes=1, out_axes=1)(V)  # noqa: E731

        def residual(X, AX, vals):
            R = AX - X * vals
            return R, jnp.linalg.norm(R, axis=0), jnp.linalg.norm(AX, axis=0)

        def start(x, U):
            Q = jnp.linalg.qr(U)[0]
            vals, _, X, AX = _rayleigh_ritz(Q, block_hvp(x, Q), k)
            return (X, AX, vals, *residual(X, AX, vals))

        def step(x, X, AX, R, P, AP, active):
            # soft locking: a column already converged adds no residual direction. Its residual is round-off,
            # which normalized is a noise vector nearly inside span(X, P), and the near-singular Gram matrix
            # then gave garbage Ritz values (seen with a 2-block warm start whose first column had converged)
            R, AR = _normalize(R * active, block_hvp(x, R * active))
            parts = (X, R) if P is None else (X, R, *_normalize(P, AP)[:1])
            aparts = (AX, AR) if P is None else (AX, AR, _normalize(P, AP)[1])
            S, AS = jnp.concatenate(parts, axis=1), jnp.concatenate(aparts, axis=1)
            vals, C, Xn, AXn = _rayleigh_ritz(S, AS, k)
            # the new search direction: the update's component outside the old X
            Pn, APn = S[:, k:] @ C[k:], AS[:, k:] @ C[k:]
            return (Xn, AXn, vals, *residual(Xn, AXn, vals), Pn, APn)

        self._start = jax.jit(start)
        self._first = jax.jit(lambda x, X, AX, R, active: step(x, X, AX, R, None, None, active))
        self._step = jax.jit(step)

    def _converged(self, vals, rnorm, anorm, dim: int, dtype) -> np.ndarray:
        """Per column: has it passed the convergence test."""
        eps = float(jnp.finfo(dtype).eps)
        tol = eps if self.tol is None else max(float(self.tol), eps)
        vals, rnorm, anorm = (np.asarray(a) for a in (vals, rnorm, anorm))
        return rnorm < tol * 10 * dim * (np.abs(vals) + anorm)

    def solve(self, x: jax.Array, U: jax.Array) -> tuple[jax.Array, jax.Array, int]:
        X, AX, vals, R, rnorm, anorm = self._start(x, U)
        P = AP = None
        it = 0
        while it < self.max_iters:
            done = self._converged(vals, rnorm, anorm, x.shape[0], x.dtype)
            if done.all():
                break
            active = jnp.asarray(~done, X.dtype)
            if P is None:
                X, AX, vals, R, rnorm, anorm, P, AP = self._first(x, X, AX, R, active)
            else:
                X, AX, vals, R, rnorm, anorm, P, AP = self._step(x, X, AX, R, P, AP, active)
            it += 1
        self.iterations.append(it)
        return vals, X, it
