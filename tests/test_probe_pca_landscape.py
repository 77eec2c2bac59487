"""The generic PCA-landscape probe (probes/pca_landscape.py) against cases with known answers:
states lying exactly in a plane (explained variance 1 in two components; the loss on the grid at
a state's coordinates is the loss at the state), and direct evaluation at grid points."""

from __future__ import annotations

import time
from types import SimpleNamespace

import jax.numpy as jnp
import numpy as np
import pytest

from optdyn.probes import pca_landscape as P
from optdyn.spec.probes import PCALandscape

DIM = 7


class Quadratic:
    """A Problem with two scalar metrics: train 1/2|A x - y|^2 and test 1/2|x - x*|^2."""

    def __init__(self, seed=0):
        rng = np.random.default_rng(seed)
        self.A = jnp.asarray(rng.standard_normal((3, DIM)), jnp.float32)
        self.y = jnp.asarray(rng.standard_normal(3), jnp.float32)
        self.x_star = jnp.asarray(rng.standard_normal(DIM), jnp.float32)

    def sample_batch(self, key):
        return None

    def loss(self, params, batch=None):
        return 0.5 * jnp.sum((self.A @ params["w"] - self.y) ** 2)

    def metrics(self, params):
        return {"loss": self.loss(params), "test_loss": 0.5 * jnp.sum((params["w"] - self.x_star) ** 2)}


def fake_run(states: dict[int, np.ndarray], problem, branch: int | None = None):
    steps = sorted(states)
    spec = SimpleNamespace(branch_from=None if branch is None else SimpleNamespace(step=branch), steps=steps[-1])
    return SimpleNamespace(run_id="fake", spec=spec, status={"steps": steps[-1]}, states=states,
                           trainer=lambda: SimpleNamespace(problem=problem))


@pytest.fixture
def planar(monkeypatch):
    """A main path and one branch whose states all lie in the plane m + span(u, v)."""
    rng = np.random.default_rng(1)
    q, _ = np.linalg.qr(rng.standard_normal((DIM, 2)))
    m = rng.standard_normal(DIM)

    def at(s, t):
        return (m + s * q[:, 0] + t * q[:, 1]).astype(np.float32)

    main = fake_run({k: at(np.cos(k / 3), 0.5 * np.sin(k / 2)) for k in range(0, 11)}, Quadratic())
    sub = fake_run({k: at(0.2 * k - 1, -0.1 * k) for k in range(5, 11)}, Quadratic(), branch=5)
    monkeypatch.setattr(P, "params_at", lambda run, steps, trainer=None: {s: {"w": run.states[s]} for s in steps})
    return {"main": main, "sub": sub}


def _spec(**kw):
    base = {"kind": "pca_landscape", "paths": [{"run": "main", "every": 1}, {"run": "sub", "every": 1}],
            "losses": {"train": {"metric": "loss"}, "test": {"metric": "test_loss"}}, "surface": "both",
            "grid": [9, 7]}
    return PCALandscape.model_validate({**base, **kw})


def test_gram_pca_matches_svd():
    x = np.random.default_rng(0).standard_normal((12, 30))
    mean, comps, coords, explained = P.gram_pca(x, 5)
    _, s, vt = np.linalg.svd(x - x.mean(0), full_matrices=False)
    np.testing.assert_allclose(explained, s[:5] ** 2 / np.sum(s**2), rtol=1e-10)
    np.testing.assert_allclose(np.abs(comps @ vt[:5].T), np.eye(5), atol=1e-8)
    np.testing.assert_allclose(mean + coords @ comps, x - (x - x.mean(0)) @ (np.eye(30) - comps.T @ comps), atol=1e-10)


def test_curve_fit_recovers_parabola():
    c1 = np.linspace(-2, 3, 20)
    assert P.curve_fit(c1, 0.3 * c1**2 - 0.5 * c1 + 2.0) == pytest.approx((0.3, -0.5, 2.0), abs=1e-9)


