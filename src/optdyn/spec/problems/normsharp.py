"""Model configs of the `normsharp` paper's own problems (see ``spec/problems/__init__.py``).

All three are scale-invariant losses trained by GD+WD (``optimizer: {name: sgd, weight_decay}``
with a constant schedule); their data (ground truth, observed entries, samples) is drawn from
``data_seed`` so that the run seed only changes the initialization.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from optdyn.registry import model_spec

from ..base import Strict


@model_spec("normsharp")
class MatrixCompletionBN(Strict):
    """Matrix completion with BN (Sec. P.1, catalog 3.1): predict (gamma/sigma)[U V^T]_ij with
    sigma^2 the second moment of U V^T over the observed entries and gamma^2 that of M."""

    name: Literal["matrix_completion_bn"]
    d: int = Field(50, ge=2)
    rank: int = Field(2, ge=1)
    observations: int = Field(800, ge=1)
    data_seed: int = 0
    # [inferred] the paper gives no init; N(0, 1/d) per entry reproduces its 2/eta~_0, EoS entry
    # step and test losses (catalog Sec. 7). None means std = 1/sqrt(d).
    init_std: float | None = Field(None, gt=0)
    lanczos_iters: int = Field(24, ge=2)  # Krylov size; 20 already gives 5 digits on this problem
    singular_values: int = Field(4, ge=1)  # how many of the recovered matrix's to log


@model_spec("normsharp")
class ScaleInvariantToy3D(Strict):
    """L(w) = F(U w), F(x,y,z) = 2 - (x+y)/sqrt(x^2 - xy + y^2), U a random rotation (App. F)."""

    name: Literal["scale_invariant_toy3d"]
    init: tuple[float, float, float] = (0.3, 1.3, 1.2)  # in F-coordinates, as in the paper
    rotation_seed: int = 0


@model_spec("normsharp")
class LinearRegressionBN(Strict):
    """Linear regression with BN (Sec. 5, App. Q.2): Phi(x; w) = sigma_y (w^T x - mu_1)/sigma_1
    + mu_y with full-batch statistics; data y = w_GT^T x + b_GT, x ~ N(0, diag(1/d, ..., 1))."""

    name: Literal["linear_regression_bn"]
    d: int = Field(40, ge=2)
    n: int = Field(20, ge=2)
    # the paper writes b_GT ~ N(0, 0.01); read as a variance (catalog 3.3) [inferred]
    bias_variance: float = Field(0.01, ge=0)
    data_seed: int = 0
    init_std: float = Field(1.0, gt=0)  # w_0 ~ N(0, init_std^2 I/d); the paper gives none


@model_spec("normsharp", data=("prepared",))
class NormsharpNet(Strict):
    """The paper's CIFAR networks (App. Q.1, catalog 3.5; ``models/nets_scale_invariant.py``) on a
    prepared image dataset, trained by full-batch GD+WD with cross-entropy.

    ``arch`` ``si_vgg``: the scale-invariant VGG-11 (``vgg_cfg`` bearpaw's 'A', channels times ``width``);
    ``si_resnet`` / ``preact_resnet``: the scale-invariant and bearpaw's pre-activation ResNet
    (``depth``, ``resnet_widths``). Per step the loop logs ||w||^2 of the scale-invariant group and
    the spherical sharpness ||w||^2 lambda_1(hess_w L) (Lanczos, ``sharpness_iters`` HVPs, on the
    first ``sharpness_examples`` training examples) every ``sharpness_every`` steps and at every
    step of each ``sharpness_windows`` [start, end) window; they change what is measured, so they
    are part of the run id."""

    name: Literal["normsharp_net"]
    arch: Literal["si_vgg", "si_resnet", "preact_resnet"] = "si_vgg"
    vgg_cfg: list[int | Literal["M"]] = Field(
        default_factory=lambda: [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"], min_length=1)
    width: float = Field(1.0, gt=0)  # channel multiplier of vgg_cfg
    depth: int = Field(20, ge=8)  # ResNet depth 6n + 2
    resnet_widths: tuple[int, int, int] = (16, 32, 64)
    input_size: int | None = Field(None, ge=1)  # resize images to this side (bilinear); None: as prepared
    # (3/10) ln 91: the final BN's fixed gamma (App. R); unused by preact_resnet (no final BN)
    final_gamma: float = Field(1.3532360054, gt=0)
    # ghost BN: BN statistics per sub-batch of this many examples (None: the whole batch); the
    # paper's 1000 on CIFAR-10 (App. Q)
    ghost_batch_size: int | None = Field(None, gt=0)
    # [inferred] test-time BN: the paper does not say; Cohen's code uses the test batch's own
    # statistics ("batch"); "train_stats" normalizes with the full training set's statistics
    test_bn: Literal["batch", "train_stats"] = "batch"
    sharpness_examples: int = Field(5000, ge=1)  # the paper: the first 5000 training images (App. Q.3)
    sharpness_iters: int = Field(20, ge=2)  # [chosen] the paper does not give its eigsh settings
    sharpness_every: int = Field(100, ge=1)  # [chosen] the paper gives no evaluation schedule
    sharpness_windows: list[tuple[int, int]] = Field(default_factory=list)
