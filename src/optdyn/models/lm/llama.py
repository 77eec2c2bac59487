"""LLaMA (WSD paper Sec. 5: Levanter's LlamaModel) in Flax NNX: pre-norm blocks of RMSNorm ->
causal self-attention with RoPE on q and k -> residual, RMSNorm -> SwiGLU MLP -> residual; a
final RMSNorm and an untied head. No biases. Every matrix N(0, 0.02^2), norm scales 1.

Parameter names (the params pytree, ``nnx.to_pure_dict``; kernels are [in, out]):
  embed.embedding [V, d]
  layers.<i>.attn_norm.scale [d]
  layers.<i>.attn.{q_proj,k_proj,v_proj,o_proj}.kernel [d, d]
  layers.<i>.mlp_norm.scale [d]
  layers.<i>.mlp.{gate_proj,up_proj}.kernel [d, I], layers.<i>.mlp.down_proj.kernel [I, d]
  final_norm.scale [d]
  lm_head.kernel [d, V]   (absent with tie_embeddings: the head is embed.embedding^T)
"""

from __future__ import annotations

import jax
from flax import nnx

from .config import LMConfig
from .layers import apply_rope, causal_attention, head_logits, linear, rope_tables


class Attention(nnx.Module):
    def __init__(self, cfg: LMConfig, rngs: nnx.Rngs):
        d = cfg.hidden
        self.q_proj = linear(cfg, d, d, rngs)
        self.k_proj = linear(cfg, d, d, rngs)
        self.v_proj = linear(cfg, d, d, rngs)
        self.o_proj = linear(cfg, d, d, rngs)
        self.cfg = cfg

    def __call__(self, x: jax.Array, cos: jax.Array, sin: jax.Array) -> jax.Array:
        b, t, _ = x.shape
        heads = lambda y: y.reshape(b, t, self.cfg.heads, self.cfg.head_dim)
        q = apply_rope(heads(self.q_proj(x)), cos, sin)
        k = apply_rope(heads(self.k_proj(x)), cos, sin)
        out = causal_attention(q, k, heads(self.v_proj(x)), self.cfg)
        return self.o_proj(out.reshape(b, t, -1))


class SwiGLU(nnx.Module):
    def __init__(self, cfg: LMConfig, rngs: nnx.Rngs):
        self.gate_proj = linear(cfg, cfg.hidden, cfg.intermediate, rngs)
        self.up_proj = linear(cfg, cfg.hidden, cfg.intermediate, rngs)
        self.down_proj = linear(cfg, cfg.intermediate, cfg.hidden, rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        return self.down_proj(nnx.silu(self.gate_proj(x)) * self.up_proj(x))


class Block(nnx.Module):
    def __init__(self, cfg: LMConfig, rngs: nnx.Rngs):
        self.attn_norm = nnx.RMSNorm(cfg.hidden, epsilon=cfg.norm_eps, rngs=rngs)
        self.attn = Attention(cfg, rngs)
        self.mlp_norm = nnx.RMSNorm(cfg.hidden, epsilon=cfg.norm_eps, rngs=rngs)
        self.mlp = SwiGLU(cfg, rngs)

    def __call__(self, x: jax.Array, cos: jax.Array, sin: jax.Array) -> jax.Array:
        # the residual stream keeps the parameters' dtype; bf16 sub-layer outputs promote back
        x = x + self.attn(self.attn_norm(x), cos, sin)
        return x + self.mlp(self.mlp_norm(x))


class Llama(nnx.Module):
    """``Llama(cfg, rngs=...)(tokens int32[B, T]) -> float32 logits [B, T, V]``, T <= cfg.seq_len."""

    def __init__(self, cfg: LMConfig, *, rngs: nnx.Rngs):
        self.cfg = cfg
        self.embed = nnx.Embed(cfg.vocab_size, cfg.hidden, embedding_init=nnx.initializers.normal(cfg.init_std), rngs=rngs)
        self.layers = nnx.List([Block(cfg, rngs) for _ in range(cfg.layers)])
        self.final_norm = nnx.RMSNorm(cfg.hidden, epsilon=cfg.norm_eps, rngs=rngs)
        if not cfg.tie_embeddings:
            self.lm_head = linear(cfg, cfg.hidden, cfg.vocab_size, rngs)

    def __call__(self, tokens: jax.Array) -> jax.Array:
        t = tokens.shape[1]
        if t > self.cfg.seq_len:
            raise ValueError(f"sequence length {t} exceeds seq_len {self.cfg.seq_len}")
        cos, sin = rope_tables(t, self.cfg.head_dim, self.cfg.rope_theta)
        x = self.embed(tokens)
        for block in self.layers:
            x = block(x, cos, sin)
        x = self.final_norm(x)
        w = self.embed.embedding[...].T if self.cfg.tie_embeddings else self.lm_head.kernel[...]
        return head_logits(x, w, self.cfg)
