"""The IRE paper's vision nets: parameter counts against the catalog's (and an independent
closed form), the label-smoothing KL loss, and the Tr F^ metric against a dense reference."""

from __future__ import annotations

import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from optdyn.models.ire_vision import VisionProblem, smoothed_kl
from optdyn.models.vision_resnet import BottleneckResNet, CifarResNet, WideResNet, param_count
from optdyn.models.vit import ViT
from optdyn.spec.problems.ire import IREVisionNet


def _count(make) -> int:
    return param_count(nnx.eval_shape(make))


def _conv(a, b, k=3):
    return a * b * k * k


def _resnet_cifar(n, w=16, classes=10):
    """homura's layout: stem conv + norm, BasicBlocks (2 convs + 2 norms), 1x1 conv + norm where channels change."""
    total, c = _conv(3, w) + 2 * w, w
    for stage in range(3):
        out = w * 2**stage
        for _ in range(n):
            total += _conv(c, out) + _conv(out, out) + 4 * out + ((_conv(c, out, 1) + 2 * out) if c != out else 0)
            c = out
    return total + c * classes + classes


def _wrn(n, k, classes=10):
    total, c = _conv(3, 16), 16
    for stage in range(3):
        out = 16 * k * 2**stage
        for _ in range(n):
            total += 2 * c + _conv(c, out) + 2 * out + _conv(out, out) + (_conv(c, out, 1) if c != out else 0)
            c = out
    return total + 2 * c + c * classes + classes


def _vit(d, depth, classes=100, patch=4, tokens=65):
    block = 2 * 2 * d + (3 * d * d + 3 * d) + (d * d + d) + (4 * d * d + 4 * d) + (4 * d * d + d)
    return patch * patch * 3 * d + d + d + tokens * d + depth * block + 2 * d + d * classes + classes


@pytest.mark.parametrize("name,make,formula,catalog", [
    ("ResNet-20", lambda: CifarResNet(3, 10, depth=20, rngs=nnx.Rngs(0)), _resnet_cifar(3), 0.27e6),
    ("ResNet-56", lambda: CifarResNet(3, 10, depth=56, rngs=nnx.Rngs(0)), _resnet_cifar(9), 0.86e6),
    ("WRN-16-8", lambda: WideResNet(3, 10, depth=16, widen=8, rngs=nnx.Rngs(0)), _wrn(2, 8), 11.0e6),
    ("WRN-28-10", lambda: WideResNet(3, 10, depth=28, widen=10, rngs=nnx.Rngs(0)), _wrn(4, 10), 36.5e6),
    ("ViT-T", lambda: ViT(3, 100, dim=192, depth=12, heads=3, rngs=nnx.Rngs(0)), _vit(192, 12), 5.4e6),
    ("ViT-S", lambda: ViT(3, 100, dim=384, depth=12, heads=6, rngs=nnx.Rngs(0)), _vit(384, 12), 21.3e6),
])
def test_parameter_counts(name, make, formula, catalog):
    n = _count(make)
    assert n == formula, name
    assert abs(n / catalog - 1) < 0.015, f"{name}: {n} vs the catalog's ~{catalog:.3g}"


def test_resnet50_is_torchvisions_25_557_032():
    assert _count(lambda: BottleneckResNet(3, 1000, rngs=nnx.Rngs(0))) == 25_557_032
    # known published counts of the CIFAR nets (homura ResNet-20/56, WRN-28-10 on CIFAR-10)
    assert _resnet_cifar(3) == 272_474 and _resnet_cifar(9) == 855_770 and _wrn(4, 10) == 36_479_194


@pytest.mark.slow  # six small compilations
@pytest.mark.parametrize("net", [{"kind": "cifar_resnet", "depth": 8, "width": 4}, {"kind": "wide_resnet", "depth": 10, "widen": 1},
                                 {"kind": "bottleneck_resnet", "stages": [1, 1], "width": 4, "stem": "cifar"},
                                 {"kind": "bottleneck_resnet", "stages": [1], "width": 4},
                                 {"kind": "vit", "patch": 2, "dim": 16, "depth": 1, "heads": 2}, {"kind": "mlp", "widths": [8]}])
def test_toy_sizes_of_every_net_run_on_8x8_images(net):
    spec = IREVisionNet.model_validate({"name": "ire_vision", "net": net, "batch_size": 8})
    x = np.random.default_rng(0).normal(size=(16, 8, 8, 1)).astype(np.float32)
    problem = VisionProblem(spec, x, np.arange(16) % 3, None, np.zeros(1), 3)
    params = problem.init(jax.random.PRNGKey(0))
    assert problem.logits_fn(params, problem.X[:5]).shape == (5, 3)


