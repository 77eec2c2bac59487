"""Model and probe configs of the `ire` paper's own problems (see ``spec/problems/__init__.py``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from optdyn.registry import model_spec

from ..base import Strict


@model_spec("ire")
class IREValley(Strict):
    """IRE eq. (1) with H(u) = (1 + |u|^2) I_m: L(u, v) = (1 + |u|^2) |v|^2 / 2, u in R^flat_dims
    (flat), v in R^sharp_dims (sharp); minima M = {v = 0}, Tr Hess on M = m (1 + |u|^2), flattest
    at u = 0. flat_dims = sharp_dims = 1 is the 2-D toy of Fig. 1.

    It is the squared loss of residuals f_i = sqrt(1 + |u|^2) v_i against labels y_i = 0.
    ``label_noise`` sigma > 0 adds SGD noise each step, by ``noise_model``:
      ``label``: labels y ~ N(0, sigma^2 I), gradient noise covariance sigma^2 grad f grad f^T, which
      equals App. A's diag(0, sigma^2 h) on M but also moves u by O(sigma |v|) off M;
      ``eq10``: App. A's SDE model exactly, noise sigma sqrt(h) xi on the sharp coordinates only.
    ``replicas`` independent copies
    start from the same point: |u| = init_u spread evenly (u_j = init_u / sqrt(flat_dims), so the
    start's sharpness 1 + init_u^2 does not grow with p), v_i = init_v."""

    name: Literal["ire_valley"]
    flat_dims: int = Field(1, ge=1)
    sharp_dims: int = Field(1, ge=1)
    replicas: int = Field(1, ge=1)
    init_u: float = 1.0
    init_v: float = 0.01
    label_noise: float = Field(0.0, ge=0)
    noise_model: Literal["label", "eq10"] = "label"
