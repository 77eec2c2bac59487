"""The self-stabilization paper's CIFAR ResNet-18 with GroupNorm (catalog 004 §4.1 ResNet18,
code ``models/resnet.py`` over ``jax_resnet``'s ``ResNet``/``ResNetBlock``/``ConvBlock``), in
Flax NNX. What the code actually builds, each a named argument of ``ResNet18``:
- stem: ConvBlock(base_width, 3x3, stride 1, pad 1) and no pooling after it (``pool_fn`` identity);
- ConvBlock = conv (no bias, Flax's LeCun-normal init) -> GroupNorm(16) -> activation, where
  ``jax_resnet``'s ConvBlock activation is ReLU and the code never overrides it: ReLU in the stem
  and inside every block; the ``activation`` passed to ``ResNetBlock`` (swish) is applied only
  after the residual addition;
- ``jax_resnet`` asks for a zero-init scale in each block's last norm, but the code's
  ``norm_cls = lambda *a, **k: GroupNorm(num_groups=16)`` drops that argument: scales start at 1;
- shortcut: identity, or 1x1 conv (stride s, no padding) -> GroupNorm when the shape changes;
- widths base_width * 2^i = 16/32/64/128, stages [2, 2, 2, 2], stride 2 at the first block of
  stages 2-4 with explicit (1, 1) padding; global average pool; Dense head zero-initialized.
"""

from __future__ import annotations

from typing import Callable, Sequence

import jax
import jax.numpy as jnp
from flax import nnx

_PAD1 = ((1, 1), (1, 1))


class _ConvNorm(nnx.Module):
    """jax_resnet's ConvBlock with a GroupNorm: conv -> GN -> activation (None: no activation)."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, padding, groups: int,
                 activation: Callable | None, zero_scale: bool, rngs: nnx.Rngs):
        self.conv = nnx.Conv(c_in, c_out, (kernel, kernel), (stride, stride), padding=padding, use_bias=False,
                             kernel_init=nnx.initializers.lecun_normal(), rngs=rngs)
        self.norm = nnx.GroupNorm(c_out, num_groups=groups, rngs=rngs,
                                  scale_init=nnx.initializers.zeros if zero_scale else nnx.initializers.ones)
        self.activation = activation

    def __call__(self, x: jax.Array) -> jax.Array:
        x = self.norm(self.conv(x))
        return x if self.activation is None else self.activation(x)


class _BasicBlock(nnx.Module):
    def __init__(self, c_in: int, c_out: int, stride: int, groups: int, inner_activation: Callable,
                 block_activation: Callable, last_norm_zero_scale: bool, rngs: nnx.Rngs):
        self.conv1 = _ConvNorm(c_in, c_out, 3, stride, _PAD1, groups, inner_activation, False, rngs)
        self.conv2 = _ConvNorm(c_out, c_out, 3, 1, _PAD1, groups, None, last_norm_zero_scale, rngs)
        self.shortcut = (_ConvNorm(c_in, c_out, 1, stride, "VALID", groups, None, False, rngs)
                         if stride != 1 or c_in != c_out else None)
        self.block_activation = block_activation

    def __call__(self, x: jax.Array) -> jax.Array:
        skip = x if self.shortcut is None else self.shortcut(x)
        return self.block_activation(self.conv2(self.conv1(x)) + skip)


class ResNet18(nnx.Module):
    """CIFAR ResNet-18 of catalog 004 §4.1 (App. D.1: "ResNet18 with progressive widths 16, 32,
    64, 128"); see the module docstring for the code's quirks. Arguments, paper values default:
    ``base_width`` 16; ``stage_sizes`` (2, 2, 2, 2); ``groups`` 16 (GroupNorm instead of BN, so
    full-batch GD is deterministic); ``block_activation`` swish after each residual addition;
    ``inner_activation`` ReLU inside blocks and ``stem_activation`` ReLU (jax_resnet's ConvBlock
    default); ``last_norm_zero_scale`` False (the code's GroupNorm lambda drops jax_resnet's
    zero scale init); ``head_zero_init`` True (logits are 0 at init).
    """

    def __init__(self, in_channels: int = 3, n_classes: int = 10, *, base_width: int = 16,
                 stage_sizes: Sequence[int] = (2, 2, 2, 2), groups: int = 16,
                 block_activation: Callable = nnx.swish, inner_activation: Callable = nnx.relu,
                 stem_activation: Callable = nnx.relu, last_norm_zero_scale: bool = False,
                 head_zero_init: bool = True, rngs: nnx.Rngs):
        self.stem = _ConvNorm(in_channels, base_width, 3, 1, _PAD1, groups, stem_activation, False, rngs)
        blocks, c_in = [], base_width
        for i, n_blocks in enumerate(stage_sizes):
            c_out = base_width * 2**i
            for b in range(n_blocks):
                stride = 1 if i == 0 or b != 0 else 2
                blocks.append(_BasicBlock(c_in, c_out, stride, groups, inner_activation, block_activation,
                                          last_norm_zero_scale, rngs))
                c_in = c_out
        self.blocks = nnx.List(blocks)
        head_init = nnx.initializers.zeros if head_zero_init else nnx.initializers.lecun_normal()
        self.head = nnx.Linear(c_in, n_classes, kernel_init=head_init, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        x = self.stem(x)
        for block in self.blocks:
            x = block(x)
        return self.head(jnp.mean(x, axis=(1, 2)))
