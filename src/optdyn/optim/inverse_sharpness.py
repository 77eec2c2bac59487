"""The "stable" learning-rate rule eta_t = lr_t / S(theta_t) as an Optax wrapper (Damian et al.,
App. G.1: the commonly proposed eta_t := 1/S(theta_t), i.e. lr_t = 1 in the schedule).

The base optimizer's whole update (its learning rate lr_t from the run's schedule, momentum,
weight decay) is divided by the sharpness S, the top Hessian eigenvalue of the training loss.
S is expensive, so it is refreshed only every ``every`` steps (the authors' ``training_speed.py``
uses 40) and held in the optimizer state in between: the wrapper calls its estimator
``sharpness_fn(params, **extra_args)`` itself, under a ``lax.cond`` on its own step counter (as
``optax.contrib.scale_by_sophia`` calls its Hessian estimator), so the Lanczos solve costs
nothing on the other steps. The base state is left untouched, as IRE's wrapper does.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import optax

from .ire import refresh_due


class InverseSharpnessState(NamedTuple):
    base: optax.OptState
    sharpness: jax.Array  # S at the last refresh step (the update is divided by it)
    count: jax.Array  # int32 global step of the next update (the refresh cadence)


def inverse_sharpness(base: optax.GradientTransformation, every: int = 40, start: int = 0, *,
                      sharpness_fn: Callable[..., jax.Array]) -> optax.GradientTransformationExtraArgs:
    """Wrap ``base``: its update is divided by S, refreshed at steps start, start + every, ...

    ``sharpness_fn(params, **extra_args)`` returns a scalar estimate of S(params); it is called
    only on the refresh steps ``refresh_due(count, start, every)``, ``count`` being the wrapper's
    own step counter (the global step, kept in the state, so a resumed or branched run keeps the
    cadence). ``update(grads, state, params, **extra_args)`` forwards the extra arguments to
    ``sharpness_fn`` and to ``base``. As in the authors' code there is no guard for S <= 0: a
    non-positive sharpness makes a non-descent step and the run shows it.
    """
    if every < 1:
        raise ValueError(f"every must be >= 1, got {every}")
    base = optax.with_extra_args_support(base)

    def init(params):
        dtype = jax.tree.leaves(params)[0].dtype
        # 1.0 is never used when start = 0: step 0 is a refresh step
        return InverseSharpnessState(base.init(params), jnp.ones([], dtype), jnp.zeros([], jnp.int32))

    def update(updates, state, params=None, **extra_args):
        if params is None:
            raise ValueError("inverse_sharpness's update needs params (S is measured at them)")
        base_updates, base_state = base.update(updates, state.base, params, **extra_args)
        dtype = jax.tree.leaves(params)[0].dtype  # the estimate in the params' dtype, then the state's
        fresh = lambda: jnp.asarray(jnp.asarray(sharpness_fn(params, **extra_args), dtype), state.sharpness.dtype)  # noqa: E731
        s = jax.lax.cond(refresh_due(state.count, start, every), fresh, lambda: state.sharpness)
        scaled = jax.tree.map(lambda u: u / s.astype(u.dtype), base_updates)
        return scaled, InverseSharpnessState(base_state, s, optax.safe_int32_increment(state.count))

    return optax.GradientTransformationExtraArgs(init, update)
