"""A bias-free k x k convolution that is fast on CPU inside ``lax.scan``.

XLA's CPU convolution inside the training loop's ``lax.scan`` ran ~70x slower than outside it
(526 vs 7 ms for a 16->32 conv on 200 8 x 8 images, measured here); k*k shifted slices and one
einsum ran ~2x slower than the outside-scan convolution (7 vs 3 ms). Both forms compute the same
sums, so the backend only changes the speed (and the last bits of the summation order). Off CPU
it is ``lax.conv_general_dilated``.

The parameter is ``kernel`` [k, k, in, out], drawn as ``nnx.Conv`` draws it (one
``kernel_init(rngs.params(), shape)`` call), so a net that swaps ``nnx.Conv(use_bias=False)``
for this keeps its parameter tree and its initial values.
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
from flax import nnx


def conv_nhwc(x: jax.Array, kernel: jax.Array, stride: int) -> jax.Array:
    """PyTorch-style convolution: zero padding k // 2 on every side, stride s; NHWC x, HWIO kernel."""
    k, s, pad = kernel.shape[0], stride, kernel.shape[0] // 2
    if jax.default_backend() != "cpu":
        return jax.lax.conv_general_dilated(x, kernel, (s, s), [(pad, pad), (pad, pad)],
                                            dimension_numbers=("NHWC", "HWIO", "NHWC"))
    n, h, w, c = x.shape
    if pad:
        x = jnp.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    ho, wo = (h + 2 * pad - k) // s + 1, (w + 2 * pad - k) // s + 1
    patches = jnp.stack([x[:, i:i + s * (ho - 1) + 1:s, j:j + s * (wo - 1) + 1:s]
                         for i in range(k) for j in range(k)], axis=3)
    return jnp.einsum("nhwpc,pco->nhwo", patches, kernel.reshape(k * k, c, -1))


class Conv(nnx.Module):
    """k x k convolution without bias, stride s, zero padding k // 2 (PyTorch's ``padding=1`` for
    3 x 3, 0 for 1 x 1 shortcuts); kernel [k, k, in, out] from ``kernel_init``."""

    def __init__(self, c_in: int, c_out: int, k: int, stride: int, *, kernel_init: Callable, rngs: nnx.Rngs):
        self.kernel = nnx.Param(kernel_init(rngs.params(), (k, k, c_in, c_out)))
        self.stride = stride

    def __call__(self, x: jax.Array) -> jax.Array:
        return conv_nhwc(x, self.kernel[...], self.stride)
