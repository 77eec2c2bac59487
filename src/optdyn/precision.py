"""The run's float dtype, read at call time: float64 under ``jax_enable_x64`` (the trainer sets
it from the run's ``dtype``), float32 otherwise. Problems, schedules and probes create their
arrays in it, so one switch decides a run's precision everywhere."""

from __future__ import annotations

import jax.numpy as jnp


def default_float() -> jnp.dtype:
    return jnp.result_type(float)
