"""Late-decay Fig. 2 through the real workflow on the ``tiny`` tier: a main path, a sweep of
decay subpaths over the branch step and a PCA-landscape probe over all of them (the probe names
the sweep group). Adding a subpath in the YAML reruns only the new subpath, the probes and the
figure."""

from __future__ import annotations

import json

import pytest
import yaml

from optdyn.spec.load import load_plan

from test_workflow import _copy_workflow, _job_stats, _planned_jobs, _snakemake  # noqa: E402  (sibling module)

pytestmark = pytest.mark.slow
KEY = "figures.fig02.runs.sub.sweep.zip"


def _set_subpaths(root, branch_steps: list[int]) -> None:
    paper = root / "config" / "papers" / "latedecay.yaml"
    doc = yaml.safe_load(paper.read_text())
    tiny = doc["tiers"]["tiny"][KEY]["value"]
    after = tiny["steps"][0] - tiny["branch_from.step"][0]
    doc["tiers"]["tiny"][KEY]["value"] = {"branch_from.step": branch_steps, "steps": [b + after for b in branch_steps]}
    paper.write_text(yaml.safe_dump(doc, sort_keys=False, width=1000))


def test_adding_a_subpath_reruns_it_the_probe_and_the_figure(tmp_path):
    root = _copy_workflow(tmp_path / "proj")
    cfg = ["--config", "tier=tiny", "papers=[latedecay]"]
    _set_subpaths(root, [1000, 3000])
    _snakemake(root, "latedecay_fig02", "-c2", *cfg, timeout=900)
    values = json.loads((root / "results" / "tiny" / "figures" / "latedecay" / "fig02.values.json").read_text())
    assert values["end_branch_steps"] == [1000, 3000]

    _set_subpaths(root, [1000, 2000, 3000])
    out = _snakemake(root, "latedecay_fig02", "-n", "-c2", *cfg).stdout
    stats = _job_stats(out)
    # both PCA landscapes (the paper's and the one without the early transient) read every subpath
    assert stats.get("train") == 1 and stats.get("probe") == 2 and stats.get("figure") == 1, stats
    plan = load_plan(root / "config" / "config.yaml", tier="tiny", papers=["latedecay"])
    trained = [wc["run_id"] for rule, wc in _planned_jobs(out) if rule == "train"]
    new = [rid for name, rid in plan.figures["latedecay_fig02"].runs.items() if "step=2000" in name]
    assert trained == new
