"""Snakemake wiring of a probe across runs: its job waits for every run it reads (dry runs of a
temporary copy of the workflow, a few seconds)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from test_probe_landscape import FIG, point, with_probes

from optdyn.spec.load import load_plan

REPO = Path(__file__).parents[1]
BIN = Path(sys.executable).parent
PROBE = {"kind": "interpolation", "start": point("main", 10), "end": point("other", 20)}


pytestmark = pytest.mark.slow  # real snakemake dry runs

def _dry_run(wd: Path, target: str) -> str:
    exe = BIN / "snakemake"
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "snakemake"]
    proc = subprocess.run([*cmd, "-n", "-c1", target], check=False, cwd=wd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-4000:]
    return proc.stdout


def _jobs(out: str) -> dict[str, list[dict[str, str]]]:
    """rule -> the (input, wildcards) lines of each job a dry run lists."""
    jobs: dict[str, list[dict[str, str]]] = {}
    for m in re.finditer(r"^rule (\S+):[ \t]*$((?:\n[ \t]+\S.*)*)", out, re.MULTILINE):
        fields = dict(re.findall(r"^\s+(input|wildcards): (.*)$", m.group(2), re.MULTILINE))
        jobs.setdefault(m.group(1), []).append(fields)
    return jobs


def test_a_probe_across_two_runs_waits_for_both(tmp_path: Path) -> None:
    shutil.copy2(REPO / "Snakefile", tmp_path / "Snakefile")
    shutil.copytree(REPO / "workflow", tmp_path / "workflow", ignore=shutil.ignore_patterns("__pycache__"))
    plan = load_plan(with_probes(tmp_path, {"two": PROBE}))
    fig = plan.figures[FIG]
    pid, main, other = fig.probes["two"], fig.runs["main"], fig.runs["other"]
    status = {rid: plan.run_dir(rid) / "status.json" for rid in (main, other)}

    jobs = _jobs(_dry_run(tmp_path, str(plan.probe_path(pid))))
    assert sorted(j["wildcards"] for j in jobs["train"]) == sorted(f"run_id={rid}" for rid in (main, other))
    (probe,) = jobs["probe"]
    inputs = probe["input"].split(", ")
    run_files = [Path(p) for p in inputs if "/runs/" in p]
    assert {p.parent.name for p in run_files} == {main, other}, inputs
    for rid in (main, other):  # what the probe reads of each run, checkpoints included
        assert {p.name for p in run_files if p.parent.name == rid} == {"status.json", "spec.json", "metrics.parquet", "checkpoints"}
    assert str(plan.spec_path("probes", pid)) in inputs

    # one run finished: the probe still waits for the other one's train job
    run_dir = status[main].parent
    (run_dir / "checkpoints").mkdir(parents=True)
    for name in ("spec.json", "metrics.parquet", "provenance.json"):
        (run_dir / name).write_text("{}")
    status[main].write_text('{"status": "completed"}')
    jobs = _jobs(_dry_run(tmp_path, str(plan.probe_path(pid))))
    assert [j["wildcards"] for j in jobs["train"]] == [f"run_id={other}"] and len(jobs["probe"]) == 1
