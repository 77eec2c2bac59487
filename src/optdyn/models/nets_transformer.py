"""The self-stabilization paper's small post-LN Transformer classifier (catalog 004 §4.1
Transformer, code ``models/transformer.py``), in Flax NNX. Inits are Flax's defaults, as the code
uses them: N(0, 1) embeddings, LeCun-normal kernels, zero biases, LayerNorm eps 1e-6.
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
from flax import nnx


class _PostLNBlock(nnx.Module):
    """x = LN(x + MHA(x, x)); x = LN(x + Dense(act(Dense(x)))), the FFN width a named field."""

    def __init__(self, hidden: int, heads: int, ffn: int, activation: Callable, rngs: nnx.Rngs):
        self.attn = nnx.MultiHeadAttention(heads, hidden, decode=False, keep_rngs=False, rngs=rngs)
        self.ln1 = nnx.LayerNorm(hidden, rngs=rngs)
        self.ff1 = nnx.Linear(hidden, ffn, rngs=rngs)
        self.ff2 = nnx.Linear(ffn, hidden, rngs=rngs)
        self.ln2 = nnx.LayerNorm(hidden, rngs=rngs)
        self.activation = activation

    def __call__(self, x: jax.Array, mask: jax.Array | None) -> jax.Array:
        x = self.ln1(x + self.attn(x, mask=mask))
        return self.ln2(x + self.ff2(self.activation(self.ff1(x))))


class Transformer(nnx.Module):
    """token Embed + learned positional Embed -> ``layers`` post-LN blocks -> mean over positions
    -> Dense(n_classes) (catalog 004 §4.1 Transformer: 2 layers, width 64, 2 heads, FFN 64 with
    no 4x expansion, swish, 64 positions, vocabulary 33278, zero-init head).

    ``mask_padding``: False is the code's ``x.mean(1)`` with no attention mask, so padding tokens
    (``pad_token_id``, 0 for bert-base-uncased) are attended to and averaged in (§4.1); True masks
    them out of attention and of the mean (a "clean" variant). ``head_zero_init``: the code
    zero-initializes the head kernel (§4.1), so logits are 0 at init.
    """

    def __init__(self, vocab_size: int = 33278, n_classes: int = 1, *, hidden: int = 64, heads: int = 2,
                 layers: int = 2, ffn: int = 64, max_positions: int = 64, activation: Callable = nnx.swish,
                 mask_padding: bool = False, pad_token_id: int = 0, head_zero_init: bool = True,
                 rngs: nnx.Rngs):
        self.positional = nnx.Embed(max_positions, hidden, rngs=rngs)
        self.embed = nnx.Embed(vocab_size, hidden, rngs=rngs)
        self.blocks = nnx.List([_PostLNBlock(hidden, heads, ffn, activation, rngs) for _ in range(layers)])
        head_init = nnx.initializers.zeros if head_zero_init else nnx.initializers.lecun_normal()
        self.head = nnx.Linear(hidden, n_classes, kernel_init=head_init, rngs=rngs)
        self.max_positions = max_positions
        self.mask_padding = mask_padding
        self.pad_token_id = pad_token_id

    def __call__(self, tokens: jax.Array) -> jax.Array:
        length = tokens.shape[1]
        if length > self.max_positions:  # JAX would clamp the position index silently (§4.2)
            raise ValueError(f"sequence length {length} exceeds max_positions {self.max_positions}")
        x = self.embed(tokens) + self.positional(jnp.arange(length))[None]
        valid = tokens != self.pad_token_id
        mask = nnx.make_attention_mask(valid, valid) if self.mask_padding else None
        for block in self.blocks:
            x = block(x, mask)
        if self.mask_padding:
            w = valid.astype(x.dtype)[..., None]
            pooled = jnp.sum(x * w, axis=1) / jnp.maximum(jnp.sum(w, axis=1), 1)
        else:
            pooled = jnp.mean(x, axis=1)
        return self.head(pooled)
