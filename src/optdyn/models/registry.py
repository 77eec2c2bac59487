"""From a run spec to the ``Problem`` the trainer optimizes.

A model spec class's problem is built by the function (or class) registered for it with
``@problem_builder(SpecClass)`` (``optdyn.registry``), in ``models/<paper>.py`` of the paper the
spec belongs to: ``fn(model_spec, *, dtype)`` for self-contained problems (no data),
``fn(model_spec, data_spec, data_root, *, dtype)`` for models that train on data.
"""

from __future__ import annotations

from pathlib import Path

import jax.numpy as jnp

from optdyn.registry import MODEL_SPECS, PROBLEMS
from optdyn.spec.paper import RunSpec

from .base import Problem


def build_problem(spec: RunSpec, data_root: Path = Path("resources/data"), *, dtype=None) -> Problem:
    """``data_root``: where prepared datasets live (``<resources>/data`` of the workflow config);
    ``dtype``: the float dtype the problem's params and data are created in (None: the run's
    ``spec.dtype``)."""
    model, data = spec.model, spec.data
    dtype = jnp.dtype(spec.dtype if dtype is None else dtype)
    info = MODEL_SPECS.info(type(model))
    if not info.data and data is not None:
        raise ValueError(f"model '{model.name}' is self-contained and takes no data")
    if info.data and (data is None or data.name not in info.data):
        raise ValueError(f"model '{model.name}' needs data {' or '.join(repr(d) for d in info.data)}")
    if info.spec_only is not None:
        raise NotImplementedError(f"model '{model.name}' has a spec but no training engine yet: {info.spec_only}")
    build = PROBLEMS.get(type(model))
    if not info.data:
        return build(model, dtype=dtype)
    return build(model, data, data_root, dtype=dtype)