@pytest.mark.slow  # ~1.5-2 s each (jit of the grid evaluation): out of the fast unit run
def test_planar_states(planar):
    t0 = time.perf_counter()
    table = P.pca_landscape(planar, _spec())
    elapsed = time.perf_counter() - t0
    pca = table[table.part == "pca"]
    assert pca.explained.iloc[:2].sum() == pytest.approx(1.0, abs=1e-5)
    assert pca.explained.iloc[2:].max() < 1e-6
    states = table[table.part == "state"].reset_index(drop=True)
    assert len(states) == 11 + 6 and set(states.run) == {"main", "sub"}
    assert states[states.run == "sub"].branch_step.unique().tolist() == [5]
    for surface in ("plane", "curved"):
        path = table[(table.part == "path") & (table.surface == surface)].reset_index(drop=True)
        # every state lies on the plane: the loss at its projection is its own loss
        np.testing.assert_allclose(path.train_projected, states.train, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(path.test_projected, states.test, rtol=1e-4, atol=1e-5)
    assert abs(table.curve_a.iloc[0]) < 1e-5 and abs(table.curve_c.iloc[0]) < 1e-5  # PC3 carries nothing
    assert elapsed < 30  # redoing a killed probe is cheap at these sizes


@pytest.mark.slow  # ~1.5-2 s each (jit of the grid evaluation): out of the fast unit run
def test_grid_equals_direct_evaluation(planar):
    table = P.pca_landscape(planar, _spec())
    x = np.stack([planar[r].states[s] for r, s in ((r, s) for r in ("main", "sub") for s in sorted(planar[r].states))])
    mean, comps, _, _ = P.gram_pca(x, 5)
    problem = Quadratic()
    g = table[(table.part == "grid") & (table.surface == "plane")].reset_index(drop=True)
    assert len(g) == 9 * 7
    for i in (0, 17, 40, 62):
        theta = jnp.asarray(mean + g.x1[i] * comps[0] + g.x2[i] * comps[1], jnp.float32)
        direct = problem.metrics({"w": theta})
        assert g.train[i] == pytest.approx(float(direct["loss"]), rel=1e-4)
        assert g.test[i] == pytest.approx(float(direct["test_loss"]), rel=1e-4)


@pytest.mark.slow  # ~1.5-2 s each (jit of the grid evaluation): out of the fast unit run
def test_curved_surface_direct(monkeypatch):
    """States off any plane: the curved grid is mean + x1 pc1 + x2 pc2 + (a x1^2 + b x1 + c) pc3."""
    rng = np.random.default_rng(3)
    states = {k: rng.standard_normal(DIM).astype(np.float32) for k in range(8)}
    runs = {"main": fake_run(states, Quadratic())}
    monkeypatch.setattr(P, "params_at", lambda run, steps, trainer=None: {s: {"w": run.states[s]} for s in steps})
    spec = _spec(paths=[{"run": "main", "every": 1}], x1={"start": -1.0, "stop": 1.0, "num": 3}, x2=[0.0, 0.5])
    table = P.pca_landscape(runs, spec)
    mean, comps, coords, _ = P.gram_pca(np.stack([states[k] for k in range(8)]), 5)
    a, b, c = P.curve_fit(coords[:, 0], coords[:, 2])
    g = table[(table.part == "grid") & (table.surface == "curved")].reset_index(drop=True)
    assert sorted(set(g.x1)) == [-1.0, 0.0, 1.0] and sorted(set(g.x2)) == [0.0, 0.5]
    for i in range(len(g)):
        x1, x2 = g.x1[i], g.x2[i]
        theta = mean + x1 * comps[0] + x2 * comps[1] + (a * x1**2 + b * x1 + c) * comps[2]
        assert g.test[i] == pytest.approx(float(Quadratic().metrics({"w": jnp.asarray(theta, jnp.float32)})["test_loss"]), rel=1e-4)


def test_group_reference_expands_to_members():
    """`run: <sweep group>` in a probe's list stands for every member (spec/load.py)."""
    from optdyn.spec.load import _expand_group_refs

    spec = _spec()
    groups = {"sub": [{"name": "sub[step=1]", "values": {}}, {"name": "sub[step=2]", "values": {}}]}
    out = _expand_group_refs(spec, groups)
    assert [p.run for p in out.paths] == ["main", "sub[step=1]", "sub[step=2]"]
    assert _expand_group_refs(spec, {}) is spec


def test_path_steps_from_step():
    run = fake_run({k: None for k in range(0, 11)}, None)
    assert P.path_steps(run, 3) == [0, 3, 6, 9, 10]
    assert P.path_steps(run, 3, from_step=4) == [4, 7, 10]
    branch = fake_run({k: None for k in range(5, 11)}, None, branch=5)
    assert P.path_steps(branch, 2, from_step=1) == [5, 7, 9, 10]  # never before the branch point
    with pytest.raises(ValueError, match="no state at or after step 12"):
        P.path_steps(run, 1, from_step=12)


def test_plan_keeps_the_probed_states_as_checkpoints():
    """The states a pca_landscape reads become checkpoints of their runs (no replay)."""
    from optdyn.spec.load import load_plan

    plan = load_plan("config/config.yaml", tier="tiny", papers=["latedecay"])
    fig = plan.figures["latedecay_fig02"]
    main = plan.runs[fig.runs["main"]]
    assert {500, 1000, 2500, 3000} <= main.checkpoint_steps
    for name, rid in fig.runs.items():
        run = plan.runs[rid]
        if run.spec.branch_from is not None:
            b = run.spec.branch_from.step
            assert set(range(b + 500, run.spec.steps + 1, 500)) <= run.checkpoint_steps, name
