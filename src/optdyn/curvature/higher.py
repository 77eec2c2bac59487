"""Beyond the Hessian's spectrum: sharpness on the sphere (scale-invariant losses), the third
derivative contracted twice, and spectral norms of the third and fourth derivative tensors."""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp

from .eigen import power_iteration, top_eigenpairs
from .hvp import hvp


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
