"""Model configs of the `latedecay` paper's own problems (see ``spec/problems/__init__.py``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from optdyn.registry import model_spec

from ..base import Strict


@model_spec("latedecay")
class ReparamLinear(Strict):
    """y = ||w||^g w^T x on n noiseless samples in d > n dimensions (paper eq. 3.1), full-batch GD
    with label noise y_i + s*eps_i drawn afresh every step (the Phase-II noise model, Sec. 3.3.2).

    The instance (X, w*) is drawn from ``instance_seed`` (x_i ~ N(0, x_std^2 I), w* ~ N(0, I/d)),
    so a run's ``seed`` only changes the initialization and the label noise. Params hold
    ``replicas`` independent copies, shape (replicas, d), each started uniformly on the sphere of
    radius ``init_radius`` (catalog Sec. 3: a large start norm makes the Phase-II drift visible)."""

    name: Literal["reparam_linear"]
    d: int = Field(100, ge=2)
    n: int = Field(10, ge=1)
    gamma: float = Field(1.0, gt=-1)
    instance_seed: int = 0
    # [inferred] catalog Sec. 3: N(0, I/d) keeps the curvature O(1); the paper's N(0, I) only
    # rescales time. None means 1/sqrt(d).
    x_std: float | None = Field(None, gt=0)
    replicas: int = Field(1, ge=1)
    init_radius: float = Field(3.0, gt=0)
    label_noise: float = Field(0.0, ge=0)  # s, the std of the per-step label noise

    @model_validator(mode="after")
    def _overparametrized(self):
        if self.n >= self.d:
            raise ValueError(f"the model is over-parametrized only for d > n (got d = {self.d}, n = {self.n})")
        return self
