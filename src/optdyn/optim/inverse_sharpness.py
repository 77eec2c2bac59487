"""The "stable" learning-rate rule eta_t = lr_t / S(theta_t) as an Optax wrapper (Damian et al.,
App. G.1: the commonly proposed eta_t := 1/S(theta_t), i.e. lr_t = 1 in the schedule).

The base optimizer's whole update (its learning rate lr_t from the run's schedule, momentum,
weight decay) is divided by the sharpness S, the top Hessian eigenvalue of the training loss.
S is expensive, so it is refreshed only every ``every`` steps (the authors' ``training_speed.py``
uses 40) and held in the optimizer state in between; the caller passes a fresh estimate as the
extra argument ``sharpness``, read only on refresh steps (the trainer computes it under the same
``refresh_due`` condition, so the Lanczos solve costs nothing on the other steps). The base
state is left untouched, as IRE's wrapper does.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from .ire import refresh_due


class InverseSharpnessState(NamedTuple):
    base: optax.OptState
    sharpness: jax.Array  # S at the last refresh step (the update is divided by it)


def inverse_sharpness(base: optax.GradientTransformation, every: int = 40) -> optax.GradientTransformationExtraArgs:
    """Wrap ``base``: its update is divided by S, refreshed at steps 0, every, 2 every, ...

    ``update(grads, state, params, *, step, sharpness)``: ``step`` is the global step of this
    update (so a resumed or branched run keeps the cadence), ``sharpness`` a scalar estimate of
    S(params), read only when ``refresh_due(step, 0, every)``. As in the authors' code there is
    no guard for S <= 0: a non-positive sharpness makes a non-descent step and the run shows it.
    """
    if every < 1:
        raise ValueError(f"every must be >= 1, got {every}")

    def init(params):
        dtype = jax.tree.leaves(params)[0].dtype
        # 1.0 is never used: step 0 is a refresh step
        return InverseSharpnessState(base.init(params), jnp.ones([], dtype))

    def update(updates, state, params=None, *, step, sharpness, **_):
        base_updates, base_state = base.update(updates, state.base, params)
        s = jnp.where(refresh_due(step, 0, every), jnp.asarray(sharpness, state.sharpness.dtype), state.sharpness)
        scaled = jax.tree.map(lambda u: u / s.astype(u.dtype), base_updates)
        return scaled, InverseSharpnessState(base_state, s)

    return optax.GradientTransformationExtraArgs(init, update)
