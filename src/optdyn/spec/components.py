"""Typed configs of models (toy problems included), datasets and optimizers.

These classes are the spec; the engines that build them live in ``models/``, ``data/`` and
``optim/``. Keeping them free of JAX keeps validation (and Snakefile parsing) fast.
"""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import Field, model_validator

from optdyn.registry import MODEL_SPECS, model_spec

from .base import Strict

Point = tuple[float, float]


# --- analytic toy problems: a loss plus its own noise model, trained like any network ---------


@model_spec("wsd")
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


@model_spec("wsd")
class QuadraticRiver(Strict):
    """L = gamma*x2^2/2 - x1 (WSD paper Fig. 4); noise N(0, sigma^2) on the hill coordinate x2."""

    name: Literal["quadratic_river"]
    gamma: float = Field(10.0, gt=0)
    replicas: int = Field(1, ge=1)
    init: Point = (0.0, 0.0)
    noise_sigma: float = Field(0.0, ge=0)


@model_spec("wsd", data=("bigram_language",))
class BigramSoftmax(Strict):
    """Theta in R^{n x m}, p(name | city) = softmax(Theta_city) (WSD paper Sec. 4)."""

    name: Literal["bigram_softmax"]
    init_scale: float = Field(0.0, ge=0)  # 0 = zeros, as in the catalog's reference runs


class LMMesh(Strict):
    """Devices of one job as a ("data", "fsdp") mesh (``train/sharding.py``): the batch is split
    over all devices, each parameter over ``fsdp`` along its largest divisible axis."""

    data: int = Field(-1, ge=-1)  # -1: every device not used by fsdp
    fsdp: int = Field(1, ge=1)


class _Transformer(Strict):
    """A decoder-only language model on a prepared token dataset (``models/lm/``), trained on
    ``batch_size`` random windows of ``seq_len + 1`` tokens per step (next-token CE)."""

    hidden: int = Field(gt=0)
    intermediate: int = Field(gt=0)
    layers: int = Field(gt=0)
    heads: int = Field(gt=0)
    vocab_size: int | None = Field(None, gt=0)  # None: taken from the dataset's tokenizer
    norm_eps: float = Field(1e-5, gt=0)
    init_std: float = Field(0.02, gt=0)
    # Master weights stay in the run's dtype; bfloat16 casts them inside the forward pass
    # (logits and loss in float32), as Levanter's and nanoGPT's mixed precision do.
    compute_dtype: Literal["float32", "bfloat16"] = "float32"
    # Gradient accumulation: the step's batch is cut into this many equal micro-batches whose
    # gradients are averaged (a memory knob; the update is the full-batch one up to rounding).
    microbatches: int = Field(1, ge=1)
    # validation loss = mean over this many fixed windows of the val split [inferred: the paper
    # gives no eval-set size]
    eval_windows: int = Field(256, ge=1)
    mesh: LMMesh | None = None  # None: one device, no sharding

    @model_validator(mode="after")
    def _shapes_fit(self):
        if self.hidden % self.heads:
            raise ValueError(f"hidden {self.hidden} is not divisible by heads {self.heads}")
        if self.batch_size % self.microbatches:
            raise ValueError(f"microbatches {self.microbatches} must divide batch_size {self.batch_size}")
        return self


