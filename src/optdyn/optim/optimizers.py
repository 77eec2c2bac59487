"""Optax optimizers built from the typed spec, driven by the run's schedule."""

from __future__ import annotations

import optax

from optdyn.spec.components import SGD, AdamW


def build_optimizer(spec: SGD | AdamW, schedule: optax.Schedule) -> optax.GradientTransformation:
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
