"""WSD paper Figs. 10, 11, 15: the compute accounting against Table 4, the figure numbers on
synthetic runs with known curves, and the configs against the paper's breakpoints and fractions."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from optdyn.figures.wsd.decay_fraction import fig15
from optdyn.figures.wsd.versus_wsd import branch_offset, main_compute, versus_wsd
from optdyn.optim.schedules import build_schedule, lr_curve, total_compute
from optdyn.spec.load import load_plan
from optdyn.spec.paper import RunSpec
from optdyn.spec.plots.wsd import Fig15, VersusWSD
from optdyn.train.results import RunResult

REPO = Path(__file__).parents[1]
TABLE4 = [[11250, 12500], [22500, 25000], [45000, 50000]]
TABLE3 = [[11250, 12500], [22500, 25000], [48750, 53750]]
MODEL = {"name": "llama", "hidden": 16, "intermediate": 64, "layers": 1, "heads": 2, "seq_len": 16, "batch_size": 8}


def _run(name: str, schedule: dict, steps: int, curve, branch_at: int | None = None, every: int = 25) -> RunResult:
    """A finished run whose val loss at step t is ``curve(t)``, evaluated every ``every`` steps
    from its start, and whose batch loss is ``curve(t) + 0.1``."""
    spec = RunSpec.model_validate_json(json.dumps({
        "model": MODEL, "data": {"name": "prepared", "dataset": "x"}, "schedule": schedule, "steps": steps,
        **({"branch_from": {"run": "main", "step": branch_at}} if branch_at is not None else {})}))
    start = branch_at or 0
    steps_arr = np.arange(start, steps + 1)
    val = np.where((steps_arr % every == 0) | (steps_arr == steps) | (steps_arr == start), curve(steps_arr), np.nan)
    lr = np.asarray(lr_curve(build_schedule(spec.schedule), steps + 1))[start:]
    df = pd.DataFrame({"step": steps_arr, "batch_loss": curve(steps_arr) + 0.1, "lr": lr, "val_loss": val})
    return RunResult(name, spec, {"status": "completed"}, df, Path("."))


def test_wsd_budgets_cost_table4_compute():
    """Branch k ends at compute D_k + sum_{j<=k} tau_j: 12.5k, 26.25k, 53.75k (Sec. 5)."""
    assert [end + branch_offset(TABLE4, k) for k, (_, end) in enumerate(TABLE4)] == [12500, 26250, 53750]
    # the main branch pays for each decay branch once it has passed its start
    assert main_compute(np.array([11250, 11251, 45000]), TABLE4).tolist() == [11250, 11251 + 1250, 45000 + 1250 + 2500]
    sched = {"name": "wsd", "peak_lr": 1e-3, "decays": TABLE4}
    spec = RunSpec.model_validate_json(json.dumps({"model": MODEL, "data": {"name": "prepared", "dataset": "x"},
                                                   "schedule": sched}))
    assert total_compute(spec.schedule) == 53750


def _versus_ctx(wsd_curve, wsd_s_curve, scale: int = 50):
    d4 = [[d // scale, e // scale] for d, e in TABLE4]
    d3 = [[d // scale, e // scale] for d, e in TABLE3]
    wsd = {"name": "wsd", "peak_lr": 1e-3, "decays": d4}
    runs = {"main": _run("main", wsd, d4[-1][0], wsd_curve),
            "wsd_s": _run("wsd_s", {"name": "wsd_s", "peak_lr": 1e-3, "decays": d3}, d3[-1][1], wsd_s_curve)}
    for k, (d, e) in enumerate(d4):
        runs[f"main_decay{k + 1}"] = _run(f"b{k}", wsd | {"branch": k}, e, wsd_curve, branch_at=d)
    plot = VersusWSD(sizes=[{"label": "0.1B", "wsd": "main", "wsd_s": "wsd_s"}])
    return SimpleNamespace(runs=runs, plot=plot)


def test_versus_wsd_compares_the_budget_checkpoints():
    """WSD-S is read at T_k of Table 3 (250, 500, 1075 after / 50), WSD at each branch's end (250, 500,
    1000): with val = 3 - step/1000 for WSD and 3 - step/1000 - 0.01 for WSD-S, the differences
    are exactly those of the curves at those steps."""
    ctx = _versus_ctx(lambda t: 3.0 - t / 1000, lambda t: 3.0 - t / 1000 - 0.01)
    out = versus_wsd(ctx)
    v = out.values
    assert v["wsd_s_compute"] == [[250, 500, 1075]] and v["wsd_compute"] == [[250, 525, 1075]]
    np.testing.assert_allclose(v["wsd_s_minus_wsd"][0], [-0.01, -0.01, -0.01 - 0.075], atol=1e-12)
    assert v["max_wsd_s_minus_wsd_at_largest_budget"] == pytest.approx(-0.085)
    assert v["max_abs_diff_at_first_budget"] == pytest.approx(0.01)
    # each branch is drawn at its own compute: branch 3 from 900 + 25 + 50
    b3 = out.data[out.data["method"] == "WSD decay 3"]
    assert b3["compute"].min() == 900 + 75 and b3["compute"].max() == 1075


def test_versus_wsd_refuses_budgets_it_did_not_evaluate():
    ctx = _versus_ctx(lambda t: 3.0 - t / 1000, lambda t: 3.0 - t / 1000)
    r = ctx.runs["wsd_s"]
    r.metrics.loc[r.metrics["step"] == 500, "val_loss"] = np.nan
    with pytest.raises(ValueError, match="no validation loss at step 500"):
        versus_wsd(ctx)


def test_fig15_spread_gain_and_spike_excess():
    """Three decays ending at known losses, and a spiked run whose batch loss exceeds the reference
    by a bump of height 0.7 at one step: spread, gain and the spike's excess come out exactly."""
    peak, T = 3e-3, 500
    base = lambda t: 3.0 - t / 1000
    wsd = {"name": "wsd", "peak_lr": peak, "decays": [[225, 250], [450, 500], [900, 1000]]}
    runs = {"main": _run("main", wsd, 900, base)}
    ends = {"8%": (460, 0.000), "10%": (450, 0.004), "12%": (440, 0.002)}
    fractions = {}
    for label, (d, extra) in ends.items():
        name = f"decay{label}"
        # the loss drops by 0.05 over the decay, plus ``extra`` at the end
        curve = lambda t, d=d, extra=extra: base(t) - 0.05 * (t - d) / (T - d) + extra * (t == T)
        runs[name] = _run(name, {"name": "wsd_s", "peak_lr": peak, "decays": [[d, T]]}, T, curve, branch_at=d, every=10)
        fractions[label] = name
    spiked_sched = {"name": "piecewise", "pieces": [
        {"until": 465, "schedule": {"name": "constant", "lr": peak}},
        {"until": 470, "schedule": {"name": "constant", "lr": 10 * peak}},
        {"schedule": {"name": "wsd_s", "peak_lr": peak, "decays": [[470, T]]}}]}
    ref_curve = runs["decay8%"].metrics.set_index("step")["val_loss"]
    spiked = _run("spiked", spiked_sched, T, lambda t: base(t) - 0.05 * (t - 460) / 40 + 0.03, branch_at=460, every=5)
    bump = spiked.metrics["step"] == 467
    spiked.metrics.loc[bump, "batch_loss"] = runs["decay8%"].metrics.set_index("step").loc[467, "batch_loss"] + 0.03 + 0.7
    runs["spiked"] = spiked
    plot = Fig15(panels=[{"label": "(b)", "main": "main", "fractions": fractions}],
                 spike={"label": "(c)", "main": "main", "reference": "decay8%", "spiked": "spiked",
                        "reference_label": "8%", "spiked_label": "6%"})
    v = fig15(SimpleNamespace(runs=runs, plot=plot)).values
    finals = {k: base(T) - 0.05 + e for k, (_, e) in ends.items()}
    assert v["decay_fraction_final_val_loss"][0] == pytest.approx(finals)
    assert v["decay_fraction_spread"][0] == pytest.approx(0.004)
    gains = [base(d) - finals[k] for k, (d, _) in ends.items()]
    assert v["decay_gain"][0] == pytest.approx(np.mean(gains))
    assert v["max_decay_fraction_spread_over_gain"] == pytest.approx(0.004 / np.mean(gains))
    assert v["spike_minus_8pct_final_val_loss"] == pytest.approx(0.03)
    assert v["spike_peak_batch_loss_excess"] == pytest.approx(0.73)
    assert v["spike__decay_start_step"] == 470
    assert ref_curve.loc[470] == pytest.approx(base(470) - 0.05 * 10 / 40)
    assert v["spike_val_loss_excess_at_decay_start"] == pytest.approx(0.03)