@model_spec("wsd", data=("prepared",))
class Llama(_Transformer):
    """LLaMA architecture (RMSNorm, RoPE on q/k, SwiGLU, pre-norm, untied head); sizes of WSD
    paper Table 2, context 4096 and 1024 sequences (4M tokens) per step (Sec. 5.1)."""

    name: Literal["llama"]
    seq_len: int = Field(4096, gt=0)
    batch_size: int = Field(1024, gt=0)
    rope_theta: float = Field(10000.0, gt=0)  # [inferred] Levanter's LlamaConfig default
    tie_embeddings: bool = False

    @model_validator(mode="after")
    def _rope_pairs(self):
        if (self.hidden // self.heads) % 2:
            raise ValueError(f"RoPE needs an even head dim; hidden/heads = {self.hidden // self.heads}")
        return self


@model_spec("wsd", data=("prepared",))
class GPT2(_Transformer):
    """nanoGPT's GPT-2: learned positions, LayerNorm, GELU MLP, tied embeddings, no dropout.
    [inferred] 480 sequences per step: nanoGPT's 12 x 40 accumulation, 491,520 tokens ("0.5M")."""

    name: Literal["gpt2"]
    seq_len: int = Field(1024, gt=0)
    batch_size: int = Field(480, gt=0)
    bias: bool = True  # nanoGPT's GPT-2 default: biases in Linear and LayerNorm
    tie_embeddings: bool = True


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


@model_spec("selfstab", data=("prepared",))
class MLPNet(_ImageClassifier):
    name: Literal["mlp"]
    widths: list[int] = Field(default_factory=lambda: [200, 200], min_length=1)
    zero_bias: bool = True  # the authors' code; False: PyTorch's uniform bias init


@model_spec("selfstab", data=("prepared",))
class CNNNet(_ImageClassifier):
    name: Literal["cnn"]
    channels: list[int] = Field(default_factory=lambda: [32, 32], min_length=1)
    pool: Literal["avg", "max"] = "avg"
    zero_bias: bool = True


@model_spec("selfstab", data=("prepared",))
class ResNet18Net(_ImageClassifier):
    """GroupNorm ResNet-18; ``activation`` is applied after each residual addition (ReLU inside)."""

    name: Literal["resnet18"]
    base_width: int = Field(16, gt=0)
    groups: int = Field(16, gt=0)


@model_spec("selfstab", data=("prepared",))
class TransformerNet(_ImageClassifier):
    """Damian et al.'s post-LN Transformer classifier (``models/nets_transformer.py``) on a
    prepared token dataset (``tokens_train``/``y_train``, e.g. sst2_5k or synthetic_tokens); the
    vocabulary comes from the dataset. Defaults are the paper's: 2 layers, width 64, 2 heads,
    FFN 64 (no 4x expansion), mean-pool over all positions, zero-init head, binary MSE."""

    name: Literal["transformer"]
    criterion: Literal["cat_mse", "binary_mse", "ce", "logistic"] = "binary_mse"
    layers: int = Field(2, ge=1)
    hidden: int = Field(64, gt=0)
    heads: int = Field(2, gt=0)
    ffn: int = Field(64, gt=0)
    max_positions: int = Field(64, gt=0)  # learned positional embeddings; longer inputs are refused
    mask_padding: bool = False  # the code: no attention mask, padding averaged in; True: a "clean" variant
    head_zero_init: bool = True

    @model_validator(mode="after")
    def _heads_divide_hidden(self):
        if self.hidden % self.heads:
            raise ValueError(f"heads ({self.heads}) must divide hidden ({self.hidden})")
        return self


#: every registered model class: the ones above, then each paper's ``spec/problems/<paper>.py``;
#: ``MODEL_SPECS.info(cls).data`` names the data a model trains on (none: self-contained)
ModelSpec = Annotated[Union[MODEL_SPECS.classes()], Field(discriminator="name")]


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


class IREEpochStart(Strict):
    """IRE from the start of epoch ``epoch`` (0-based: epoch 30 of 100 starts after 30 epochs)."""

    epoch: int = Field(ge=0)


class IRELossStart(Strict):
    """IRE from the first epoch boundary at which the epoch-mean training (batch) loss is below
    ``train_loss_below`` (the paper's "switch when the training loss approaches x")."""

    train_loss_below: float = Field(gt=0)


class IRE(Strict):
    """IRE (Algorithm 1) around a base optimizer or SAM: the base update times
    1 + kappa_t * mask, the mask being the gamma-fraction of coordinates with the smallest
    sampled-label diagonal Fisher (the problem's ``fisher_diag``), ranked over all parameters,
    recomputed at steps start, start + every, ... The code's ``rank`` knob is 1 - gamma.

    ``start`` (T_w): a step (``120`` or ``{step: 120}``), ``{epoch: N}``, ``warmup_end`` (the
    schedule's ``warmup_steps``) or ``{train_loss_below: x}``."""

    name: Literal["ire"]
    kappa: float = Field(ge=0)
    gamma: float = Field(gt=0, le=1)
    every: int = Field(10, ge=1)  # K
    # T_w: base optimizer alone before it. A plain step stays an int in the dumped spec, so run
    # ids from before the other rules existed are unchanged.
    start: Union[Annotated[int, Field(ge=0)], Literal["warmup_end"], IREEpochStart, IRELossStart] = 0
    prog_decay: bool = False  # kappa_t = kappa * lr_t / lr_max (the code's prog_decay)
    base: Annotated[Union[SGD, AdamW, SAM], Field(discriminator="name")]

    @model_validator(mode="before")
    @classmethod
    def _step_start_is_an_int(cls, data):
        # {step: N} is the plain step N: one spelling per rule, so one run id per run
        if isinstance(data, dict) and isinstance(data.get("start"), dict) and set(data["start"]) == {"step"}:
            data = {**data, "start": data["start"]["step"]}
        return data


class InverseSharpness(Strict):
    """eta_t = lr_t / S(theta_t) (Damian et al. App. G.1's eta_t := 1/S with a constant lr 1):
    the base update divided by the sharpness, the top Hessian eigenvalue of the training loss on
    the first ``examples`` training examples (None: the whole training set) by ``iters`` Lanczos
    steps (the problem's ``sharpness``), refreshed at steps 0, every, 2 every, ... (the code: 40)."""

    name: Literal["inverse_sharpness"]
    every: int = Field(40, ge=1)
    examples: int | None = Field(None, gt=0)
    iters: int = Field(20, ge=2)
    base: Annotated[Union[SGD, AdamW, SAM], Field(discriminator="name")]


OptimizerSpec = Annotated[Union[SGD, AdamW, SAM, IRE, InverseSharpness], Field(discriminator="name")]
