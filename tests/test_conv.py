"""The CPU convolution (shifted slices and one einsum) equals XLA's convolution, and ``Conv``
draws its kernel exactly as ``nnx.Conv`` does, so swapping one for the other keeps a net's
parameters."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from optdyn.models.conv import Conv, conv_nhwc

INIT = nnx.initializers.variance_scaling(2.0, "fan_out", "normal")


@pytest.mark.parametrize("k,stride,size", [(3, 1, 8), (3, 2, 8), (3, 2, 7), (1, 2, 8), (1, 1, 5), (7, 2, 9)])
def test_cpu_form_equals_xla_convolution(k, stride, size):
    x = jax.random.normal(jax.random.PRNGKey(0), (2, size, size, 3), jnp.float64 if jax.config.x64_enabled else jnp.float32)
    kernel = jax.random.normal(jax.random.PRNGKey(1), (k, k, 3, 4), x.dtype)
    pad = k // 2
    ref = jax.lax.conv_general_dilated(x, kernel, (stride, stride), [(pad, pad), (pad, pad)],
                                       dimension_numbers=("NHWC", "HWIO", "NHWC"))
    np.testing.assert_allclose(conv_nhwc(x, kernel, stride), ref, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("k,stride", [(3, 1), (3, 2), (1, 2)])
def test_kernel_and_output_match_nnx_conv(k, stride):
    ours = Conv(3, 5, k, stride, kernel_init=INIT, rngs=nnx.Rngs(0))
    pad = "VALID" if k == 1 else ((k // 2, k // 2), (k // 2, k // 2))
    theirs = nnx.Conv(3, 5, (k, k), (stride, stride), padding=pad, use_bias=False, kernel_init=INIT, rngs=nnx.Rngs(0))
    np.testing.assert_array_equal(ours.kernel[...], theirs.kernel[...])
    x = jax.random.normal(jax.random.PRNGKey(2), (2, 8, 8, 3))
    np.testing.assert_allclose(ours(x), theirs(x), rtol=1e-5, atol=1e-5)
