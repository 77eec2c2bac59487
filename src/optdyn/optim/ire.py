"""IRE (Wang et al. 2024, Algorithm 1) as an Optax wrapper around any base optimizer.

The official code takes the base optimizer's whole displacement (momentum, Adam
preconditioning, weight decay and clipping included) and returns it enhanced on the flat
coordinates: ``updates <- updates * (1 + kappa_t * mask)``. The base state is left untouched,
so with kappa = 0 the wrapper reproduces the base optimizer bit for bit (it returns the base's
update untouched rather than the exact product x * 1.0, which XLA may fuse into the base's
arithmetic differently); before ``start`` it selects the base's update, which is bit for bit
for AdamW-based and MLP runs and within a last bit otherwise.

The mask is the gamma-fraction of coordinates with the smallest diagonal-Fisher estimate,
ranked globally over all parameters (per replica for problems that stack independent
replicas), ties going to "flat" (``h <= threshold``, as the code does). It is recomputed at
steps ``start, start + every, ...`` from a fresh estimate ``fisher_fn(params, **extra_args)``
that the wrapper itself calls, under a ``lax.cond`` on its own step counter (as
``optax.contrib.scale_by_sophia`` calls its ``hessian_diagonal_fn`` every ``update_interval``
steps), so the extra backward pass costs 1/every per step. The estimator's randomness comes
in as an extra argument of ``update`` (the trainer passes ``key=``).

The start T_w is a step known in advance (the spec's ``step``, ``epoch`` and ``warmup_end``
rules resolve to one) or, with ``loss_below``, the first epoch boundary at which the epoch-mean
training loss is below a threshold (the paper's "switch when the training loss approaches x").
That rule's state (the running sum of the epoch's batch losses and the step it fired at) is
part of the optimizer state, so it is checkpointed with it and a resumed run fires at the same
step as an uninterrupted one; ``update`` then needs the step's batch loss as ``loss=``.
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


class IRELossStartState(NamedTuple):
    """IREState of the ``loss_below`` start rule (a separate class, so runs with a fixed start
    keep their checkpoint layout)."""

    base: optax.OptState
    mask: PyTree
    count: jax.Array
    start: jax.Array  # int32 step the rule fired at (IRE on from it); -1 while it has not
    loss_sum: jax.Array  # float32 sum of the current epoch's batch losses


def loss_rule_step(count: jax.Array, start: jax.Array, loss_sum: jax.Array, loss: jax.Array, threshold: float,
                   epoch_steps: int) -> tuple[jax.Array, jax.Array]:
    """(start, loss_sum) after the batch loss of step ``count``: at the end of an epoch (step
    count + 1 a multiple of ``epoch_steps``) an unfired rule fires, start = count + 1, when the
    epoch's mean batch loss is below ``threshold``; the sum restarts at every epoch."""
    total = loss_sum + loss.astype(loss_sum.dtype)
    boundary = (count + 1) % epoch_steps == 0
    fires = boundary & (start < 0) & (total / epoch_steps < threshold)
    return jnp.where(fires, count + 1, start), jnp.where(boundary, jnp.zeros_like(total), total)


def is_on(step: jax.Array, start) -> jax.Array:
    """Whether IRE acts at step ``step`` (``start`` may be a traced step, -1 for "not yet")."""
    return (jnp.asarray(start) >= 0) & (jnp.asarray(step) >= start)


