"""Redraw figures of a finished workflow with one run of each made diverged (``tests/test_workflow.py``).

``python redraw_diverged.py <tier> <out> <x64: 0|1> <target>...``, run in the workflow's folder,
makes, for each
target, a copy of one of its runs as the trainer leaves a run that diverged (``diverge_copy``),
draws the figure through the library (``read_context`` / ``draw`` / ``write``), checks its claims
(``optdyn.claims.evaluate``) and prints one JSON line per target. A separate process per x64
setting, as the ``optdyn figure`` job sets it once per process.
"""

from __future__ import annotations

import json
import shutil
import sys
import traceback
from pathlib import Path

import numpy as np
import pandas as pd


def diverge_copy(src: Path, dst: Path, at: int) -> Path:
    """``dst``: the finished run folder ``src`` as ``optdyn.train.run.train`` leaves a run whose
    training loss became non-finite at step ``at``: ``status: diverged`` with ``diverged_at`` =
    ``steps_done`` = ``at``, and metrics up to that step, whose loss (and gradient norm) there is
    NaN. (Its checkpoints, which no figure reads, are not copied.)"""
    dst.mkdir(parents=True, exist_ok=True)
    shutil.copy2(src / "spec.json", dst / "spec.json")
    metrics = pd.read_parquet(src / "metrics.parquet")
    metrics = metrics[metrics["step"] <= at].reset_index(drop=True)
    last = metrics.index[metrics["step"] == at]
    for col in ("batch_loss", "grad_norm"):
        if col in metrics:
            metrics.loc[last, col] = np.nan
    metrics.to_parquet(dst / "metrics.parquet")
    status = json.loads((src / "status.json").read_text())
    status.update(status="diverged", diverged_at=at, steps_done=at)
    (dst / "status.json").write_text(json.dumps(status, indent=2) + "\n")
    return dst


def pick(plan, target: str) -> tuple[str, str, int] | None:
    """(name, run id, step) of the run to diverge: the figure's first run that no other run of the
    plan branches from (else one whose branches all start before its midpoint), at the middle of
    its logged steps after its last branch point; None when no run qualifies."""
    fig = plan.figures[target]
    branch_steps: dict[str, list[int]] = {}
    for r in plan.runs.values():
        if r.parent:
            branch_steps.setdefault(r.parent, []).append(r.spec.branch_from.step)
    order = sorted(fig.runs, key=lambda n: fig.runs[n] in branch_steps)  # leaves first, else config order
    for name in order:
        rid = fig.runs[name]
        steps = pd.read_parquet(plan.run_dir(rid) / "metrics.parquet", columns=["step"])["step"].to_numpy()
        status = json.loads((plan.run_dir(rid) / "status.json").read_text())
        if status["status"] != "completed":
            continue  # a run the paper shows diverging already is one
        after = steps[steps > max(branch_steps.get(rid, [int(steps.min())]))]
        if len(after) >= 2:
            return name, rid, int(after[len(after) // 2])
    return None


def main(tier: str, out: str, x64: str, *targets: str) -> None:
    """Run in the workflow's folder (the plan's paths are relative to it)."""
    from optdyn.precision import configure_process

    configure_process(x64 == "1")
    import matplotlib.pyplot as plt

    from optdyn.claims import evaluate
    from optdyn.figures.common import draw, read_context, write
    from optdyn.spec.jobs import PaperInfo
    from optdyn.spec.load import load_plan
    from optdyn.train.results import load_run, read_run

    out_dir = Path(out)
    plan = load_plan(Path("config") / "config.yaml", tier=tier)
    for target in targets:
        fig = plan.figures[target]
        row = {"target": target}
        try:
            runs = {rid: load_run(plan, rid) for rid in fig.runs.values()}
            chosen = pick(plan, target)
            if chosen is not None:
                name, rid, at = chosen
                runs[rid] = read_run(diverge_copy(plan.run_dir(rid), out_dir / "runs" / rid, at), plan.data_root)
                row.update(run=name, run_id=rid, at=at)
            probes = {pid: plan.probe_path(pid) for pid in fig.probes.values()}
            paper = plan.papers[fig.paper]
            ctx = read_context(fig, PaperInfo(fig.paper, paper.title, paper.presets), runs, probes)
            stem = out_dir / "figures" / fig.paper / fig.key
            write(draw(ctx), stem)
            values = json.loads(Path(f"{stem}.values.json").read_text())
            row["claims"] = evaluate(fig.spec.claims, values)
        except Exception as exc:  # reported, not raised: the test lists every figure that fails
            row["error"] = f"{type(exc).__name__}: {exc}\n{traceback.format_exc()[-1500:]}"
            plt.close("all")
        print(json.dumps(row, default=str), flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
