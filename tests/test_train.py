"""Training jobs end to end: ``train_run`` on tiny toy plans written into a temporary config.

Each test writes its own ``config/config.yaml`` + ``config/papers/wsd.yaml`` (one ``fig04``
figure whose runs are small ``quadratic_river`` problems) under ``tmp_path``, loads it with
``load_plan`` and trains with ``train_run`` (or ``optdyn train`` in a subprocess), then checks:

* a ``kill -9`` mid-run, then a rerun, gives exactly the metrics and final state of an
  uninterrupted run (a real SIGKILL of ``optdyn train``, plus deterministic stand-ins that
  "die" right before/after each write of a checkpoint and its metrics partial file);
* rerunning a finished run changes nothing;
* a WSD decay branch (restored from the main branch's checkpoint, optimizer state included)
  equals the same steps of one continuous WSD-S run, also when the branch checkpoint has to be
  replayed because it is missing;
* divergence ends a run with ``status: diverged`` and its metrics up to that step;
* the files of a run (status, provenance, spec, metrics, checkpoints);
* run identity: logging-only fields keep the id, everything else changes it.
"""

from __future__ import annotations

import copy
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import jax
import numpy as np
import pandas as pd
import pytest
import yaml
from pandas.testing import assert_frame_equal

from optdyn.optim.schedules import build_schedule, lr_curve
from optdyn.spec.identity import canonical, run_id
from optdyn.spec.load import Plan, load_plan
from optdyn.train import metrics as metrics_mod
from optdyn.train import run as run_mod
from optdyn.train.checkpoint import Checkpoints
from optdyn.train.run import BranchError, train_run
from optdyn.train.trainer import Trainer

OPTDYN = Path(sys.executable).parent / "optdyn"
FIG = "wsd_fig04"

# --- tiny specs ---------------------------------------------------------------------------------


def qr(replicas: int = 32, sigma: float = 10.0, gamma: float = 10.0) -> dict:
    return {"name": "quadratic_river", "gamma": gamma, "replicas": replicas, "noise_sigma": sigma}


SGD_M = {"name": "sgd", "momentum": 0.9}
D, T = 300, 400  # WSD decay window of the branch tests

#: fig04 needs runs named wsd, cosine and constant; tests that do not train them get these
PLACEHOLDERS = {
    "wsd": {"model": qr(), "schedule": {"name": "wsd", "peak_lr": 0.02, "decays": [[50, 60]]}, "progress": False},
    "cosine": {"model": qr(), "schedule": {"name": "cosine", "peak_lr": 0.02, "total_steps": 60}, "progress": False},
    "constant": {"model": qr(), "schedule": {"name": "constant", "lr": 0.02}, "steps": 60, "progress": False},
}

#: a WSD plan (main to D, branch wsd_decay1 over (D, T]) and the WSD-S run with the same decay
WSD_PLAN = {
    "model": qr(), "optimizer": SGD_M, "seed": 3, "progress": False,
    "schedule": {"name": "wsd", "peak_lr": 0.02, "decays": [[D, T]], "shape": "inverse_proportional"},
}
WSD_S = {
    "model": qr(), "optimizer": SGD_M, "seed": 3, "progress": False,
    "schedule": {"name": "wsd_s", "peak_lr": 0.02, "decays": [[D, T]], "shape": "inverse_proportional"},
}


