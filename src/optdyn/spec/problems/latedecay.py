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


@model_spec("latedecay")
class TeacherStudent(Strict):
    """Catalog Sec. 5.4 "tiny" stand-in for Figs. 1-2: a 2-layer tanh student
    f(x) = a^T tanh(W x / sqrt(d)) / sqrt(width), N(0, 1) init, fits n noiseless labels of a
    teacher of the same form (width ``teacher_width``), x ~ N(0, I_d); loss (1/2) mean squared
    error. Label noise s*eps is drawn afresh every step (the noise that keeps the drift along the
    minima manifold alive, catalog rule 1); ``batch_size`` < n gives minibatch SGD instead of
    full-batch GD (the minibatch-noise control). The instance (teacher, train and test inputs) is
    drawn from ``instance_seed``; a run's ``seed`` changes the student's init and the noise."""

    name: Literal["teacher_student"]
    d: int = Field(10, ge=1)
    teacher_width: int = Field(4, ge=1)
    width: int = Field(200, ge=1)
    n_train: int = Field(40, ge=1)
    n_test: int = Field(4000, ge=1)
    instance_seed: int = 0
    label_noise: float = Field(0.0, ge=0)  # s
    batch_size: int | None = Field(None, ge=1)  # None: full batch

    @model_validator(mode="after")
    def _batch_fits(self):
        if self.batch_size is not None and self.batch_size > self.n_train:
            raise ValueError(f"batch_size ({self.batch_size}) exceeds n_train ({self.n_train})")
        return self


class Augment(Strict):
    """Random crop of the zero-padded image back to its size and a horizontal flip, drawn per
    example per step (torchvision's RandomCrop(padding) + RandomHorizontalFlip)."""

    crop_padding: int = Field(4, ge=0)
    hflip: bool = True


@model_spec("latedecay", data=("prepared",))
class VGGMini(Strict):
    """The authors' `vgg-small` (catalog Sec. 2, Fig. 1 [code]): VGG-11's layer pattern at reduced
    widths, 3x3 convs (padding 1) + ReLU, no BatchNorm, 2x2 max-pools (``M``); classifier
    Linear-ReLU-Dropout twice, then Linear; loss (1/2) sum_k (out_k - onehot_k)^2, averaged over
    the batch; Kaiming-normal (fan_out) convs, N(0, 0.01^2) linears, zero biases."""

    name: Literal["vgg_mini"]
    conv: list[int | Literal["M"]] = Field(default_factory=lambda: [32, "M", 64, "M", 64, 64, "M", 128, 128, "M", 256, 256, "M"])
    hidden: list[int] = Field(default_factory=lambda: [128, 128])
    dropout: float = Field(0.5, ge=0, lt=1)
    batch_size: int = Field(128, ge=1)
    augment: Augment | None = Field(default_factory=Augment)  # None: no augmentation
