"""Typed configs of models (toy problems included), datasets and optimizers.

These classes are the spec; the engines that build them live in ``models/``, ``data/`` and
``optim/``. Keeping them free of JAX keeps validation (and Snakefile parsing) fast.
"""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import Field, model_validator

from . import problems
from .base import Strict

Point = tuple[float, float]


# --- analytic toy problems: a loss plus its own noise model, trained like any network ---------


class River2D(Strict):
    """L = (x2 - sin x1)^2 + slope*|end - x1| (WSD paper Fig. 3); noise of eq. (4): N(0, sigma^2)
    projected onto the mountain direction (orthogonal to the Hessian's min-eigenvector)."""

    name: Literal["river2d"]
    replicas: int = Field(1, ge=1)
    init: list[Point] | None = None
    init_box: tuple[Point, Point] | None = None  # ((x1_lo, x1_hi), (x2_lo, x2_hi)), uniform
    slope: float = 0.2
    end: float = 10.0
    noise_sigma: float = Field(0.0, ge=0)

    @model_validator(mode="after")
    def _one_init(self):
        if (self.init is None) == (self.init_box is None):
            raise ValueError("give exactly one of init (explicit points) or init_box (random starts)")
        if self.init is not None and len(self.init) != self.replicas:
            raise ValueError(f"init has {len(self.init)} points but replicas = {self.replicas}")
        return self


class QuadraticRiver(Strict):
    """L = gamma*x2^2/2 - x1 (WSD paper Fig. 4); noise N(0, sigma^2) on the hill coordinate x2."""

    name: Literal["quadratic_river"]
    gamma: float = Field(10.0, gt=0)
    replicas: int = Field(1, ge=1)
    init: Point = (0.0, 0.0)
    noise_sigma: float = Field(0.0, ge=0)


class BigramSoftmax(Strict):
    """Theta in R^{n x m}, p(name | city) = softmax(Theta_city) (WSD paper Sec. 4)."""

    name: Literal["bigram_softmax"]
    init_scale: float = Field(0.0, ge=0)  # 0 = zeros, as in the catalog's reference runs


class _Transformer(Strict):
    hidden: int = Field(gt=0)
    intermediate: int = Field(gt=0)
    layers: int = Field(gt=0)
    heads: int = Field(gt=0)
    vocab_size: int | None = Field(None, gt=0)  # None: taken from the dataset's tokenizer


class Llama(_Transformer):
    """LLaMA architecture (RMSNorm, RoPE, SwiGLU); sizes of WSD paper Table 2."""

    name: Literal["llama"]
    seq_len: int = Field(4096, gt=0)


class GPT2(_Transformer):
    name: Literal["gpt2"]
    seq_len: int = Field(1024, gt=0)


# --- networks on prepared datasets (config/data.yaml; models/networks.py builds them) ----------


class _ImageClassifier(Strict):
    """A network on a prepared image dataset, ``data: {name: prepared, dataset: <name>}``.
    Defaults are Damian et al.'s code (catalog 004 sec. 4.1): MSE without 1/2, swish, full batch."""

    criterion: Literal["cat_mse", "binary_mse", "ce", "logistic"] = "cat_mse"
    batch_size: int | None = Field(None, gt=0)  # None: full batch (GD)
    ghost: int = Field(1, ge=1)  # the loss is the mean over this many equal sub-batches
    activation: Literal["swish", "relu", "gelu", "tanh"] = "swish"
    # Lanczos iterations for the top Hessian eigenvalue of the full training loss, logged as
    # `sharpness` at every eval step (None: not logged). It changes only what is logged, but it
    # is part of the model spec because it is part of the problem's metrics.
    sharpness_iters: int | None = Field(None, ge=2)


class MLPNet(_ImageClassifier):
    name: Literal["mlp"]
    widths: list[int] = Field(default_factory=lambda: [200, 200], min_length=1)
    zero_bias: bool = True  # the authors' code; False: PyTorch's uniform bias init


class CNNNet(_ImageClassifier):
    name: Literal["cnn"]
    channels: list[int] = Field(default_factory=lambda: [32, 32], min_length=1)
    pool: Literal["avg", "max"] = "avg"
    zero_bias: bool = True


