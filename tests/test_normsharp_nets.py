"""The normalization paper's CIFAR networks (models/nets_scale_invariant.py, normsharp_nets.py):
parameter counts against the closed form, scale invariance, spherical sharpness against a dense
Hessian, ghost-BN HVPs against finite differences, the sharpness schedule and test-time BN."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from jax.flatten_util import ravel_pytree

from optdyn.curvature import hvp
from optdyn.models.nets_scale_invariant import PreActResNet, ScaleInvariantVGG, scale_invariant_mask
from optdyn.models.normsharp_nets import NormsharpNetProblem
from optdyn.spec.problems.normsharp import NormsharpNet


def _params(module_fn) -> dict:
    return nnx.to_pure_dict(nnx.split(nnx.eval_shape(module_fn), nnx.Param)[1])


def _count(params, mask=None) -> int:
    leaves = jax.tree.leaves(params)
    keep = [True] * len(leaves) if mask is None else jax.tree.leaves(mask)
    return sum(int(np.prod(leaf.shape)) for leaf, k in zip(leaves, keep) if k)


def test_si_vgg11_count_is_the_catalogs_closed_form():
    convs = 9 * (3 * 64 + 64 * 128 + 128 * 256 + 256 * 256 + 256 * 512 + 3 * 512 * 512)
    assert convs == 9_217_728
    assert _count(_params(lambda: ScaleInvariantVGG(rngs=nnx.Rngs(0)))) == convs + 512 * 10 == 9_222_848


def _resnet20_counts() -> dict[str, int]:
    """Closed form of catalog 3.5: 3x3 convs, 1x1 shortcuts, BN channels (pre-act order)."""
    conv3 = 9 * (3 * 16 + 6 * 16 * 16 + 16 * 32 + 5 * 32 * 32 + 32 * 64 + 5 * 64 * 64)
    short = 16 * 32 + 32 * 64
    # each block: bn1 on its input channels, bn2 on its output; plus the head BN on 64
    bn_channels = (6 * 16) + (16 + 32 + 4 * 32) + (32 + 64 + 4 * 64) + 64
    return {"conv3": conv3, "short": short, "bn_affine": 2 * bn_channels}


def test_preact_resnet20_count_and_its_scale_invariant_group():
    c = _resnet20_counts()
    assert (c["conv3"], c["short"], c["bn_affine"]) == (267_696, 2_560, 1_376)
    params = _params(lambda: PreActResNet(rngs=nnx.Rngs(0)))
    assert _count(params) == c["conv3"] + c["short"] + c["bn_affine"] + 64 * 10 + 10 == 272_282
    assert _count(params, scale_invariant_mask(params, "preact_resnet")) == c["conv3"]


def test_si_resnet20_count():
    c = _resnet20_counts()
    # no BN affine, an affine BN after each of the two 1x1 shortcuts (32 and 64 channels), FC without bias
    expected = c["conv3"] + c["short"] + 2 * (32 + 64) + 64 * 10
    assert _count(_params(lambda: PreActResNet(si=True, rngs=nnx.Rngs(0)))) == expected == 271_088


# --- problems on a tiny synthetic image set ---

def _data(n=24, n_test=12, size=8, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n + n_test, size, size, 1)).astype(np.float32)
    y = (np.arange(n + n_test) % 3).astype(np.int32)
    return x[:n], y[:n], x[n:], y[n:]


TINY = {
    "si_vgg": dict(arch="si_vgg", vgg_cfg=[3, "M", 4, "M"]),
    "si_resnet": dict(arch="si_resnet", depth=8, resnet_widths=(2, 3, 4)),
    "preact_resnet": dict(arch="preact_resnet", depth=8, resnet_widths=(2, 3, 4)),
}


def _problem(arch: str, dtype=jnp.float32, **kw) -> NormsharpNetProblem:
    spec = NormsharpNet.model_validate({"name": "normsharp_net", **TINY[arch], **kw})
    return NormsharpNetProblem(spec, *_data(), dtype=dtype)


def _scale_group(problem, params, c):
    w, rebuild = problem.split_group(params)
    return rebuild(c * w)


@pytest.mark.slow  # jit of the tiny nets' HVPs: ~20-70 s each on 2 contended cores
@pytest.mark.parametrize("arch", list(TINY))
def test_loss_is_invariant_to_scaling_the_scale_invariant_group(x64, arch):
    problem = _problem(arch, jnp.float64, ghost_batch_size=8)
    # BN's eps (1e-5 added to each variance) is the only departure from exact invariance; the
    # tiny VGG's logits (bearpaw's FC init std 0.01 on 16 features) have variance ~1e-3, so start
    # from 300 w, where eps is negligible (< 1e-5 relative) at every scale tried
    params = _scale_group(problem, problem.init(jax.random.PRNGKey(1)), 300.0)
    batch = problem.sample_batch(None)
    loss = jax.jit(problem.loss)
    base = loss(params, batch)
    for c in (0.3, 4.0):
        np.testing.assert_allclose(loss(_scale_group(problem, params, c), batch), base, rtol=1e-4)
    # the check can fail: scaling *every* parameter of the standard ResNet (BN affine, FC bias
    # included) changes the loss
    if arch == "preact_resnet":
        scaled = jax.tree.map(lambda a: 4.0 * a, params)
        assert abs(float(loss(scaled, batch)) - float(base)) > 1e-3


@pytest.mark.slow  # jit of the tiny nets' HVPs: ~20-70 s each on 2 contended cores
def test_spherical_sharpness_matches_dense_eigh(x64):
    problem = _problem("si_vgg", jnp.float64, vgg_cfg=[2, "M", 3, "M"])
    # at 300 w, BN's eps no longer breaks scale invariance (see the test above)
    params = _scale_group(problem, problem.init(jax.random.PRNGKey(2)), 300.0)
    w, rebuild = problem.split_group(params)
    # 24 of the 108 Lanczos steps: the top Ritz value has converged to round-off by then, and
    # the unrolled loop's compile time grows with the steps
    problem.spec = problem.spec.model_copy(update={"sharpness_iters": 24})
    f = lambda v: problem.loss(rebuild(v), problem.sample_batch(None))  # noqa: E731
    dense = float(jnp.vdot(w, w) * jnp.linalg.eigvalsh(jax.jit(jax.hessian(f))(w))[-1])
    ours = float(jax.jit(problem.sharpness)(params))
    assert dense > 0
    np.testing.assert_allclose(ours, dense, rtol=1e-6)
    # and it is the same at c w (the point of measuring on the sphere)
    np.testing.assert_allclose(float(jax.jit(problem.sharpness)(_scale_group(problem, params, 3.0))), dense, rtol=1e-4)


@pytest.mark.slow  # jit of the tiny nets' HVPs: ~20-70 s each on 2 contended cores
def test_ghost_bn_hvp_matches_finite_differences(x64):
    problem = _problem("si_vgg", jnp.float64, ghost_batch_size=8)
    full = _problem("si_vgg", jnp.float64)
    params = problem.init(jax.random.PRNGKey(3))
    batch = problem.sample_batch(None)
    # ghost batches are real: the statistics per 8 examples give another loss than per 24
    assert abs(float(problem.loss(params, batch) - full.loss(params, batch))) > 1e-4
    x, unravel = ravel_pytree(params)
    f = lambda v: problem.loss(unravel(v), batch)  # noqa: E731
    v = jax.random.normal(jax.random.PRNGKey(4), x.shape, x.dtype)
    eps = 1e-6  # central differences: truncation ~eps^2 D^3 L, round-off ~1e-16/eps
    g = jax.jit(jax.grad(f))
    fd = (g(x + eps * v) - g(x - eps * v)) / (2 * eps)
    assert float(jnp.linalg.norm(hvp(f, x, v) - fd) / jnp.linalg.norm(fd)) < 1e-6


@pytest.mark.slow  # jit of the tiny nets' HVPs: ~20-70 s each on 2 contended cores
def test_sharpness_is_measured_on_its_schedule_only():
    problem = _problem("si_vgg", sharpness_every=5, sharpness_windows=[(7, 9)], sharpness_iters=4)
    params = problem.init(jax.random.PRNGKey(0))
    step = jax.jit(problem.step_metrics)
    due = {t: bool(np.isfinite(step(params, jnp.asarray(t))["sharpness"])) for t in range(12)}
    assert [t for t, d in due.items() if d] == [0, 5, 7, 8, 10]
    np.testing.assert_allclose(step(params, jnp.asarray(0))["norm_sq"], problem.norm_sq(params))


@pytest.mark.slow  # jit of the tiny nets' HVPs: ~20-70 s each on 2 contended cores
def test_train_stats_test_mode_uses_the_training_statistics():
    x, y, _, _ = _data()
    spec = NormsharpNet.model_validate({"name": "normsharp_net", **TINY["si_vgg"], "test_bn": "train_stats"})
    # the test set is the training set: with the training statistics, test metrics are train metrics
    problem = NormsharpNetProblem(spec, x, y, x, y)
    m = problem.metrics(problem.init(jax.random.PRNGKey(0)))
    np.testing.assert_allclose(m["test_loss"], m["loss"], rtol=1e-5)
    # on half of it as the test batch, "batch" mode normalizes with other statistics
    other = NormsharpNetProblem(spec.model_copy(update={"test_bn": "batch"}), x, y, x[:6], y[:6])
    ts = NormsharpNetProblem(spec, x, y, x[:6], y[:6])
    params = problem.init(jax.random.PRNGKey(0))
    assert abs(float(other.metrics(params)["test_loss"] - ts.metrics(params)["test_loss"])) > 1e-4
