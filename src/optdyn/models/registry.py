"""From a run spec to the ``Problem`` the trainer optimizes.

Each paper's own problems live in ``models/<paper>.py``, which exports ``BUILDERS``: model name ->
``fn(model_spec) -> Problem`` (self-contained problems take no data).
"""

from __future__ import annotations

import importlib
from pathlib import Path

from optdyn.spec.components import LM_MODELS, NETWORK_MODELS, TOY_MODELS
from optdyn.spec.paper import RunSpec
from optdyn.spec.problems import MODULES

from .base import Problem


def build_problem(spec: RunSpec, data_root: Path = Path("resources/data")) -> Problem:
    """``data_root``: where prepared datasets live (``<resources>/data`` of the workflow config)."""
    model, data = spec.model, spec.data
    if model.name in TOY_MODELS and data is not None:
        raise ValueError(f"model '{model.name}' is self-contained and takes no data")
    if model.name in ("river2d", "quadratic_river"):
        from .toy import build_toy

        return build_toy(model)
    if model.name == "bigram_softmax":
        if data is None or data.name != "bigram_language":
            raise ValueError("model 'bigram_softmax' needs data 'bigram_language'")
        from .bigram import BigramProblem

        return BigramProblem(model, data)
    if model.name in NETWORK_MODELS:
        from .networks import build_network

        return build_network(model, data, data_root)
    if model.name in LM_MODELS:
        from .lm.problem import build_lm

        return build_lm(model, data, data_root)
    for paper in MODULES:
        # only the paper whose spec declares the model: other papers' engines can be slow to import
        if type(model) not in importlib.import_module(f"optdyn.spec.problems.{paper}").MODELS:
            continue
        builders = importlib.import_module(f"{__package__}.{paper}").BUILDERS
        if model.name in builders:
            return builders[model.name](model)
    raise NotImplementedError(f"model '{model.name}' has a spec but no training engine yet")
