"""The run's float dtype, read at call time: float64 under ``jax_enable_x64`` (the trainer sets
it from the run's ``dtype``), float32 otherwise. Problems, schedules and probes create their
arrays in it, so one switch decides a run's precision everywhere."""

from __future__ import annotations

from contextlib import contextmanager

import jax
import jax.numpy as jnp


def default_float() -> jnp.dtype:
    return jnp.result_type(float)


def cast_floats(tree, dtype):
    """``tree`` with its floating leaves in ``dtype`` (integer leaves, e.g. tokens, kept)."""
    def cast(a):
        a = jnp.asarray(a)
        return a.astype(dtype) if jnp.issubdtype(a.dtype, jnp.floating) else a

    return jax.tree.map(cast, tree)


@contextmanager
def x64_restored():
    """Leave the x64 switch as the caller had it: a Trainer sets it to its run's dtype and a
    probe may switch it on for a float64 solve."""
    before = jax.config.jax_enable_x64
    try:
        yield
    finally:
        jax.config.update("jax_enable_x64", before)
