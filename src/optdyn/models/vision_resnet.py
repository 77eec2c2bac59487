"""The IRE paper's convolutional nets (catalog 003 Secs. 2.4-2.7), in Flax NNX, sized by the
spec so the smoke tier runs the same code at toy width and depth:

- ``CifarResNet``: homura's CIFAR ResNet-20/56 (depth 6n + 2): a 3x3 stem of ``width`` channels,
  three stages of n BasicBlocks (conv-norm-ReLU-conv-norm, add, ReLU) at width, 2 width, 4 width
  (stride 2 at the first block of stages 2-3), a 1x1 conv + norm shortcut where the channel
  count changes (homura's ``downsample``), global average pool, linear head;
- ``WideResNet``: Zagoruyko & Komodakis' pre-activation WRN-d-k (depth 6n + 4): stem 3x3 to 16,
  stages of n blocks (norm-ReLU-conv-norm-ReLU-conv) at 16k, 32k, 64k, a 1x1 conv shortcut where
  the shape changes, a final norm-ReLU, pool, head;
- ``BottleneckResNet``: torchvision's ResNet-50 (v1.5: stride on the 3x3), stages (3, 4, 6, 3) of
  Bottleneck(1x1, 3x3, 1x1 x4) at 64, 128, 256, 512; ``stem="imagenet"`` is the 7x7/2 conv and
  3x3/2 max-pool, ``stem="cifar"`` a 3x3/1 conv without pooling for small images.

[chosen] GroupNorm replaces BatchNorm: a ``ClassifierProblem``'s loss is a pure function of the
parameters (no batch statistics), and SAM's perturbed pass needs no BN bookkeeping. GroupNorm
has the same affine parameters (scale and bias per channel), so parameter counts equal the BN
nets' (BN's running statistics are buffers, not parameters).
"""

from __future__ import annotations

from typing import Sequence

import jax
import jax.numpy as jnp
from flax import nnx

from .conv import Conv

_KAIMING = nnx.initializers.variance_scaling(2.0, "fan_out", "normal")  # torch kaiming_normal_(fan_out, relu)


def _conv(c_in: int, c_out: int, k: int, stride: int, rngs: nnx.Rngs) -> Conv:
    return Conv(c_in, c_out, k, stride, kernel_init=_KAIMING, rngs=rngs)


def _norm(c: int, groups: int, rngs: nnx.Rngs) -> nnx.GroupNorm:
    # the largest divisor of c not above ``groups``: 16 channels with groups 32 -> 16
    g = max(d for d in range(1, min(groups, c) + 1) if c % d == 0)
    return nnx.GroupNorm(c, num_groups=g, rngs=rngs)


class _Basic(nnx.Module):
    def __init__(self, c_in: int, c_out: int, stride: int, groups: int, rngs: nnx.Rngs):
        self.conv1, self.norm1 = _conv(c_in, c_out, 3, stride, rngs), _norm(c_out, groups, rngs)
        self.conv2, self.norm2 = _conv(c_out, c_out, 3, 1, rngs), _norm(c_out, groups, rngs)
        self.down = (nnx.Sequential(_conv(c_in, c_out, 1, stride, rngs), _norm(c_out, groups, rngs))
                     if c_in != c_out or stride != 1 else None)

    def __call__(self, x):
        out = self.norm2(self.conv2(nnx.relu(self.norm1(self.conv1(x)))))
        return nnx.relu(out + (x if self.down is None else self.down(x)))


class CifarResNet(nnx.Module):
    def __init__(self, in_channels: int, n_classes: int, *, depth: int = 56, width: int = 16, groups: int = 16,
                 rngs: nnx.Rngs):
        if (depth - 2) % 6:
            raise ValueError(f"a CIFAR ResNet has depth 6n + 2 (20, 56, ...), got {depth}")
        n = (depth - 2) // 6
        self.stem, self.stem_norm = _conv(in_channels, width, 3, 1, rngs), _norm(width, groups, rngs)
        blocks, c = [], width
        for stage in range(3):
            for b in range(n):
                out = width * 2**stage
                blocks.append(_Basic(c, out, 2 if stage and not b else 1, groups, rngs))
                c = out
        self.blocks = nnx.List(blocks)
        self.head = nnx.Linear(c, n_classes, rngs=rngs)

    def __call__(self, x):
        x = nnx.relu(self.stem_norm(self.stem(x)))
        for block in self.blocks:
            x = block(x)
        return self.head(jnp.mean(x, axis=(1, 2)))


