"""The IRE paper's language models: the 2-layer post-LN Transformer of Table 4 / Fig. 5 and the
standard LLaMA at the paper's three IRE sizes (parameter counts against the catalog's), and the
curve metrics of its LM figures (EMA, first reach, speed-up, rank correlation)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest
from flax import nnx

from optdyn.figures.ire.curves import ema, first_reach, spearman, speedup
from optdyn.models.lm.config import LMConfig
from optdyn.models.lm.llama import Llama
from optdyn.models.lm.post_ln import PostLNTransformer, sinusoidal_positions
from optdyn.spec.components import Llama as LlamaSpec
from optdyn.spec.problems.ire import IRETransformer, StepTime


def _count(module_fn) -> int:
    _, params = nnx.split(nnx.eval_shape(module_fn), nnx.Param)
    return sum(x.size for x in jax.tree.leaves(params))


def test_two_layer_transformer_has_the_authors_8_95m_parameters_with_wikitext2_words():
    # torch word_language_model: embedding 33278 x 128, 2 encoder layers (in_proj 3d^2 + 3d,
    # out_proj d^2 + d, FFN 2 d 512 + 512 + d, two LayerNorms 4d), decoder d x V + V
    d, f, v = 128, 512, 33278
    layer = 3 * d * d + 3 * d + d * d + d + d * f + f + f * d + d + 4 * d
    cfg = LMConfig.from_spec(IRETransformer(name="ire_transformer", vocab_size=v))
    assert _count(lambda: PostLNTransformer(cfg, rngs=nnx.Rngs(0))) == v * d + 2 * layer + d * v + v == 8_948_990


@pytest.mark.slow  # abstract inits of 16-layer models: seconds on a shared 2-core CPU
@pytest.mark.parametrize("size, spec, want", [
    ("60M", dict(hidden=416, heads=8, layers=16, intermediate=416), 61_248_928),      # paper "60M"
    ("119M", dict(hidden=768, heads=12, layers=6, intermediate=2048), 119_744_256),   # paper "119M" (theirs 120.4M)
    ("229M", dict(hidden=768, heads=12, layers=16, intermediate=3072), 228_287_232),  # catalog: HF Llama 228.3M
])
def test_llama_at_the_papers_ire_sizes(size, spec, want):
    s = LlamaSpec(name="llama", vocab_size=50304, **spec)
    d, i, n = s.hidden, s.intermediate, s.layers
    assert want == 2 * 50304 * d + n * (4 * d * d + 3 * d * i + 2 * d) + d  # embed, untied head, blocks, final norm
    assert _count(lambda: Llama(LMConfig.from_spec(s), rngs=nnx.Rngs(0))) == want
    assert abs(want / {"60M": 60e6, "119M": 119e6, "229M": 229e6}[size] - 1) < 0.03


def test_the_paper_60m_shape_is_refused_by_rope_in_one_line():
    with pytest.raises(ValueError, match="even head dim"):
        LlamaSpec(name="llama", hidden=410, heads=10, layers=16, intermediate=410)


def test_sinusoidal_positions_are_vaswanis():
    pe = sinusoidal_positions(7, 6)
    p, i = 5, 2  # dims 2i and 2i + 1
    np.testing.assert_allclose(pe[p, 2 * i], np.sin(p / 10000 ** (2 * i / 6)), rtol=1e-6)
    np.testing.assert_allclose(pe[p, 2 * i + 1], np.cos(p / 10000 ** (2 * i / 6)), rtol=1e-6)


@pytest.mark.slow  # a compilation (> 1.5 s on a shared 2-core CPU)
def test_transformer_is_causal():
    cfg = LMConfig.from_spec(IRETransformer(name="ire_transformer", vocab_size=11, hidden=16, heads=4, intermediate=32,
                                            seq_len=8))
    model = PostLNTransformer(cfg, rngs=nnx.Rngs(0))
    a = jnp.asarray([[1, 2, 3, 4, 5, 6, 7, 8]])
    b = a.at[0, 5].set(9)  # a later token changes; earlier logits must not
    forward = jax.jit(lambda t: model(t))
    la, lb = forward(a), forward(b)
    np.testing.assert_array_equal(np.asarray(la[0, :5]), np.asarray(lb[0, :5]))
    assert not np.allclose(np.asarray(la[0, 5:]), np.asarray(lb[0, 5:]))


def test_curve_metrics():
    np.testing.assert_allclose(ema(np.array([1.0, 3.0, 3.0]), 0.5), [1.0, 2.0, 2.5])
    curve = pd.DataFrame({"step": [10, 20, 30, 40], "loss": [3.0, 2.5, 2.0, 1.5]})
    assert first_reach(curve, 2.2) == 30 and first_reach(curve, 1.0) is None
    assert speedup(100, curve, 2.0) == pytest.approx(100 / 30) and speedup(100, curve, 0.5) is None
    assert spearman([1, 5, 10, 20], [4.0, 1.3, 1.1, 1.05]) == pytest.approx(-1.0)
    assert spearman([1, 5, 10, 20], [4.0, 1.1, 1.3, 1.05]) == pytest.approx(-0.8)  # one swap of neighbours


def test_step_time_chunks_hold_whole_refreshes():
    assert StepTime(kind="ire_step_time", run="adamw").every == [1, 5, 10, 20]
    with pytest.raises(ValueError, match="multiple of every K"):
        StepTime(kind="ire_step_time", run="adamw", every=[3], steps=20)
