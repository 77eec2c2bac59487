"""From a run spec to the ``Problem`` the trainer optimizes."""

from __future__ import annotations

from optdyn.spec.components import TOY_MODELS
from optdyn.spec.paper import RunSpec

from .base import Problem


def build_problem(spec: RunSpec) -> Problem:
    model, data = spec.model, spec.data
    if model.name in TOY_MODELS:
        if data is not None:
            raise ValueError(f"model '{model.name}' is self-contained and takes no data")
        from .toy import build_toy

        return build_toy(model)
    if model.name == "bigram_softmax":
        if data is None or data.name != "bigram_language":
            raise ValueError("model 'bigram_softmax' needs data 'bigram_language'")
        from .bigram import BigramProblem

        return BigramProblem(model, data)
    raise NotImplementedError(f"model '{model.name}' has a spec but no training engine yet")
