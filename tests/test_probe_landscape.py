"""Landscape probes across runs (``interpolation``, ``plane_slice``) on GD on the quadratic river
L = gamma x2^2 / 2 - x1, whose iterates and losses have closed forms: from (0, 1) at rate eta,
x1(t) = eta t and x2(t) = (1 - eta gamma)^t, and L is quadratic along any line or plane."""

from __future__ import annotations

import copy
from pathlib import Path

import jax
import numpy as np
import pandas as pd
import pytest
import yaml
from jax.flatten_util import ravel_pytree
from train_helpers import FIG, rid_of, write_config

from optdyn.models.toy import River2DProblem
from optdyn.probes import kinds, landscape, run_probe
from optdyn.probes.landscape import gram_schmidt, interpolation, plane_slice
from optdyn.spec.components import River2D
from optdyn.spec.errors import SpecError
from optdyn.spec.identity import probe_id
from optdyn.spec.load import load_plan
from optdyn.spec.probes import HessianSpectrum, Interpolation, LossEval, RiverProgress
from optdyn.train.results import load_run
from optdyn.train.run import train_run

GAMMA, STEPS, BRANCH = 10.0, 20, 10
MODEL = {"name": "quadratic_river", "gamma": GAMMA, "replicas": 1, "init": [0.0, 1.0]}
BASE = {"model": MODEL, "dtype": "float64", "steps": STEPS, "progress": False, "eval_every": 5}
RUNS = {
    "main": {**BASE, "schedule": {"name": "constant", "lr": 0.05}},
    # decays the rate at step 10: the Fig. 5b pair (pre-decay main@10, decayed decay@20)
    "decay": {**BASE, "schedule": {"name": "constant", "lr": 0.02}, "branch_from": {"run": "main", "step": BRANCH}},
    "other": {**BASE, "schedule": {"name": "constant", "lr": 0.03}, "seed": 1},
}


def iterate(run: str, t: int) -> np.ndarray:
    """(x1, x2) of the closed-form GD trajectory of each run at step t."""
    if run == "decay" and t > BRANCH:
        x1, x2 = iterate("main", BRANCH)
        return np.array([x1 + 0.02 * (t - BRANCH), x2 * (1 - 0.02 * GAMMA) ** (t - BRANCH)])
    eta = {"main": 0.05, "decay": 0.05, "other": 0.03}[run]
    return np.array([eta * t, (1 - eta * GAMMA) ** t])


def loss(w: np.ndarray) -> np.ndarray:
    return GAMMA * w[..., 1] ** 2 / 2 - w[..., 0]


def point(run: str, step: int) -> dict:
    return {"run": run, "step": step}


def with_probes(root: Path, probes: dict, runs: dict = RUNS) -> Path:
    cfg = write_config(root, copy.deepcopy(runs))
    doc_path = root / "config" / "papers" / "wsd.yaml"
    doc = yaml.safe_load(doc_path.read_text())
    doc["figures"]["fig04"]["probes"] = probes
    doc_path.write_text(yaml.safe_dump(doc))
    return cfg


PROBES = {
    "stable": {"kind": "interpolation", "start": point("main", 10), "end": point("main", 20)},
    "decayed": {"kind": "interpolation", "start": point("main", 10), "end": point("decay", 20),
                "eval": {"metric": "loss"}, "alphas": {"start": -0.2, "stop": 1.2, "num": 29}, "chunk": 4},
    # steps 15 have no checkpoint (the runs trained before the probe existed): replayed, the
    # branch from its parent's checkpoint at the branch point
    "plane": {"kind": "plane_slice", "origin": point("decay", 15), "a_point": point("main", 15),
              "b_point": point("other", 20), "a_values": [-0.5, 0.0, 0.5, 1.0, 1.5], "b_values": {"start": -0.5, "stop": 1.5, "num": 3}},
    "plane_on": {"kind": "plane_slice", "origin": point("decay", 15), "a_point": point("main", 15),
                 "b_point": point("other", 20), "basis": "orthonormal", "a_values": [0.0, 1.0], "b_values": [0.0, 1.0, 2.0]},
}


