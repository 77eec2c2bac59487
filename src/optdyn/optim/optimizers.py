"""Optax optimizers built from the typed spec, driven by the run's schedule.

Wrappers unwrap from the outside in: ``ire`` multiplies its base's update (``optim/ire.py``),
``sam`` changes where the gradient is taken (``optim/sam.py``, applied by the trainer) and
leaves the base's update rule as it is; ``inverse_sharpness`` divides its base's update by the
sharpness (``optim/inverse_sharpness.py``).
"""

from __future__ import annotations

from typing import Callable

import optax

from optdyn.spec.components import IRE, SAM, SGD, AdamW, InverseSharpness

from .inverse_sharpness import inverse_sharpness
from .ire import ire, resolve_start


def build_optimizer(spec: SGD | AdamW | SAM | IRE | InverseSharpness, schedule: optax.Schedule, *, peak_lr: float | None = None,
                    per_replica: bool = False, fisher_fn: Callable | None = None,
                    sharpness_fn: Callable | None = None, warmup_steps: int = 0,
                    epoch_steps: int | None = None) -> optax.GradientTransformationExtraArgs:
    """``peak_lr`` is lr_max of IRE's prog_decay; ``per_replica`` ranks IRE's mask per replica;
    ``warmup_steps`` and ``epoch_steps`` resolve IRE's ``warmup_end`` and epoch start rules.

    The wrappers own their estimators: ``fisher_fn(params, **extra_args)`` (IRE's diagonal
    Fisher) and ``sharpness_fn(params, **extra_args)`` (the 1/S rule's S), called by the wrapper
    on its refresh steps with the extra arguments of ``update`` (the trainer passes ``key=``).
    Every optimizer built here takes ``update(grads, state, params, **extra_args)``.
    """
    if spec.name == "ire":
        if fisher_fn is None:
            raise ValueError("IRE needs fisher_fn(params, **extra_args), the diagonal-Fisher estimate it ranks coordinates by")
        scale = None
        if spec.prog_decay:
            if peak_lr is None:
                raise ValueError("IRE prog_decay needs the schedule's peak learning rate")
            scale = lambda t: schedule(t) / peak_lr  # noqa: E731
        base = build_optimizer(spec.base, schedule, peak_lr=peak_lr, per_replica=per_replica)
        start, loss_below = resolve_start(spec.start, warmup_steps=warmup_steps, epoch_steps=epoch_steps)
        return ire(base, spec.kappa, spec.gamma, spec.every, start, scale, per_replica, fisher_fn=fisher_fn,
                   loss_below=loss_below, epoch_steps=epoch_steps)
    if spec.name == "sam":
        return build_optimizer(spec.base, schedule)
    if spec.name == "inverse_sharpness":
        if sharpness_fn is None:
            raise ValueError("inverse_sharpness needs sharpness_fn(params, **extra_args), the S that eta_t = lr_t/S divides by")
        return inverse_sharpness(build_optimizer(spec.base, schedule), spec.every, sharpness_fn=sharpness_fn)
    if spec.name == "sgd":
        parts = []
        if spec.weight_decay:
            # Coupled L2 before momentum, as torch.optim.SGD(weight_decay=...) does.
            parts.append(optax.add_decayed_weights(spec.weight_decay))
        parts.append(optax.sgd(schedule, momentum=spec.momentum or None, nesterov=spec.nesterov))
        return optax.chain(*parts)
    if spec.name == "adamw":
        parts = [optax.clip_by_global_norm(spec.grad_clip)] if spec.grad_clip else []
        parts.append(optax.adamw(schedule, b1=spec.b1, b2=spec.b2, eps=spec.eps, weight_decay=spec.weight_decay))
        return optax.chain(*parts)
    raise ValueError(f"no optimizer engine for '{spec.name}'")


def find(spec, name: str):
    """The wrapper named ``name`` in the optimizer's chain of ``base``s, or None."""
    while spec is not None:
        if spec.name == name:
            return spec
        spec = getattr(spec, "base", None)
    return None


def peak_lr(schedule_spec) -> float:
    """lr_max of a schedule spec: its ``peak_lr`` or, for single-level ones, its ``lr``."""
    for field in ("peak_lr", "lr"):
        if hasattr(schedule_spec, field):
            return float(getattr(schedule_spec, field))
    raise ValueError(f"schedule '{schedule_spec.name}' has no peak learning rate")
