"""Flax NNX networks of the normalization paper (catalog 001 §3.5, App. Q.1): the
scale-invariant VGG-11, the scale-invariant ResNet-20 and bearpaw's pre-activation ResNet-20.

BN here keeps no running statistics: every BN normalizes with the statistics of the batch it
sees, so a network is a pure function of its ``nnx.Param``s and a loss taken over ghost
sub-batches (``ClassifierProblem``) differentiates through the statistics, HVPs included.
Test-time BN with the *training* statistics (``train_stats``) is a forward pass of
``concat(reference, x)`` with ``n_ref`` rows of reference: each BN takes its mean and variance
from the first ``n_ref`` rows only and applies them to all rows.

Inputs NHWC, outputs logits [batch, n_classes]. Initialization [inferred] from bearpaw's code
(github.com/bearpaw/pytorch-classification): convs N(0, 2/(k*k*out)) (``_initialize_weights``),
the VGG classifier N(0, 0.01^2), the ResNet FC PyTorch's default U(+-1/sqrt(fan_in)), BN
gamma = 1 and beta = 0.
"""

from __future__ import annotations

import math
from typing import Callable, Sequence

import jax
import jax.numpy as jnp
from flax import nnx

from .conv import Conv
from .nets import TORCH_UNIFORM, torch_uniform_bias