# ---------------------------------------------------------------------------------- the configs


@pytest.fixture(scope="module", params=["paper", "smoke", "tiny"])
def plan(request):
    return load_plan(REPO / "config/config.yaml", tier=request.param, papers=["wsd"])


def _schedule(plan, target, name):
    fig = plan.figures[target]
    name = name if not fig.seeds else f"{name}[seed={fig.seeds[0]}]"  # smoke: two seeds, one schedule
    return plan.runs[fig.runs[name]].spec


def test_fig10_schedules_are_tables_3_and_4_scaled(plan):
    """Every size: WSD-S's decays and WSD's branches are Table 3 / Table 4 divided by one factor."""
    fig = plan.figures["wsd_fig10"]
    for size in fig.plot.sizes:
        s = _schedule(plan, "wsd_fig10", size.wsd_s).schedule
        w = _schedule(plan, "wsd_fig10", size.wsd).schedule
        scale = TABLE3[-1][1] / s.decays[-1][1]
        assert np.allclose(np.array(s.decays) * scale, TABLE3)
        table4 = np.array(TABLE4)
        if plan.tier == "paper" and size.label == "0.3B":
            table4[1, 0] = 22000  # the loss-spike exception of Table 4
        assert np.allclose(np.array(w.decays) * scale, table4)
        assert s.peak_lr == w.peak_lr and s.shape == w.shape == "inverse_proportional"
        # the first WSD-S decay is literally WSD's first branch (the identity claim relies on it)
        assert s.decays[0] == w.decays[0]
        # equal compute at the largest budget, except the 0.3B spike exception (54.25k, Table 4 prints 54k)
        assert total_compute(w) == total_compute(s) + (500 if table4[1, 0] == 22000 else 0)


