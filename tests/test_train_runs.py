"""Training jobs: WSD branches, divergence, run outputs and run identity."""

from __future__ import annotations

from pathlib import Path

import jax
import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from optdyn.optim.schedules import build_schedule, lr_curve
from optdyn.spec.identity import canonical, run_id
from optdyn.spec.load import load_plan
from optdyn.train import run as run_mod
from optdyn.train.checkpoint import Checkpoints
from optdyn.train.run import BranchError, train_run

from train_helpers import (
    D,
    T,
    FIG,
    SGD_M,
    WSD_PLAN,
    WSD_S,
    ckpt_steps,
    from_step,
    metrics,
    qr,
    read_json,
    restore,
    rid_of,
    write_config,
)


@pytest.fixture(scope="module")
def wsd_reference(tmp_path_factory) -> pd.DataFrame:
    """Metrics of the continuous WSD-S run with the same decay, seed, model and optimizer."""
    root = tmp_path_factory.mktemp("wsd_s")
    plan = load_plan(write_config(root, {"wsd": WSD_PLAN, "wsd_s": WSD_S}))
    status = train_run(plan, rid_of(plan, "wsd_s"))
    assert status["status"] == "completed" and status["steps"] == T
    return metrics(plan, rid_of(plan, "wsd_s"))


def test_wsd_plan_expands_into_main_and_branch(tmp_path: Path) -> None:
    plan = load_plan(write_config(tmp_path, {"wsd": WSD_PLAN, "wsd_s": WSD_S}))
    main, branch = plan.runs[rid_of(plan, "wsd")], plan.runs[rid_of(plan, "wsd_decay1")]
    assert main.parent is None and main.spec.steps == D and main.spec.schedule.branch is None
    assert D in main.checkpoint_steps
    assert branch.parent == main.run_id
    assert branch.spec.branch_from.step == D and branch.spec.schedule.branch == 0 and branch.spec.steps == T
    assert plan.runs[rid_of(plan, "wsd_s")].spec.steps == T


@pytest.mark.slow  # > 1.5 s: kept out of the fast unit run (pytest -m 'not slow')
def test_wsd_branch_equals_continuous_wsd_s_run(tmp_path: Path, wsd_reference: pd.DataFrame) -> None:
    plan = load_plan(write_config(tmp_path, {"wsd": WSD_PLAN}))
    main, branch = rid_of(plan, "wsd"), rid_of(plan, "wsd_decay1")

    s_main = train_run(plan, main)
    assert s_main == {**s_main, "status": "completed", "steps": D, "origin": "initialized"}
    assert D in ckpt_steps(plan, main)
    # the optimizer state at the branch point is not trivial: momentum and the schedule count
    opt_state = restore(plan, main, D)["opt_state"]
    leaves = [np.asarray(x) for x in jax.tree.leaves(opt_state)]
    assert any(x.dtype.kind == "i" and int(x) == D for x in leaves)
    assert any(x.dtype.kind == "f" and np.abs(x).max() > 0 for x in leaves)

    s_branch = train_run(plan, branch)
    assert s_branch["status"] == "completed" and s_branch["steps"] == T
    assert s_branch["origin"] == f"branched from {main} at step {D}"
    assert read_json(plan.run_dir(branch) / "provenance.json")["parent"] == main

    got_main, got_branch = metrics(plan, main), metrics(plan, branch)
    ref = wsd_reference
    assert list(got_branch.step) == list(range(D, T + 1))
    # D..T: everything the branch logs is the WSD-S run's, bit for bit
    assert_frame_equal(got_branch, from_step(ref, D)[got_branch.columns], check_exact=True)
    for col in ("loss", "hill", "river", "lr"):
        np.testing.assert_array_equal(got_branch[col].to_numpy(), from_step(ref, D)[col].to_numpy())
    # 0..D: the main branch is WSD-S's stable phase (its row D has the eval metrics only)
    ref_main = ref[ref.step <= D].reset_index(drop=True)
    assert_frame_equal(got_main[["step", "loss", "hill", "river"]], ref_main[["step", "loss", "hill", "river"]], check_exact=True)
    assert_frame_equal(got_main.iloc[:-1], ref_main.iloc[:-1][got_main.columns], check_exact=True)
    # and the decay did something: lr falls from the peak to 0.1 peak over (D, T]
    lr = got_branch.set_index("step")["lr"]
    assert lr[D] == np.float32(0.02) and lr[T - 1] < lr[D + 1] < lr[D]