def write_config(root: Path, runs: dict) -> Path:
    """A config tree under ``root`` with one fig04 holding ``runs`` (placeholders fill in the
    names fig04 requires); returns the path of config.yaml."""
    (root / "config" / "papers").mkdir(parents=True, exist_ok=True)
    cfg = {"tier": "smoke", "papers": ["wsd"], "results": str(root / "results")}
    (root / "config" / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    all_runs = {**copy.deepcopy(PLACEHOLDERS), **copy.deepcopy(runs)}
    doc = {"paper": "wsd", "title": "test paper", "figures": {"fig04": {"title": "test figure", "runs": all_runs}}}
    (root / "config" / "papers" / "wsd.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    return root / "config" / "config.yaml"


def rid_of(plan: Plan, name: str) -> str:
    return plan.figures[FIG].runs[name]


def metrics(plan: Plan, rid: str) -> pd.DataFrame:
    return pd.read_parquet(plan.run_dir(rid) / "metrics.parquet")


def read_json(path: Path) -> dict:
    return json.loads(path.read_text())


def ckpt_steps(plan: Plan, rid: str) -> list[int]:
    folder = plan.run_dir(rid) / "checkpoints"
    return sorted(int(p.name) for p in folder.iterdir() if p.name.isdigit()) if folder.exists() else []


def restore(plan: Plan, rid: str, step: int) -> dict:
    ckpts = Checkpoints(plan.run_dir(rid) / "checkpoints")
    try:
        return ckpts.restore(step, Trainer(plan.runs[rid].spec).init_state())
    finally:
        ckpts.close()


def assert_trees_equal(a, b) -> None:
    la, lb = jax.tree.leaves(a), jax.tree.leaves(b)
    assert jax.tree.structure(a) == jax.tree.structure(b)
    for x, y in zip(la, lb):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y), strict=True)


def from_step(df: pd.DataFrame, start: int) -> pd.DataFrame:
    return df[df.step >= start].reset_index(drop=True)


# --- 1. kill -9 and resume ----------------------------------------------------------------------

KILL_STEPS, KILL_EVERY = 3000, 200
KILL_RUN = {
    "model": qr(replicas=64), "optimizer": SGD_M, "schedule": {"name": "constant", "lr": 0.02},
    "steps": KILL_STEPS, "seed": 5, "eval_every": 10, "checkpoint_every": KILL_EVERY, "progress": False,
}


def _train_cmd(rid: str, config: Path) -> list[str]:
    cli = [str(OPTDYN)] if OPTDYN.exists() else [sys.executable, "-m", "optdyn.cli"]
    return [*cli, "train", rid, "--config", str(config)]


@pytest.mark.slow
def test_kill9_mid_run_then_resume_equals_uninterrupted_run(tmp_path: Path) -> None:
    cfg_killed = write_config(tmp_path / "killed", {"constant": KILL_RUN})
    cfg_ref = write_config(tmp_path / "ref", {"constant": KILL_RUN})
    plan, ref_plan = load_plan(cfg_killed), load_plan(cfg_ref)
    rid = rid_of(plan, "constant")
    assert rid_of(ref_plan, "constant") == rid
    run_dir = plan.run_dir(rid)
    metrics_dir = run_dir / "metrics"

    # Kill once a checkpoint beyond step 0 *and* its metrics partial file are both on disk
    # (a kill between writing the two is covered deterministically by the test below).
    log = (tmp_path / "killed.log").open("w")
    proc = subprocess.Popen(_train_cmd(rid, cfg_killed), stdout=log, stderr=subprocess.STDOUT)
    deadline = time.time() + 120
    killed = False
    while time.time() < deadline:
        if proc.poll() is not None:
            break
        if any((metrics_dir / f"upto-{s:010d}.parquet").exists() for s in ckpt_steps(plan, rid) if s > 0):
            os.kill(proc.pid, signal.SIGKILL)
            killed = True
            break
        time.sleep(0.002)
    proc.wait(timeout=30)
    log.close()
    if not killed:
        pytest.fail(f"the training process ended (rc {proc.returncode}) before it could be killed mid-run; "
                    f"make KILL_RUN longer. Output:\n{(tmp_path / 'killed.log').read_text()[-3000:]}")
    assert proc.returncode == -signal.SIGKILL
    assert not (run_dir / "status.json").exists(), "a killed run must not look finished"
    assert not (run_dir / "metrics.parquet").exists()
    done = ckpt_steps(plan, rid)
    assert done and 0 < max(done) < KILL_STEPS, f"expected a mid-run checkpoint, have {done}"
    resume_at = max(done)

    rerun = subprocess.run(_train_cmd(rid, cfg_killed), capture_output=True, text=True, timeout=180)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    status = read_json(run_dir / "status.json")
    assert status["status"] == "completed" and status["steps"] == KILL_STEPS
    assert status["origin"] == f"resumed from checkpoint {resume_at}"
    assert resume_at % KILL_EVERY == 0
    assert read_json(run_dir / "provenance.json")["origin"] == status["origin"]
    assert ckpt_steps(plan, rid) == [KILL_STEPS], "periodic checkpoints are pruned to the newest"

    ref_status = train_run(ref_plan, rid)  # uninterrupted, same spec, other results folder
    assert ref_status["origin"] == "initialized"
    got, want = metrics(plan, rid), metrics(ref_plan, rid)
    assert list(got.step) == list(range(KILL_STEPS + 1))
    assert_frame_equal(got, want, check_exact=True)
    assert_trees_equal(restore(plan, rid, KILL_STEPS), restore(ref_plan, rid, KILL_STEPS))


