"""A spec job loads only the papers it reads (``spec.jobs.job_papers``); the spec it writes must
be the one the whole plan resolves, byte for byte, or a figure would read a different run."""

from __future__ import annotations

import json

import pytest

from optdyn.spec.jobs import job_papers, job_spec
from optdyn.spec.load import load_plan


def _doc(plan, kind, key) -> str:
    return json.dumps(job_spec(plan, kind, key), sort_keys=True, default=str)


@pytest.mark.parametrize("tier", ["tiny", "smoke"])
def test_a_spec_job_reading_only_its_papers_writes_the_whole_plans_spec(tier):
    full = load_plan("config/config.yaml", tier=tier)
    partial = {}
    checked = 0
    for kind, keys in (("runs", full.runs), ("probes", full.probes), ("figures", full.figures), ("claims", full.figures)):
        for key in keys:
            papers = tuple(job_papers(full, kind, key))
            assert papers and set(papers) <= set(full.papers)
            if papers not in partial:
                partial[papers] = load_plan("config/config.yaml", tier=tier, papers=list(papers))
            assert _doc(partial[papers], kind, key) == _doc(full, kind, key), (kind, key, papers)
            checked += 1
    assert checked > 200


def test_datasets_and_the_report_read_every_paper():
    plan = load_plan("config/config.yaml", tier="tiny")
    assert job_papers(plan, "report", "tier") == list(plan.papers)
    assert job_papers(plan, "data", next(iter(plan.datasets))) == list(plan.papers)
    fig = next(iter(plan.figures.values()))
    assert job_papers(plan, "figures", f"{fig.paper}_{fig.key}") == [fig.paper]
