"""Lanczos with full reorthogonalization: the tridiagonal (shared with stochastic Lanczos
quadrature, ``density.py``) and the top-k Ritz pairs built from it."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from .hvp import Matvec, _dtype, _unit


def lanczos_tridiagonal(matvec: Matvec, dim: int, iters: int, key: jax.Array | None = None, *,
                        v0: jax.Array | None = None, dtype=None) -> tuple[jax.Array, jax.Array, jax.Array]:
    """``iters`` Lanczos steps (one matvec each) with full reorthogonalization; returns
    ``(alpha (iters,), beta (iters,), Q (iters, dim))``: the tridiagonal T = Q A Q^T has diagonal
    alpha and off-diagonal beta[:-1], and the rows of Q are orthonormal. The leading m x m block
    of T is the tridiagonal of the first m steps (used to count matvecs to a given accuracy).

    The start vector is ``v0`` or a Gaussian draw from ``key``. If the Krylov space closes (an
    invariant subspace: few distinct eigenvalues, or a start inside a block of a block-diagonal
    operator), the iteration goes on from a fresh random vector orthogonal to all previous ones
    with a zero coupling, so T's eigenvalues stay eigenvalues of the operator instead of zeros
    padding an exhausted space.
    """
    dt = _dtype(dtype if v0 is None or dtype is not None else v0.dtype)
    iters = int(min(iters, dim))
    key = jax.random.PRNGKey(0) if key is None else key
    start = jax.random.normal(key, (dim,), dt) if v0 is None else jnp.asarray(v0, dt).reshape(dim)
    eps = jnp.finfo(dt).eps

    def orthogonalize(Q, w):
        # classical Gram-Schmidt twice ("twice is enough"); unfilled rows of Q are zero
        w = w - Q.T @ (Q @ w)
        return w - Q.T @ (Q @ w)

    def step(i, carry):
        Q, alpha, beta, scale = carry
        q = Q[i]
        w = matvec(q)
        a = jnp.vdot(q, w)
        scale = jnp.maximum(scale, jnp.linalg.norm(w))
        w = orthogonalize(Q, w)
        b = jnp.linalg.norm(w)
        broke = b <= 100 * eps * scale
        fresh = orthogonalize(Q, jax.random.normal(jax.random.fold_in(key, i + 1), (dim,), dt))
        q_next = jnp.where(broke, _unit(fresh), w / jnp.where(broke, 1, b))
        return Q.at[i + 1].set(q_next), alpha.at[i].set(a), beta.at[i].set(jnp.where(broke, 0, b)), scale

    Q = jnp.zeros((iters + 1, dim), dt).at[0].set(_unit(start))
    init = (Q, jnp.zeros(iters, dt), jnp.zeros(iters, dt), jnp.zeros((), dt))
    Q, alpha, beta, _ = jax.lax.fori_loop(0, iters, step, init)
    return alpha, beta, Q[:iters]


def tridiagonal(alpha: jax.Array, beta: jax.Array) -> jax.Array:
    """The dense symmetric tridiagonal with diagonal ``alpha`` and off-diagonal ``beta[:len(alpha)-1]``."""
    m = alpha.shape[0]
    off = beta[: m - 1]
    return jnp.diag(alpha) + jnp.diag(off, 1) + jnp.diag(off, -1)


def lanczos(matvec: Matvec, dim: int, k: int = 1, iters: int = 40, key: jax.Array | None = None, *,
            v0: jax.Array | None = None, dtype=None, which: str = "LA") -> tuple[jax.Array, jax.Array]:
    """Top-``k`` eigenpairs of the symmetric operator ``matvec`` on R^dim from ``min(iters, dim)``
    Lanczos steps (as many matvecs; ``lanczos_tridiagonal``), then ``eigh`` of the tridiagonal.

    Returns ``(vals, vecs)``: the ``k`` Ritz values in descending order and the Ritz vectors as
    columns of ``vecs`` (dim, k). ``which="LA"`` picks the algebraically largest (the sharpness),
    ``"LM"`` the largest in magnitude (sorted by descending |value|). ``v0`` is a warm start
    vector (e.g. the previous top eigenvector plus a little noise), else a Gaussian draw from
    ``key``. The extremal Ritz values converge first; ``residual_norms`` certifies them.
    """
    if which not in ("LA", "LM"):
        raise ValueError(f"which must be 'LA' or 'LM', not {which!r}")
    if not 1 <= k <= min(iters, dim):
        raise ValueError(f"need 1 <= k <= min(iters, dim) = {min(iters, dim)}, got k={k}")
    alpha, beta, Q = lanczos_tridiagonal(matvec, dim, iters, key, v0=v0, dtype=dtype)
    theta, S = jnp.linalg.eigh(tridiagonal(alpha, beta))
    order = jnp.argsort(-theta if which == "LA" else -jnp.abs(theta))[:k]
    return theta[order], Q.T @ S[:, order]