def refresh_due(step: jax.Array, start, every: int) -> jax.Array:
    """Whether step ``step`` recomputes the mask: (step - start) % every == 0 from start on."""
    return is_on(step, start) & ((jnp.asarray(step) - start) % every == 0)


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
    loss_below: float | None = None,
    epoch_steps: int | None = None,
) -> optax.GradientTransformationExtraArgs:
    """Wrap ``base``: its update is multiplied by 1 + kappa_t * mask.

    ``fisher_fn(params, **extra_args)`` returns a diagonal-Fisher estimate, a pytree like params
    (cast to params' dtypes); it is called only on the refresh steps ``refresh_due(count, start,
    every)``, where ``count`` is the wrapper's own step counter (the global step: it is part of
    the optimizer state, so a resumed or branched run continues the cadence).
    ``update(grads, state, params, **extra_args)`` forwards the extra arguments (e.g. the
    estimator's ``key``) to ``fisher_fn`` and to ``base``. ``kappa_scale(count)`` multiplies
    kappa (the code's ``prog_decay``: lr_t / lr_max).

    ``loss_below``: instead of ``start``, IRE starts at the first multiple of ``epoch_steps``
    whose epoch's mean batch loss (``update``'s extra argument ``loss``) is below it.
    """
    if every < 1:
        raise ValueError(f"every must be >= 1, got {every}")
    if loss_below is not None and (epoch_steps is None or epoch_steps < 1):
        raise ValueError(f"the train_loss_below start rule needs epoch_steps >= 1, got {epoch_steps}")
    base = optax.with_extra_args_support(base)

    def init(params):
        zeros, count = jax.tree.map(jnp.zeros_like, params), jnp.zeros([], jnp.int32)
        if loss_below is None:
            return IREState(base.init(params), zeros, count)
        return IRELossStartState(base.init(params), zeros, count, jnp.asarray(-1, jnp.int32), jnp.zeros([], jnp.float32))

    def refreshed(params, old_mask, extra_args):
        h = jax.tree.map(lambda e, p: e.astype(p.dtype), fisher_fn(params, **extra_args), params)
        return jax.tree.map(lambda m, old: m.astype(old.dtype), flat_mask(h, gamma, per_replica), old_mask)

    def update(updates, state, params=None, **extra_args):
        if params is None:
            raise ValueError("ire's update needs params (its Fisher estimate is taken at them)")
        step = state.count
        begin = start if loss_below is None else state.start
        base_updates, base_state = base.update(updates, state.base, params, **extra_args)
        mask = jax.lax.cond(refresh_due(step, begin, every), lambda: refreshed(params, state.mask, extra_args), lambda: state.mask)
        k = kappa if kappa_scale is None else kappa * kappa_scale(step)
        if kappa == 0:
            # u * 1.0 is exact, but inside jit XLA fuses the product with the base's arithmetic
            # and may contract it into FMAs differently (last-bit changes, seen on CPU): kappa = 0
            # hands the base's update over untouched, so it is the base optimizer bit for bit
            enhanced = base_updates
        else:
            # before the start the product with an all-zero mask is exact too, but the select hands
            # the base's update over as computed (AdamW and SAM around it then match the base bit
            # for bit; momentum SGD on convolutions still differs in the last bit, as XLA contracts
            # the plain p - lr * trace into an FMA that the select blocks)
            on = is_on(step, begin)
            enhanced = jax.tree.map(lambda x, m: jnp.where(on, x * (1 + k * m).astype(x.dtype), x), base_updates, mask)
        if loss_below is None:
            return enhanced, IREState(base_state, mask, optax.safe_int32_increment(step))
        if "loss" not in extra_args:
            raise ValueError("ire with loss_below needs the step's batch loss: update(..., loss=...)")
        fired, loss_sum = loss_rule_step(step, state.start, state.loss_sum, extra_args["loss"], loss_below, epoch_steps)
        return enhanced, IRELossStartState(base_state, mask, optax.safe_int32_increment(step), fired, loss_sum)

    return optax.GradientTransformationExtraArgs(init, update)


def resolve_start(rule, *, warmup_steps: int = 0, epoch_steps: int | None = None) -> tuple[int, float | None]:
    """(start step, loss threshold or None) of a spec's ``start`` rule (``spec.components.IRE``):
    a step, ``warmup_end`` (the schedule's ``warmup_steps``), ``{epoch: N}`` (N * epoch_steps) or
    ``{train_loss_below: x}`` (fired at run time: the step is then unused)."""
    if isinstance(rule, int):
        return rule, None
    if rule == "warmup_end":
        return int(warmup_steps), None
    if epoch_steps is None and (hasattr(rule, "epoch") or hasattr(rule, "train_loss_below")):
        raise ValueError(f"IRE start rule {rule!r} counts epochs, but the problem does not say how many steps an epoch has")
    if hasattr(rule, "epoch"):
        return rule.epoch * epoch_steps, None
    if hasattr(rule, "train_loss_below"):
        return 0, float(rule.train_loss_below)
    raise ValueError(f"unknown IRE start rule {rule!r}")
