"""WSD paper Figs. 1, 8, 9 and Table 1: the configured runs apply the paper's schedules (the
Fig. 9 hybrids built as branches equal the spliced piecewise schedules step by step, in every
tier), and the figure metrics are right on hand-made loss curves."""

from __future__ import annotations

import json
import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from optdyn.figures.common import FigureContext
from optdyn.figures.wsd.hybrids import fig09, tab01
from optdyn.figures.wsd.oracle import fig01, fig08
from optdyn.optim.schedules import build_schedule, lr_curve
from optdyn.spec.load import load_plan
from optdyn.spec.plots.wsd import Fig01, Fig08, Fig09, Tab01
from optdyn.spec.schedules import Piecewise
from optdyn.train.results import RunResult

CONFIG = Path(__file__).parents[1] / "config" / "config.yaml"
TIERS = ("paper", "smoke", "tiny")


@pytest.fixture(scope="module", params=TIERS)
def plan(request):
    return load_plan(CONFIG, tier=request.param, papers=["wsd"])


def _spec(plan, target: str, name: str):
    return plan.runs[plan.figures[target].runs[name]].spec


def _applied(plan, target: str, name: str, steps: int) -> np.ndarray:
    """The LR each update t < steps of a run applies, following branch_from back to the root:
    a branch restored at step b applies its own schedule from b on, its parent's before."""
    spec = _spec(plan, target, name)
    lr = np.array(lr_curve(build_schedule(spec.schedule), steps))
    if spec.branch_from is not None:
        b = spec.branch_from.step
        lr[:b] = _applied(plan, target, spec.branch_from.run, steps)[:b]
    return lr


def _piecewise(peak: float, warmup: int, first: dict, second: dict, t1: int) -> np.ndarray:
    spec = Piecewise.model_validate_json(json.dumps(
        {"name": "piecewise", "warmup_steps": warmup,
         "pieces": [{"until": t1, "schedule": first | {"peak_lr": peak}}, {"schedule": second | {"peak_lr": peak}}]}))
    return spec


@pytest.mark.slow  # > 1.5 s: kept out of the fast unit run (pytest -m 'not slow')
def test_fig09_branches_are_the_papers_hybrids(plan):
    wsd_s = _spec(plan, "wsd_fig09", "wsd_s").schedule
    t1, t2 = wsd_s.decays[0][1], wsd_s.decays[1][1]
    d1, d2 = wsd_s.decays[0][0], wsd_s.decays[1][0]
    peak, warmup = wsd_s.peak_lr, wsd_s.warmup_steps
    cosine = {"name": "cosine", "total_steps": t1}
    wsd_first = {"name": "wsd_s", "decays": [[d1, t1]]}
    expected = {
        # cyclic cosine: a cosine to T_1, then a second cosine cycle to T_2
        "cyclic": _piecewise(peak, warmup, cosine, {"name": "cyclic_cosine", "cycle_ends": [t1, t2]}, t1),
        # Cosine-WSD: the cosine, then WSD-S (back at peak after T_1, a 10% decay to T_2)
        "cosine_wsd": _piecewise(peak, warmup, cosine, {"name": "wsd_s", "decays": [[d2, t2]]}, t1),
        # WSD-Cosine: WSD-S to T_1, then the cyclic cosine's second cycle
        "wsd_cosine": _piecewise(peak, warmup, wsd_first, {"name": "cyclic_cosine", "cycle_ends": [t1, t2]}, t1),
    }
    for name, piecewise in expected.items():
        assert _spec(plan, "wsd_fig09", name).steps == t2
        want = lr_curve(build_schedule(piecewise), t2)
        np.testing.assert_allclose(_applied(plan, "wsd_fig09", name, t2), want, rtol=1e-6, err_msg=name)
    # WSD-S itself (Fig. 8's run, read to T_2) reaches eta_min at T_1 like the cosine
    lr = lr_curve(build_schedule(wsd_s), t2 + 1)
    assert lr[t1] == pytest.approx(0.1 * peak, rel=1e-5) and lr[t1 + 1] == pytest.approx(peak, rel=1e-6)


