"""Labels tell the truth: a scaled-down tier names what it ran and the paper's setting only as what
that stands in for. Captions and titles are checked for every figure of the smoke tier."""

from __future__ import annotations

import re

import pytest

from optdyn.spec.jobs import job_spec
from optdyn.spec.load import load_plan
from optdyn.spec.setting import describe_model, setting_summary

#: names of the papers' models and datasets that no toy run may wear as its own
PAPER_SCALE = re.compile(r"\b(0\.[1-6]5?B|1\.2B|124M|60M|229M|the Pile|Pile|DCLM|OpenWebText|OWT|CIFAR-?10(?:0)?|SST-2|"
                         r"ImageNet|VGG(?:-?11)?|ResNet-?(?:18|20|50|56)|WideResNet|ViT|wikitext|MiniPile)\b", re.I)
#: a sentence may name them where it says whose setting it is
ATTRIBUTED = re.compile(r"stands? in for|stand-in|the paper|paper's|paper tier|\(paper\)|in the paper", re.I)


@pytest.fixture(scope="module")
def smoke():
    return load_plan("config/config.yaml", tier="smoke")


def sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?])\s+(?=[A-Z(])|\n", text) if s.strip()]


def unattributed(text: str) -> list[str]:
    return [s for s in sentences(text) if PAPER_SCALE.search(s) and not ATTRIBUTED.search(s)]


def test_every_smoke_caption_and_title_attributes_paper_scale_names(smoke):
    report = job_spec(smoke, "report", "tier")
    bad = {}
    for target, fig in report["figures"].items():
        setting = fig["setting"]
        if not any(s["paper"] for s in smoke.figures[target].settings.values()):
            continue  # nothing stands in for the paper here (e.g. architecture tables built at its size)
        rendered = [fig["title"], fig["caption"], *setting["lines"]]
        found = [s for text in rendered for s in unattributed(text)]
        if found:
            bad[target] = found
    assert not bad, "\n".join(f"{t}: {s}" for t, ss in bad.items() for s in ss)


def test_what_ran_and_what_it_stands_in_for(smoke):
    s = smoke.figures["wsd_fig10"].settings["wsd_100m[seed=1]"]
    assert s["ran"]["model"] == "LLaMA d=32, 2 layers" and s["ran"]["data"].startswith("synthetic Markov language")
    assert s["paper"]["model"] == "LLaMA 0.1B (d=768, 12 layers)" and s["paper"]["data"] == "the Pile"
    fig11 = smoke.figures["wsd_fig11"].settings
    assert fig11["wsd_600m"]["paper"]["model"].startswith("LLaMA 0.6B") and fig11["wsd_600m"]["paper"]["data"] == "DCLM-baseline"
    assert fig11["wsd_600m"]["ran"]["model"] == "LLaMA d=64, 2 layers"


def test_the_paper_tier_stands_in_for_nothing():
    plan = load_plan("config/config.yaml", tier="paper")
    assert all(s["paper"] is None for f in plan.figures.values() for s in f.settings.values())
    assert "0.1B" in plan.figures["wsd_fig10"].settings["wsd_100m"]["ran"]["model"]


def test_summary_groups_runs_and_ranges_steps():
    ran = {"model": "M", "data": "D", "steps": 10}
    summary = setting_summary({"a[seed=0]": {"ran": ran, "paper": {"model": "P", "data": "Q", "steps": 100}},
                               "a[seed=1]": {"ran": {**ran, "steps": 30}, "paper": {"model": "P", "data": "Q", "steps": 300}}})
    assert summary["lines"] == ["a[...]: M on D, 10-30 steps; stands in for P on Q, 100-300 steps"]


def test_describe_model_names_paper_sizes_only_at_their_shapes():
    assert describe_model({"name": "llama", "hidden": 768, "layers": 12}) == "LLaMA 0.1B (d=768, 12 layers)"
    assert describe_model({"name": "llama", "hidden": 32, "layers": 2}) == "LLaMA d=32, 2 layers"


def test_config_line_points_at_the_figure_block(smoke):
    entry = job_spec(smoke, "report", "tier")["figures"]["wsd_fig10"]["config"]
    lines = open(entry["file"], encoding="utf-8").read().splitlines()
    assert lines[entry["line"] - 1].strip() == "fig10:"


@pytest.mark.slow
def test_param_count_is_the_built_networks(smoke, tmp_path):
    from optdyn.data.prepare import prepare
    from optdyn.figures.labels import param_count
    from optdyn.models.lm.config import LMConfig, llama_param_count

    run = smoke.runs[smoke.figures["wsd_fig10"].runs["wsd_100m[seed=0]"]]
    prepare(run.spec.data.dataset, run.dataset["kind"], run.dataset["params"], tmp_path)  # a fresh checkout has no data yet
    got = param_count(run.spec.model_dump_json(), str(tmp_path))
    assert got == llama_param_count(LMConfig.from_spec(run.spec.model, vocab_size=128))


def test_coverage_lists_all_63_targets_and_every_planned_one(smoke):
    from optdyn.report.coverage import COVERAGE, rows

    assert sum(len(v) for v in COVERAGE.values()) == 63
    keys = [(p, e["key"]) for p, es in COVERAGE.items() for e in es]
    assert len(set(keys)) == 63
    assert set(smoke.figures) <= {f"{p}_{k}" for p, k in keys}, "a planned target is missing from the coverage list"
    table = rows(set(smoke.figures))
    assert all(r["reason"] for r in table if not r["built"])
    assert sum(r["built"] for r in table) == len(smoke.figures)
