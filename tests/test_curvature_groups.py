"""Per-parameter-group curvature (``curvature.group_curvature``) against the dense blocks of
``jax.hessian`` of a tiny MLP: the top eigenvalues, the residuals it reports and the Hutchinson
trace within its probe error; the grouping by module path, by predicate and by path list."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from test_curvature_density import tiny_mlp

from optdyn import curvature as C

pytestmark = pytest.mark.usefixtures("x64")

PROBES = 200


@pytest.fixture(scope="module")
def mlp():
    with jax.enable_x64(True):
        loss, params, args = tiny_mlp()
        f, x, _ = C.flatten(loss, params, *args)
        H = np.asarray(jax.jit(jax.hessian(f))(x))
    return loss, params, args, H


def block(params, H, members):
    """The rows/columns of the full Hessian (in ``ravel_pytree`` order) of the leaves ``members``."""
    paths, leaves = C.leaf_paths(params), jax.tree.leaves(params)
    offsets = np.cumsum([0] + [leaf.size for leaf in leaves])
    idx = np.concatenate([np.arange(offsets[paths.index(p)], offsets[paths.index(p) + 1]) for p in members])
    return H[np.ix_(idx, idx)]


def check(g, B, k):
    ev = np.linalg.eigvalsh(B)[::-1]
    assert g.size == B.shape[0] and g.eigenvalues.shape == (k,) and g.eigenvectors.shape == (B.shape[0], k)
    np.testing.assert_allclose(g.eigenvalues, ev[:k], rtol=1e-9, atol=1e-12)
    vecs = np.asarray(g.eigenvectors)
    np.testing.assert_allclose(B @ vecs, vecs * np.asarray(g.eigenvalues), atol=1e-8)
    assert np.all(np.asarray(g.residuals) < 1e-8)  # what it reports: ||H v - l v||
    std = np.sqrt(2 * (np.sum(B * B) - np.sum(np.diag(B) ** 2)) / g.trace_probes)
    assert abs(float(g.trace) - np.trace(B)) < 5 * std + 1e-12
    if std > 0:
        assert float(g.trace_stderr) == pytest.approx(std, rel=0.3)


@pytest.mark.slow  # > 1.5 s: kept out of the fast unit run (pytest -m 'not slow')
def test_default_groups_are_modules(mlp):
    """One group per layer; "auto" solves the 27-parameter head densely, the others by Lanczos."""
    loss, params, args, H = mlp
    assert C.param_groups(params) == {"dense1": ("dense1/b", "dense1/w"), "dense2": ("dense2/b", "dense2/w"),
                                      "out": ("out/b", "out/w")}
    out = C.group_curvature(loss, params, *args, k=2, method="auto", trace_probes=PROBES, key=jax.random.PRNGKey(4))
    assert list(out) == ["dense1", "dense2", "out"]
    assert {n: (g.size, g.method, int(g.iterations)) for n, g in out.items()} == {
        "dense1": (80, "lanczos", 40), "dense2": (136, "lanczos", 40), "out": (27, "dense", 0)}
    for name, g in out.items():
        assert (g.name, g.k, g.which, g.trace_probes) == (name, 2, "LA", PROBES)
        check(g, block(params, H, g.paths), 2)


@pytest.mark.slow  # > 1.5 s: kept out of the fast unit run (pytest -m 'not slow')
def test_custom_groups(mlp):
    """Groups by predicate, by one path and by a list of module and leaf paths; ``k`` capped
    at a group's size."""
    loss, params, args, H = mlp
    groups = {"weights": lambda p: p.endswith("/w"), "out_bias": "out/b", "hidden": ["dense1/w", "dense2"]}
    assert C.param_groups(params, groups) == {
        "weights": ("dense1/w", "dense2/w", "out/w"), "out_bias": ("out/b",),
        "hidden": ("dense1/w", "dense2/b", "dense2/w")}
    assert C.param_groups(params, {"first": ["dense1"]}) == {"first": ("dense1/b", "dense1/w")}
    out = C.group_curvature(loss, params, *args, groups=groups, k=4, iters=60, trace_probes=PROBES)
    assert out["out_bias"].k == 3 and int(out["out_bias"].iterations) == 3
    for g in out.values():
        assert g.method == "lanczos"
        check(g, block(params, H, g.paths), min(4, g.size))


@pytest.mark.slow
def test_lobpcg_group_without_trace(mlp):
    loss, params, args, H = mlp
    g = C.group_curvature(loss, params, *args, groups={"w": lambda p: p.endswith("/w")}, k=2, method="lobpcg",
                          iters=300, trace_probes=0)["w"]
    assert g.method == "lobpcg" and 0 < int(g.iterations) <= 300
    assert g.trace is None and g.trace_stderr is None
    ev = np.linalg.eigvalsh(block(params, H, g.paths))[::-1]
    np.testing.assert_allclose(g.eigenvalues, ev[:2], rtol=1e-9)
    assert np.all(np.asarray(g.residuals) < 1e-8)


@pytest.mark.slow  # > 1.5 s: kept out of the fast unit run (pytest -m 'not slow')
def test_unmatched_group_and_nnx_paths():
    with pytest.raises(ValueError, match="matches no leaf"):
        C.param_groups({"a": jnp.ones(2)}, {"b": ["c"]})
    model = nnx.Sequential(nnx.Linear(2, 3, param_dtype=jnp.float64, rngs=nnx.Rngs(0)),
                           nnx.Linear(3, 1, param_dtype=jnp.float64, rngs=nnx.Rngs(1)))
    state = nnx.state(model, nnx.Param)
    groups = C.param_groups(state)
    assert {g: len(ps) for g, ps in groups.items()} == {"layers/0": 2, "layers/1": 2}
    assert groups["layers/0"] == ("layers/0/bias", "layers/0/kernel")

    x = jnp.asarray(np.random.default_rng(0).normal(size=(5, 2)))

    def loss(s, x):
        m = nnx.merge(nnx.graphdef(model), s)
        return jnp.mean(jnp.tanh(m(x)) ** 2)

    out = C.group_curvature(loss, state, x, method="dense", trace_probes=PROBES)
    f, flat, _ = C.flatten(loss, state, x)
    H = np.asarray(jax.jit(jax.hessian(f))(flat))
    for g in out.values():
        check(g, block(state, H, g.paths), 1)
