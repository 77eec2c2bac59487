"""Model and probe configs of the `ire` paper's own problems (see ``spec/problems/__init__.py``)."""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import Field, model_validator

from optdyn.registry import model_spec, probe_spec

from ..base import Strict
from ..components import _Transformer
from .latedecay import Augment


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


# --- Sec. 4.1 vision nets (models/ire_vision.py); each sized by its fields, so a tier shrinks it ---


class CifarResNetArch(Strict):
    """homura's CIFAR ResNet (depth 6n + 2: 20, 56), widths width x (1, 2, 4)."""

    kind: Literal["cifar_resnet"]
    depth: int = Field(56, ge=8)
    width: int = Field(16, gt=0)
    norm_groups: int = Field(16, gt=0)  # GroupNorm in place of BN (models/vision_resnet.py)


class WideResNetArch(Strict):
    """Zagoruyko & Komodakis' WRN-depth-widen (depth 6n + 4: 16, 28), widths 16 widen x (1, 2, 4)."""

    kind: Literal["wide_resnet"]
    depth: int = Field(28, ge=10)
    widen: int = Field(10, gt=0)
    norm_groups: int = Field(16, gt=0)


class BottleneckResNetArch(Strict):
    """torchvision's ResNet-50 (stages 3, 4, 6, 3 at width 64); ``stem: cifar`` for small images."""

    kind: Literal["bottleneck_resnet"]
    stages: list[int] = Field(default_factory=lambda: [3, 4, 6, 3], min_length=1)
    width: int = Field(64, gt=0)
    stem: Literal["imagenet", "cifar"] = "imagenet"
    norm_groups: int = Field(32, gt=0)


class ViTArch(Strict):
    """timm's VisionTransformer (ViT-T: dim 192, 3 heads; ViT-S: 384, 6; depth 12, mlp_ratio 4)."""

    kind: Literal["vit"]
    patch: int = Field(4, gt=0)
    dim: int = Field(192, gt=0)
    depth: int = Field(12, gt=0)
    heads: int = Field(3, gt=0)
    mlp_ratio: float = Field(4.0, gt=0)


class MLPArch(Strict):
    """A ReLU MLP (flatten, hidden ``widths``, linear head): the catalog's Fig. 2 toy stand-in."""

    kind: Literal["mlp"]
    widths: list[int] = Field(default_factory=lambda: [128, 128], min_length=1)


@model_spec("ire", data=("prepared",))
class IREVisionNet(Strict):
    """A vision net of Sec. 4.1 on a prepared image dataset, trained as the authors' CIFAR /
    ImageNet code does: mini-batches of ``batch_size`` with crop + flip ``augment`` (None: none),
    label smoothing in the KL form sum_c KL(y_smooth || p) (minimum 0), and IRE's mask estimated
    on one fixed batch of ``fisher_batch_size`` training images drawn once from the run's seed
    ([code]), with labels sampled afresh at each refresh.

    Metrics at each eval: training and test loss / accuracy (un-augmented) and
    ``trace_fisher`` = Tr F^ = mean over ``trace_batches`` (M) fixed batches of
    ``trace_batch_size`` (B) training images of B ||grad mean CE(y^ ~ softmax)||^2 (Fig. 2's
    sharpness)."""

    name: Literal["ire_vision"]
    net: Annotated[Union[CifarResNetArch, WideResNetArch, BottleneckResNetArch, ViTArch, MLPArch], Field(discriminator="kind")]
    batch_size: int = Field(128, gt=0)
    label_smoothing: float = Field(0.1, ge=0, lt=1)
    augment: Augment | None = Field(default_factory=Augment)
    fisher_batch_size: int = Field(128, gt=0)
    trace_batches: int = Field(8, gt=0)
    trace_batch_size: int = Field(128, gt=0)
    top_k: int = Field(5, gt=0)  # test top-k accuracy is logged too (Table 2's top-5)