@pytest.mark.slow  # > 1.5 s: kept out of the fast unit run (pytest -m 'not slow')
@pytest.mark.parametrize("parent_state", ["no_checkpoint", "earlier_checkpoint"])
def test_branch_materializes_missing_parent_checkpoint(tmp_path: Path, wsd_reference: pd.DataFrame, parent_state: str) -> None:
    early = 100
    spec = {**WSD_PLAN, "checkpoint_steps": [early]} if parent_state == "earlier_checkpoint" else WSD_PLAN
    plan = load_plan(write_config(tmp_path, {"wsd": spec}))
    main, branch = rid_of(plan, "wsd"), rid_of(plan, "wsd_decay1")
    # checkpoint_steps is logging-only: the same runs as in the test above
    assert main == rid_of(load_plan(write_config(tmp_path / "plain", {"wsd": WSD_PLAN})), "wsd")

    train_run(plan, main)
    assert ckpt_steps(plan, main) == ([early, D] if parent_state == "earlier_checkpoint" else [D])
    ckpts = Checkpoints(plan.run_dir(main) / "checkpoints")
    ckpts.delete(D)
    ckpts.close()
    before = ckpt_steps(plan, main)
    assert before == ([early] if parent_state == "earlier_checkpoint" else [])

    status = train_run(plan, branch)
    assert status["status"] == "completed"
    assert status["origin"] == f"branched from {main} at step {D}"
    assert ckpt_steps(plan, main) == before, "a job writes nothing into another run's folder"
    assert D in ckpt_steps(plan, branch), "the branch keeps its own first state, for its probes"
    got = metrics(plan, branch)
    assert_frame_equal(got, from_step(wsd_reference, D)[got.columns], check_exact=True)


def test_a_branch_of_an_unfinished_parent_is_refused(tmp_path: Path) -> None:
    plan = load_plan(write_config(tmp_path, {"wsd": WSD_PLAN}))
    with pytest.raises(BranchError, match="has not finished"):
        train_run(plan, rid_of(plan, "wsd_decay1"))


# --- 4. divergence ------------------------------------------------------------------------------

#: eta * gamma = 5 > 2: the hill coordinate grows by a factor 4 in modulus every step
DIVERGING = {"model": qr(replicas=16, sigma=1.0), "schedule": {"name": "constant", "lr": 0.5}, "steps": 200,
             "checkpoint_every": 10, "progress": False}


def _bad(values: pd.Series, threshold: float | None) -> np.ndarray:
    v = values.to_numpy(np.float64)
    bad = ~np.isfinite(v)
    return bad | (v > threshold) if threshold is not None else bad


@pytest.mark.slow  # > 1.5 s: kept out of the fast unit run (pytest -m 'not slow')
def test_divergence_is_a_result(tmp_path: Path) -> None:
    runs = {
        "overflow": {**DIVERGING, "eval_every": 1},
        "threshold": {**DIVERGING, "eval_every": 7, "divergence_threshold": 1e3},
    }
    plan = load_plan(write_config(tmp_path, runs))
    at = {}
    for name, threshold in (("overflow", None), ("threshold", 1e3)):
        rid = rid_of(plan, name)
        status = train_run(plan, rid)  # no exception
        assert status["status"] == "diverged", status
        at[name] = k = status["diverged_at"]
        assert isinstance(k, int) and 0 < k < DIVERGING["steps"] and status["steps_done"] == k
        run_dir = plan.run_dir(rid)
        assert read_json(run_dir / "status.json") == status
        assert (run_dir / "provenance.json").exists()
        df = metrics(plan, rid)
        assert df.step.iloc[-1] == k, "metrics end at the divergence step"
        assert list(df.step) == list(range(k + 1))
        train_bad, eval_bad = _bad(df.batch_loss, threshold), _bad(df["loss"], threshold)
        # the last row is the first bad one: a non-finite (or over-threshold) batch or eval loss
        assert train_bad[-1] or eval_bad[-1]
        rows = df.iloc[:-1]
        assert not _bad(rows.batch_loss, threshold).any() and rows.batch_loss.notna().all()
        evals = rows["loss"].dropna()
        assert not _bad(evals, threshold).any()
        assert DIVERGING["steps"] not in ckpt_steps(plan, rid)
        if threshold is not None:
            last = df.iloc[-1][["batch_loss", "loss"]].to_numpy(np.float64)
            assert np.nanmax(last) > threshold and np.isfinite(np.nanmax(last))
    assert at["threshold"] < at["overflow"], "the threshold stops the run before the overflow"

    # a rerun (from the last periodic checkpoint before the divergence) diverges at the same step
    rid = rid_of(plan, "overflow")
    first = metrics(plan, rid)
    again = train_run(plan, rid)
    assert again["status"] == "diverged" and again["diverged_at"] == at["overflow"]
    assert again["origin"] == f"resumed from checkpoint {at['overflow'] // 10 * 10}"
    assert_frame_equal(metrics(plan, rid), first, check_exact=True)


