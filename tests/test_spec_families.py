"""Spec v2: sweeps, seed replicates, budget percentages, preset chains, merging tier overrides
and expected values computed from the config, each on a copy of the real config."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from optdyn.spec.errors import SpecError
from optdyn.spec.expand import member_name, percent_of
from optdyn.spec.expr import evaluate
from optdyn.spec.load import load_plan

ROOT = Path(__file__).resolve().parents[1]
SWEEP_12 = {"product": {"optimizer.kappa": [1, 2, 3, 4], "optimizer.gamma": [0.3, 0.5, 0.7]}}


@pytest.fixture
def cfg(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "config", tmp_path / "config")
    config = tmp_path / "config" / "config.yaml"
    raw = yaml.safe_load(config.read_text())
    raw.update(results=str(tmp_path / "results_out"), papers=["ire", "wsd"])
    config.write_text(yaml.safe_dump(raw))
    return config


def edit(config: Path, paper: str, fn) -> None:
    path = config.parent / "papers" / f"{paper}.yaml"
    doc = yaml.safe_load(path.read_text())
    fn(doc)
    path.write_text(yaml.safe_dump(doc, sort_keys=False, width=1000))


def appa_sweep(doc: dict, sweep: dict = SWEEP_12) -> None:
    runs = doc["figures"]["appA"]["runs"]
    del runs["ire_k1"], runs["ire_k4"]
    runs["ire"] = {"extends": "label_noise_sgd", "optimizer": {"name": "ire", "kappa": 1, "gamma": 0.5, "base": {"name": "sgd"}},
                   "sweep": sweep}
    doc["figures"]["appA"]["claims"][0]["paper"] = [2.0, 5.0]  # its expressions name ire_k1 / ire_k4


def error(config: Path, tier: str = "tiny") -> str:
    with pytest.raises(SpecError) as exc:
        load_plan(config, tier=tier)
    msg = str(exc.value)
    assert "\n" not in msg
    return msg


# --- sweeps ---------------------------------------------------------------------------------


def test_product_sweep_of_12_expands_into_named_content_addressed_members(cfg):
    edit(cfg, "ire", appa_sweep)
    fig = load_plan(cfg, tier="tiny").figures["ire_appA"]
    members = fig.groups["ire"]
    assert len(members) == 12
    assert [m["name"] for m in members[:2]] == ["ire[kappa=1,gamma=0.3]", "ire[kappa=1,gamma=0.5]"]
    assert members[5]["values"] == {"optimizer.kappa": 2, "optimizer.gamma": 0.7}
    assert len({fig.runs[m["name"]] for m in members}) == 12
    assert "sgd" in fig.runs and "ire" not in fig.runs


def test_sweep_member_is_the_run_written_out(cfg):
    """A member has the id of the same run written by hand, so sweeps reuse existing results."""
    written = load_plan(cfg, tier="tiny").figures["ire_appA"].runs["ire_k4"]
    edit(cfg, "ire", lambda d: appa_sweep(d, {"product": {"optimizer.kappa": [1, 4]}}))
    fig = load_plan(cfg, tier="tiny").figures["ire_appA"]
    assert fig.runs["ire[kappa=4]"] == written


def test_editing_one_swept_value_changes_only_that_member(cfg):
    edit(cfg, "ire", appa_sweep)
    before = load_plan(cfg, tier="tiny").figures["ire_appA"].runs
    edit(cfg, "ire", lambda d: d["figures"]["appA"]["runs"]["ire"]["sweep"]["product"].update({"optimizer.kappa": [1, 2, 3, 5]}))
    after = load_plan(cfg, tier="tiny").figures["ire_appA"].runs
    changed = {n for n in before if before[n] != after.get(n)}
    assert changed == {f"ire[kappa=4,gamma={g}]" for g in (0.3, 0.5, 0.7)}
    assert all(before[n] == after[n] for n in before if n not in changed)


def test_zip_sweep_pairs_values_and_crosses_with_product(cfg):
    sweep = {"zip": {"optimizer.kappa": [1, 4], "optimizer.gamma": [0.5, 0.9]}, "product": {"seed": [0, 1]}}
    edit(cfg, "ire", lambda d: appa_sweep(d, sweep))
    names = [m["name"] for m in load_plan(cfg, tier="tiny").figures["ire_appA"].groups["ire"]]
    assert names == ["ire[seed=0,kappa=1,gamma=0.5]", "ire[seed=0,kappa=4,gamma=0.9]",
                     "ire[seed=1,kappa=1,gamma=0.5]", "ire[seed=1,kappa=4,gamma=0.9]"]


def test_run_level_seeds_are_a_seed_axis(cfg):
    edit(cfg, "ire", lambda d: d["figures"]["appA"]["runs"]["sgd"].update(seeds=[0, 1, 2]))
    fig = load_plan(cfg, tier="tiny").figures["ire_appA"]
    assert [m["name"] for m in fig.groups["sgd"]] == ["sgd[seed=0]", "sgd[seed=1]", "sgd[seed=2]"]
    assert len({fig.runs[m["name"]] for m in fig.groups["sgd"]}) == 3


def test_figure_seeds_replicate_runs_probes_and_branches(cfg):
    """WSD Sec. 4 replicates its fine-tunes over three seeds; the pretrained parent is shared."""
    plan = load_plan(cfg, tier="tiny")
    fig = plan.figures["wsd_sec4"]
    assert fig.seeds == [0, 1, 2]
    assert sorted(fig.groups) == ["decay", "stable"] and "pretrained" in fig.runs
    for s in (0, 1, 2):
        run = plan.runs[fig.runs[f"stable[seed={s}]"]]
        assert run.spec.seed == s
        assert run.parent == fig.runs["pretrained"]
        probe = plan.probes[fig.probes[f"stable[seed={s}]"]]
        assert probe.run_ids == {f"stable[seed={s}]": fig.runs[f"stable[seed={s}]"]}


def test_replicating_the_parent_too(cfg):
    edit(cfg, "wsd", lambda d: d["figures"]["sec4"]["runs"]["pretrained"].pop("replicate"))
    plan = load_plan(cfg, tier="tiny")
    fig = plan.figures["wsd_sec4"]
    assert plan.runs[fig.runs["decay[seed=2]"]].parent == fig.runs["pretrained[seed=2]"]


def test_replicate_false_without_figure_seeds_is_refused(cfg):
    edit(cfg, "wsd", lambda d: d["figures"]["sec4"].pop("seeds"))
    assert "figures.sec4.runs.pretrained.replicate: got false; only a figure with `seeds:`" in error(cfg)


@pytest.mark.parametrize("sweep, where, expected", [
    ({"zip": {"optimizer.kappa": [1, 2], "optimizer.gamma": [0.5]}}, "runs.ire.sweep.zip", "one length"),
    ({"product": {"optimizer.kappa": []}}, "runs.ire.sweep.product.optimizer.kappa", "non-empty list"),
    ({"product": {"optimizer.kappa": 3}}, "runs.ire.sweep.product.optimizer.kappa", "non-empty list"),
    ({"grid": {"optimizer.kappa": [1]}}, "runs.ire.sweep", "'product' and/or 'zip'"),
    ({"product": {"optimizer.kappa": [1, 1]}}, "runs.ire.sweep", "appears twice"),
    ({"product": {"optimizer.kappa": [1, -2]}}, "runs.ire[kappa=-2].optimizer", ""),
    ({"product": {"optimizer.kapa": [1, 2]}}, "runs.ire[kapa=1].optimizer", "unknown key"),
    ({"product": {"schedule.lr.x": [1]}}, "runs.ire.sweep (schedule.lr.x)", "not a mapping"),
])
def test_sweep_errors_name_the_sweep_and_the_member(cfg, sweep, where, expected):
    edit(cfg, "ire", lambda d: appa_sweep(d, sweep))
    msg = error(cfg)
    assert f"figures.appA.{where}" in msg and expected in msg


def test_member_name_taken_by_another_run_is_refused(cfg):
    def clash(d):
        appa_sweep(d, {"product": {"optimizer.kappa": [1, 4]}})
        d["figures"]["appA"]["runs"]["ire[kappa=4]"] = dict(d["figures"]["appA"]["runs"]["sgd"])
    edit(cfg, "ire", clash)
    assert "taken by a member of sweep 'ire'" in error(cfg)


def test_member_names():
    assert member_name("r", {"optimizer.lr": 0.1, "seed": 2}) == "r[lr=0.1,seed=2]"
    assert member_name("r", {"a.lr": 1e-3, "b.lr": 2}) == "r[a.lr=0.001,b.lr=2]"


# --- budgets as percentages -----------------------------------------------------------------


def test_percent_of_budget_is_exact():
    assert percent_of("80%", 1500) == 1200
    assert percent_of("12.5%", 1000) == 125
    assert percent_of("7%", 10) == 1  # 0.7 rounds half-up to 1


def test_percent_steps_equal_the_steps_written_out(cfg):
    before = load_plan(cfg, tier="tiny").figures["wsd_sec4"].runs

    def pct(d):
        runs = d["tiers"]["tiny"]["figures.sec4.runs"]["value"]
        runs["stable"].update(budget=420, steps="100%")
        runs["decay"].update(budget=420, steps="100%")
        runs["decay"]["schedule"]["decays"] = [["4.7619047619047619%", "100%"]]
    edit(cfg, "wsd", pct)
    assert load_plan(cfg, tier="tiny").figures["wsd_sec4"].runs == before


def test_percent_without_budget_is_refused(cfg):
    edit(cfg, "wsd", lambda d: d["tiers"]["tiny"]["figures.sec4.runs"]["value"]["stable"].update(steps="50%"))
    msg = error(cfg)
    assert "figures.sec4.runs.stable[seed=0].steps" in msg and "budget" in msg


# --- presets and tier overrides -------------------------------------------------------------


def test_presets_extend_presets(cfg):
    before = load_plan(cfg, tier="tiny").figures["ire_appA"].runs

    def chain(d):
        base = d["presets"]["label_noise_sgd"]
        d["presets"]["label_noise_base"] = {k: v for k, v in base.items() if k != "schedule"}
        d["presets"]["label_noise_sgd"] = {"extends": "label_noise_base", "schedule": base["schedule"]}
    edit(cfg, "ire", chain)
    assert load_plan(cfg, tier="tiny").figures["ire_appA"].runs == before


def test_preset_cycle_is_refused(cfg):
    def cycle(d):
        d["presets"]["label_noise_sgd"]["extends"] = "standard_sam_toy"
        d["presets"]["standard_sam_toy"]["extends"] = "label_noise_sgd"
    edit(cfg, "ire", cycle)
    assert "cycle" in error(cfg)


def test_override_mapping_merges_and_null_removes(cfg):
    plan = load_plan(cfg, tier="tiny")
    sgd = plan.runs[plan.figures["ire_appA"].runs["sgd"]].spec

    def over(d):
        d["tiers"]["tiny"]["figures.appA.runs.sgd"] = {"value": {"schedule": {"lr": 0.05}, "divergence_threshold": None},
                                                       "reason": "test: a merged override"}
    edit(cfg, "ire", over)
    plan = load_plan(cfg, tier="tiny")
    merged = plan.runs[plan.figures["ire_appA"].runs["sgd"]].spec
    assert merged.schedule.lr == 0.05 and merged.model == sgd.model and merged.steps == sgd.steps
    assert merged.divergence_threshold is None


def test_conflicting_overrides_are_refused(cfg):
    def over(d):
        t = d["tiers"]["tiny"]
        t["figures.appA.runs.sgd.steps"] = {"value": 10, "reason": "one"}
        t["figures.appA.runs.*.steps"] = {"value": 20, "reason": "two"}
    edit(cfg, "ire", over)
    msg = error(cfg)
    assert "tiers.tiny.figures.appA.runs.*.steps" in msg and "conflicts with the override 'figures.appA.runs.sgd.steps'" in msg


def test_override_of_a_missing_path_is_named_as_written(cfg):
    edit(cfg, "ire", lambda d: d["tiers"]["tiny"].update({"figures.appZ.runs.sgd.steps": {"value": 1, "reason": "typo"}}))
    assert "tiers.tiny.figures.appZ.runs.sgd.steps: got 'appZ'; no key 'appZ'" in error(cfg)


# --- expected values from the config --------------------------------------------------------


def test_expected_ratio_follows_the_learning_rate(cfg):
    claims = {c.id: c for c in load_plan(cfg, tier="smoke").figures["wsd_fig03"].spec.claims}
    assert claims["sgd_larger_lr_faster"].paper == pytest.approx(4.0)
    assert claims["sgd_larger_lr_oscillates_more"].paper == pytest.approx(2.0)
    assert claims["sgd_larger_lr_faster"].expected_from == {"paper": "runs.sgd_large.schedule.lr / runs.sgd_small.schedule.lr"}
    edit(cfg, "wsd", lambda d: d["figures"]["fig03"]["runs"]["sgd_large"]["schedule"].update(lr=0.25))
    claims = {c.id: c for c in load_plan(cfg, tier="smoke").figures["wsd_fig03"].spec.claims}
    assert claims["sgd_larger_lr_faster"].paper == pytest.approx(5.0)
    assert claims["sgd_larger_lr_oscillates_more"].paper == pytest.approx(5.0 ** 0.5)


def test_check_bound_from_an_expression(cfg):
    def bound(d):
        d["figures"]["fig03"]["claims"][2]["check"] = {"at_most": {"expr": "runs.gd.schedule.lr / 6"}}
    edit(cfg, "wsd", bound)
    claim = load_plan(cfg, tier="smoke").figures["wsd_fig03"].spec.claims[2]
    assert claim.check.at_most == pytest.approx(0.1) and claim.expected_from == {"at_most": "runs.gd.schedule.lr / 6"}


@pytest.mark.parametrize("text, expected", [
    ("__import__('os').system('touch PWNED')", "the only functions"),
    ("runs.gd.schedule.lr.__class__", "no '__class__'"),
    ("runs.nope.schedule.lr", "no 'nope' in runs"),
    ("lr * 2", "unknown name 'lr'"),
    ("(lambda: 1)()", "the only functions"),
    ("[1, 2][0]", "dotted names only"),
    ("runs.gd.schedule.lr if 1 else 2", "dotted names only"),
    ("1 / 0", "division by zero"),
    ("2 ** 1000", "exponents above 64"),
    ("runs.gd.schedule", "not a number"),
    ("'a' + 1", "not a number"),
    ("1 +", "an arithmetic expression"),
    ("1" * 600, "at most 500 characters"),
])
def test_unsafe_or_wrong_expressions_are_refused(cfg, text, expected):
    edit(cfg, "wsd", lambda d: d["figures"]["fig03"]["claims"][1].update(paper={"expr": text}))
    msg = error(cfg, "smoke")
    assert "figures.fig03.claims[1].paper" in msg and expected in msg
    assert not (cfg.parent.parent / "PWNED").exists() and not Path("PWNED").exists()


def test_evaluate_reads_bracketed_member_names():
    names = {"runs": {"a[seed=1]": {"schedule": {"lr": 0.5}}}}
    assert evaluate('2 / runs["a[seed=1]"].schedule.lr', names) == 4.0
    assert evaluate("max(1, sqrt(16)) - -1", {}) == 5.0


def test_a_list_of_expected_values_follows_the_config(cfg):
    claim = load_plan(cfg, tier="tiny").figures["ire_appA"].spec.claims[0]
    assert claim.paper == [2, 5]
    edit(cfg, "ire", lambda d: d["figures"]["appA"]["runs"]["ire_k4"]["optimizer"].update(kappa=9))
    assert load_plan(cfg, tier="tiny").figures["ire_appA"].spec.claims[0].paper == [2, 10]
