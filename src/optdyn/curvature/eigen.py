"""Top eigenpairs of a Hessian: LOBPCG (warm-startable block), power iteration, and
``top_eigenpairs``, which picks Lanczos, LOBPCG, dense ``eigh`` or, with ``"auto"``, dense for
small problems and Lanczos otherwise."""

from __future__ import annotations

import functools
from typing import Callable

import jax
import jax.numpy as jnp
from jax.experimental.sparse.linalg import lobpcg_standard

from .hvp import Matvec, _dtype, _unit, hvp
from .lanczos import lanczos

#: ``method="auto"`` solves densely up to this many parameters: there ``jax.hessian`` + ``eigh``
#: is exact and cheap, and Lanczos on a tiny space gains nothing.
AUTO_DENSE_MAX_DIM = 64

METHODS = ("lanczos", "lobpcg", "dense", "auto")


def lobpcg(matvec: Matvec, x0: jax.Array, iters: int = 100,
           tol: float | None = None) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Top-``k`` (algebraically largest) eigenpairs by LOBPCG from the block ``x0`` (dim, k),
    wrapping ``jax.experimental.sparse.linalg.lobpcg_standard``. Warm start: pass the previous
    eigenvectors as ``x0``. Returns ``(vals_desc, vecs (dim, k), iterations_done)``.

    Conventions (the Damian et al. code got them wrong): the solve runs in ``x0``'s dtype, and
    ``matvec`` must return that dtype; ``tol`` is clamped to at least the dtype's machine epsilon
    (a tolerance below it never triggers, so the solver silently runs all ``iters``). The
    library's convergence test is ||Av - lv|| < tol * 10 * dim * (|l| + ||Av||). It needs
    ``5 k < dim``.
    """
    x0 = jnp.asarray(x0)
    if x0.ndim == 1:
        x0 = x0[:, None]
    eps = float(jnp.finfo(x0.dtype).eps)
    tol = eps if tol is None else max(float(tol), eps)
    block_matvec = lambda X: jax.vmap(matvec, in_axes=1, out_axes=1)(X).astype(x0.dtype)  # noqa: E731
    vals, vecs, n = lobpcg_standard(block_matvec, x0, m=iters, tol=tol)
    order = jnp.argsort(-vals)
    return vals[order], vecs[:, order], n


def power_iteration(matvec: Callable, dim: int, iters: int = 100, key: jax.Array | None = None, *,
                    v0: jax.Array | None = None, dtype=None) -> tuple[jax.Array, jax.Array]:
    """``iters`` steps of v <- A(v) / ||A(v)||; returns ``(value, v)`` with value = <v, A(v)>.

    For a symmetric matrix this is the eigenvalue of **largest magnitude**, with its sign: when
    a negative eigenvalue dominates (|l_min| > l_max), it returns l_min, not the sharpness; use
    ``lanczos``/``lobpcg`` for the algebraically largest. ``A`` may also be a symmetric tensor
    contraction u -> T[u, ..., u, .] (homogeneous of degree p); then this is the symmetric
    higher-order power method and value = T[v, ..., v], a local maximizer of |T[u, ..., u]| on
    the unit sphere (the tensor's spectral norm when it converges to the global one).
    Convergence is geometric in the ratio of the two largest |eigenvalues|.
    """
    dt = _dtype(dtype if v0 is None or dtype is not None else v0.dtype)
    key = jax.random.PRNGKey(0) if key is None else key
    v = _unit(jax.random.normal(key, (dim,), dt) if v0 is None else jnp.asarray(v0, dt).reshape(dim))
    v = jax.lax.fori_loop(0, iters, lambda _, v: _unit(matvec(v)), v)
    return jnp.vdot(v, matvec(v)), v


def resolve_method(method: str, iters: int | None, dim: int) -> tuple[str, int | None]:
    """``(method, iters)`` with ``"auto"`` replaced by ``"dense"`` (iters None) for
    ``dim <= AUTO_DENSE_MAX_DIM``, else ``"lanczos"`` with ``iters`` capped at ``dim``."""
    if method != "auto":
        return method, iters
    if dim <= AUTO_DENSE_MAX_DIM:
        return "dense", None
    return "lanczos", None if iters is None else min(iters, dim)


def top_eigenpairs(f: Callable, x: jax.Array, k: int = 1, method: str = "lanczos", *, iters: int | None = None,
                   key: jax.Array | None = None, v0: jax.Array | None = None, which: str = "LA",
                   tol: float | None = None) -> tuple[jax.Array, jax.Array]:
    """Top-``k`` eigenpairs of the Hessian of ``f`` at ``x``, values descending, vectors (dim, k).

    ``method``: ``"lanczos"`` (default ``iters`` = min(dim, max(40, 3k)) HVPs; ``v0`` a warm start
    vector, ``which`` "LA"/"LM"), ``"lobpcg"`` (algebraically largest only; ``v0`` (dim, k) a warm
    start block, else random; ``iters`` default 100; ``tol`` see ``lobpcg``), ``"dense"``
    (``jax.hessian`` + ``eigh``, for small ``dim`` and as the reference) or ``"auto"`` (dense for
    ``x.size <= AUTO_DENSE_MAX_DIM``, else ``min(iters, dim)`` Lanczos steps: Lanczos rather than
    power iteration because away from minimizers the Hessian is indefinite and the eigenvalue of
    largest magnitude can be negative). Everything runs in ``x``'s dtype.
    """
    key = jax.random.PRNGKey(0) if key is None else key
    method, iters = resolve_method(method, iters, x.shape[0])
    return _compiled_top_eigenpairs(f, k, method, iters, which, tol)(x, key, v0)


@functools.lru_cache(maxsize=32)
def _compiled_top_eigenpairs(f, k, method, iters, which, tol):
    """One compiled program per (f, settings), reused by later calls with the same ``f``: called
    eagerly, op-by-op ``jax.hessian`` is about 10x slower. Inside a caller's jit it is inlined."""
    return jax.jit(lambda x, key, v0: _top_eigenpairs(f, x, k, method, iters, key, v0, which, tol))


def _top_eigenpairs(f, x, k, method, iters, key, v0, which, tol):
    dim = x.shape[0]
    matvec = lambda v: hvp(f, x, v)  # noqa: E731
    if method == "lanczos":
        iters = min(dim, max(40, 3 * k)) if iters is None else iters
        v = None if v0 is None else jnp.asarray(v0, x.dtype).reshape(dim, -1).sum(axis=1)
        return lanczos(matvec, dim, k, iters, key, v0=v, dtype=x.dtype, which=which)
    if method == "lobpcg":
        if which != "LA":
            raise ValueError("lobpcg finds the algebraically largest eigenvalues only (which='LA')")
        X = jax.random.normal(key, (dim, k), x.dtype) if v0 is None else jnp.asarray(v0, x.dtype).reshape(dim, k)
        vals, vecs, _ = lobpcg(matvec, X, 100 if iters is None else iters, tol)
        return vals, vecs
    if method == "dense":
        vals, vecs = jnp.linalg.eigh(jax.hessian(f)(x))
        order = jnp.argsort(-vals if which == "LA" else -jnp.abs(vals))[:k]
        return vals[order], vecs[:, order]
    raise ValueError(f"unknown method {method!r}: lanczos, lobpcg, dense or auto")
