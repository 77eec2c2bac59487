"""Check-tier runs over this machine's budget are compiled, not stepped (train/compile_only.py),
and their figures and claims still build (figures/check_panel.py, claims.py, report/cost.py)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from optdyn.claims import evaluate
from optdyn.data.prepare import prepare
from optdyn.figures.check_panel import NOT_EVALUATED
from optdyn.figures.common import FigureContext, draw
from optdyn.spec.check_tier import is_check_figure
from optdyn.spec.jobs import PaperInfo, job_spec, load_run_job, write_job_spec
from optdyn.spec.load import load_plan
from optdyn.spec.paper import RunSpec
from optdyn.spec.plan import ResolvedRun
from optdyn.train import compile_only, cost
from optdyn.train.results import RunResult, read_run
from optdyn.train.run import train

DIGITS = {"kind": "digits", "params": {"rule": "first_n", "n": 200, "normalization": "per_channel"}}
MLP = {"name": "mlp", "widths": [32], "batch_size": None}


@pytest.fixture(scope="module")
def data_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("data")
    prepare("digits", DIGITS["kind"], DIGITS["params"], root)
    return root


def _run(rid: str, steps: int = 3, parent: str | None = None) -> ResolvedRun:
    spec = {"model": MLP, "data": {"name": "prepared", "dataset": "digits"}, "optimizer": {"name": "sgd"},
            "schedule": {"name": "constant", "lr": 0.1}, "steps": steps, "eval_every": steps, "progress": False}
    if parent is not None:
        spec["branch_from"] = {"run": "main", "step": 1}
    return ResolvedRun(rid, RunSpec.model_validate(spec), parent, dataset=DIGITS, compile_over_budget=True)


def _est(mem: int, flops: float) -> cost.Estimate:
    return cost.Estimate(params=1, param_bytes=0, opt_bytes=0, act_bytes=mem, batch_bytes=0, microbatches=1,
                         batch_rows=1, flops_step=flops, steps=3)


def test_the_budget_rule():
    """Steps here only within both limits; the reason names each one it exceeds."""
    assert compile_only.over_budget(_est(compile_only.BUDGET_BYTES, compile_only.BUDGET_FLOPS)) is None
    why = compile_only.over_budget(_est(compile_only.BUDGET_BYTES + 1, 1.0))
    assert "/device > 2.0 GiB" in why and "FLOP" not in why
    assert "FLOP/step > 20GFLOP" in compile_only.over_budget(_est(1, 3e10))


def test_within_budget_steps_and_records_its_cost(data_root, tmp_path):
    status = train(_run("small"), tmp_path / "small", data_root=data_root)
    assert status["status"] == "completed" and status["cost"]["ran"] == "stepped"
    assert status["cost"]["estimate_bytes"] > 0 and "compiled_bytes" not in status["cost"]
    assert json.loads((tmp_path / "small" / "provenance.json").read_text())["cost"] == status["cost"]
    assert read_run(tmp_path / "small").metrics["step"].max() == 3


def test_over_budget_compiles_only_and_its_branch_too(data_root, tmp_path, monkeypatch):
    """Nothing fabricated: status compiled_only, no metric rows, an empty checkpoint folder, and
    XLA's compiled memory beside the estimate; a branch of it has no state to start from."""
    monkeypatch.setattr(compile_only, "BUDGET_BYTES", 1)
    status = train(_run("big"), tmp_path / "big", data_root=data_root)
    assert status["status"] == compile_only.COMPILED_ONLY and status["steps_done"] == 0
    assert "/device > 1 B" in status["reason"]
    c = status["cost"]
    assert c["ran"] == "compiled_only" and c["compiled_bytes"] > 0
    assert c["estimate_over_compiled"] == pytest.approx(c["estimate_bytes"] / c["compiled_bytes"], abs=1e-3)
    result = read_run(tmp_path / "big")
    assert result.metrics.empty and not any((tmp_path / "big" / "checkpoints").iterdir())
    monkeypatch.setattr(compile_only, "BUDGET_BYTES", 2**40)
    branch = train(_run("branch", parent="big"), tmp_path / "branch", parent_dir=tmp_path / "big", data_root=data_root)
    assert branch["status"] == compile_only.COMPILED_ONLY and branch["reason"] == "its parent was compiled only"


