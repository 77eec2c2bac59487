"""Gather a tier's figures, claim verdicts and deviations for the HTML report.

The report job is handed the tier's report spec (titles, captions, deviations: spec/jobs.py)
and every figure's files; it reads nothing else.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from optdyn import __version__
from optdyn.train.provenance import git_commit, versions

from .html import write_report


def build_report(spec: dict, stems: dict[str, Path], out_html: Path) -> Path:
    """``stems``: figure target -> the path stem of its png/pdf/csv/claims.json."""
    entries = []
    for target, fig in spec["figures"].items():
        stem = stems[target]
        claims_file = Path(f"{stem}.claims.json")
        entries.append({
            "paper": fig["paper"],
            "paper_title": spec["papers"][fig["paper"]],
            "figure": fig["key"],
            "title": fig["title"],
            "caption": fig["caption"],
            "png": f"{stem}.png",
            "pdf": f"{stem}.pdf",
            "csv": f"{stem}.csv",
            "claims": json.loads(claims_file.read_text()) if claims_file.exists() else [],
        })
    meta = {
        "generated": dt.datetime.now().isoformat(timespec="seconds"),
        "git_commit": git_commit(),
        "optdyn_version": __version__,
        "config": spec["config"],
        "runs": spec["runs"],
        "versions": ", ".join(f"{k} {v}" for k, v in versions().items()),
    }
    out_html = Path(out_html)
    if out_html.name != "index.html":
        raise ValueError(f"the report is written as <folder>/index.html; got {out_html}")
    return write_report(out_html.parent, spec["tier"], entries, spec["deviations"], meta)
