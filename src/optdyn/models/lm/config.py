"""``LMConfig``: the architecture of a decoder-only language model, resolved from a ``Llama`` or
``GPT2`` spec (``spec/components.py``) and the dataset's vocabulary. Plain and hashable, so a
module built from it is a pure function of it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import jax.numpy as jnp

from optdyn.spec.components import GPT2, Llama


@dataclass(frozen=True)
class LMConfig:
    vocab_size: int
    hidden: int
    intermediate: int
    layers: int
    heads: int
    seq_len: int
    norm_eps: float = 1e-5
    rope_theta: float = 10000.0  # LLaMA only
    tie_embeddings: bool = False
    bias: bool = False  # GPT-2 only: biases in Linear and LayerNorm
    init_std: float = 0.02
    compute_dtype: Literal["float32", "bfloat16"] = "float32"
    # "auto": cuDNN flash attention on GPU in bf16 (it supports only 16-bit inputs), else XLA's
    attention: Literal["auto", "xla", "cudnn"] = "auto"

    def __post_init__(self):
        if self.hidden % self.heads:
            raise ValueError(f"hidden {self.hidden} is not divisible by heads {self.heads}")

    @property
    def head_dim(self) -> int:
        return self.hidden // self.heads

    @property
    def dtype(self) -> jnp.dtype:
        return jnp.dtype(self.compute_dtype)

    @classmethod
    def from_spec(cls, spec: Llama | GPT2, vocab_size: int | None = None) -> LMConfig:
        """``vocab_size``: the dataset's, used when the spec leaves it None; a spec's own
        vocabulary must hold every token id of the data (nanoGPT pads 50257 up to 50304)."""
        vocab = spec.vocab_size or vocab_size
        if vocab is None:
            raise ValueError(f"model '{spec.name}' has vocab_size None and no dataset vocabulary to take it from")
        if vocab_size is not None and vocab < vocab_size:
            raise ValueError(f"vocab_size {vocab} is smaller than the dataset's vocabulary {vocab_size}")
        common = {"vocab_size": vocab, "hidden": spec.hidden, "intermediate": spec.intermediate, "layers": spec.layers,
                  "heads": spec.heads, "seq_len": spec.seq_len, "norm_eps": spec.norm_eps, "init_std": spec.init_std,
                  "compute_dtype": spec.compute_dtype, "tie_embeddings": spec.tie_embeddings}
        if isinstance(spec, Llama):
            return cls(**common, rope_theta=spec.rope_theta)
        return cls(**common, bias=spec.bias)


def llama_param_count(cfg: LMConfig) -> int:
    """Closed form: embeddings, per layer 4 d^2 attention + 3 d I SwiGLU + 2 RMSNorm scales,
    the final norm, and an untied head."""
    d, i, v = cfg.hidden, cfg.intermediate, cfg.vocab_size
    head = 0 if cfg.tie_embeddings else d * v
    return v * d + cfg.layers * (4 * d * d + 3 * d * i + 2 * d) + d + head


def gpt2_param_count(cfg: LMConfig) -> int:
    """Closed form: token + position embeddings, per layer fused qkv + output projection,
    two-matrix GELU MLP and two LayerNorms (with biases when ``bias``), the final LayerNorm,
    and a head only when untied."""
    d, i, v, b = cfg.hidden, cfg.intermediate, cfg.vocab_size, int(cfg.bias)
    per_layer = (3 * d * d + 3 * d * b) + (d * d + d * b) + (d * i + i * b) + (i * d + d * b) + 2 * (d + d * b)
    head = 0 if cfg.tie_embeddings else d * v
    return v * d + cfg.seq_len * d + cfg.layers * per_layer + (d + d * b) + head
