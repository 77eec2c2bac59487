"""The PyTorch twin of our LLaMA (``benchmarks/torch_llama.py``) computes the same function, and
``benchmarks/lm.py``'s FLOPs count matches a hand count and XLA's own count."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

from optdyn.models.lm.config import LMConfig
from optdyn.models.lm.llama import Llama

BENCH = Path(__file__).parents[1] / "benchmarks"
CFG = LMConfig(vocab_size=97, hidden=48, intermediate=128, layers=2, heads=4, seq_len=24)


def _bench_module(name: str):
    sys.path.insert(0, str(BENCH))
    try:
        spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(BENCH))


def _ours(cfg: LMConfig = CFG):
    graphdef, params = nnx.split(Llama(cfg, rngs=nnx.Rngs(0)), nnx.Param)
    params = nnx.to_pure_dict(params)
    # norm scales away from 1 so a missed scale copy would show
    for i in range(cfg.layers):
        for norm in ("attn_norm", "mlp_norm"):
            params["layers"][i][norm]["scale"] = 1 + 0.1 * jax.random.normal(jax.random.PRNGKey(i), (cfg.hidden,))
    return graphdef, params


def _tokens(cfg: LMConfig = CFG, batch: int = 3):
    return jax.random.randint(jax.random.PRNGKey(5), (batch, cfg.seq_len + 1), 0, cfg.vocab_size)


def test_logits_loss_and_gradients_agree_in_float32() -> None:
    torch = pytest.importorskip("torch")
    twin = _bench_module("torch_llama")
    graphdef, params = _ours()
    tokens = _tokens()

    def loss(p):
        logits = nnx.merge(graphdef, p)(tokens[:, :-1])
        return optax.softmax_cross_entropy_with_integer_labels(logits, tokens[:, 1:]).mean(), logits

    (ours_loss, ours_logits), ours_grads = jax.value_and_grad(loss, has_aux=True)(params)
    model = twin.load_params(twin.TorchLlama(CFG), params)
    step = twin.TorchTrainStep(model, lr=1e-3, b1=0.9, b2=0.95, eps=1e-8, weight_decay=0.1, clip=1.0)
    batch = torch.from_numpy(np.asarray(tokens, np.int64))
    torch_logits = model(batch[:, :-1])
    np.testing.assert_allclose(torch_logits.detach().numpy(), np.asarray(ours_logits), atol=1e-5, rtol=1e-5)
    torch_loss = step.loss(batch)
    torch_loss.backward()
    np.testing.assert_allclose(torch_loss.item(), float(ours_loss), rtol=1e-6)
    flat = jax.tree.leaves(jax.tree.map(lambda a, b: np.abs(np.asarray(a) - b).max() / (np.abs(b).max() + 1e-12),
                                        ours_grads, twin.grads_as_params(model)))
    assert max(flat) < 1e-4, max(flat)
    assert twin.param_count(model) == sum(a.size for a in jax.tree.leaves(params))


def test_flops_per_token_against_a_hand_count() -> None:
    lm = _bench_module("lm")
    # WSD Table 2's 0.1B LLaMA at seq 1024, vocab 50304: per token and layer, forward matmuls
    # q, k, v, o: 4 * 2 d^2; SwiGLU: 3 * 2 d I; attention scores and values: 2 * 2 T d; the
    # head: 2 d V; training = 3 x forward (backward = 2 x forward)
    d, inter, layers, t, v = 768, 3072, 12, 1024, 50304
    per_layer = 4 * 2 * d * d + 3 * 2 * d * inter + 2 * 2 * t * d
    hand = 3 * (layers * per_layer + 2 * d * v)
    cfg = LMConfig(vocab_size=v, hidden=d, intermediate=inter, layers=layers, heads=12, seq_len=t)
    flops = lm.train_flops_per_token(cfg)
    # the formula also counts the norm scales' 6 FLOPs per parameter: (2 L + 1) d of them
    assert flops == hand + 6 * (2 * layers + 1) * d
    assert lm.matmul_params(cfg) == layers * (4 * d * d + 3 * d * inter + 2 * d) + d + d * v


@pytest.mark.slow  # > 1.5 s: kept out of the fast unit run (pytest -m 'not slow')
def test_flops_formula_against_xla_cost_analysis() -> None:
    """XLA's count of a training step's FLOPs (it includes the softmax, norms and elementwise ops
    our formula leaves out) is within 10% of the formula on a model whose matmuls dominate."""
    lm = _bench_module("lm")
    cfg = LMConfig(vocab_size=256, hidden=128, intermediate=512, layers=2, heads=4, seq_len=128)
    graphdef, params = nnx.split(Llama(cfg, rngs=nnx.Rngs(0)), nnx.Param)
    tokens = jnp.zeros((2, cfg.seq_len + 1), jnp.int32)

    def loss(p):
        logits = nnx.merge(graphdef, p)(tokens[:, :-1])
        return optax.softmax_cross_entropy_with_integer_labels(logits, tokens[:, 1:]).mean()

    cost = jax.jit(jax.grad(loss)).lower(params).compile().cost_analysis()
    cost = cost[0] if isinstance(cost, list) else cost
    xla = float(cost["flops"])
    ours = lm.train_flops_per_token(cfg) * tokens.shape[0] * cfg.seq_len
    assert 0.9 < xla / ours < 1.1, (xla, ours, xla / ours)
