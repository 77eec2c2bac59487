"""The language models (models/lm/): causality, RoPE, parameter counts of the paper's sizes,
nanoGPT's init, mixed precision."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from optdyn.models.lm.config import LMConfig, gpt2_param_count, llama_param_count
from optdyn.models.lm.gpt2 import GPT2
from optdyn.models.lm.layers import apply_rope, rope_tables
from optdyn.models.lm.llama import Llama
from optdyn.spec.components import GPT2 as GPT2Spec
from optdyn.spec.components import Llama as LlamaSpec

TINY = {"vocab_size": 50, "hidden": 32, "intermediate": 64, "layers": 2, "heads": 4, "seq_len": 16}
ARCHS = {"llama": (Llama, {}), "gpt2": (GPT2, {"tie_embeddings": True, "bias": True})}


def _model(arch: str, **kw):
    cls, extra = ARCHS[arch]
    return cls(LMConfig(**(TINY | extra | kw)), rngs=nnx.Rngs(0))


@pytest.mark.slow  # > 1.5 s: kept out of the fast unit run (pytest -m 'not slow')
@pytest.mark.parametrize("arch", ARCHS)
def test_changing_a_future_token_leaves_earlier_logits_unchanged(arch):
    model = _model(arch)
    tokens = jax.random.randint(jax.random.PRNGKey(1), (2, 12), 0, 50)
    j = 7
    changed = tokens.at[:, j].set((tokens[:, j] + 1) % 50)
    a, b = model(tokens), model(changed)
    assert a.shape == (2, 12, 50) and a.dtype == jnp.float32
    np.testing.assert_array_equal(np.asarray(a[:, :j]), np.asarray(b[:, :j]))
    assert np.abs(np.asarray(a[:, j:] - b[:, j:])).max() > 1e-4  # the change does reach position j on


def test_rope_matches_the_rotation_formula_and_depends_on_relative_position_only():
    head_dim, length, theta = 8, 6, 10000.0
    x = jax.random.normal(jax.random.PRNGKey(0), (1, length, 2, head_dim))
    got = np.asarray(apply_rope(x, *rope_tables(length, head_dim, theta)))
    half = head_dim // 2
    xn = np.asarray(x, np.float64)
    want = np.empty_like(xn)
    for p in range(length):
        for i in range(half):
            a = p * theta ** (-2 * i / head_dim)
            # the pair (x_i, x_{i+H/2}) as a complex number, rotated by angle a
            z = (xn[0, p, :, i] + 1j * xn[0, p, :, i + half]) * np.exp(1j * a)
            want[0, p, :, i], want[0, p, :, i + half] = z.real, z.imag
    np.testing.assert_allclose(got, want, atol=1e-5)
    # <R_p q, R_s k> depends only on p - s
    q, k = jnp.broadcast_to(x[:, :1], x.shape), jnp.broadcast_to(x[:, 1:2], x.shape)
    cos, sin = rope_tables(length, head_dim, theta)
    dots = np.asarray(jnp.einsum("bpnh,bsnh->bnps", apply_rope(q, cos, sin), apply_rope(k, cos, sin)))[0, 0]
    np.testing.assert_allclose(dots[3, 1], dots[4, 2], rtol=1e-5)
    np.testing.assert_allclose(dots[2, 2], dots[5, 5], rtol=1e-5)


def _count(cls, cfg: LMConfig) -> int:
    abstract = nnx.eval_shape(lambda: cls(cfg, rngs=nnx.Rngs(0)))  # shapes only, no 1.2B allocation
    return sum(math.prod(x.shape) for x in jax.tree.leaves(nnx.state(abstract, nnx.Param)))


# WSD Table 2; the catalog's sanity check: non-embedding 113M / 252M / 906M / 1064M (SwiGLU)
TABLE2 = [(768, 3072, 12, 12, 113), (1024, 2048, 24, 16, 252), (1536, 6144, 24, 32, 906), (2048, 8096, 16, 32, 1064)]


@pytest.mark.parametrize("hidden,inter,layers,heads,non_embedding_m", TABLE2)
def test_llama_parameter_count_of_each_table2_size(hidden, inter, layers, heads, non_embedding_m):
    spec = LlamaSpec(name="llama", hidden=hidden, intermediate=inter, layers=layers, heads=heads)
    cfg = LMConfig.from_spec(spec, vocab_size=32000)
    n = _count(Llama, cfg)
    assert n == llama_param_count(cfg)
    norms = (2 * layers + 1) * hidden
    assert (n - 2 * 32000 * hidden - norms) / 1e6 == pytest.approx(non_embedding_m, abs=0.5)


def test_gpt2_124m_has_nanogpts_parameter_count():
    spec = GPT2Spec(name="gpt2", hidden=768, intermediate=3072, layers=12, heads=12)
    for vocab, nanogpt in [(50257, 124_439_808), (50304, 124_475_904)]:  # nanoGPT's reported counts
        cfg = LMConfig.from_spec(spec, vocab)
        assert _count(GPT2, cfg) == gpt2_param_count(cfg) == nanogpt


@pytest.mark.slow  # > 1.5 s: kept out of the fast unit run (pytest -m 'not slow')
def test_gpt2_init_scales_residual_projections_by_one_over_sqrt_2L():
    cfg = LMConfig(**(TINY | {"hidden": 128, "intermediate": 512, "layers": 4, "tie_embeddings": True, "bias": True}))
    params = nnx.to_pure_dict(nnx.state(GPT2(cfg, rngs=nnx.Rngs(0)), nnx.Param))
    block = params["blocks"][0]
    assert np.std(block["attn"]["c_attn"]["kernel"]) == pytest.approx(0.02, rel=0.03)
    for proj in (block["attn"]["c_proj"]["kernel"], block["mlp"]["c_proj"]["kernel"]):
        assert np.std(proj) == pytest.approx(0.02 / math.sqrt(8), rel=0.05)
    assert not np.any(block["mlp"]["c_fc"]["bias"])
    assert "lm_head" not in params


@pytest.mark.slow  # > 1.5 s: kept out of the fast unit run (pytest -m 'not slow')
@pytest.mark.parametrize("arch", ARCHS)
def test_bfloat16_compute_keeps_float32_weights_and_logits_close_to_float32(arch):
    tokens = jax.random.randint(jax.random.PRNGKey(2), (2, 16), 0, 50)
    full, mixed = _model(arch), _model(arch, compute_dtype="bfloat16")
    assert all(x.dtype == jnp.float32 for x in jax.tree.leaves(nnx.state(mixed, nnx.Param)))
    a, b = full(tokens), mixed(tokens)
    assert b.dtype == jnp.float32
    scale = float(jnp.abs(a).max())
    err = float(jnp.abs(a - b).max())
    assert 0 < err < 0.02 * scale  # bf16 keeps ~3 significant digits; exact equality would mean no cast
