"""SAM as a gradient oracle: the gradient a base optimizer follows is taken at a perturbed point.

standard (Foret et al. 2021; IRE eq. 7): eps = rho * g / ||g|| with g the gradient on the same
batch, then the gradient at theta + eps (one extra backward pass).
average (IRE eq. 8): eps = rho * xi / ||xi||, xi ~ N(0, I), then the gradient at theta + eps.

Norms are global over all parameters (per replica for problems that stack independent
replicas along a leading axis), with the official code's +1e-12. The returned loss is the
batch loss at the unperturbed theta, so logs compare across optimizers. No batch-norm
statistics are involved: every problem here is a pure function of its params.
"""

from __future__ import annotations

from typing import Any, Callable, Literal

import jax
import jax.numpy as jnp

PyTree = Any
Perturbation = Literal["standard", "average"]


def _norm(tree: PyTree, per_replica: bool) -> jax.Array:
    """Global L2 norm; per replica (shape (R,)) when leaves carry a leading replica axis."""
    leaves = jax.tree.leaves(tree)
    if not per_replica:
        return jnp.sqrt(sum(jnp.sum(x**2) for x in leaves))
    return jnp.sqrt(sum(jnp.sum(x.reshape(x.shape[0], -1) ** 2, axis=1) for x in leaves))


def _scaled(tree: PyTree, scale: jax.Array, per_replica: bool) -> PyTree:
    if not per_replica:
        return jax.tree.map(lambda x: x * scale.astype(x.dtype), tree)
    return jax.tree.map(lambda x: x * scale.astype(x.dtype).reshape((-1,) + (1,) * (x.ndim - 1)), tree)


def perturbation(direction: PyTree, rho: float, per_replica: bool = False) -> PyTree:
    """rho * d / (||d|| + 1e-12)."""
    return _scaled(direction, rho / (_norm(direction, per_replica) + 1e-12), per_replica)


def _gaussian_like(tree: PyTree, key: jax.Array) -> PyTree:
    leaves, treedef = jax.tree.flatten(tree)
    keys = jax.random.split(key, len(leaves))
    return jax.tree.unflatten(treedef, [jax.random.normal(k, x.shape, x.dtype) for k, x in zip(keys, leaves)])


def sam_value_and_grad(
    loss: Callable[[PyTree, PyTree], jax.Array],
    params: PyTree,
    batch: PyTree,
    key: jax.Array,
    rho: float,
    kind: Perturbation = "standard",
    per_replica: bool = False,
) -> tuple[jax.Array, PyTree]:
    """(loss at params, gradient at params + eps) for the SAM variant ``kind``."""
    if kind == "standard":
        value, g = jax.value_and_grad(loss)(params, batch)
        direction = g
    elif kind == "average":
        value = loss(params, batch)
        direction = _gaussian_like(params, key)
    else:
        raise ValueError(f"unknown SAM perturbation {kind!r}; allowed: standard, average")
    eps = perturbation(direction, rho, per_replica)
    shifted = jax.tree.map(lambda p, e: p + e, params, eps)
    return value, jax.grad(loss)(shifted, batch)
