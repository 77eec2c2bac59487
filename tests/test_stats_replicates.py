"""Seed replicates: the t-interval against its closed form, the summaries claims read, and
the confidence-interval checks."""

from __future__ import annotations

import math

import numpy as np
import pytest

from optdyn.claims import evaluate
from optdyn.figures.replicates import summarize_values
from optdyn.spec.paper import ClaimSpec
from optdyn.stats import summarize, t_interval


def test_t_interval_matches_the_closed_form_for_three_seeds():
    x = [1.0, 2.0, 4.0]
    mean, sd = np.mean(x), np.std(x, ddof=1)
    # two degrees of freedom have a closed-form quantile: t = sqrt(2 / (a (2 - a)) - 2), a = 0.05
    half = math.sqrt(2 / (0.05 * 1.95) - 2) * sd / math.sqrt(3)
    lo, hi = t_interval(x)
    assert lo == pytest.approx(mean - half, rel=1e-12) and hi == pytest.approx(mean + half, rel=1e-12)


def test_one_seed_is_its_own_interval_and_a_diverged_seed_voids_the_summary():
    assert t_interval([3.0]) == (3.0, 3.0)
    s = summarize([1.0, float("nan"), 2.0])
    assert s["n"] == 3 and s["n_finite"] == 2 and math.isnan(s["mean"]) and all(math.isnan(v) for v in s["ci95"])
    assert summarize([1.0, 2.0, 3.0])["ci_method"] == "t"


def test_summarize_values_by_type():
    per_seed = [{"x": 1.0, "ok": True, "curve": [1.0, 2.0], "name": "a", "x__note": ""},
                {"x": 3.0, "ok": False, "curve": [3.0, 4.0], "name": "b", "x__note": "odd"}]
    out = summarize_values(per_seed, [0, 1])
    assert out["x"] == 2.0 and out["x__summary"]["n"] == 2 and out["x__seeds"] == [1.0, 3.0]
    assert out["ok"] is False and out["ok__note"] == "holds for 1 of 2 seeds"
    assert out["curve"] == [2.0, 3.0] and out["name"] == "a" and out["x__note"] == "seed 1: odd"


def claim(check: dict, paper=None) -> ClaimSpec:
    return ClaimSpec(id="c", statement="s", source="src", metric="m", paper=paper, check=check)


@pytest.mark.parametrize("check, values, passed", [
    ({"ci_above": 0.0}, [1.0, 1.2, 0.9], True),
    ({"ci_above": 0.0}, [1.0, -1.2, 0.9], False),  # the mean is above 0, its interval is not
    ({"ci_below": 2.0}, [1.0, 1.2, 0.9], True),
    ({"at_least": 0.0}, [1.0, -1.2, 0.9], True),  # a bound on the mean
    ({"ci_above": 0.0}, [1.0, float("nan"), 0.9], False),
])
def test_claims_on_aggregates(check, values, passed):
    agg = summarize_values([{"m": v} for v in values], [0, 1, 2])
    row = evaluate([claim(check)], agg)[0]
    assert row["passed"] is passed
    assert row["n"] == 3 and row["ci_method"] == "t" and len(row["ci95"]) == 2 and row["per_seed"] == values


def test_ci_check_without_replicates_fails_with_the_reason():
    row = evaluate([claim({"ci_above": 0.0})], {"m": 1.0})[0]
    assert row["passed"] is False and "seed replicates" in row["note"]


def test_report_shows_n_the_interval_and_the_expression_beside_the_verdict():
    from optdyn.report.html import _claims_table

    agg = summarize_values([{"m": v} for v in (1.0, 1.2, 0.9)], [0, 1, 2])
    row = evaluate([claim({"ci_above": 0.0})], agg)[0]
    row["expected_from"] = {"paper": "runs.a.schedule.lr / 2"}
    html = _claims_table([row])
    assert "mean of n = 3 seeds; 95% t-CI [" in html and "runs.a.schedule.lr / 2" in html