class ResNet18Net(_ImageClassifier):
    """GroupNorm ResNet-18; ``activation`` is applied after each residual addition (ReLU inside)."""

    name: Literal["resnet18"]
    base_width: int = Field(16, gt=0)
    groups: int = Field(16, gt=0)


NETWORK_MODELS = ("mlp", "cnn", "resnet18")

ModelSpec = Annotated[
    Union[(River2D, QuadraticRiver, BigramSoftmax, Llama, GPT2, MLPNet, CNNNet, ResNet18Net, *problems.collect("MODELS"))],
    Field(discriminator="name"),
]

#: models whose problem is self-contained (no ``data`` entry allowed)
TOY_MODELS = ("river2d", "quadratic_river", *problems.collect("SELF_CONTAINED"))


# --- datasets ---------------------------------------------------------------------------------


class BigramLanguage(Strict):
    """City -> name bigram language (WSD paper Sec. 4): deterministic cities with entropy below
    ``det_entropy_max`` nats, stochastic ones above ``sto_entropy_min`` nats."""

    name: Literal["bigram_language"]
    n_deterministic: int = Field(gt=0)
    n_stochastic: int = Field(gt=0)
    names: int = Field(10, ge=2)
    det_entropy_max: float = Field(0.2, gt=0)
    sto_entropy_min: float = Field(1.0, gt=0)
    batch_size: int = Field(gt=0)
    seed: int = 0


class PreparedData(Strict):
    """A dataset of config/data.yaml, read through its verified manifest."""

    name: Literal["prepared"]
    dataset: str


DataSpec = Annotated[Union[BigramLanguage, PreparedData], Field(discriminator="name")]

#: datasets each data-driven model can train on
DATA_FOR_MODEL: dict[str, tuple[str, ...]] = {"bigram_softmax": ("bigram_language",),
                                              **{m: ("prepared",) for m in NETWORK_MODELS}}


# --- optimizers (the learning rate comes from the run's schedule) -----------------------------


class SGD(Strict):
    name: Literal["sgd"]
    momentum: float = Field(0.0, ge=0, lt=1)
    nesterov: bool = False
    weight_decay: float = Field(0.0, ge=0)


class AdamW(Strict):
    name: Literal["adamw"]
    b1: float = Field(0.9, ge=0, lt=1)
    b2: float = Field(0.95, ge=0, lt=1)
    eps: float = Field(1e-8, gt=0)
    weight_decay: float = Field(0.0, ge=0)
    grad_clip: float | None = Field(None, gt=0)


BaseOptimizerSpec = Annotated[Union[SGD, AdamW], Field(discriminator="name")]


class SAM(Strict):
    """The base optimizer follows the gradient at theta + eps (IRE eqs. 7-8): ``standard``
    eps = rho g/||g|| on the same batch (Foret et al.), ``average`` eps = rho xi/||xi||,
    xi ~ N(0, I). Norms are global (per replica for replica-stacked toys)."""

    name: Literal["sam"]
    rho: float = Field(gt=0)
    perturbation: Literal["standard", "average"] = "standard"
    base: BaseOptimizerSpec


class IRE(Strict):
    """IRE (Algorithm 1) around a base optimizer or SAM: the base update times
    1 + kappa_t * mask, the mask being the gamma-fraction of coordinates with the smallest
    sampled-label diagonal Fisher (the problem's ``fisher_diag``), ranked over all parameters,
    recomputed at steps start, start + every, ... The code's ``rank`` knob is 1 - gamma."""

    name: Literal["ire"]
    kappa: float = Field(ge=0)
    gamma: float = Field(gt=0, le=1)
    every: int = Field(10, ge=1)  # K
    start: int = Field(0, ge=0)  # T_w: base optimizer alone before it
    prog_decay: bool = False  # kappa_t = kappa * lr_t / lr_max (the code's prog_decay)
    base: Annotated[Union[SGD, AdamW, SAM], Field(discriminator="name")]


OptimizerSpec = Annotated[Union[SGD, AdamW, SAM, IRE], Field(discriminator="name")]