class Killed(BaseException):
    """Stands for a SIGKILL: nothing in train_run may catch it."""


SHORT_RUN = {**KILL_RUN, "steps": 600}


@pytest.fixture(scope="module")
def short_reference(tmp_path_factory) -> tuple[pd.DataFrame, dict]:
    """Metrics and final state of SHORT_RUN trained without interruption."""
    plan = load_plan(write_config(tmp_path_factory.mktemp("short_ref"), {"constant": SHORT_RUN}))
    rid = rid_of(plan, "constant")
    assert train_run(plan, rid)["origin"] == "initialized"
    return metrics(plan, rid), restore(plan, rid, 600)


@pytest.mark.parametrize("when", ["before", "after"])
@pytest.mark.parametrize("target", ["metrics_flush", "checkpoint_save"])
def test_kill_around_checkpoint_writes_loses_no_rows(tmp_path: Path, monkeypatch, short_reference, target: str,
                                                    when: str) -> None:
    """Deterministic stand-ins for a ``kill -9`` that lands between writing a checkpoint and
    writing its metrics partial file, in whichever order train_run writes them: the process
    dies right before or right after one of the two writes of the checkpoint at step 400."""
    plan = load_plan(write_config(tmp_path, {"constant": SHORT_RUN}))
    rid = rid_of(plan, "constant")

    cls, name = (metrics_mod.MetricsLog, "flush") if target == "metrics_flush" else (Checkpoints, "save")
    real = getattr(cls, name)

    def dying(self, step, *args):
        if step == 400 and when == "before":
            raise Killed
        out = real(self, step, *args)
        if step == 400:
            raise Killed
        return out

    monkeypatch.setattr(cls, name, dying)
    with pytest.raises(Killed):
        train_run(plan, rid)
    monkeypatch.setattr(cls, name, real)
    assert not (plan.run_dir(rid) / "status.json").exists()
    status = train_run(plan, rid)
    assert status["status"] == "completed"
    assert status["origin"] in ("resumed from checkpoint 200", "resumed from checkpoint 400")
    ref_metrics, ref_state = short_reference
    assert_frame_equal(metrics(plan, rid), ref_metrics, check_exact=True)
    assert_trees_equal(restore(plan, rid, 600), ref_state)


