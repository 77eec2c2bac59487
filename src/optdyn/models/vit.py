"""timm's ``VisionTransformer`` as the IRE paper's ViT-T / ViT-S code builds it (catalog 003
Sec. 2.8: ``img_size=32, patch_size=4``, 64 patches + a CLS token, mlp_ratio 4), in Flax NNX:
patch embedding (a patch x patch conv with bias), a CLS token and learned positions, pre-LN
blocks (LayerNorm eps 1e-6, multi-head self-attention with a qkv bias, a GELU MLP), a final
LayerNorm and a linear head on the CLS token. Dropouts are 0 (timm's defaults). Init: truncated
normal 0.02 for the tokens, positions and linear weights, zero biases (timm's ``trunc_normal_``)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

_TRUNC = nnx.initializers.truncated_normal(0.02)


def _linear(a: int, b: int, rngs: nnx.Rngs) -> nnx.Linear:
    return nnx.Linear(a, b, kernel_init=_TRUNC, bias_init=nnx.initializers.zeros, rngs=rngs)


class _Block(nnx.Module):
    def __init__(self, dim: int, heads: int, mlp_ratio: float, rngs: nnx.Rngs):
        self.heads = heads
        self.norm1 = nnx.LayerNorm(dim, epsilon=1e-6, rngs=rngs)
        self.qkv, self.proj = _linear(dim, 3 * dim, rngs), _linear(dim, dim, rngs)
        self.norm2 = nnx.LayerNorm(dim, epsilon=1e-6, rngs=rngs)
        hidden = int(dim * mlp_ratio)
        self.fc1, self.fc2 = _linear(dim, hidden, rngs), _linear(hidden, dim, rngs)

    def _attend(self, x):
        b, n, d = x.shape
        q, k, v = jnp.split(self.qkv(x).reshape(b, n, 3, self.heads, d // self.heads), 3, axis=2)
        q, k, v = (t[:, :, 0] for t in (q, k, v))  # (b, n, heads, head_dim)
        att = jax.nn.softmax(jnp.einsum("bqhd,bkhd->bhqk", q, k) / jnp.sqrt(d // self.heads).astype(x.dtype), axis=-1)
        return self.proj(jnp.einsum("bhqk,bkhd->bqhd", att, v).reshape(b, n, d))

    def __call__(self, x):
        x = x + self._attend(self.norm1(x))
        return x + self.fc2(nnx.gelu(self.fc1(self.norm2(x)), approximate=False))


class ViT(nnx.Module):
    def __init__(self, in_channels: int, n_classes: int, *, image_size: int = 32, patch: int = 4, dim: int = 192,
                 depth: int = 12, heads: int = 3, mlp_ratio: float = 4.0, rngs: nnx.Rngs):
        if image_size % patch:
            raise ValueError(f"patch {patch} must divide the image size {image_size}")
        if dim % heads:
            raise ValueError(f"heads ({heads}) must divide dim ({dim})")
        self.patch = patch
        self.embed = nnx.Conv(in_channels, dim, (patch, patch), (patch, patch), padding="VALID", rngs=rngs)
        tokens = (image_size // patch) ** 2 + 1
        self.cls = nnx.Param(_TRUNC(rngs.params(), (1, 1, dim)))
        self.pos = nnx.Param(_TRUNC(rngs.params(), (1, tokens, dim)))
        self.blocks = nnx.List([_Block(dim, heads, mlp_ratio, rngs) for _ in range(depth)])
        self.norm = nnx.LayerNorm(dim, epsilon=1e-6, rngs=rngs)
        self.head = _linear(dim, n_classes, rngs)

    def __call__(self, x):
        x = self.embed(x)
        b = x.shape[0]
        x = x.reshape(b, -1, x.shape[-1])
        cls = jnp.broadcast_to(self.cls[...].astype(x.dtype), (b, 1, x.shape[-1]))
        x = jnp.concatenate([cls, x], axis=1) + self.pos[...].astype(x.dtype)
        for block in self.blocks:
            x = block(x)
        return self.head(self.norm(x)[:, 0])
