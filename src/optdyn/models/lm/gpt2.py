"""nanoGPT's GPT-2 (WSD paper Sec. 4, Figs. 5, 12-14: "124M GPT-2 using the nanoGPT framework") in
Flax NNX: learned positions, pre-LN blocks with LayerNorm, fused qkv attention, a GELU MLP,
a final LayerNorm and the head tied to the token embedding; no dropout (nanoGPT's default for
pretraining). nanoGPT's init: every Linear and Embedding N(0, 0.02^2), biases zero, and the two
residual projections (attn.c_proj, mlp.c_proj) N(0, (0.02 / sqrt(2 L))^2).

Parameter names (kernels [in, out], the transpose of nanoGPT's torch weights):
  wte.embedding [V, d], wpe.embedding [T, d]
  blocks.<i>.ln_1.{scale,bias}, blocks.<i>.attn.c_attn.{kernel [d, 3d], bias}
  blocks.<i>.attn.c_proj.{kernel [d, d], bias}, blocks.<i>.ln_2.{scale,bias}
  blocks.<i>.mlp.c_fc.{kernel [d, I], bias}, blocks.<i>.mlp.c_proj.{kernel [I, d], bias}
  ln_f.{scale,bias}; lm_head.kernel [d, V] only when tie_embeddings is False
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from flax import nnx

from .config import LMConfig
from .layers import causal_attention, head_logits, linear


def _layer_norm(cfg: LMConfig, rngs: nnx.Rngs) -> nnx.LayerNorm:
    return nnx.LayerNorm(cfg.hidden, epsilon=cfg.norm_eps, use_bias=cfg.bias, rngs=rngs)


class CausalSelfAttention(nnx.Module):
    def __init__(self, cfg: LMConfig, rngs: nnx.Rngs):
        residual_std = cfg.init_std / math.sqrt(2 * cfg.layers)
        self.c_attn = linear(cfg, cfg.hidden, 3 * cfg.hidden, rngs, bias=cfg.bias)
        self.c_proj = linear(cfg, cfg.hidden, cfg.hidden, rngs, std=residual_std, bias=cfg.bias)
        self.cfg = cfg

    def __call__(self, x: jax.Array) -> jax.Array:
        b, t, _ = x.shape
        q, k, v = (y.reshape(b, t, self.cfg.heads, self.cfg.head_dim) for y in jnp.split(self.c_attn(x), 3, axis=-1))
        return self.c_proj(causal_attention(q, k, v, self.cfg).reshape(b, t, -1))


class MLP(nnx.Module):
    def __init__(self, cfg: LMConfig, rngs: nnx.Rngs):
        self.c_fc = linear(cfg, cfg.hidden, cfg.intermediate, rngs, bias=cfg.bias)
        self.c_proj = linear(cfg, cfg.intermediate, cfg.hidden, rngs, std=cfg.init_std / math.sqrt(2 * cfg.layers),
                             bias=cfg.bias)

    def __call__(self, x: jax.Array) -> jax.Array:
        return self.c_proj(nnx.gelu(self.c_fc(x), approximate=False))  # torch nn.GELU(): the exact erf form


class Block(nnx.Module):
    def __init__(self, cfg: LMConfig, rngs: nnx.Rngs):
        self.ln_1 = _layer_norm(cfg, rngs)
        self.attn = CausalSelfAttention(cfg, rngs)
        self.ln_2 = _layer_norm(cfg, rngs)
        self.mlp = MLP(cfg, rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class GPT2(nnx.Module):
    """``GPT2(cfg, rngs=...)(tokens int32[B, T]) -> float32 logits [B, T, V]``, T <= cfg.seq_len."""

    def __init__(self, cfg: LMConfig, *, rngs: nnx.Rngs):
        self.cfg = cfg
        init = nnx.initializers.normal(cfg.init_std)
        self.wte = nnx.Embed(cfg.vocab_size, cfg.hidden, embedding_init=init, rngs=rngs)
        self.wpe = nnx.Embed(cfg.seq_len, cfg.hidden, embedding_init=init, rngs=rngs)
        self.blocks = nnx.List([Block(cfg, rngs) for _ in range(cfg.layers)])
        self.ln_f = _layer_norm(cfg, rngs)
        if not cfg.tie_embeddings:
            self.lm_head = linear(cfg, cfg.hidden, cfg.vocab_size, rngs)

    def __call__(self, tokens: jax.Array) -> jax.Array:
        t = tokens.shape[1]
        if t > self.cfg.seq_len:  # JAX would clamp the position index silently
            raise ValueError(f"sequence length {t} exceeds seq_len {self.cfg.seq_len}")
        x = self.wte(tokens) + self.wpe.embedding[:t][None]
        for block in self.blocks:
            x = block(x)
        x = self.ln_f(x)
        w = self.wte.embedding[...].T if self.cfg.tie_embeddings else self.lm_head.kernel[...]
        return head_logits(x, w, self.cfg)