def test_fig11_uses_linear_decay_on_the_second_corpus(plan):
    for size in plan.figures["wsd_fig11"].plot.sizes:
        for run in (size.wsd, size.wsd_s):
            spec = _schedule(plan, "wsd_fig11", run)
            assert spec.schedule.shape == "linear"
            assert spec.data.dataset == {"paper": "dclm"}.get(plan.tier, "markov_lm_b")


def test_fig15_fractions_spike_and_shared_runs(plan):
    fig15_runs, fig10 = plan.figures["wsd_fig15"].runs, plan.figures["wsd_fig10"]
    plot = plan.figures["wsd_fig15"].plot
    for panel in plot.panels:
        # the decay branches share the main run of Fig. 10 (of its first seed where it has seeds:
        # one training job for both figures)
        main = panel.main if not fig10.seeds else f"{panel.main}[seed={fig10.seeds[0]}]"
        assert fig15_runs[panel.main] == fig10.runs[main]
        for label, name in panel.fractions.items():
            spec = plan.runs[fig15_runs[name]].spec
            s = spec.schedule
            d, end = s.decays[s.branch if s.name == "wsd" else -1]
            assert (end - d) / end == pytest.approx(float(label.rstrip("%")) / 100)
            assert spec.steps == end
            assert plan.runs[fig15_runs[name]].parent == fig15_runs[panel.main]
    spiked = plan.runs[fig15_runs[plot.spike.spiked]].spec
    ref = plan.runs[fig15_runs[plot.spike.reference]].spec
    start, end = spiked.schedule.pieces[-1].schedule.decays[-1]
    assert (end - start) / end == pytest.approx(0.06) and spiked.steps == end == ref.steps
    lr = lr_curve(build_schedule(spiked.schedule), end + 1)
    peak = ref.schedule.peak_lr
    hot = np.flatnonzero(lr > 1.5 * peak)
    # the induced spike is a window at 10x peak that ends right where the 6% decay starts
    assert hot.max() == start and np.allclose(lr[hot], 10 * peak)
    assert spiked.branch_from.step < hot.min() and spiked.branch_from.step == ref.branch_from.step