def test_branch_of_a_diverged_parent_is_an_error(tmp_path: Path) -> None:
    spec = {"model": qr(replicas=16, sigma=1.0), "progress": False,
            "schedule": {"name": "wsd", "peak_lr": 0.5, "decays": [[150, 200]]}}
    plan = load_plan(write_config(tmp_path, {"wsd": spec}))
    assert train_run(plan, rid_of(plan, "wsd"))["status"] == "diverged"
    with pytest.raises(BranchError, match="diverged"):
        train_run(plan, rid_of(plan, "wsd_decay1"))


@pytest.mark.slow  # > 1.5 s: kept out of the fast unit run (pytest -m 'not slow')
def test_branch_before_a_later_divergence_is_replayed(tmp_path: Path) -> None:
    """The parent diverged at step ~33; a branch at step 5, declared after the parent was
    trained, can still be replayed from the parent's (finite) start."""
    plan = load_plan(write_config(tmp_path, {"parent": DIVERGING}))
    parent = rid_of(plan, "parent")
    status = train_run(plan, parent)
    assert status["status"] == "diverged" and status["diverged_at"] > 5
    child = {"model": DIVERGING["model"], "schedule": {"name": "constant", "lr": 0.01}, "steps": 50,
             "progress": False, "branch_from": {"run": "parent", "step": 5}}
    plan = load_plan(write_config(tmp_path, {"parent": DIVERGING, "child": child}))
    assert rid_of(plan, "parent") == parent
    status = train_run(plan, rid_of(plan, "child"))
    assert status["origin"] == f"branched from {parent} at step 5"


# --- 5. provenance and outputs ------------------------------------------------------------------


def test_run_outputs_and_provenance(tmp_path: Path, monkeypatch) -> None:
    spec = {"model": qr(replicas=8), "seed": 7, "progress": False, "eval_every": 25,
            "schedule": {"name": "cosine", "peak_lr": 0.05, "min_lr_ratio": 0.1, "total_steps": 450, "warmup_steps": 20},
            "checkpoint_steps": [150], "checkpoint_every": 100}
    plan = load_plan(write_config(tmp_path, {"cosine": spec}))
    rid = rid_of(plan, "cosine")
    run = plan.runs[rid]
    assert run.spec.steps == 450 and run.checkpoint_steps == {150}

    after_save = []
    real_prune = run_mod._prune_periodic

    def prune(ckpts, keep, current):
        real_prune(ckpts, keep, current)
        after_save.append((current, ckpts.steps()))

    monkeypatch.setattr(run_mod, "_prune_periodic", prune)
    status = train_run(plan, rid)
    run_dir = plan.run_dir(rid)

    assert read_json(run_dir / "status.json") == status
    assert status["run_id"] == rid and status["status"] == "completed" and status["steps"] == 450
    assert status["origin"] == "initialized"
    assert isinstance(status["wall_time_s"], float) and status["wall_time_s"] > 0

    prov = read_json(run_dir / "provenance.json")
    assert prov["run_id"] == rid and prov["parent"] is None and prov["origin"] == "initialized"
    assert isinstance(prov["git_commit"], str) and prov["git_commit"]
    assert prov["versions"]["jax"] == jax.__version__
    for pkg in ("jax", "optax", "orbax-checkpoint"):
        assert prov["versions"][pkg] not in ("", "not installed")
    assert jax.default_backend() in prov["device"]
    assert prov["spec"] == run.spec.model_dump(mode="json")
    assert prov["wall_time_s"] > 0

    sj = read_json(run_dir / "spec.json")
    assert sj["run_id"] == rid and sj["parent"] is None and sj["used_by"] == ["wsd/fig04:cosine"]
    assert sj["spec"] == run.spec.model_dump(mode="json")
    assert sj["hashed"] == canonical(run.spec, None)
    assert not {"eval_every", "checkpoint_every", "checkpoint_steps", "progress"} & set(sj["hashed"])
    assert run_id(run.spec) == rid

    df = metrics(plan, rid)
    assert {"step", "batch_loss", "lr", "grad_norm", "loss", "hill", "river"} <= set(df.columns)
    assert list(df.step) == list(range(451))
    train = df[df.step < 450]
    assert train[["batch_loss", "lr", "grad_norm"]].notna().all().all()
    np.testing.assert_array_equal(train.lr.to_numpy(), lr_curve(build_schedule(run.spec.schedule), 450))
    # a linear warmup from 0 to the cosine's value at step 20, then the cosine decay
    assert train.lr.iloc[0] == 0 and train.lr.iloc[:21].is_monotonic_increasing
    assert train.lr.iloc[20:].is_monotonic_decreasing and train.lr.iloc[-1] < 0.1 * 0.05 + 1e-4
    evals = df[df["loss"].notna()].step.tolist()
    assert evals == list(range(0, 451, 25))
    assert df.loc[0, ["loss", "hill", "river"]].tolist() == [0.0, 0.0, 0.0]  # init (0, 0)
    assert np.isnan(df.batch_loss.iloc[-1])  # no training step taken at the end

    # declared checkpoints stay; periodic ones are pruned to the newest after every save
    assert ckpt_steps(plan, rid) == [150, 450]
    assert after_save == [(100, [100]), (150, [150]), (200, [150, 200]), (300, [150, 300]), (400, [150, 400]),
                          (450, [150, 450])]
    final = restore(plan, rid, 450)
    assert int(final["step"]) == 450


