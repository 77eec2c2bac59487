"""A PyTorch twin of optdyn's LLaMA (``src/optdyn/models/lm/llama.py``) for ``benchmarks/lm.py``.

The same model, op for op: token embedding, pre-norm blocks of RMSNorm -> causal self-attention
(``scaled_dot_product_attention``) with rotate-half RoPE on q and k -> residual, RMSNorm ->
SwiGLU -> residual; a final RMSNorm and an untied, bias-free head; float32 logits. The training
step is the same too: mean next-token cross-entropy, global-norm gradient clipping, then AdamW
with decoupled weight decay on every parameter (optax.adamw's default, no mask).

``load_params`` copies optdyn's params pytree (``nnx.to_pure_dict``; kernels [in, out]) into
the twin (``nn.Linear`` weights are [out, in]), so both compute on identical weights.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


def rope_tables(length: int, head_dim: int, theta: float) -> tuple[torch.Tensor, torch.Tensor]:
    inv_freq = theta ** (-torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim)
    angles = torch.arange(length, dtype=torch.float32)[:, None] * inv_freq[None, :]
    return torch.cos(angles), torch.sin(angles)


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """x [B, N, T, H]: the pair (x_i, x_{i+H/2}) rotated by the angle of position p, frequency i."""
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat([x1 * cos - x2 * sin, x2 * cos + x1 * sin], dim=-1)


class Attention(nn.Module):
    def __init__(self, d: int, heads: int):
        super().__init__()
        self.heads = heads
        self.q_proj, self.k_proj, self.v_proj, self.o_proj = (nn.Linear(d, d, bias=False) for _ in range(4))

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape

        def heads(y):
            return y.view(b, t, self.heads, d // self.heads).transpose(1, 2)

        q = apply_rope(heads(self.q_proj(x)), cos, sin)
        k = apply_rope(heads(self.k_proj(x)), cos, sin)
        out = F.scaled_dot_product_attention(q, k, heads(self.v_proj(x)), is_causal=True)
        return self.o_proj(out.transpose(1, 2).reshape(b, t, d))


class SwiGLU(nn.Module):
    def __init__(self, d: int, inter: int):
        super().__init__()
        self.gate_proj, self.up_proj = nn.Linear(d, inter, bias=False), nn.Linear(d, inter, bias=False)
        self.down_proj = nn.Linear(inter, d, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class Block(nn.Module):
    def __init__(self, d: int, inter: int, heads: int, eps: float):
        super().__init__()
        self.attn_norm, self.mlp_norm = nn.RMSNorm(d, eps=eps), nn.RMSNorm(d, eps=eps)
        self.attn, self.mlp = Attention(d, heads), SwiGLU(d, inter)

    def forward(self, x, cos, sin):
        x = x + self.attn(self.attn_norm(x), cos, sin)
        return x + self.mlp(self.mlp_norm(x))


class TorchLlama(nn.Module):
    """``cfg``: optdyn's ``LMConfig`` (any object with its fields); untied head only."""

    def __init__(self, cfg: Any):
        super().__init__()
        if cfg.tie_embeddings:
            raise ValueError("the twin implements the untied head only (the WSD LLaMA's)")
        self.cfg = cfg
        d = cfg.hidden
        self.embed = nn.Embedding(cfg.vocab_size, d)
        self.layers = nn.ModuleList(Block(d, cfg.intermediate, cfg.heads, cfg.norm_eps) for _ in range(cfg.layers))
        self.final_norm = nn.RMSNorm(d, eps=cfg.norm_eps)
        self.lm_head = nn.Linear(d, cfg.vocab_size, bias=False)
        cos, sin = rope_tables(cfg.seq_len, d // cfg.heads, cfg.rope_theta)
        self.register_buffer("cos", cos, persistent=False)
        self.register_buffer("sin", sin, persistent=False)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        t = tokens.shape[1]
        cos, sin = self.cos[:t], self.sin[:t]
        x = self.embed(tokens)
        for block in self.layers:
            x = block(x, cos, sin)
        return self.lm_head(self.final_norm(x)).float()


def load_params(model: TorchLlama, params: dict) -> TorchLlama:
    """Copy optdyn's params (nested dict of arrays) into the twin, transposing kernels."""
    def put(dst: torch.Tensor, src, transpose: bool = False) -> None:
        a = np.asarray(src, dtype=np.float32)
        dst.data.copy_(torch.from_numpy(np.array(a.T if transpose else a, copy=True)))

    put(model.embed.weight, params["embed"]["embedding"])
    for i, block in enumerate(model.layers):
        p = params["layers"][i]
        put(block.attn_norm.weight, p["attn_norm"]["scale"])
        put(block.mlp_norm.weight, p["mlp_norm"]["scale"])
        for name in ("q_proj", "k_proj", "v_proj", "o_proj"):
            put(getattr(block.attn, name).weight, p["attn"][name]["kernel"], transpose=True)
        for name in ("gate_proj", "up_proj", "down_proj"):
            put(getattr(block.mlp, name).weight, p["mlp"][name]["kernel"], transpose=True)
    put(model.final_norm.weight, params["final_norm"]["scale"])
    put(model.lm_head.weight, params["lm_head"]["kernel"], transpose=True)
    return model


def grads_as_params(model: TorchLlama) -> dict:
    """The twin's gradients in optdyn's params layout (kernels [in, out]), as numpy arrays."""
    def g(t: torch.Tensor, transpose: bool = False) -> np.ndarray:
        a = t.grad.detach().numpy()
        return a.T if transpose else a

    layers = {}
    for i, block in enumerate(model.layers):
        layers[i] = {
            "attn_norm": {"scale": g(block.attn_norm.weight)}, "mlp_norm": {"scale": g(block.mlp_norm.weight)},
            "attn": {n: {"kernel": g(getattr(block.attn, n).weight, True)} for n in ("q_proj", "k_proj", "v_proj", "o_proj")},
            "mlp": {n: {"kernel": g(getattr(block.mlp, n).weight, True)} for n in ("gate_proj", "up_proj", "down_proj")},
        }
    return {"embed": {"embedding": g(model.embed.weight)}, "layers": layers,
            "final_norm": {"scale": g(model.final_norm.weight)}, "lm_head": {"kernel": g(model.lm_head.weight, True)}}


class TorchTrainStep:
    """One step on a batch of windows [B, T + 1]: loss, backward, clip, AdamW (``fused`` kernel
    when asked, torch's fastest on CPU; ``foreach`` otherwise)."""

    def __init__(self, model: TorchLlama, lr: float, b1: float, b2: float, eps: float, weight_decay: float,
                 clip: float | None, fused: bool = False):
        self.model, self.clip = model, clip
        self.opt = torch.optim.AdamW(model.parameters(), lr=lr, betas=(b1, b2), eps=eps, weight_decay=weight_decay,
                                     **({"fused": True} if fused else {"foreach": True}))

    def loss(self, batch: torch.Tensor) -> torch.Tensor:
        logits = self.model(batch[:, :-1])
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), batch[:, 1:].reshape(-1))

    def __call__(self, batch: torch.Tensor) -> torch.Tensor:
        self.opt.zero_grad(set_to_none=True)
        loss = self.loss(batch)
        loss.backward()
        if self.clip is not None:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.clip, foreach=True)
        self.opt.step()
        return loss.detach()


def param_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())

