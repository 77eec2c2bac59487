"""Gather a tier's figures, claim verdicts and deviations for the HTML report."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from optdyn import __version__
from optdyn.spec.load import Plan
from optdyn.train.provenance import git_commit

from .html import write_report


def build_report(plan: Plan, out_dir: Path | None = None) -> Path:
    out_dir = Path(out_dir or plan.tier_dir / "report")
    entries = []
    for target, fig in plan.figures.items():
        stem = plan.figure_stem(target)
        claims_file = Path(f"{stem}.claims.json")
        entries.append({
            "paper": fig.paper,
            "paper_title": plan.papers[fig.paper].title,
            "figure": fig.key,
            "title": fig.spec.title,
            "caption": fig.spec.caption,
            "png": f"{stem}.png",
            "pdf": f"{stem}.pdf",
            "csv": f"{stem}.csv",
            "claims": json.loads(claims_file.read_text()) if claims_file.exists() else [],
        })
    meta = {
        "generated": dt.datetime.now().isoformat(timespec="seconds"),
        "git_commit": git_commit(),
        "optdyn_version": __version__,
        "config": str(plan.config_file),
        "runs": len(plan.runs),
    }
    return write_report(out_dir, plan.tier, entries, plan.deviations, meta)