@pytest.fixture(scope="module")
def trained(tmp_path_factory, x64_module):  # float64 runs: x64 on for the module's tests
    root = tmp_path_factory.mktemp("landscape")
    bare = load_plan(write_config(root, copy.deepcopy(RUNS)))  # no probes: checkpoints 10 and 20 only
    for name in ("main", "decay", "other"):
        assert train_run(bare, rid_of(bare, name))["status"] == "completed"
    plan = load_plan(with_probes(root, PROBES))
    return plan, {name: run_probe(plan, pid) for name, pid in plan.figures[FIG].probes.items()}


def table(trained, name: str) -> pd.DataFrame:
    return pd.read_parquet(trained[1][name])


def test_kinds_are_registered():
    assert kinds()["interpolation"] is interpolation and kinds()["plane_slice"] is plane_slice


@pytest.mark.slow  # > 1.5 s: kept out of the fast unit run (pytest -m 'not slow')
def test_interpolation_matches_the_closed_form(trained) -> None:
    for name, end in (("stable", ("main", 20)), ("decayed", ("decay", 20))):
        df = table(trained, name)
        a, b = iterate("main", 10), iterate(*end)
        alpha = df.alpha.to_numpy()
        np.testing.assert_allclose(df.loss, loss((1 - alpha[:, None]) * a + alpha[:, None] * b), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(df.distance, np.linalg.norm(b - a), rtol=1e-12)
    assert len(table(trained, "decayed")) == 29 and table(trained, "decayed").loss_of.iloc[0] == "loss"
    assert table(trained, "stable").loss_of.iloc[0] == "train_loss@batch_seed=0"


def test_plane_raw_and_orthonormal_match_the_closed_form(trained) -> None:
    o, pa, pb = iterate("decay", 15), iterate("main", 15), iterate("other", 20)
    u, v = pa - o, pb - o
    raw = table(trained, "plane")
    assert len(raw) == 5 * 3 and set(raw.b.round(6)) == {-0.5, 0.5, 1.5}
    theta = o + raw.a.to_numpy()[:, None] * u + raw.b.to_numpy()[:, None] * v
    np.testing.assert_allclose(raw.loss, loss(theta), rtol=1e-12, atol=1e-12)
    # (x, y): the same points in the Gram-Schmidt basis, true distances from the origin
    np.testing.assert_allclose(np.hypot(raw.x, raw.y), np.linalg.norm(theta - o, axis=1), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(raw.dist_a, np.linalg.norm(u)) and np.testing.assert_allclose(raw.dist_b, np.linalg.norm(v))
    cos = u @ v / np.linalg.norm(u) / np.linalg.norm(v)
    np.testing.assert_allclose(raw.angle_deg, np.degrees(np.arccos(cos)), rtol=1e-12)

    on = table(trained, "plane_on")
    e1 = u / np.linalg.norm(u)
    e2 = v - (v @ e1) * e1
    e2 /= np.linalg.norm(e2)
    theta = o + on.x.to_numpy()[:, None] * e1 + on.y.to_numpy()[:, None] * e2
    np.testing.assert_allclose(on.loss, loss(theta), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(on.x, on.a * np.linalg.norm(u)) and np.testing.assert_allclose(on.y, on.b * np.linalg.norm(v))
    at_a = on[(on.a == 1) & (on.b == 0)]
    np.testing.assert_allclose(at_a.loss, loss(pa), rtol=1e-12)  # (1, 0) is a_point in both bases


def test_gram_schmidt_basis() -> None:
    g = gram_schmidt(np.array([3.0, 0.0, 0.0]), np.array([1.0, 2.0, 0.0]))
    np.testing.assert_allclose(g["e2"], [0.0, 1.0, 0.0])
    assert (g["dist_a"], g["v_along_e1"], g["v_across_e1"]) == (3.0, 1.0, 2.0)
    np.testing.assert_allclose(g["angle_deg"], np.degrees(np.arctan2(2, 1)))
    with pytest.raises(ValueError, match="collinear"):
        gram_schmidt(np.array([1.0, 1.0]), np.array([-2.0, -2.0]))


def test_a_vector_metric_or_an_unknown_one_is_refused(trained) -> None:
    plan = trained[0]
    runs = {"main": load_run(plan, rid_of(plan, "main"))}
    spec = Interpolation.model_validate({"kind": "interpolation", "start": point("main", 0), "end": point("main", 5),
                                         "eval": {"metric": "nope"}})
    with pytest.raises(ValueError, match="not a metric of this problem; it has: hill, loss, river"):
        interpolation(runs, spec)
    with pytest.raises(ValueError, match="no state at steps"):
        interpolation(runs, spec.model_copy(update={"end": spec.end.model_copy(update={"step": STEPS + 1})}))
    river = River2DProblem(River2D(name="river2d", replicas=3, init=[(0.0, 0.0)] * 3))
    x0, unravel = ravel_pytree(river.init(jax.random.PRNGKey(0)))
    with pytest.raises(ValueError, match=r"'x1' has shape \(3,\); a landscape needs a scalar"):
        landscape._loss(river, LossEval(metric="x1"), unravel, x0)


# --- the plan: resolution, ids, checkpoints, errors ----------------------------------------------


def test_one_run_probe_ids_are_unchanged() -> None:
    """Pinned values of the former ``probe_id(spec, run_id)`` (settings with ``run`` -> the run id)."""
    rid = "river2d-constant-0123456789ab"
    assert probe_id(HessianSpectrum(kind="hessian_spectrum", run="rv", k=2), {"rv": rid}) == "hessianspectrum-3d432d1760ce"
    assert probe_id(RiverProgress(kind="river_progress", run="gd"), {"gd": rid}) == "riverprogress-8d424ccc00a9"


def test_the_plan_resolves_every_run_and_keeps_the_points_as_checkpoints(tmp_path: Path) -> None:
    plan = load_plan(with_probes(tmp_path, PROBES))
    fig = plan.figures[FIG]
    probe = plan.probes[fig.probes["plane"]]
    assert probe.run_ids == {"decay": fig.runs["decay"], "main": fig.runs["main"], "other": fig.runs["other"]}
    assert plan.probes[fig.probes["stable"]].run_ids == {"main": fig.runs["main"]}
    assert plan.runs[fig.runs["main"]].checkpoint_steps >= {10, 15, 20}
    assert plan.runs[fig.runs["decay"]].checkpoint_steps >= {15, 20}
    assert plan.runs[fig.runs["other"]].checkpoint_steps >= {20}


def _pid(root: Path, runs: dict, name: str = "plane") -> str:
    return load_plan(with_probes(root, {name: PROBES[name]}, runs)).figures[FIG].probes[name]


def test_the_id_changes_with_each_run_it_reads(tmp_path: Path) -> None:
    base = _pid(tmp_path / "a", RUNS)
    assert _pid(tmp_path / "b", RUNS) == base
    for name in ("main", "other"):
        runs = copy.deepcopy(RUNS)
        runs[name]["seed"] = 7
        assert _pid(tmp_path / name, runs) != base, name
    runs = copy.deepcopy(RUNS)
    runs["unread"] = {**BASE, "schedule": {"name": "constant", "lr": 0.01}}
    assert _pid(tmp_path / "unread", runs) == base
    runs = copy.deepcopy(RUNS)
    runs["other"]["checkpoint_steps"] = [3]  # logging only: neither run id nor probe id
    assert _pid(tmp_path / "logging", runs) == base


@pytest.mark.parametrize("probe, path, message", [
    ({"kind": "interpolation", "start": point("nope", 1), "end": point("main", 2)},
     "figures.fig04.probes.p.start.run", "no such run in this figure"),
    ({"kind": "interpolation", "start": point("main", 1), "end": point("other", STEPS + 1)},
     "figures.fig04.probes.p.end.step", "run 'other' only runs 20 steps"),
    ({"kind": "plane_slice", "origin": point("main", 1), "a_point": point("main", 2), "b_point": point("decay", 5)},
     "figures.fig04.probes.p.b_point.step", "starts at step 10 (a branch of 'main')"),
    ({"kind": "interpolation", "start": point("main", 1), "end": point("wide", 2)},
     "figures.fig04.probes.p.end.run", "model differs from run 'main'"),
])
def test_bad_points_name_their_key_path(tmp_path: Path, probe: dict, path: str, message: str) -> None:
    runs = {**copy.deepcopy(RUNS), "wide": {**BASE, "model": {**MODEL, "replicas": 2}, "schedule": {"name": "constant", "lr": 0.05}}}
    with pytest.raises(SpecError) as err:
        load_plan(with_probes(tmp_path, {"p": probe}, runs))
    assert err.value.path == path and message in str(err.value), str(err.value)
