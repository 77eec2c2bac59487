"""The late-decay authors' mini VGG-11 (models/latedecay_vgg.py): parameter counts against the
catalog's derived numbers, train-mode noise (dropout, augmentation) in the batch only."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from optdyn.models.latedecay_vgg import VGG, VGGMiniProblem
from optdyn.spec.problems.latedecay import VGGMini


def _count(module) -> int:
    return sum(int(np.prod(p.shape)) for p in jax.tree.leaves(nnx.state(module, nnx.Param)))


def test_parameter_counts_match_the_catalog():
    spec = VGGMini(name="vgg_mini")
    full = nnx.eval_shape(lambda: VGG(3, 10, 32, spec.conv, spec.hidden, rngs=nnx.Rngs(0)))
    assert _count(full) == 1_250_634  # catalog 002 Sec. 2 [derived]
    quarter = [c if c == "M" else c // 4 for c in spec.conv]
    small = nnx.eval_shape(lambda: VGG(3, 10, 32, quarter, [32, 32], rngs=nnx.Rngs(0)))
    assert _count(small) == 78_810  # catalog Sec. 5.4 small tier [derived]


@pytest.fixture
def problem():
    spec = VGGMini(name="vgg_mini", conv=[4, "M", 8, "M"], hidden=[16], batch_size=8)
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((32, 8, 8, 3)).astype(np.float32), rng.integers(0, 10, 32)
    module_fn = lambda rngs: VGG(3, 10, 8, spec.conv, spec.hidden, rngs=rngs)  # noqa: E731
    return VGGMiniProblem(spec, module_fn, x, y, (x[:16], y[:16]), np.zeros(3, np.float32))


def test_batches_carry_the_noise_and_metrics_do_not(problem):
    params = problem.init(jax.random.PRNGKey(0))
    b1, b2 = problem.sample_batch(jax.random.PRNGKey(1)), problem.sample_batch(jax.random.PRNGKey(1))
    assert b1[0].shape == (8, 8, 8, 3)
    np.testing.assert_array_equal(b1[0], b2[0])  # a pure function of the key
    l1, l2 = problem.loss(params, b1), problem.loss(params, (b1[0], b1[1], jax.random.PRNGKey(9)))
    assert np.isfinite(float(l1)) and float(l1) != float(l2)  # dropout follows the batch's key
    m1, m2 = problem.metrics(params), problem.metrics(params)
    assert float(m1["loss"]) == float(m2["loss"]) and "test_loss" in m1
    # eval mode: (1/2) sum_k (f_k - onehot_k)^2 averaged over the examples, no dropout
    logits = problem.logits_fn(params, problem.X)
    ref = 0.5 * jnp.mean(jnp.sum((logits - jax.nn.one_hot(problem.y, 10)) ** 2, axis=-1))
    assert float(m1["loss"]) == pytest.approx(float(ref), rel=1e-5)
    g = jax.grad(problem.loss)(params, b1)
    assert all(np.all(np.isfinite(np.asarray(v))) for v in jax.tree.leaves(g))
