"""After a kill: Snakemake killed mid-training leaves its lock and incomplete markers; the
README's instruction (``--unlock``, then ``--rerun-incomplete``) resumes the build."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from optdyn.spec.load import load_plan
from test_workflow import BIN, FIG_EXTS, TIER, _copy_workflow, _env, _job_stats, _snakemake  # noqa: E402

pytestmark = pytest.mark.slow


KILL_TARGET = "normsharp_fig03"  # one small training run (the 3-D toy), no probes


def test_killed_snakemake_resumes_after_unlock(tmp_path):
    """SIGKILL to snakemake's whole process group mid-training (as a closed terminal or an OOM
    kill would): the lock and the incomplete markers stay, so a plain rerun refuses (incomplete
    files first, then the lock); ``--unlock``, then a rerun with ``--rerun-incomplete`` finishes."""
    wd = _copy_workflow(tmp_path / "wf")
    plan = load_plan(wd / "config" / "config.yaml", tier=TIER, papers=["normsharp"])
    (rid,) = plan.figures[KILL_TARGET].runs.values()
    work, run_dir = wd / "results" / TIER / "work" / "runs" / rid, wd / plan.run_dir(rid)
    exe = BIN / "snakemake"
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "snakemake"]
    config = ["--config", f"tier={TIER}", 'papers=["normsharp"]']  # the one paper's config file only
    args = ["-c1", KILL_TARGET, *config]
    log = (tmp_path / "killed.log").open("w")
    proc = subprocess.Popen([*cmd, *args], cwd=wd, env=_env(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline, killed = time.time() + 300, False
    try:
        while time.time() < deadline and proc.poll() is None:
            if work.is_dir() and not (run_dir / "status.json").exists():  # the train job has started
                os.killpg(proc.pid, signal.SIGKILL)
                killed = True
                break
            time.sleep(0.05)
    finally:
        if proc.poll() is None and not killed:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
        log.close()
    assert killed, f"snakemake ended (rc {proc.returncode}) before its train job started:\n{(tmp_path / 'killed.log').read_text()[-3000:]}"
    assert not (run_dir / "status.json").exists(), "a killed run must not look finished"

    plain = _snakemake(wd, *args, check=False)
    assert plain.returncode != 0 and "--rerun-incomplete" in plain.stdout, plain.stdout[-3000:]
    locked = _snakemake(wd, *args, "--rerun-incomplete", check=False)
    assert locked.returncode != 0 and "Directory cannot be locked" in locked.stdout, locked.stdout[-3000:]
    _snakemake(wd, "--unlock", *config)
    out = _snakemake(wd, "-c1", KILL_TARGET, "--rerun-incomplete", *config).stdout
    assert "train" in _job_stats(out), out[-3000:]
    assert json.loads((run_dir / "status.json").read_text())["status"] == "completed"
    stem = wd / "results" / TIER / "figures" / "normsharp" / "fig03"
    for ext in FIG_EXTS:
        assert Path(f"{stem}.{ext}").is_file(), ext
