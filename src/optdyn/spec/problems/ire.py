"""Model and probe configs of the `ire` paper's own problems (see ``spec/problems/__init__.py``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from optdyn.registry import model_spec, probe_spec

from ..base import Strict
from ..components import _Transformer


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


@model_spec("ire", data=("prepared",))
class IRETransformer(_Transformer):
    """The 2-layer Transformer of Table 4 / Fig. 5 (wikitext-2): sinusoidal absolute positions
    added to sqrt(d)-scaled token embeddings, post-LN encoder layers under a causal mask (torch's
    ``nn.TransformerEncoderLayer``: biases, ReLU FFN, dropout 0) and an untied decoder with bias.
    [inferred] the authors' notebook is torch's word_language_model Transformer (catalog §2.10):
    d 128, 8 heads, d_ff 512, and with wikitext-2's 33,278 words 8.95M parameters ("8M")."""

    name: Literal["ire_transformer"]
    hidden: int = Field(128, gt=0)
    intermediate: int = Field(512, gt=0)
    layers: int = Field(2, gt=0)
    heads: int = Field(8, gt=0)
    seq_len: int = Field(512, gt=0)
    batch_size: int = Field(32, gt=0)
    bias: bool = True  # read by the shared LM config (torch's Linear and LayerNorm have biases)
    tie_embeddings: bool = False


@probe_spec("ire")
class StepTime(Strict):
    """Table 4: seconds per training step of AdamW (the run's own optimizer) and of IRE around it
    with refresh interval K for each K of ``every``, on the run's problem, timed in one process
    after compilation. Each timed chunk is ``steps`` steps (a multiple of every K, so it holds a
    whole number of mask refreshes); the optimizers take turns, ``repeats`` rounds."""

    kind: Literal["ire_step_time"]
    run: str  # a run of the same figure: its model, data, schedule and base optimizer are timed
    every: list[int] = Field(default_factory=lambda: [1, 5, 10, 20], min_length=1)
    kappa: float = Field(5.0, gt=0)
    gamma: float = Field(0.8, gt=0, le=1)
    steps: int = Field(20, ge=1)
    repeats: int = Field(7, ge=1)

    @model_validator(mode="after")
    def _whole_refreshes(self):
        bad = [k for k in self.every if k < 1 or self.steps % k]
        if bad:
            raise ValueError(f"steps {self.steps} must be a multiple of every K (so each chunk holds whole refreshes); not of {bad}")
        return self