# --- 6. run identity ----------------------------------------------------------------------------


def _ids(tmp_path: Path, name: str, runs: dict) -> dict[str, str]:
    plan = load_plan(write_config(tmp_path / name, runs))
    return plan.figures[FIG].runs


def test_run_identity(tmp_path: Path) -> None:
    base = {"model": qr(), "optimizer": SGD_M, "schedule": {"name": "constant", "lr": 0.02}, "steps": 500, "seed": 1}
    child = {"model": qr(), "optimizer": SGD_M, "schedule": {"name": "cosine", "peak_lr": 0.02, "total_steps": 500},
             "branch_from": {"run": "parent", "step": 200}}
    ref = _ids(tmp_path, "ref", {"parent": base, "child": child})
    assert ref["parent"] != ref["child"]

    logging_only = {"eval_every": 50, "checkpoint_every": 100, "progress": False, "checkpoint_steps": [123]}
    for k, (key, value) in enumerate(logging_only.items()):
        ids = _ids(tmp_path, f"log{k}", {"parent": {**base, key: value}, "child": child})
        assert ids == ref, f"{key} is logging-only but changed the run ids"

    changes = {
        "lr": {"schedule": {"name": "constant", "lr": 0.03}},
        "steps": {"steps": 501},
        "seed": {"seed": 2},
        "model": {"model": qr(gamma=11.0)},
        "replicas": {"model": qr(replicas=33)},
        "optimizer": {"optimizer": {"name": "sgd", "momentum": 0.5}},
        "dtype": {"dtype": "float64"},
        "threshold": {"divergence_threshold": 1e6},
    }
    for key, update in changes.items():
        ids = _ids(tmp_path, f"chg_{key}", {"parent": {**base, **update}, "child": child})
        assert ids["parent"] != ref["parent"], f"changing {key} kept the run id"
        # the child's own spec is unchanged, but it continues another parent
        assert ids["child"] != ref["child"], f"changing the parent's {key} kept the branch's id"

    # a branch's own spec fields count too; its branch step as well
    ids = _ids(tmp_path, "child_step", {"parent": base, "child": {**child, "branch_from": {"run": "parent", "step": 201}}})
    assert ids["parent"] == ref["parent"] and ids["child"] != ref["child"]
    ids = _ids(tmp_path, "child_log", {"parent": base, "child": {**child, "eval_every": 9, "progress": False}})
    assert ids == ref

    # the figure-local name of a run is not part of its identity
    renamed = {"parent2": base, "child": {**child, "branch_from": {"run": "parent2", "step": 200}}}
    ids = _ids(tmp_path, "renamed", renamed)
    assert ids["parent2"] == ref["parent"] and ids["child"] == ref["child"]

    # WSD plans: main and branch ids follow the plan; changing the plan changes both
    wsd = _ids(tmp_path, "wsd", {"wsd": WSD_PLAN})
    wsd2 = _ids(tmp_path, "wsd2", {"wsd": {**WSD_PLAN, "seed": 4}})
    wsd3 = _ids(tmp_path, "wsd3", {"wsd": {**WSD_PLAN, "eval_every": 5}})
    assert wsd["wsd"] != wsd2["wsd"] and wsd["wsd_decay1"] != wsd2["wsd_decay1"]
    assert wsd3 == wsd
