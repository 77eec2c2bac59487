"""The Hessian's spectral density by stochastic Lanczos quadrature (SLQ; Ghorbani, Krishnan &
Xiao 2019, as in PyHessian).

For a unit probe u, m Lanczos steps from u give a tridiagonal T_m = S diag(theta) S^T, and
u^T g(A) u ~ sum_j w_j g(theta_j) with w_j = S[0, j]^2: the Gauss quadrature of the spectral
measure of A seen from u, exact for polynomials g of degree < 2m. With u = z / ||z|| for z
Rademacher (or Gaussian), E[u u^T] = I / dim, so the mean over probes of these discrete
measures is an unbiased estimate of the eigenvalue density (1/dim) sum_i delta(t - lambda_i)
on polynomials of degree < 2m; its extreme nodes are the converged extreme Ritz values.
"""

from __future__ import annotations

import dataclasses
import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

from .hvp import Matvec, _dtype
from .lanczos import lanczos_tridiagonal, tridiagonal

PROBES = ("rademacher", "gaussian")


@functools.partial(jax.tree_util.register_dataclass, data_fields=["nodes", "weights"],
                   meta_fields=["dim", "num_probes", "iters", "probe"])
@dataclasses.dataclass(frozen=True)
class SpectralDensity:
    """Per probe p, the quadrature ``nodes[p]`` (Ritz values, ascending) and ``weights[p]``
    (squared first components of the tridiagonal's eigenvectors, summing to 1), each
    (num_probes, iters). A pytree: jit may return it."""

    nodes: jax.Array
    weights: jax.Array
    dim: int
    num_probes: int
    iters: int
    probe: str

    def moment(self, p: int) -> jax.Array:
        """Estimate of (1/dim) tr(A^p) (exact per probe for p < 2 iters): mean eigenvalue for
        p = 1, mean squared eigenvalue for p = 2."""
        return jnp.mean(jnp.sum(self.weights * self.nodes**p, axis=1))

    def mass_above(self, threshold) -> jax.Array:
        """Estimate of the fraction of eigenvalues above ``threshold``: trustworthy when the
        threshold sits in a gap of the spectrum, where the Ritz values have converged."""
        return jnp.mean(jnp.sum(jnp.where(self.nodes > threshold, self.weights, 0), axis=1))

    def density(self, grid: jax.Array, sigma: float) -> jax.Array:
        """``smoothed_density`` of this estimate on ``grid``."""
        return smoothed_density(self.nodes, self.weights, grid, sigma)


def slq_density(matvec: Matvec, dim: int | jax.Array, num_probes: int = 10, iters: int = 80,
                key: jax.Array | None = None, *, probe: str = "rademacher", dtype=None) -> SpectralDensity:
    """Stochastic Lanczos quadrature of the symmetric operator ``matvec``: ``num_probes`` runs of
    ``min(iters, dim)`` Lanczos steps with full reorthogonalization (``lanczos_tridiagonal``), each
    from a fresh normalized ``probe`` vector ("rademacher", PyHessian's choice and of lower
    variance, or "gaussian"). ``dim`` is the dimension or an example vector, whose size and dtype
    are then used (e.g. the flat parameters ``x`` of ``matvec = lambda v: hvp(f, x, v)``).

    Costs ``num_probes * iters`` matvecs; probes run one after another, so memory is one
    Lanczos basis (iters x dim). The per-probe estimate of a moment has the variance of
    Hutchinson's estimator of tr(A^p) / dim, 2 (||A^p||_F^2 - sum_i (A^p)_ii^2) / dim^2 for
    Rademacher probes; it falls as 1 / num_probes.
    """
    if probe not in PROBES:
        raise ValueError(f"probe must be one of {PROBES}, not {probe!r}")
    if not isinstance(dim, (int, np.integer)):
        example = jnp.asarray(dim)
        dim, dtype = example.size, example.dtype if dtype is None else dtype
    dim, dt = int(dim), _dtype(dtype)
    iters = int(min(iters, dim))
    key = jax.random.PRNGKey(0) if key is None else key

    def one(k):
        k_probe, k_lanczos = jax.random.split(k)
        if probe == "rademacher":
            z = jax.random.rademacher(k_probe, (dim,), dt)
        else:
            z = jax.random.normal(k_probe, (dim,), dt)
        alpha, beta, _ = lanczos_tridiagonal(matvec, dim, iters, k_lanczos, v0=z, dtype=dt)
        # after a breakdown T decouples; the later blocks' eigenvectors have zero first
        # component, so their Ritz values carry no weight, as they must not
        theta, S = jnp.linalg.eigh(tridiagonal(alpha, beta))
        return theta, S[0] ** 2

    nodes, weights = jax.lax.map(one, jax.random.split(key, num_probes))
    return SpectralDensity(nodes, weights, dim, num_probes, iters, probe)


def smoothed_density(nodes: jax.Array, weights: jax.Array, grid: jax.Array, sigma: float) -> jax.Array:
    """The SLQ density convolved with a Gaussian of width ``sigma``, at the points ``grid``:
    mean over probes of sum_j w_j N(t; theta_j, sigma^2). It integrates to 1 over the real line
    (so to about 1 on a grid reaching a few sigma past the extreme nodes)."""
    nodes = jnp.atleast_2d(nodes)
    weights = jnp.atleast_2d(weights)
    grid = jnp.asarray(grid, nodes.dtype)
    z = (grid[:, None, None] - nodes[None]) / sigma
    kernel = jnp.exp(-0.5 * z * z) / (sigma * math.sqrt(2 * math.pi))
    return jnp.mean(jnp.sum(weights[None] * kernel, axis=2), axis=1)
