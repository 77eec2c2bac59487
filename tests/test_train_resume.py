"""Training jobs: a kill -9 mid-run and the rerun give exactly an uninterrupted run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from optdyn.spec.jobs import write_job_spec
from optdyn.spec.load import load_plan
from optdyn.train import metrics as metrics_mod
from optdyn.train.checkpoint import Checkpoints
from optdyn.train.run import train_run

from train_helpers import (
    KILL_EVERY,
    KILL_STEPS,
    OPTDYN,
    SGD_M,
    assert_trees_equal,
    ckpt_steps,
    metrics,
    qr,
    read_json,
    restore,
    rid_of,
    write_config,
)


KILL_RUN = {
    "model": qr(replicas=64), "optimizer": SGD_M, "schedule": {"name": "constant", "lr": 0.02},
    "steps": KILL_STEPS, "seed": 5, "eval_every": 10, "checkpoint_every": KILL_EVERY, "progress": False,
}


def _train_cmd(rid: str, config: Path) -> list[str]:
    """The train job as the workflow runs it: its spec file, its run folder (resuming in place)."""
    plan = load_plan(config)
    spec = write_job_spec(plan, "runs", rid, plan.spec_path("runs", rid))
    cli = [str(OPTDYN)] if OPTDYN.exists() else [sys.executable, "-m", "optdyn.cli"]
    return [*cli, "train", str(spec), "--out", str(plan.run_dir(rid))]


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


@pytest.mark.slow  # > 1.5 s: kept out of the fast unit run (pytest -m 'not slow')
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


@pytest.mark.slow  # > 1.5 s: kept out of the fast unit run (pytest -m 'not slow')
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
