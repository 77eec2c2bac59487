"""Hessian-vector products of a scalar ``f(x)`` of one flat vector, the ``flatten`` that turns a
pytree loss into that form, and the residual that certifies an eigenpair."""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree

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


def residual_norms(matvec: Matvec, vals: jax.Array, vecs: jax.Array) -> jax.Array:
    """||A v_i - l_i v_i|| for each column v_i of ``vecs`` (k matvecs): the certificate that an
    eigenpair is right, since some eigenvalue lies within it of l_i (for unit v_i)."""
    return jax.vmap(lambda l, v: jnp.linalg.norm(matvec(v) - l * v), in_axes=(0, 1))(vals, vecs)


def _dtype(dtype) -> jnp.dtype:
    # the default float dtype at call time (float64 only under jax_enable_x64)
    return jnp.dtype(dtype) if dtype is not None else jnp.zeros(()).dtype


def _unit(v: jax.Array) -> jax.Array:
    return v / jnp.linalg.norm(v)
