"""The shipped Slurm profile on a real Slurm cluster: a single node on this machine.

``scripts/local_slurm.sh up`` installs ``slurm-wlm`` + ``munge`` if missing (apt-get, root), writes
``/etc/slurm/slurm.conf`` (no accounting, no cgroups, one node sized from ``slurmd -C``, one default
partition) and starts munged, slurmctld and slurmd. The test then runs, in a temporary copy of the
workflow,

    snakemake --profile <repo>/workflow/profiles/slurm normsharp_fig03 --config tier=tiny

with the profile unmodified (the only extra flags shorten the first status poll and keep the Slurm
logs of successful jobs, so that they can be checked). ``normsharp_fig03`` is one of the cheapest
tiny figures that trains: one 400-step run, then the figure and its claims, i.e. three sbatch jobs
one after the other. The test skips, with the script's reason, where Slurm cannot be installed or
started (not root, no apt-get, no network for apt, daemons refused by the sandbox); set
``OPTDYN_REQUIRE_SLURM=1`` to make that a failure instead. A cluster the test started is stopped
again afterwards; one that was already up is left alone.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from test_workflow import _copy_workflow

REPO = Path(__file__).parents[1]
BIN = Path(sys.executable).parent
SCRIPT = REPO / "scripts" / "local_slurm.sh"
PROFILE = REPO / "workflow" / "profiles" / "slurm"
TARGET, PAPER, KEY = "normsharp_fig03", "normsharp", "fig03"
FIG_EXTS = ("png", "pdf", "csv", "values.json", "claims.json")
SUBMITTED = re.compile(r"Job \d+ has been submitted with SLURM jobid (\d+) \(log: (\S+)\)")


def _profile() -> dict:
    return yaml.safe_load((PROFILE / "config.yaml").read_text())


# ------------------------------------------------------------------ fast checks (no cluster needed)


def test_profile_needs_no_account_or_partition():
    prof = _profile()
    resources = prof["default-resources"]
    # an account or partition that does not exist makes every sbatch fail: the user sets them
    assert "slurm_account" not in resources and "slurm_partition" not in resources, resources
    text = (PROFILE / "config.yaml").read_text()
    assert re.search(r"^\s*#\s*slurm_account:", text, re.M), "no commented line showing where the account goes"
    assert re.search(r"^\s*#\s*slurm_partition:", text, re.M), "no commented line showing where the partition goes"
    # defaults small enough for an ordinary node (and for this machine's 2-core test node)
    assert resources["cpus_per_task"] <= 2 and resources["mem_mb"] <= 16000 and resources["runtime"] <= 24 * 60


def test_profile_polls_with_squeue_and_the_plugin_knows_the_setting():
    prof = _profile()
    assert prof["executor"] == "slurm"
    assert prof.get("slurm-status-command") == "squeue"
    if importlib.util.find_spec("snakemake_executor_plugin_slurm") is None:
        pytest.skip("snakemake-executor-plugin-slurm not installed (pip install -e '.[cluster]')")
    from snakemake_executor_plugin_slurm import ExecutorSettings

    fields = ExecutorSettings.__dataclass_fields__
    # profile keys are the CLI options: --slurm-<field with dashes>
    for key in prof:
        if key.startswith("slurm-"):
            assert key.removeprefix("slurm-").replace("-", "_") in fields, f"unknown plugin setting {key}"


def test_local_slurm_script_is_valid_bash():
    assert os.access(SCRIPT, os.X_OK), f"{SCRIPT} is not executable"
    subprocess.run(["bash", "-n", str(SCRIPT)], check=True)
    proc = subprocess.run([str(SCRIPT), "bogus"], capture_output=True, text=True)
    assert proc.returncode == 64 and "usage" in proc.stderr


# ------------------------------------------------------------------ the real cluster


@pytest.fixture(scope="module")
def local_slurm():
    if importlib.util.find_spec("snakemake_executor_plugin_slurm") is None:
        pytest.skip("snakemake-executor-plugin-slurm not installed (pip install -e '.[cluster]')")
    required = os.environ.get("OPTDYN_REQUIRE_SLURM") == "1"
    was_up = subprocess.run([str(SCRIPT), "status"], capture_output=True, text=True).returncode == 0
    t0 = time.perf_counter()
    proc = subprocess.run([str(SCRIPT), "up"], capture_output=True, text=True, timeout=900)
    print(proc.stdout + proc.stderr, end="")
    print(f"local Slurm up in {time.perf_counter() - t0:.1f}s")
    if proc.returncode in (2, 3, 4) and not required:
        reason = proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else f"rc={proc.returncode}"
        pytest.skip(f"no local Slurm: {reason}")
    assert proc.returncode == 0, f"scripts/local_slurm.sh up failed (rc={proc.returncode}):\n{proc.stdout}{proc.stderr}"
    yield
    if not was_up:
        down = subprocess.run([str(SCRIPT), "down"], capture_output=True, text=True)
        print(down.stdout + down.stderr, end="")


@pytest.mark.slow
def test_slurm_profile_builds_a_figure_through_sbatch(local_slurm, tmp_path):
    wd = _copy_workflow(tmp_path / "wf")
    env = dict(os.environ)
    # the jobs inherit this environment (sbatch --export=ALL): they must find optdyn and snakemake
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    exe = BIN / "snakemake"
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "snakemake"]
    args = [
        "--profile", str(PROFILE), TARGET, "--config", "tier=tiny",
        "--slurm-init-seconds-before-status-checks", "5",  # default 40 s before the first poll
        "--slurm-keep-successful-logs",
    ]
    t0 = time.perf_counter()
    proc = subprocess.run(
        [*cmd, *args], cwd=wd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=1200,
    )
    wall = time.perf_counter() - t0
    print(f"$ snakemake {' '.join(args)}  ->  rc={proc.returncode} in {wall:.1f}s")
    assert proc.returncode == 0, proc.stdout[-6000:]

    # the figure
    stem = wd / "results" / "tiny" / "figures" / PAPER / KEY
    for ext in FIG_EXTS:
        f = Path(f"{stem}.{ext}")
        assert f.is_file() and f.stat().st_size > 0, f"missing/empty: {f}"

    # every job of the figure went through sbatch, and Slurm ran it to completion
    submitted = SUBMITTED.findall(proc.stdout)
    rules = {log: re.search(r"/slurm_logs/rule_([^/]+)/", log).group(1) for _, log in submitted}
    assert sorted(rules.values()) == ["claims", "figure", "train"], (rules, proc.stdout[-4000:])
    for log, rule in rules.items():
        text = Path(log).read_text()  # the job's own Snakemake, run by slurmd on the node
        assert "--executor slurm-jobstep" in text, f"slurm log {log} is not a Snakemake job step"
        assert f"Finished jobid: 0 (Rule: {rule})" in text, text[-3000:]
    ids = ",".join(j for j, _ in submitted)
    states = subprocess.run(
        ["squeue", "--states=all", "--noheader", "--format=%i|%T", f"--jobs={ids}"],
        capture_output=True, text=True, check=True,
    ).stdout.split()
    assert sorted(states) == sorted(f"{j}|COMPLETED" for j, _ in submitted), states
    print(f"Slurm jobs {ids}: {TARGET} built through Slurm in {wall:.1f}s")