def test_kill_while_writing_leaves_half_files_that_resume_ignores(tmp_path: Path, monkeypatch, short_reference) -> None:
    """A kill inside the writes leaves Orbax's unfinished ``<step>.orbax-checkpoint-tmp`` folder
    and a ``upto-<step>.parquet.tmp`` file: neither counts, and the rerun overwrites them."""
    plan = load_plan(write_config(tmp_path, {"constant": SHORT_RUN}))
    rid = rid_of(plan, "constant")
    real = Checkpoints.save

    def dying(self, step, state):
        if step == 400:
            half = self.directory / "400.orbax-checkpoint-tmp"
            half.mkdir()
            (half / "garbage").write_text("half a checkpoint")
            (self.directory.parent / "metrics" / "upto-0000000400.parquet.tmp").write_text("half a parquet file")
            raise Killed
        return real(self, step, state)

    monkeypatch.setattr(Checkpoints, "save", dying)
    with pytest.raises(Killed):
        train_run(plan, rid)
    monkeypatch.setattr(Checkpoints, "save", real)
    assert ckpt_steps(plan, rid) == [200]
    status = train_run(plan, rid)
    assert status["origin"] == "resumed from checkpoint 200"
    assert_frame_equal(metrics(plan, rid), short_reference[0], check_exact=True)
    assert_trees_equal(restore(plan, rid, 600), short_reference[1])
    assert sorted(p.name for p in (plan.run_dir(rid) / "checkpoints").iterdir()) == ["600"]


def test_rerunning_a_completed_run_keeps_its_metrics(tmp_path: Path, short_reference) -> None:
    plan = load_plan(write_config(tmp_path, {"constant": SHORT_RUN}))
    rid = rid_of(plan, "constant")
    train_run(plan, rid)
    assert_frame_equal(metrics(plan, rid), short_reference[0], check_exact=True)
    status = train_run(plan, rid)
    assert status["status"] == "completed"
    assert status["origin"] == "resumed from checkpoint 600"
    assert_frame_equal(metrics(plan, rid), short_reference[0], check_exact=True)
    assert_trees_equal(restore(plan, rid, 600), short_reference[1])


# --- 2./3. WSD branches ---------------------------------------------------------------------------


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


@pytest.mark.parametrize("parent_state", ["no_checkpoint", "earlier_checkpoint", "never_trained"])
def test_branch_materializes_missing_parent_checkpoint(tmp_path: Path, wsd_reference: pd.DataFrame, parent_state: str) -> None:
    early = 100
    spec = {**WSD_PLAN, "checkpoint_steps": [early]} if parent_state == "earlier_checkpoint" else WSD_PLAN
    plan = load_plan(write_config(tmp_path, {"wsd": spec}))
    main, branch = rid_of(plan, "wsd"), rid_of(plan, "wsd_decay1")
    # checkpoint_steps is logging-only: the same runs as in the test above
    assert main == rid_of(load_plan(write_config(tmp_path / "plain", {"wsd": WSD_PLAN})), "wsd")

    if parent_state != "never_trained":
        train_run(plan, main)
        assert ckpt_steps(plan, main) == ([early, D] if parent_state == "earlier_checkpoint" else [D])
        ckpts = Checkpoints(plan.run_dir(main) / "checkpoints")
        ckpts.delete(D)
        ckpts.close()
        assert ckpt_steps(plan, main) == ([early] if parent_state == "earlier_checkpoint" else [])

    status = train_run(plan, branch)
    assert status["status"] == "completed"
    assert status["origin"] == f"branched from {main} at step {D}"
    assert D in ckpt_steps(plan, main), "the replayed branch point is kept for the next branch"
    got = metrics(plan, branch)
    assert_frame_equal(got, from_step(wsd_reference, D)[got.columns], check_exact=True)


# --- 4. divergence ------------------------------------------------------------------------------

#: eta * gamma = 5 > 2: the hill coordinate grows by a factor 4 in modulus every step
DIVERGING = {"model": qr(replicas=16, sigma=1.0), "schedule": {"name": "constant", "lr": 0.5}, "steps": 200,
             "checkpoint_every": 10, "progress": False}


def _bad(values: pd.Series, threshold: float | None) -> np.ndarray:
    v = values.to_numpy(np.float64)
    bad = ~np.isfinite(v)
    return bad | (v > threshold) if threshold is not None else bad


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
