"""IRE (Wang et al. 2024, Algorithm 1) as an Optax wrapper around any base optimizer.

The official code takes the base optimizer's whole displacement (momentum, Adam
preconditioning, weight decay and clipping included) and returns it enhanced on the flat
coordinates: ``updates <- updates * (1 + kappa_t * mask)``. The base state is left untouched,
so with kappa = 0 (or before ``start``) the wrapper reproduces the base optimizer bit for bit
(x * 1.0 is exact in IEEE arithmetic).

The mask is the gamma-fraction of coordinates with the smallest diagonal-Fisher estimate,
ranked globally over all parameters (per replica for problems that stack independent
replicas), ties going to "flat" (``h <= threshold``, as the code does). It is recomputed at
steps ``start, start + every, ...`` from a fresh estimate ``fisher_fn(params, **extra_args)``
that the wrapper itself calls, under a ``lax.cond`` on its own step counter (as
``optax.contrib.scale_by_sophia`` calls its ``hessian_diagonal_fn`` every ``update_interval``
steps), so the extra backward pass costs 1/every per step. The estimator's randomness comes
in as an extra argument of ``update`` (the trainer passes ``key=``).
"""

from __future__ import annotations

import math
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import optax

PyTree = Any


class IREState(NamedTuple):
    base: optax.OptState
    mask: PyTree  # 1.0 on the enhanced (flat) coordinates, 0.0 elsewhere; zeros before start
    count: jax.Array  # int32 global step of the next update (the refresh cadence and prog_decay)


def refresh_due(step: jax.Array, start: int, every: int) -> jax.Array:
    """Whether step ``step`` recomputes the mask: (step - start) % every == 0 from start on."""
    step = jnp.asarray(step)
    return (step >= start) & ((step - start) % every == 0)


def flat_count(n: int, gamma: float) -> int:
    """floor(gamma * n) coordinates are flat; the 1e-9 guards products such as 0.29 * 100 =
    28.999999999999996 against dropping a coordinate."""
    return int(math.floor(gamma * n + 1e-9))


def flat_mask(h: PyTree, gamma: float, per_replica: bool = False) -> PyTree:
    """0/1 mask (dtype of each leaf) of the gamma-fraction of coordinates with the smallest |h|.

    The threshold is the floor(gamma*N)-th smallest |h| over all N coordinates of all leaves
    jointly (N per replica when ``per_replica``: every leaf then has a leading replica axis and
    each replica is ranked on its own); every coordinate at or below it is flat, so ties can
    enlarge the flat set. floor(gamma*N) = 0 gives an all-zero mask (no enhancement).
    """
    leaves, treedef = jax.tree.flatten(h)
    rows = leaves[0].shape[0] if per_replica else 1
    flat = jnp.concatenate([jnp.abs(x).reshape(rows, -1) for x in leaves], axis=1)
    k = flat_count(flat.shape[1], gamma)
    if k == 0:
        return jax.tree.map(jnp.zeros_like, h)
    threshold = jnp.sort(flat, axis=1)[:, k - 1 : k]
    chosen = flat <= threshold
    out, offset = [], 0
    for x in leaves:
        size = x.size // rows
        out.append(chosen[:, offset : offset + size].reshape(x.shape).astype(x.dtype))
        offset += size
    return jax.tree.unflatten(treedef, out)


def ire(
    base: optax.GradientTransformation,
    kappa: float,
    gamma: float,
    every: int = 10,
    start: int = 0,
    kappa_scale: Callable[[jax.Array], jax.Array] | None = None,
    per_replica: bool = False,
    *,
    fisher_fn: Callable[..., PyTree],
) -> optax.GradientTransformationExtraArgs:
    """Wrap ``base``: its update is multiplied by 1 + kappa_t * mask.

    ``fisher_fn(params, **extra_args)`` returns a diagonal-Fisher estimate, a pytree like params
    (cast to params' dtypes); it is called only on the refresh steps ``refresh_due(count, start,
    every)``, where ``count`` is the wrapper's own step counter (the global step: it is part of
    the optimizer state, so a resumed or branched run continues the cadence).
    ``update(grads, state, params, **extra_args)`` forwards the extra arguments (e.g. the
    estimator's ``key``) to ``fisher_fn`` and to ``base``. ``kappa_scale(count)`` multiplies
    kappa (the code's ``prog_decay``: lr_t / lr_max).
    """
    if every < 1:
        raise ValueError(f"every must be >= 1, got {every}")
    base = optax.with_extra_args_support(base)

    def init(params):
        return IREState(base.init(params), jax.tree.map(jnp.zeros_like, params), jnp.zeros([], jnp.int32))

    def refreshed(params, old_mask, extra_args):
        h = jax.tree.map(lambda e, p: e.astype(p.dtype), fisher_fn(params, **extra_args), params)
        return jax.tree.map(lambda m, old: m.astype(old.dtype), flat_mask(h, gamma, per_replica), old_mask)

    def update(updates, state, params=None, **extra_args):
        if params is None:
            raise ValueError("ire's update needs params (its Fisher estimate is taken at them)")
        step = state.count
        base_updates, base_state = base.update(updates, state.base, params, **extra_args)
        mask = jax.lax.cond(refresh_due(step, start, every), lambda: refreshed(params, state.mask, extra_args), lambda: state.mask)
        k = kappa if kappa_scale is None else kappa * kappa_scale(step)
        enhanced = jax.tree.map(lambda u, m: u * (1 + k * m).astype(u.dtype), base_updates, mask)
        return enhanced, IREState(base_state, mask, optax.safe_int32_increment(step))

    return optax.GradientTransformationExtraArgs(init, update)
