"""The IRE paper's 2-layer Transformer (Table 4 / Fig. 5) in Flax NNX: torch's
``word_language_model`` TransformerModel, which the authors' wikitext-2 notebook trains.

tokens -> embedding * sqrt(d) + sinusoidal positions -> post-LN encoder layers under a causal
mask (x = LN(x + MHA(x)); x = LN(x + W2 relu(W1 x))) -> an untied Linear decoder with bias. No
dropout (the paper's runs), no final norm (the post-LN layers end in one).

Inits follow torch: embedding and decoder U(-0.1, 0.1) with a zero decoder bias (the example's
``init_weights``), the attention's input projection Xavier-uniform, every other Linear
U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with zero biases [inferred: torch's bias init is uniform too,
zeros keep the count and the scale]. With wikitext-2's 33,278 words it has 8,948,990 parameters.

Parameter names: embed.embedding [V, d]; blocks.<i>.qkv.{kernel [d, 3d], bias},
blocks.<i>.out.{kernel, bias}, blocks.<i>.ln_1.{scale, bias}, blocks.<i>.ff_1.{kernel [d, F], bias},
blocks.<i>.ff_2.{kernel [F, d], bias}, blocks.<i>.ln_2.{scale, bias}; decoder.{kernel [d, V], bias}.
"""

from __future__ import annotations

import math
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from optdyn.registry import problem_builder
from optdyn.spec.components import PreparedData
from optdyn.spec.problems.ire import IRETransformer

from .config import LMConfig
from .layers import causal_attention, compute_dtype
from .problem import ARCHITECTURES, LMProblem, build_lm


def sinusoidal_positions(length: int, d: int) -> np.ndarray:
    """Vaswani et al.'s PE[p, 2i] = sin(p / 10000^(2i/d)), PE[p, 2i+1] = cos(...), float32 [length, d]."""
    div = np.exp(np.arange(0, d, 2, dtype=np.float64) * (-math.log(10000.0) / d))
    angles = np.arange(length, dtype=np.float64)[:, None] * div[None, :]
    pe = np.zeros((length, d))
    pe[:, 0::2], pe[:, 1::2] = np.sin(angles), np.cos(angles[:, : d // 2])
    return pe.astype(np.float32)


def _torch_linear(cfg: LMConfig, d_in: int, d_out: int, rngs: nnx.Rngs, init=None) -> nnx.Linear:
    bound = 1 / math.sqrt(d_in)
    kernel = init or nnx.initializers.uniform(2 * bound)
    shifted = lambda key, shape, dtype=jnp.float32: kernel(key, shape, dtype) - (0 if init else bound)  # noqa: E731
    return nnx.Linear(d_in, d_out, kernel_init=shifted, dtype=compute_dtype(cfg), rngs=rngs)


class PostLNBlock(nnx.Module):
    def __init__(self, cfg: LMConfig, rngs: nnx.Rngs):
        d = cfg.hidden
        self.qkv = _torch_linear(cfg, d, 3 * d, rngs, init=nnx.initializers.xavier_uniform())
        self.out = _torch_linear(cfg, d, d, rngs)
        self.ln_1 = nnx.LayerNorm(d, epsilon=cfg.norm_eps, rngs=rngs)
        self.ff_1 = _torch_linear(cfg, d, cfg.intermediate, rngs)
        self.ff_2 = _torch_linear(cfg, cfg.intermediate, d, rngs)
        self.ln_2 = nnx.LayerNorm(d, epsilon=cfg.norm_eps, rngs=rngs)
        self.cfg = cfg

    def __call__(self, x: jax.Array) -> jax.Array:
        b, t, _ = x.shape
        q, k, v = (y.reshape(b, t, self.cfg.heads, self.cfg.head_dim) for y in jnp.split(self.qkv(x), 3, axis=-1))
        x = self.ln_1(x + self.out(causal_attention(q, k, v, self.cfg).reshape(b, t, -1)))
        return self.ln_2(x + self.ff_2(nnx.relu(self.ff_1(x))))


class PostLNTransformer(nnx.Module):
    """``PostLNTransformer(cfg, rngs=...)(tokens int32[B, T]) -> float32 logits [B, T, V]``."""

    def __init__(self, cfg: LMConfig, *, rngs: nnx.Rngs):
        self.cfg = cfg
        u01 = lambda key, shape, dtype=jnp.float32: nnx.initializers.uniform(0.2)(key, shape, dtype) - 0.1  # noqa: E731
        self.embed = nnx.Embed(cfg.vocab_size, cfg.hidden, embedding_init=u01, rngs=rngs)
        self.blocks = nnx.List([PostLNBlock(cfg, rngs) for _ in range(cfg.layers)])
        self.decoder = nnx.Linear(cfg.hidden, cfg.vocab_size, kernel_init=u01, dtype=compute_dtype(cfg), rngs=rngs)

    def __call__(self, tokens: jax.Array) -> jax.Array:
        t = tokens.shape[1]
        if t > self.cfg.seq_len:
            raise ValueError(f"sequence length {t} exceeds seq_len {self.cfg.seq_len}")
        x = self.embed(tokens) * math.sqrt(self.cfg.hidden) + sinusoidal_positions(t, self.cfg.hidden)[None]  # a constant
        for block in self.blocks:
            x = block(x)
        return self.decoder(x).astype(jnp.promote_types(x.dtype, jnp.float32))


# LMProblem (models/lm/problem.py) looks the architecture up by the model's name
ARCHITECTURES.setdefault("ire_transformer", PostLNTransformer)


@problem_builder(IRETransformer)
def build_ire_transformer(spec: IRETransformer, data: PreparedData, root: Path, *, dtype=jnp.float32) -> LMProblem:
    """The shared language-model problem (windows, loss, val loss, sampled-label Fisher)."""
    return build_lm(spec, data, root, dtype=dtype)