class _PreAct(nnx.Module):
    def __init__(self, c_in: int, c_out: int, stride: int, groups: int, rngs: nnx.Rngs):
        self.norm1, self.conv1 = _norm(c_in, groups, rngs), _conv(c_in, c_out, 3, stride, rngs)
        self.norm2, self.conv2 = _norm(c_out, groups, rngs), _conv(c_out, c_out, 3, 1, rngs)
        self.short = _conv(c_in, c_out, 1, stride, rngs) if c_in != c_out or stride != 1 else None

    def __call__(self, x):
        a = nnx.relu(self.norm1(x))
        out = self.conv2(nnx.relu(self.norm2(self.conv1(a))))
        # the WRN code feeds the shortcut conv the pre-activated input when the shape changes
        return out + (x if self.short is None else self.short(a))


class WideResNet(nnx.Module):
    def __init__(self, in_channels: int, n_classes: int, *, depth: int = 28, widen: int = 10, groups: int = 16,
                 rngs: nnx.Rngs):
        if (depth - 4) % 6:
            raise ValueError(f"a WideResNet has depth 6n + 4 (16, 28, ...), got {depth}")
        n = (depth - 4) // 6
        self.stem = _conv(in_channels, 16, 3, 1, rngs)
        blocks, c = [], 16
        for stage in range(3):
            for b in range(n):
                out = 16 * widen * 2**stage
                blocks.append(_PreAct(c, out, 2 if stage and not b else 1, groups, rngs))
                c = out
        self.blocks = nnx.List(blocks)
        self.norm = _norm(c, groups, rngs)
        self.head = nnx.Linear(c, n_classes, rngs=rngs)

    def __call__(self, x):
        x = self.stem(x)
        for block in self.blocks:
            x = block(x)
        return self.head(jnp.mean(nnx.relu(self.norm(x)), axis=(1, 2)))


class _Bottleneck(nnx.Module):
    def __init__(self, c_in: int, mid: int, stride: int, groups: int, rngs: nnx.Rngs):
        out = 4 * mid
        self.conv1, self.norm1 = _conv(c_in, mid, 1, 1, rngs), _norm(mid, groups, rngs)
        self.conv2, self.norm2 = _conv(mid, mid, 3, stride, rngs), _norm(mid, groups, rngs)
        self.conv3, self.norm3 = _conv(mid, out, 1, 1, rngs), _norm(out, groups, rngs)
        self.down = (nnx.Sequential(_conv(c_in, out, 1, stride, rngs), _norm(out, groups, rngs))
                     if c_in != out or stride != 1 else None)

    def __call__(self, x):
        y = nnx.relu(self.norm1(self.conv1(x)))
        y = nnx.relu(self.norm2(self.conv2(y)))
        y = self.norm3(self.conv3(y))
        return nnx.relu(y + (x if self.down is None else self.down(x)))


class BottleneckResNet(nnx.Module):
    def __init__(self, in_channels: int, n_classes: int, *, stages: Sequence[int] = (3, 4, 6, 3), width: int = 64,
                 stem: str = "imagenet", groups: int = 32, rngs: nnx.Rngs):
        self.imagenet_stem = stem == "imagenet"
        k, s = (7, 2) if self.imagenet_stem else (3, 1)
        self.stem, self.stem_norm = _conv(in_channels, width, k, s, rngs), _norm(width, groups, rngs)
        blocks, c = [], width
        for i, n in enumerate(stages):
            for b in range(n):
                blocks.append(_Bottleneck(c, width * 2**i, 2 if i and not b else 1, groups, rngs))
                c = 4 * width * 2**i
        self.blocks = nnx.List(blocks)
        self.head = nnx.Linear(c, n_classes, rngs=rngs)

    def __call__(self, x):
        x = nnx.relu(self.stem_norm(self.stem(x)))
        if self.imagenet_stem:
            x = nnx.max_pool(x, (3, 3), (2, 2), padding=((1, 1), (1, 1)))
        for block in self.blocks:
            x = block(x)
        return self.head(jnp.mean(x, axis=(1, 2)))


def param_count(module: nnx.Module) -> int:
    return int(sum(x.size for x in jax.tree.leaves(nnx.state(module, nnx.Param))))