def test_a_known_failure_stays_a_failure_with_its_reason():
    c = ClaimSpec(id="c", statement="s", source="src", metric="m", check={"at_least": 1.0}, known_failure={"smoke": "too small"})
    row = evaluate([c], {"m": 0.5})[0]
    assert row["passed"] is False and row["note"] == "expected at this tier: too small"
    assert evaluate([c], {"m": 2.0})[0]["note"] == ""


def _cities(seed: int, shift: float):
    import pandas as pd

    rng = np.random.default_rng(seed)
    ent = np.r_[np.linspace(0.01, 0.15, 20), np.linspace(1.0, 2.0, 20)]
    base = pd.DataFrame({"city": np.arange(40), "is_det": ent < 0.2, "entropy": ent, "gini": ent / 3, "step": 10})
    stable = base.assign(loss=ent + 0.1 + 0.02 * rng.standard_normal(40))
    decay = base.assign(loss=ent + 0.1 - shift * (ent > 0.2) + 0.02 * rng.standard_normal(40))
    return stable, decay


def test_a_replicated_figure_draws_bands_and_summarizes_every_number():
    """WSD Sec. 4 over three seeds, from synthetic city tables: one drawing per seed, the
    numbers averaged, the bands drawn by the figure's replicate function."""
    from types import SimpleNamespace

    from optdyn.figures.common import FigureContext, draw
    from optdyn.spec.load import load_plan

    plan = load_plan("config/config.yaml", tier="tiny", papers=["wsd"])
    fig = plan.figures["wsd_sec4"]
    run = SimpleNamespace(diverged=False, status={"status": "finished"}, spec=None)
    probes = {}
    for s in fig.seeds:
        probes[f"stable[seed={s}]"], probes[f"decay[seed={s}]"] = _cities(s, 0.05 * (s + 1))
    ctx = FigureContext(fig, None, {name: run for name in fig.runs}, probes)
    out = draw(ctx)
    gains = [0.05, 0.10, 0.15]
    assert out.values["sto_loss_stable_minus_decay"] == pytest.approx(np.mean(gains), abs=0.02)
    summary = out.values["sto_loss_stable_minus_decay__summary"]
    assert summary["n"] == 3 and summary["ci95"][0] < summary["mean"] < summary["ci95"][1]
    assert sorted(out.data["seed"].unique()) == [0, 1, 2]
    assert "95% t-interval" in out.figure.axes[0].get_legend().get_title().get_text()


def test_a_figure_addresses_a_sweep_as_a_group_and_its_members_by_their_values():
    from types import SimpleNamespace

    from optdyn.figures.common import FigureContext

    members = [{"name": f"r[kappa={k},gamma={g}]", "values": {"optimizer.kappa": k, "optimizer.gamma": g}}
               for k in (1, 2) for g in (0.5, 0.9)]
    fig = SimpleNamespace(groups={"r": members}, target="x_y")
    runs = {m["name"]: m["name"] for m in members}
    ctx = FigureContext(fig, None, runs, {})
    assert [v["optimizer.kappa"] for v, _ in ctx.group("r")] == [1, 1, 2, 2]
    assert ctx.member("r", kappa=2, gamma=0.9) == "r[kappa=2,gamma=0.9]"
    with pytest.raises(KeyError):
        ctx.member("r", kappa=2)


def test_a_seed_voided_by_a_diverged_run_leaves_the_number_unmeasured():
    out = summarize_values([{"m": 1.0, "m__note": ""}, {"m": None, "m__note": "run a (id) diverged at step 3"}], [0, 1])
    assert out["m"] is None and out["m__note"] == "seed 1: run a (id) diverged at step 3"
    row = evaluate([claim({"at_least": 0.0})], out)[0]
    assert row["passed"] is False and "diverged at step 3" in row["note"]