def test_only_the_check_tier_marks_its_runs(tmp_path):
    """The mark travels in the run's job spec; other tiers' spec files do not change."""
    check, smoke = load_plan(tier="check"), load_plan(tier="smoke")
    rid = next(iter(check.runs))
    assert load_run_job(write_job_spec(check, "runs", rid, tmp_path / "c.json")).compile_over_budget
    sid = next(iter(smoke.runs))
    assert "compile_over_budget" not in job_spec(smoke, "runs", sid)
    assert not load_run_job(write_job_spec(smoke, "runs", sid, tmp_path / "s.json")).compile_over_budget
    # figures with runs draw the check panel; an analytic one (no runs, no probes) its own figure
    assert all(is_check_figure(f) == bool(f.runs) for f in check.figures.values())
    assert not any(is_check_figure(f) for f in smoke.figures.values())


def test_check_figure_draws_what_ran_and_its_claims_are_not_evaluated(tmp_path):
    check = load_plan(tier="check")
    fig = check.figures["selfstab_fig04"]
    paper = check.papers[fig.paper]
    runs = {}
    for i, (name, rid) in enumerate(fig.runs.items()):
        spec = check.runs[rid].spec
        if i == 0:  # compiled only: no rows
            status = {"status": "compiled_only", "steps_done": 0, "cost": {"estimate_bytes": 3 * 2**30, "compiled_bytes": 2**31,
                                                                             "flops_step": 4e12}}
            metrics = pd.DataFrame({"step": pd.Series([], dtype="int64")})
        else:
            status = {"status": "completed"}
            metrics = pd.DataFrame({"step": np.arange(4), "batch_loss": [1.0, 0.9, 0.8, np.nan], "loss": [1.0, np.nan, np.nan, 0.7]})
        runs[name] = RunResult(rid, spec, status, metrics, tmp_path)
    ctx = FigureContext(fig, PaperInfo(fig.paper, paper.title, paper.presets), runs, {})
    out = draw(ctx)
    assert out.values[NOT_EVALUATED].startswith("check tier: not evaluated")
    assert out.values["runs_compiled_only"] == 1 and out.values["runs_stepped"] == len(runs) - 1
    assert set(out.data["status"]) == {"compiled_only", "completed"}
    texts = " ".join(t.get_text() for ax in out.figure.axes for t in ax.texts)
    assert "compiled only, not stepped" in texts and "XLA 2.0 GiB" in texts
    rows = evaluate(fig.spec.claims, json.loads(json.dumps(out.values, default=str)))
    assert rows and all(r["passed"] is None and r["evaluated"] is False and r["pass/fail"] == "not evaluated" for r in rows)
    assert all(r["note"].startswith("check tier: not evaluated") for r in rows)


def test_report_lists_each_runs_memory_and_cost(tmp_path):
    from optdyn.report.cost import cost_rows, cost_section

    prov = tmp_path / "runs" / "r1" / "provenance.json"
    prov.parent.mkdir(parents=True)
    prov.write_text(json.dumps({"cost": {"ran": "compiled_only", "params": 124e6, "estimate_bytes": 14.5e9,
                                         "compiled_bytes": 40.9e9, "estimate_over_compiled": 0.355, "flops_step": 4.23e14,
                                         "flops_total": 2.15e19, "smallest_device": "fits one 24 GB GPU with microbatches 40"}}))
    from optdyn.report.cost import run_cost

    entries = [{"paper": "wsd", "figure": "fig13", "runs": {"gpt2": "r1", "other": "r2"},
                "costs": {"r1": run_cost({"provenance": str(prov)})}}]
    assert [r["used_by"] for r in cost_rows(entries)] == [["wsd_fig13:gpt2"]]
    html = cost_section(entries)
    for text in ("compiled only", "13.5 GiB", "38.1 GiB", "0.35", "423T", "fits one 24 GB GPU with microbatches 40"):
        assert text in html, text
    assert cost_section([{"paper": "wsd", "figure": "fig13", "runs": {"a": "r2"}}]) == ""
