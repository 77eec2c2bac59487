"""A sweep of 12 through the real workflow: it expands, plans, trains on the ``tiny`` tier and
draws; editing one swept value reruns that member only."""

from __future__ import annotations

import json

import pytest
import yaml

from optdyn.spec.load import load_plan

from test_workflow import _copy_workflow, _job_stats, _planned_jobs, _snakemake  # noqa: E402  (sibling module)

pytestmark = pytest.mark.slow
KAPPAS = list(range(1, 13))


def _write_sweep(root, kappas):
    paper = root / "config" / "papers" / "ire.yaml"
    doc = yaml.safe_load(paper.read_text())
    runs = doc["figures"]["appA"]["runs"]
    for name in [n for n in runs if n != "sgd"]:
        del runs[name]
    runs["ire"] = {"extends": "label_noise_sgd", "optimizer": {"name": "ire", "kappa": 1, "gamma": 0.5, "base": {"name": "sgd"}},
                   "sweep": {"product": {"optimizer.kappa": kappas}}}
    doc["figures"]["appA"]["claims"] = doc["figures"]["appA"]["claims"][:1]
    doc["figures"]["appA"]["claims"][0]["paper"] = [1.0 + k for k in kappas]
    paper.write_text(yaml.safe_dump(doc, sort_keys=False, width=1000))


def test_sweep_of_12_builds_on_tiny_and_reruns_one_member(tmp_path):
    root = _copy_workflow(tmp_path / "proj")
    _write_sweep(root, KAPPAS)
    cfg = ["--config", "tier=tiny", "papers=[ire]"]
    _snakemake(root, "ire_appA", "-c2", *cfg, timeout=900)
    stem = root / "results" / "tiny" / "figures" / "ire" / "appA"
    values = json.loads((stem.parent / "appA.values.json").read_text())
    assert values["kappas"] == KAPPAS
    claims = json.loads((stem.parent / "appA.claims.json").read_text())
    assert claims[0]["id"] == "drift_one_plus_kappa"
    assert (stem.parent / "appA.png").stat().st_size > 0

    _write_sweep(root, KAPPAS[:-1] + [13])
    out = _snakemake(root, "ire_appA", "-n", "-c2", *cfg).stdout
    assert _job_stats(out).get("train") == 1
    trained = [wc["run_id"] for rule, wc in _planned_jobs(out) if rule == "train"]
    plan = load_plan(root / "config" / "config.yaml", tier="tiny", papers=["ire"])
    assert trained == [plan.figures["ire_appA"].runs["ire[kappa=13]"]]
