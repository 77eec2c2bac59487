"""Curvature of any loss as a function of one flat parameter vector: Hessian-vector products,
top eigenpairs (Lanczos, LOBPCG, power iteration), traces, third derivatives, the diagonal
Fisher of IRE and sharpness on the sphere.

Every routine sees a scalar ``f(x)`` of a flat vector ``x``; ``flatten`` turns a pytree loss
``loss(params, *args)`` into that form, so the same code serves toy losses and networks. All
loops have a fixed iteration count (``lax.fori_loop`` / ``lax.map``), so everything is jittable.
Precision follows the inputs: ``x``'s dtype (float32, or float64 under ``jax_enable_x64``) is the
dtype of every vector and of the eigen-solves.

The sampled Fisher of IRE lives in ``probes/fisher.py`` and is re-exported here.
"""

from __future__ import annotations

import functools
from typing import Callable

import jax
import jax.numpy as jnp
from jax.experimental.sparse.linalg import lobpcg_standard
from jax.flatten_util import ravel_pytree

from .fisher import fisher_diag_at_labels, fisher_diag_exact, fisher_trace, sampled_fisher_diag

__all__ = [
    "flatten", "hvp", "lanczos", "lanczos_tridiagonal", "tridiagonal", "lobpcg", "power_iteration",
    "hutchinson_trace", "top_eigenpairs", "residual_norms", "spherical_sharpness",
    "third_derivative_contraction", "tensor_power_norm",
    "sampled_fisher_diag", "fisher_diag_at_labels", "fisher_diag_exact", "fisher_trace",
]

Matvec = Callable[[jax.Array], jax.Array]


def flatten(loss: Callable, params, *args) -> tuple[Callable[[jax.Array], jax.Array], jax.Array, Callable]:
    """``(f, x0, unravel)`` with ``f(x) = loss(unravel(x), *args)`` and ``x0`` the flat
    ``params`` (``jax.flatten_util.ravel_pytree``). Pass the batch as ``*args`` to fix it."""
    x0, unravel = ravel_pytree(params)
    return (lambda x: loss(unravel(x), *args)), x0, unravel


def hvp(f: Callable, x: jax.Array, v: jax.Array) -> jax.Array:
    """Hessian of ``f`` at ``x`` times ``v``, forward-over-reverse (``jvp`` of ``grad``): about
    two gradients' cost and one gradient's memory. ``v`` is cast to ``x``'s dtype."""
    return jax.jvp(jax.grad(f), (x,), (jnp.asarray(v, x.dtype),))[1]


def _dtype(dtype) -> jnp.dtype:
    # the default float dtype at call time (float64 only under jax_enable_x64)
    return jnp.dtype(dtype) if dtype is not None else jnp.zeros(()).dtype


def _unit(v: jax.Array) -> jax.Array:
    return v / jnp.linalg.norm(v)


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


def hutchinson_trace(matvec: Matvec, dim: int, samples: int = 100, key: jax.Array | None = None, *,
                     dtype=None) -> jax.Array:
    """Unbiased estimate of tr(A): the mean of z^T A z over ``samples`` Rademacher vectors z
    (matvecs run one after another, so memory is one matvec's). Its variance per sample is
    2 (||A||_F^2 - sum_i A_ii^2)."""
    dt = _dtype(dtype)
    key = jax.random.PRNGKey(0) if key is None else key
    zs = jax.random.rademacher(key, (samples, dim), dt)
    return jnp.mean(jax.lax.map(lambda z: jnp.vdot(z, matvec(z)), zs))


def residual_norms(matvec: Matvec, vals: jax.Array, vecs: jax.Array) -> jax.Array:
    """||A v_i - l_i v_i|| for each column v_i of ``vecs`` (k matvecs): the certificate that an
    eigenpair is right, since some eigenvalue lies within it of l_i (for unit v_i)."""
    return jax.vmap(lambda l, v: jnp.linalg.norm(matvec(v) - l * v), in_axes=(0, 1))(vals, vecs)


def top_eigenpairs(f: Callable, x: jax.Array, k: int = 1, method: str = "lanczos", *, iters: int | None = None,
                   key: jax.Array | None = None, v0: jax.Array | None = None, which: str = "LA",
                   tol: float | None = None) -> tuple[jax.Array, jax.Array]:
    """Top-``k`` eigenpairs of the Hessian of ``f`` at ``x``, values descending, vectors (dim, k).

    ``method``: ``"lanczos"`` (default ``iters`` = min(dim, max(40, 3k)) HVPs; ``v0`` a warm start
    vector, ``which`` "LA"/"LM"), ``"lobpcg"`` (algebraically largest only; ``v0`` (dim, k) a warm
    start block, else random; ``iters`` default 100; ``tol`` see ``lobpcg``) or ``"dense"``
    (``jax.hessian`` + ``eigh``, for small ``dim`` and as the reference). Everything runs in
    ``x``'s dtype.
    """
    key = jax.random.PRNGKey(0) if key is None else key
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
    raise ValueError(f"unknown method {method!r}: lanczos, lobpcg or dense")


def spherical_sharpness(f: Callable, x: jax.Array, **kwargs) -> jax.Array:
    """||x||^2 * lambda_1(hess f(x)): for a scale-invariant f (f(c x) = f(x), so the Hessian
    scales as 1/c^2) it is the same at x and c x. ``kwargs`` go to ``top_eigenpairs``."""
    vals, _ = top_eigenpairs(f, x, 1, **kwargs)
    return jnp.vdot(x, x) * vals[0]


def third_derivative_contraction(f: Callable, x: jax.Array, u: jax.Array) -> jax.Array:
    """grad_x (u^T hess f(x) u) = D^3 f(x)[u, u, .], by differentiating the HVP's tangent once
    more along u (forward over forward over reverse). With u the unit top eigenvector it is the
    gradient of the sharpness S(x) = lambda_1 (where lambda_1 is simple)."""
    return jax.jvp(lambda y: hvp(f, y, u), (x,), (u,))[1]


def tensor_power_norm(f: Callable, x: jax.Array, order: int = 3, iters: int = 100,
                      key: jax.Array | None = None) -> tuple[jax.Array, jax.Array]:
    """The symmetric higher-order power method on the ``order``-th derivative tensor of ``f`` at
    ``x`` (order 3 or 4): returns (value, u) with value = D^order f(x)[u, ..., u] at the final
    unit u. |value| is a lower bound on, and typically equals, the tensor's spectral norm
    max_{|u|=1} |D^order f(x)[u, ..., u]| (see ``power_iteration``)."""
    if order == 3:
        contract = lambda u: third_derivative_contraction(f, x, u)  # noqa: E731
    elif order == 4:
        contract = lambda u: jax.jvp(lambda y: third_derivative_contraction(f, y, u), (x,), (u,))[1]  # noqa: E731
    else:
        raise ValueError("order must be 3 or 4")
    return power_iteration(contract, x.shape[0], iters, key, dtype=x.dtype)
