"""Precision is explicit: one process-wide switch, set once at process start, and dtypes passed
by hand everywhere else.

``configure_process(need_x64)`` is the only place that touches ``jax_enable_x64``: the CLI calls
it once, as soon as it knows the job's specs (``needs_x64`` says whether they need float64).
From there on nothing flips the switch: problems, schedules and probes take the dtype they work
in as an argument (a run's ``spec.dtype``, a probe's own ``dtype``) and create or cast their
arrays in it, so a float32 run computes in float32 and a float64 run in float64 whatever the
switch, as long as it is on when some dtype is float64 (``require_x64`` says so in one line).
"""

from __future__ import annotations

from typing import Iterable

import jax
import jax.numpy as jnp


def configure_process(need_x64: bool) -> None:
    """Switch ``jax_enable_x64`` for this whole process; call it once, before the first array."""
    jax.config.update("jax_enable_x64", bool(need_x64))


def needs_x64(run_specs: Iterable, probe_spec=None) -> bool:
    """Whether a job over these run specs (``spec.dtype``) and this probe spec (its ``dtype`` /
    ``search_dtype`` fields, any field named ``*dtype``) computes anything in float64."""
    if any(getattr(s, "dtype", None) == "float64" for s in run_specs):
        return True
    if probe_spec is None:
        return False
    fields = probe_spec.model_dump() if hasattr(probe_spec, "model_dump") else dict(vars(probe_spec))
    return any(name.endswith("dtype") and value == "float64" for name, value in fields.items())


def x64_enabled() -> bool:
    return bool(jax.config.jax_enable_x64)


def require_x64(dtype, what: str = "this job") -> None:
    """Raise if ``dtype`` is float64 but the process was configured without x64."""
    if jnp.dtype(dtype) == jnp.float64 and not x64_enabled():
        raise RuntimeError(f"{what} computes in float64 but jax_enable_x64 is off: call "
                           "optdyn.precision.configure_process(True) at process start")


def cast_floats(tree, dtype):
    """``tree`` with its floating leaves in ``dtype`` (integer leaves, e.g. tokens, kept)."""
    def cast(a):
        a = jnp.asarray(a)
        return a.astype(dtype) if jnp.issubdtype(a.dtype, jnp.floating) else a

    return jax.tree.map(cast, tree)