def test_fig08_oracles_end_at_the_wsd_s_decay_ends(plan):
    for panel in plan.figures["wsd_fig08"].plot.panels:
        wsd_s = _spec(plan, "wsd_fig08", panel.wsd_s)
        budgets = [_spec(plan, "wsd_fig08", n).steps for n in panel.cosine]
        assert budgets == [end for _, end in wsd_s.schedule.decays]
        # 10% decays (Sec. 5.1) and budgets doubling (50B, 100B, 200B tokens)
        assert [end - start for start, end in wsd_s.schedule.decays] == [b // 10 for b in budgets]
        assert budgets[1:] == [2 * b for b in budgets[:-1]]
        for name in panel.cosine:  # same model, data, optimizer and peak: only the schedule differs
            cos = _spec(plan, "wsd_fig08", name)
            assert (cos.model, cos.data, cos.optimizer) == (wsd_s.model, wsd_s.data, wsd_s.optimizer)
            assert cos.schedule.peak_lr == wsd_s.schedule.peak_lr
            assert cos.schedule.warmup_steps == wsd_s.schedule.warmup_steps


def test_shared_runs_are_one_run(plan):
    figs = plan.figures
    assert figs["wsd_fig01"].runs["cosine"] == figs["wsd_fig08"].runs["s01_cos_t3"]
    assert figs["wsd_fig09"].runs["wsd_s"] == figs["wsd_fig08"].runs["s06_wsd_s"]
    assert figs["wsd_fig09"].runs["cos_t1"] == figs["wsd_fig08"].runs["s06_cos_t1"]


# ------------------------------------------------------------------ figure metrics on made-up curves


def _run(name: str, curve: dict[int, float], *, steps=None, decays=None, peak=1e-2, branch=None, diverged=False):
    steps = steps or max(curve)
    model = SimpleNamespace(batch_size=4, seq_len=8, hidden=16, layers=2)
    schedule = SimpleNamespace(decays=decays or [], peak_lr=peak)
    spec = SimpleNamespace(model=model, schedule=schedule, steps=steps, data=SimpleNamespace(dataset="toy"),
                           branch_from=SimpleNamespace(run="parent", step=branch) if branch is not None else None)
    metrics = pd.DataFrame({"step": list(curve), "val_loss": list(curve.values()), "lr": peak})
    status = {"status": "diverged" if diverged else "completed"}
    return RunResult(name, spec, status, metrics, Path("."))


def _ctx(plot, runs, title="t"):
    return FigureContext(paper=None, figure=SimpleNamespace(plot=plot, spec=SimpleNamespace(title=title)), runs=runs)


def test_fig08_gaps_and_doubling_ratio():
    wsd = _run("w", {0: 5.0, 10: 3.0, 20: 2.60, 30: 2.7, 40: 2.40}, decays=[[8, 10], [18, 20], [36, 40]])
    runs = {"w": wsd, "c1": _run("c1", {0: 5.0, 10: 3.01}), "c2": _run("c2", {0: 5.0, 20: 2.62}),
            "c3": _run("c3", {0: 5.0, 40: 2.38})}
    plot = Fig08(panels=[{"label": "0.1B", "wsd_s": "w", "cosine": ["c1", "c2", "c3"]}])
    values = fig08(_ctx(plot, runs)).values
    np.testing.assert_allclose(values["gap_wsd_s_minus_cosine"]["0.1B"], [-0.01, -0.02, 0.02], atol=1e-12)
    assert values["max_abs_gap"] == pytest.approx(0.02)
    # star-to-star steps 0.39 and 0.24: the worst gap is 0.02 / 0.24 of the smallest doubling
    assert values["max_abs_gap_over_doubling_gain"] == pytest.approx(0.02 / 0.24)


def test_fig08_rejects_an_oracle_off_the_wsd_s_budgets():
    runs = {"w": _run("w", {0: 5.0, 10: 3.0, 20: 2.6}, decays=[[8, 10], [18, 20]]),
            "c1": _run("c1", {0: 5.0, 15: 2.9})}
    with pytest.raises(ValueError, match="no WSD-S decay end"):
        fig08(_ctx(Fig08(panels=[{"label": "x", "wsd_s": "w", "cosine": ["c1"]}]), runs))


def test_fig01_plateau_then_drop():
    main = _run("m", {0: 5.0, 60: 3.0, 80: 2.99, 90: 2.98}, decays=[[90, 100]])
    branch = _run("b", {90: 2.98, 100: 2.90}, branch=90)
    cos = _run("c", {0: 5.0, 60: 2.95, 80: 2.94, 90: 2.93, 100: 2.92})
    values = fig01(_ctx(Fig01(), {"wsd": main, "wsd_decay1": branch, "cosine": cos})).values
    assert values["gap_wsd_minus_cosine_at_decay_start"] == pytest.approx(0.05)
    assert values["decay_share_of_late_drop"] == pytest.approx(0.08 / (0.01 + 0.08))
    assert values["gap_wsd_minus_cosine_at_end"] == pytest.approx(-0.02)


def test_fig09_first_half_advantage():
    t1, t2 = 10, 20
    runs = {"wsd_s": _run("ws", {0: 5.0, 10: 3.0, 20: 2.5, 40: 2.3}),
            "cos_t1": _run("c", {0: 5.0, 10: 3.1}),
            "cyclic": _run("cy", {10: 3.1, 20: 2.7}, branch=t1),
            "cosine_wsd": _run("cw", {10: 3.1, 20: 2.6}, branch=t1),
            "wsd_cosine": _run("wc", {10: 3.0, 20: 2.65}, branch=t1)}
    values = fig09(_ctx(Fig09(), runs)).values
    assert values["cyclic_minus_wsd_s_at_end"] == pytest.approx(0.2)  # read at T_2, not at the run's end
    assert values["wsd_first_half_advantage"] == pytest.approx(min(2.6 - 2.5, 2.7 - 2.65))
    assert t2 == runs["cyclic"].spec.steps


def test_tab01_counts_and_best():
    finals = {"cc1": 2.54, "ws1": 2.52, "cc2": 2.51, "ws2": 2.50, "cc3": 2.49, "ws3": 2.50}
    runs = {k: _run(k, {0: 5.0, 40: v}, peak=float(k[-1])) for k, v in finals.items()}
    runs["ws3"] = _run("ws3", {0: 5.0, 20: 2.6}, steps=40, peak=3.0, diverged=True)  # diverged: worse than anything
    cols = [{"paper_lr": 5e-4 * i, "cyclic_cosine": f"cc{i}", "wsd_s": f"ws{i}", "paper_cyclic_cosine": 1.0,
             "paper_wsd_s": 1.0} for i in (1, 2, 3)]
    out = tab01(_ctx(Tab01(columns=cols), runs))
    # a diverged run voids what is computed from it (every metric here), with a note
    assert out.values["n_lrs_wsd_s_better"] is None and out.values["best_wsd_s_minus_best_cyclic"] is None
    assert "run ws3" in out.values["wsd_s_minus_cyclic__note"] and "diverged at step" in out.values["n_lrs_wsd_s_better__note"]
    assert any("diverged at step" in str(v) for v in out.data.iloc[1])  # its table cell says so
    runs["ws3"] = _run("ws3", {0: 5.0, 40: 2.50}, peak=3.0)
    out = tab01(_ctx(Tab01(columns=cols), runs))
    assert out.values["n_lrs_wsd_s_better"] == 2
    assert out.values["best_wsd_s_minus_best_cyclic"] == pytest.approx(2.50 - 2.49)
    assert out.values["wsd_s_minus_cyclic"][2] == pytest.approx(0.01)
    assert list(out.data["Source"]) == ["ours", "ours", "paper", "paper"]
