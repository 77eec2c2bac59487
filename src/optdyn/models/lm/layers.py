"""Pieces shared by the language models: mixed-precision Linear layers, RoPE, causal attention
and a float32 head.

Mixed precision: parameters are created in float32 (the master weights, and they stay so in the
optimizer). With ``compute_dtype`` bfloat16 the Linear layers cast their input and kernel to
bfloat16 inside the forward pass; the residual stream, the norms' statistics, the attention
softmax, the logits and the loss stay in float32. With ``compute_dtype`` float32 the layers
compute in the parameters' own dtype, so a float64 run is float64 throughout.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

from .config import LMConfig


def compute_dtype(cfg: LMConfig):
    """The dtype Linear layers compute in: None (the parameters' own) unless bfloat16."""
    return jnp.bfloat16 if cfg.compute_dtype == "bfloat16" else None


def linear(cfg: LMConfig, d_in: int, d_out: int, rngs: nnx.Rngs, *, std: float | None = None,
           bias: bool = False) -> nnx.Linear:
    """A Linear layer with N(0, std^2) kernel (``cfg.init_std`` by default) and zero bias."""
    init = nnx.initializers.normal(cfg.init_std if std is None else std)
    return nnx.Linear(d_in, d_out, use_bias=bias, kernel_init=init, dtype=compute_dtype(cfg), rngs=rngs)


def rope_tables(length: int, head_dim: int, theta: float) -> tuple[jax.Array, jax.Array]:
    """cos, sin [length, head_dim/2] of the angles p * theta^(-2i/head_dim), in float32."""
    inv_freq = theta ** (-jnp.arange(0, head_dim, 2, dtype=jnp.float32) / head_dim)
    angles = jnp.arange(length, dtype=jnp.float32)[:, None] * inv_freq[None, :]
    return jnp.cos(angles), jnp.sin(angles)


def apply_rope(x: jax.Array, cos: jax.Array, sin: jax.Array) -> jax.Array:
    """Rotate x [B, T, N, H] by position: the pair (x_i, x_{i+H/2}) by angle p * theta^(-2i/H)
    (the "rotate half" layout of HF LLaMA and Levanter, not Meta's interleaved pairs)."""
    half = x.shape[-1] // 2
    x1, x2 = x[..., :half].astype(jnp.float32), x[..., half:].astype(jnp.float32)
    c, s = cos[None, :, None, :], sin[None, :, None, :]
    return jnp.concatenate([x1 * c - x2 * s, x2 * c + x1 * s], axis=-1).astype(x.dtype)


def attention_impl(cfg: LMConfig) -> str:
    """cuDNN flash attention where it applies (GPU, 16-bit inputs, head dim a multiple of 8
    up to 128); XLA's otherwise. ``jax.nn.dot_product_attention``'s own default is always XLA."""
    if cfg.attention != "auto":
        return cfg.attention
    fits = cfg.compute_dtype == "bfloat16" and cfg.head_dim % 8 == 0 and cfg.head_dim <= 128
    return "cudnn" if fits and jax.default_backend() == "gpu" else "xla"


def causal_attention(q: jax.Array, k: jax.Array, v: jax.Array, cfg: LMConfig) -> jax.Array:
    """softmax(q k^T / sqrt(H) + causal mask) v over [B, T, N, H] inputs."""
    return jax.nn.dot_product_attention(q, k, v, is_causal=True, implementation=attention_impl(cfg))


def head_logits(x: jax.Array, weight: jax.Array, cfg: LMConfig) -> jax.Array:
    """float32 logits x @ weight ([d, V]); with bfloat16 compute the inputs are bfloat16 and the
    products accumulate into float32 (no bfloat16 rounding of the logits)."""
    dt = compute_dtype(cfg) or jnp.result_type(x, weight)
    out = jnp.einsum("btd,dv->btv", x.astype(dt), weight.astype(dt), preferred_element_type=jnp.float32)
    return out.astype(jnp.promote_types(out.dtype, jnp.float32))
