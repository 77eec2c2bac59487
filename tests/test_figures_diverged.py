"""Failed runs are results: a figure whose run diverged still draws, marks the run, and its
claims fail with a note saying which run diverged where (``optdyn.figures.diverged``).

One real training run diverges here (label-noise SGD on IRE's toy with eta h >> 2 and a
``divergence_threshold``); the workflow test (``tests/test_workflow.py``) does the same for one
run of every figure of the ``tiny`` tier.
"""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import pytest
import yaml

from optdyn.claims import evaluate
from optdyn.figures import diverged
from optdyn.figures.common import context, draw, write
from optdyn.spec.load import load_plan
from optdyn.train.results import RunResult, load_run
from optdyn.train.run import train_run

TOY = {"name": "ire_valley", "replicas": 16, "init_u": 1.0, "init_v": 0.0, "label_noise": 1.0, "noise_model": "eq10"}
BASE = {"model": TOY, "schedule": {"name": "constant", "lr": 0.1}, "dtype": "float64", "steps": 300,
        "eval_every": 1, "progress": False, "divergence_threshold": 1e4}
CLAIMS = [
    {"id": "drift_one_plus_kappa", "statement": "drift x (1 + kappa)", "source": "App. A", "metric": "drift_rate_ratio",
     "paper": [2.0, 5.0], "check": {"rel_tol": 0.1}},
    {"id": "sharp_variance_equilibrium", "statement": "OU equilibrium", "source": "App. A", "metric": "v_sq_over_theory",
     "paper": [1.0, 1.0, 1.0], "check": {"rel_tol": 0.05}},
]


def _config(root: Path, sgd_lr: float) -> Path:
    runs = {
        # eta h = 30 > 2 on the sharp coordinate: E[v^2] grows ~ 28^2 per step, past the threshold
        "sgd": {**BASE, "schedule": {"name": "constant", "lr": sgd_lr}, "optimizer": {"name": "sgd"}},
        "ire_k1": {**BASE, "optimizer": {"name": "ire", "kappa": 1, "gamma": 0.5, "base": {"name": "sgd"}}},
        "ire_k4": {**BASE, "optimizer": {"name": "ire", "kappa": 4, "gamma": 0.5, "base": {"name": "sgd"}}},
    }
    fig = {"title": "App. A", "runs": runs, "plot": {"rate_window": [0.2, 0.8], "skip_steps": 20}, "claims": CLAIMS}
    (root / "config" / "papers").mkdir(parents=True)
    (root / "config" / "config.yaml").write_text(yaml.safe_dump({"tier": "smoke", "papers": ["ire"],
                                                                  "results": str(root / "results")}))
    doc = {"paper": "ire", "title": "test paper", "figures": {"appA": fig}}
    (root / "config" / "papers" / "ire.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    return root / "config" / "config.yaml"


@pytest.mark.slow  # three real training runs (~8 s)
def test_a_diverged_run_is_drawn_and_fails_its_claims(tmp_path: Path, x64) -> None:
    plan = load_plan(_config(tmp_path, sgd_lr=300.0))
    fig = plan.figures["ire_appA"]
    for rid in fig.runs.values():
        train_run(plan, rid)
    sgd = load_run(plan, fig.runs["sgd"])
    assert sgd.diverged, sgd.status
    at = sgd.status["diverged_at"]
    assert 0 < at < 300 and sgd.metrics["step"].max() == at
    assert not any(load_run(plan, fig.runs[n]).diverged for n in ("ire_k1", "ire_k4"))

    out = draw(context(plan, "ire_appA"))  # used to crash: the SGD baseline had no drift-rate window
    labels = [t.get_text() for ax in out.figure.axes if ax.get_legend() for t in ax.get_legend().get_texts()]
    assert any(f"(diverged at step {at})" in t for t in labels), labels
    texts = [t.get_text() for t in out.figure.texts]
    assert any("DIVERGED" in t and sgd.run_id in t for t in texts), texts
    stem = tmp_path / "fig" / "appA"
    write(out, stem)
    for ext in ("png", "pdf", "csv", "values.json"):
        assert Path(f"{stem}.{ext}").stat().st_size > 0, ext
    values = json.loads(Path(f"{stem}.values.json").read_text())
    # every metric reads the SGD baseline: all are void, each with the note
    assert values["drift_rate_ratio"] is None
    assert values["drift_rate_ratio__note"] == f"run sgd ({sgd.run_id}) diverged at step {at} of 300"
    rows = evaluate(fig.spec.claims, values)
    assert [r["passed"] for r in rows] == [False, False]
    assert all(r["our_value"] is None and f"diverged at step {at}" in r["note"] for r in rows), rows


def _run(status: dict, steps: list[int], loss: list[float]) -> RunResult:
    from optdyn.spec.paper import RunSpec

    spec = RunSpec.model_validate({"model": TOY, "schedule": {"name": "constant", "lr": 0.1}, "steps": 10})
    return RunResult("toy-constant-0", spec, status, pd.DataFrame({"step": steps, "batch_loss": loss}), Path("."))


def test_helpers_on_a_diverged_and_a_finished_run() -> None:
    bad = _run({"status": "diverged", "diverged_at": 3, "steps_done": 3}, [0, 1, 2, 3], [1.0, 2.0, 5.0, float("nan")])
    good = _run({"status": "completed"}, list(range(11)), [1.0] * 11)
    assert diverged.diverged_at(bad) == 3 and diverged.diverged_at(good) is None
    assert diverged.finite_metrics(bad, "batch_loss")["step"].tolist() == [0, 1, 2]
    assert len(diverged.finite_metrics(good)) == 11
    assert diverged.label("SGD", good) == "SGD"
    assert diverged.label("WSD", good, bad) == "WSD (diverged at step 3)"
    assert diverged.guarded(bad, lambda: [][0]) != diverged.guarded(bad, lambda: [][0])  # NaN where it fails
    values = {"a": 1.0, "b": 2.0, "b__note": "kept", "c": [1, 2]}
    runs = {"x": bad, "y": good}
    out = diverged.void(values, runs, uses={"a": ["y"]})
    assert out["a"] == 1.0 and "a__note" not in out
    assert out["b"] is None and out["c"] is None and "run x" in out["b__note"] and "step 3 of 10" in out["c__note"]
    assert diverged.void(values, runs, expected=["x"]) == values  # a divergence the figure expects voids nothing
    fig, ax = plt.subplots()
    ax.plot([0, 1, 2], [1, 2, 5])
    diverged.mark_end(ax, bad, [0, 1, 2, 3], [1.0, 2.0, 5.0, float("nan")])
    assert ax.lines[-1].get_marker() == "x" and list(ax.lines[-1].get_xdata()) == [2.0]
    diverged.mark_end(ax, good, [0, 1], [1, 1])
    assert len(ax.lines) == 2
    plt.close(fig)
