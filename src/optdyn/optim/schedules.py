"""Learning-rate schedules as optax schedules (``step -> lr``), built from ``spec/schedules.py``.

Every schedule is elementwise ``jnp`` code (``jnp.where`` instead of Python branches) so it
jits on a traced int32 step, also accepts a Python int or a whole array of steps, and returns
the ``dtype`` it is built with: the run's float dtype, float32 or float64 (a float64 run must
apply exactly the eta its loss and theory use; 0.01 in float32 is 0.0099999998; float64 needs
x64 on, see ``optdyn.precision``). Steps are converted to that dtype, exact up to
2**24 (~16.7M) steps in float32.
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
import optax

from optdyn.spec.schedules import (
    WSD,
    WSDS,
    Constant,
    Cosine,
    CyclicCosine,
    Piecewise,
    StepDecay,
)

__all__ = [
    "build_schedule",
    "wsd_main",
    "wsd_branch",
    "decay_value",
    "with_linear_warmup",
    "lr_curve",
    "total_compute",
]



def _t(step, dtype) -> jax.Array:
    return jnp.asarray(step, dtype)


def with_linear_warmup(schedule: optax.Schedule, warmup_steps: int, dtype=jnp.float32) -> optax.Schedule:
    """Linear ramp 0 -> schedule(W) over t < W, then schedule(t) at the absolute step t.

    Plain jnp rather than ``optax.join_schedules``: join hands the post-warmup segment a step
    shifted by W, whereas our specs give every breakpoint as an absolute step.
    """
    w = int(warmup_steps)

    def sched(step):
        t = _t(step, dtype)
        # Broadcast so a constant schedule (optax returns a bare float) also maps over arrays.
        # The step goes in as ``dtype`` (exact, see above): optax's own schedules would otherwise
        # compute in the process's default float, float64 whenever x64 is on.
        inner = jnp.broadcast_to(jnp.asarray(schedule(t), dtype), t.shape)
        if w == 0:
            return inner
        ramp = jnp.asarray(schedule(_t(w, dtype)), dtype) * (t / w)
        return jnp.where(t < w, ramp, inner)

    return sched


def decay_value(shape: str, s, tau, peak: float, min_lr: float, gamma: float | None = None, dtype=jnp.float32):
    """Decay shape at s = t - D in [0, tau]; equals ``peak`` at s = 0 except for 'theory'."""
    s = _t(s, dtype)
    frac = s / tau
    if shape == "inverse_proportional":
        # 1/eta linear in s, rewritten as peak / (...) to keep float32 rounding to ~2 ulp.
        return peak / (frac * (peak / min_lr) + (1.0 - frac))
    if shape == "linear":
        return peak - (peak - min_lr) * frac
    if shape == "cosine":
        return min_lr + (peak - min_lr) * 0.5 * (1.0 + jnp.cos(jnp.pi * frac))
    if shape == "theory":
        # Paper Sec. 3.2: eta/2 already at s = 0, and no eta_min floor.
        if gamma is None:
            raise ValueError("decay shape 'theory' needs gamma")
        return peak / (2.0 + s * (peak * gamma))
    raise ValueError(f"unknown decay shape {shape!r}")


def _started(spec: WSD | WSDS, t, d):
    # 'theory' already applies at t = D (value eta/2); the other shapes give eta_max at s = 0,
    # so the open interval (D, T] and the closed one agree for them.
    return t >= d if spec.shape == "theory" else t > d


def _decay(spec: WSD | WSDS, t, d, end):
    min_lr = spec.min_lr_ratio * spec.peak_lr
    s = jnp.clip(t - d, 0.0, float(end - d))
    return decay_value(spec.shape, s, float(end - d), spec.peak_lr, min_lr, spec.gamma, dtype=t.dtype)


def wsd_main(spec: WSD, dtype=jnp.float32) -> optax.Schedule:
    """The WSD main branch: constant peak_lr after warmup (branches restore from it at D_k)."""
    return with_linear_warmup(optax.constant_schedule(spec.peak_lr), spec.warmup_steps, dtype)


def wsd_branch(spec: WSD, k: int | None = None, dtype=jnp.float32) -> optax.Schedule:
    """Branch k (default ``spec.branch``): peak until D_k, decay over (D_k, T_k], then held at
    the decay's end value.

    The whole branch (warmup included) is one schedule on absolute steps, so a branch restored
    from the main checkpoint at D_k continues with the same step counter.
    """
    k = spec.branch if k is None else k
    if k is None:
        raise ValueError("wsd_branch needs k, or a spec whose `branch` is set")
    if not 0 <= k < len(spec.decays):
        raise IndexError(f"branch {k} out of range for {len(spec.decays)} decays")
    d, end = spec.decays[k]

    def sched(step):
        t = _t(step, dtype)
        return jnp.where(_started(spec, t, d), _decay(spec, t, d, end), spec.peak_lr)

    return with_linear_warmup(sched, spec.warmup_steps, dtype)


def _wsd_s(spec: WSDS, dtype) -> optax.Schedule:
    def sched(step):
        t = _t(step, dtype)
        # Outside every decay window (including right after T_i) the rate is straight back at
        # peak: WSD-S does not re-warm up (paper eq. 5).
        out = jnp.full(t.shape, spec.peak_lr, dtype)
        for d, end in spec.decays:
            out = jnp.where(_started(spec, t, d) & (t <= end), _decay(spec, t, d, end), out)
        return out

    return sched


def _cyclic_cosine(spec: CyclicCosine, dtype) -> optax.Schedule:
    peak, lo = spec.peak_lr, spec.min_lr_ratio * spec.peak_lr
    bounds = [0, *spec.cycle_ends]

    def sched(step):
        t = _t(step, dtype)
        # Each cycle owns (T_{k-1}, T_k], so T_k itself is still eta_min of cycle k; that is why
        # optax.join_schedules (which gives the boundary step to the next segment) does not fit.
        out = jnp.where(t > bounds[-1], lo, peak)
        for a, b in zip(bounds, bounds[1:]):
            val = lo + (peak - lo) * 0.5 * (1.0 + jnp.cos(jnp.pi * (t - a) / (b - a)))
            out = jnp.where((t > a) & (t <= b), val, out)
        return out

    return sched


def _step_decay(spec: StepDecay, dtype) -> optax.Schedule:
    def sched(step):
        t = _t(step, dtype)
        n = sum((t >= m).astype(dtype) for m in spec.milestones)
        return spec.lr / jnp.asarray(spec.factor, dtype) ** n

    return sched


def _piecewise(spec: Piecewise, dtype) -> optax.Schedule:
    bounded = [(p.until, build_schedule(p.schedule, dtype=dtype)) for p in spec.pieces[:-1]]
    last = build_schedule(spec.pieces[-1].schedule, dtype=dtype)

    def sched(step):
        t = _t(step, dtype)
        out = last(step)
        # from the latest bound back, so the earliest window holding t is applied last and wins
        for until, fn in reversed(bounded):
            out = jnp.where(t <= until, fn(step), out)
        return out

    return sched


def build_schedule(spec, *, dtype=jnp.float32) -> optax.Schedule:
    """The optax schedule of one run, returning ``dtype`` (the run's ``spec.dtype``). A WSD plan
    (``branch`` None) resolves into its main branch (that run) plus one run per decay branch
    (``branch`` k), see ``spec/runs.py``."""
    dtype = jnp.dtype(dtype)
    if isinstance(spec, WSD):
        return wsd_main(spec, dtype) if spec.branch is None else wsd_branch(spec, spec.branch, dtype)
    if isinstance(spec, Constant):
        inner = optax.constant_schedule(spec.lr)
    elif isinstance(spec, Cosine):
        # optax's alpha-form init*((1-alpha)*c + alpha) is exactly eta_min + (eta_max-eta_min)*c,
        # and it clamps t at total_steps, which is our hold-at-eta_min.
        inner = optax.cosine_decay_schedule(spec.peak_lr, spec.total_steps, alpha=spec.min_lr_ratio)
    elif isinstance(spec, CyclicCosine):
        inner = _cyclic_cosine(spec, dtype)
    elif isinstance(spec, StepDecay):
        inner = _step_decay(spec, dtype)
    elif isinstance(spec, WSDS):
        inner = _wsd_s(spec, dtype)
    elif isinstance(spec, Piecewise):
        inner = _piecewise(spec, dtype)
    else:
        raise ValueError(f"unknown schedule spec {type(spec).__name__}")
    return with_linear_warmup(inner, spec.warmup_steps, dtype)


def lr_curve(schedule: Callable, steps: int) -> np.ndarray:
    """schedule at np.arange(steps) in one jitted vmap (figures draw 50k+ steps)."""
    ts = jnp.arange(int(steps), dtype=jnp.int32)
    return np.asarray(jax.jit(jax.vmap(schedule))(ts))


def total_compute(spec) -> int:
    """Optimizer steps a schedule costs in total.

    WSD: the main branch to the last decay start D_K plus every branch's own decay
    (paper Table 4: 45k + 1.25k + 2.5k + 5k = 53.75k). WSD-S: one run to T_K.
    """
    if isinstance(spec, WSD):
        return spec.decays[-1][0] + sum(end - d for d, end in spec.decays)
    if isinstance(spec, WSDS):
        return spec.decays[-1][1]
    if isinstance(spec, Cosine):
        return spec.total_steps
    if isinstance(spec, CyclicCosine):
        return spec.cycle_ends[-1]
    if isinstance(spec, Piecewise):
        return total_compute(spec.pieces[-1].schedule)
    raise ValueError(f"{type(spec).__name__} has no intrinsic length; its run length is the budget")