def test_smoothed_kl_is_ce_minus_the_targets_entropy_and_zero_at_the_targets():
    logits = jnp.asarray(np.random.default_rng(1).normal(size=(6, 5)), jnp.float32)
    y = jnp.arange(6) % 5
    s = 0.1
    q = (1 - s) * jax.nn.one_hot(y, 5) + s / 5
    ce = -jnp.mean(jnp.sum(q * jax.nn.log_softmax(logits), axis=-1))
    entropy = -jnp.sum(q[0] * jnp.log(q[0]))
    np.testing.assert_allclose(smoothed_kl(logits, y, s), ce - entropy, rtol=1e-5)
    assert abs(float(smoothed_kl(jnp.log(q), y, s))) < 1e-6
    np.testing.assert_allclose(smoothed_kl(logits, y, 0.0), -jnp.mean(jax.nn.log_softmax(logits)[jnp.arange(6), y]), rtol=1e-6)


def test_trace_fisher_is_the_mean_over_the_fixed_batches_of_b_times_the_squared_gradient_norm():
    spec = IREVisionNet.model_validate({"name": "ire_vision", "net": {"kind": "mlp", "widths": [6]}, "batch_size": 4,
                                        "trace_batches": 3, "trace_batch_size": 5, "fisher_batch_size": 7})
    rng = np.random.default_rng(2)
    problem = VisionProblem(spec, rng.normal(size=(20, 2, 2, 1)).astype(np.float32), rng.integers(0, 3, 20), None,
                            np.zeros(1), 3)
    params = problem.init(jax.random.PRNGKey(3))
    want = []
    for idx, key in zip(problem.trace_idx, problem.trace_keys):
        x = problem.X[idx]
        # curvature.sampled_fisher_diag draws one label sample from split(key, 1)[0]
        labels = jax.random.categorical(jax.random.split(key, 1)[0], problem.logits_fn(params, x), axis=-1)
        g = jax.grad(lambda p: -jnp.mean(jax.nn.log_softmax(problem.logits_fn(p, x))[jnp.arange(5), labels]))(params)
        want.append(5 * sum(float(jnp.sum(v**2)) for v in jax.tree.leaves(g)))
    np.testing.assert_allclose(problem.trace_fisher(params), np.mean(want), rtol=1e-5)
    assert problem.trace_idx.shape == (3, 5)  # M = 3 batches of B = 5, recorded in the spec
    # the mask's estimate reads one fixed batch: its inputs do not change with the key
    a, b = (problem.fisher_diag(params, jax.random.PRNGKey(k)) for k in (0, 1))
    assert problem.fisher_x.shape[0] == 7 and jax.tree.structure(a) == jax.tree.structure(params)
    assert any(not np.array_equal(x, y) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)))


def _batch_sized_constants(fn, *args, batch: np.ndarray) -> int:
    """Elements in the constants of ``fn``'s compiled program at least half the size of
    ``batch``: the batch itself, or what XLA's constant folding made of it (its padded k x k
    slices, stacked: 9x the batch for a 3 x 3 convolution)."""
    text = jax.jit(fn).lower(*args).compile().as_text()
    sizes = [int(np.prod([int(d) for d in dims.split(",")])) for dims in re.findall(r"f32\[([\d,]+)\]\{[\d,]*\} constant\(", text)]
    return sum(size for size in sizes if size >= batch.size // 2)


@pytest.mark.slow  # two small compilations
def test_the_fixed_fisher_batch_is_not_constant_folded_into_slices():
    """The mask's Fisher batch is fixed, so the step closes over it as a constant; XLA would fold
    the padded k x k slices of the first convolution into constants of their own (minutes of
    compile for ResNet-50's batch in the check tier). ``opaque`` leaves the batch itself alone."""
    from optdyn.curvature import sampled_fisher_diag

    spec = IREVisionNet.model_validate({"name": "ire_vision", "net": {"kind": "cifar_resnet", "depth": 8, "width": 4},
                                        "batch_size": 8, "fisher_batch_size": 32})
    x = np.random.default_rng(4).normal(size=(48, 8, 8, 3)).astype(np.float32)
    problem = VisionProblem(spec, x, np.arange(48) % 3, None, np.zeros(3), 3)
    params, key = problem.init(jax.random.PRNGKey(0)), jax.random.PRNGKey(1)
    fisher_x = np.asarray(problem.fisher_x)
    assert _batch_sized_constants(problem.fisher_diag, params, key, batch=fisher_x) == fisher_x.size
    # the same pass without the barrier: the check sees the folded slices
    folded = lambda p, k: sampled_fisher_diag(problem.logits_fn, p, problem.fisher_x, k)  # noqa: E731
    assert _batch_sized_constants(folded, params, key, batch=fisher_x) >= 9 * fisher_x.size