#: gamma of the final BN, (3/10) ln 91: label smoothing eps = 0.1 at the optimum (App. R)
FINAL_GAMMA = 0.3 * math.log(91.0)
#: bearpaw VGG cfg 'A' (VGG-11); "M" a 2x2 pooling
VGG11_CFG = (64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M")
BN_EPS = 1e-5  # PyTorch's default [inferred]

CONV_INIT = nnx.initializers.variance_scaling(2.0, "fan_out", "normal")
VGG_FC_INIT = nnx.initializers.normal(0.01)


def batch_norm(x: jax.Array, n_ref: int | None = None, eps: float = BN_EPS) -> jax.Array:
    """(x - mean) / sqrt(var + eps) per channel (last axis), statistics over every other axis
    of the first ``n_ref`` rows (all rows when None); biased variance, as PyTorch normalizes."""
    ref = x if n_ref is None else x[:n_ref]
    axes = tuple(range(ref.ndim - 1))
    mean = jnp.mean(ref, axis=axes)
    var = jnp.mean(jnp.square(ref - mean), axis=axes)
    return (x - mean) * jax.lax.rsqrt(var + eps)


class BatchNorm(nnx.Module):
    """BN with batch statistics only; ``affine``: trainable gamma (ones) and beta (zeros), else
    the fixed ``gamma`` (no beta: it would shift every logit equally or be absorbed)."""

    def __init__(self, features: int, *, affine: bool, gamma: float = 1.0):
        self.affine = affine
        if affine:
            self.scale = nnx.Param(jnp.ones((features,)))
            self.bias = nnx.Param(jnp.zeros((features,)))
        self.gamma = gamma

    def __call__(self, x: jax.Array, n_ref: int | None = None) -> jax.Array:
        y = batch_norm(x, n_ref)
        return y * self.scale[...] + self.bias[...] if self.affine else self.gamma * y


def _conv(c_in: int, c_out: int, k: int, stride: int, rngs: nnx.Rngs) -> Conv:
    return Conv(c_in, c_out, k, stride, kernel_init=CONV_INIT, rngs=rngs)


def _mean_pool(x: jax.Array) -> jax.Array:
    """2x2 mean pooling, stride 2 (odd sizes drop the last row/column, as PyTorch's floor): a
    reshape-mean, whose derivatives are plain reductions (reduce_window's jvp-of-vjp is slow on CPU)."""
    n, h, w, c = x.shape
    x = x[:, : h // 2 * 2, : w // 2 * 2]
    return x.reshape(n, h // 2, 2, w // 2, 2, c).mean(axis=(2, 4))


class ScaleInvariantVGG(nnx.Module):
    """[conv3x3 (no bias) -> BN (no affine) -> swish] per channel entry, 2x2 mean pool per "M"
    -> flatten -> Linear (no bias) -> BN with fixed gamma (Fig. 16). Every parameter is in the
    scale-invariant group. ``cfg`` entries are scaled by ``width`` (at least one channel)."""

    def __init__(self, in_channels: int = 3, n_classes: int = 10, *, image_size: int = 32,
                 cfg: Sequence[int | str] = VGG11_CFG, width: float = 1.0, final_gamma: float = FINAL_GAMMA,
                 activation: Callable = nnx.swish, rngs: nnx.Rngs):
        layers, c, size = [], in_channels, image_size
        for entry in cfg:
            if entry == "M":
                layers.append("M")
                size //= 2
            else:
                out = max(1, round(int(entry) * width))
                layers.append(_conv(c, out, 3, 1, rngs))
                c = out
        if size < 1:
            raise ValueError(f"{image_size}x{image_size} inputs do not survive {cfg.count('M')} poolings")
        self.layers = nnx.List([layer for layer in layers if layer != "M"])
        self.pools = tuple(i for i, layer in enumerate(layers) if layer == "M")  # static plan
        self.fc = nnx.Linear(c * size * size, n_classes, use_bias=False, kernel_init=VGG_FC_INIT, rngs=rngs)
        self.final_bn = BatchNorm(n_classes, affine=False, gamma=final_gamma)
        self.activation, self.n_layers = activation, len(layers)

    def __call__(self, x: jax.Array, n_ref: int | None = None) -> jax.Array:
        convs = iter(self.layers)
        for i in range(self.n_layers):
            x = _mean_pool(x) if i in self.pools else self.activation(batch_norm(next(convs)(x), n_ref))
        return self.final_bn(self.fc(x.reshape(x.shape[0], -1)), n_ref)


class _Block(nnx.Module):
    """Pre-activation basic block: BN -> ReLU -> conv3x3(stride) -> BN -> ReLU -> conv3x3, plus
    the identity or a 1x1 stride-s conv of the block's *input* (bearpaw's ``downsample(x)``),
    followed by an affine BN in the scale-invariant variant (Li & Arora)."""

    def __init__(self, c_in: int, c_out: int, stride: int, *, si: bool, activation: Callable, rngs: nnx.Rngs):
        self.bn1, self.bn2 = BatchNorm(c_in, affine=not si), BatchNorm(c_out, affine=not si)
        self.conv1, self.conv2 = _conv(c_in, c_out, 3, stride, rngs), _conv(c_out, c_out, 3, 1, rngs)
        self.shortcut = _conv(c_in, c_out, 1, stride, rngs) if (stride != 1 or c_in != c_out) else None
        self.shortcut_bn = BatchNorm(c_out, affine=True) if (si and self.shortcut is not None) else None
        self.activation = activation

    def __call__(self, x: jax.Array, n_ref: int | None) -> jax.Array:
        out = self.conv1(self.activation(self.bn1(x, n_ref)))
        out = self.conv2(self.activation(self.bn2(out, n_ref)))
        res = x
        if self.shortcut is not None:
            res = self.shortcut(x)
            if self.shortcut_bn is not None:
                res = self.shortcut_bn(res, n_ref)
        return out + res


class PreActResNet(nnx.Module):
    """bearpaw ``preresnet(depth)`` (``si=False``: trainable BN affine, conv no bias, FC with
    bias, plain logits) or its scale-invariant variant (``si=True``, Fig. 17b: BN without affine,
    an affine BN after each 1x1 shortcut conv, FC without bias, a final BN with fixed gamma).
    ``depth = 6n + 2``; ``widths`` the three stages' channels (bearpaw 16/32/64)."""

    def __init__(self, in_channels: int = 3, n_classes: int = 10, *, depth: int = 20,
                 widths: Sequence[int] = (16, 32, 64), si: bool = False, final_gamma: float = FINAL_GAMMA,
                 activation: Callable = nnx.relu, rngs: nnx.Rngs):
        if (depth - 2) % 6:
            raise ValueError(f"depth must be 6n + 2, not {depth}")
        n = (depth - 2) // 6
        self.stem = _conv(in_channels, widths[0], 3, 1, rngs)
        blocks, c = [], widths[0]
        for stage, w in enumerate(widths):
            for b in range(n):
                blocks.append(_Block(c, w, 2 if (stage > 0 and b == 0) else 1, si=si, activation=activation, rngs=rngs))
                c = w
        self.blocks = nnx.List(blocks)
        self.head_bn = BatchNorm(c, affine=not si)
        self.fc = nnx.Linear(c, n_classes, use_bias=not si, kernel_init=TORCH_UNIFORM,
                             bias_init=torch_uniform_bias(c), rngs=rngs)
        self.final_bn = BatchNorm(n_classes, affine=False, gamma=final_gamma) if si else None
        self.activation = activation

    def __call__(self, x: jax.Array, n_ref: int | None = None) -> jax.Array:
        x = self.stem(x)
        for block in self.blocks:
            x = block(x, n_ref)
        # global mean pool: bearpaw's AvgPool2d(8) on the 8x8 map of 32x32 inputs
        x = jnp.mean(self.activation(self.head_bn(x, n_ref)), axis=(1, 2))
        x = self.fc(x)
        return x if self.final_bn is None else self.final_bn(x, n_ref)


def scale_invariant_mask(params: dict, arch: str) -> dict:
    """A pytree of bools like ``params`` (``nnx.to_pure_dict``): True on the scale-invariant group
    w. SI nets: every parameter. The standard pre-activation ResNet (catalog 3.5, derived): the
    stem and every block 3x3 conv; BN affine, 1x1 shortcut convs and the FC form z."""
    if arch != "preact_resnet":
        return jax.tree.map(lambda _: True, params)

    def keep(path, _):
        keys = [str(getattr(k, "key", getattr(k, "idx", k))) for k in path]
        return keys[0] == "stem" or (keys[0] == "blocks" and keys[2] in ("conv1", "conv2"))

    return jax.tree_util.tree_map_with_path(keep, params)
