"""Hutchinson's stochastic trace estimator."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from .hvp import Matvec, _dtype


def hutchinson_samples(matvec: Matvec, dim: int, samples: int = 100, key: jax.Array | None = None, *,
                       dtype=None) -> jax.Array:
    """The ``samples`` values z^T A z (Rademacher z) whose mean is ``hutchinson_trace``; their
    spread gives the estimate's standard error."""
    dt = _dtype(dtype)
    key = jax.random.PRNGKey(0) if key is None else key
    zs = jax.random.rademacher(key, (samples, dim), dt)
    return jax.lax.map(lambda z: jnp.vdot(z, matvec(z)), zs)


def hutchinson_trace(matvec: Matvec, dim: int, samples: int = 100, key: jax.Array | None = None, *,
                     dtype=None) -> jax.Array:
    """Unbiased estimate of tr(A): the mean of z^T A z over ``samples`` Rademacher vectors z
    (matvecs run one after another, so memory is one matvec's). Its variance per sample is
    2 (||A||_F^2 - sum_i A_ii^2)."""
    return jnp.mean(hutchinson_samples(matvec, dim, samples, key, dtype=dtype))
