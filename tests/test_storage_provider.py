"""Jobs read and write only the paths their rule hands them: proven with a storage provider and
no shared filesystem (how the Kubernetes profile runs), on a tiny figure that uses every kind of
declared file: a prepared dataset folder, a run's folder with its checkpoints, a probe that reads
them, a figure and its claims.

Snakemake stages each job's inputs from the storage into a local folder, rewrites the job's
paths to that folder and uploads its outputs; a job that read or wrote anything else would fail
(``MissingOutputException``) or miss its inputs.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

from test_workflow import _copy_workflow, _snakemake

pytestmark = pytest.mark.slow

TARGET, PAPER, FIG = "selfstab_fig05", "selfstab", "fig05"


def _rsync() -> str | None:
    """The fs storage plugin copies with rsync; install it where we may (CI runs as root)."""
    if shutil.which("rsync"):
        return None
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        return "rsync is missing and cannot be installed here (apt-get as root)"
    for cmd in (["apt-get", "install", "-y", "-q", "rsync"], ["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", "rsync"]):
        subprocess.run(cmd, capture_output=True, timeout=600)
        if shutil.which("rsync"):
            return None
    return "rsync could not be installed (apt-get install rsync failed)"


def test_a_figure_builds_through_a_storage_provider_without_a_shared_filesystem(tmp_path):
    why = _rsync()
    if why:
        pytest.skip(why)
    wd, storage = _copy_workflow(tmp_path / "wf"), tmp_path / "storage"
    storage.mkdir()
    out = _snakemake(wd, "-c2", TARGET, "--config", "tier=tiny", "--default-storage-provider", "fs",
                     "--default-storage-prefix", str(storage), "--shared-fs-usage", "none", timeout=900).stdout
    assert "MissingOutputException" not in out
    tier = storage / "results" / "tiny"
    for ext in ("png", "pdf", "csv", "values.json", "claims.json"):
        assert (tier / "figures" / PAPER / f"{FIG}.{ext}").is_file(), ext
    (run,) = (tier / "runs").iterdir()
    assert {p.name for p in run.iterdir()} >= {"status.json", "spec.json", "metrics.parquet", "provenance.json", "checkpoints"}
    assert any(p.name.isdigit() for p in (run / "checkpoints").iterdir()), "the checkpoints were not uploaded"
    assert json.loads((run / "status.json").read_text())["status"] == "completed"
    assert len(list((tier / "probes").glob("*.parquet"))) == 1
    assert (storage / "resources" / "data").is_dir(), "the prepared dataset was not uploaded"
    # nothing but scratch (the resumable work folders) and the compilation cache is left locally
    local = wd / "results"
    kept = {p.relative_to(local).parts[:3] for p in local.rglob("*") if p.is_file()} if local.exists() else set()
    assert all(parts[:1] == (".jax-cache",) or parts[1:2] == ("work",) for parts in kept), sorted(kept)
    assert not (wd / "resources").exists() or not any((wd / "resources").rglob("manifest.json"))
