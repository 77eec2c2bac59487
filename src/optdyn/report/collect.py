"""Gather a tier's figures, claim verdicts, deviations and provenance for the HTML report.

The report job is handed the tier's report spec (titles, captions, setting, runs, deviations:
spec/jobs.py), every figure's files and its runs' ``spec.json`` / ``provenance.json``; it reads
nothing else but the figure functions' module sources, which it copies into the bundle.
"""

from __future__ import annotations

import datetime as dt
import inspect
import json
from pathlib import Path

from optdyn import __version__
from optdyn.train.provenance import git_commit, versions

from .cost import run_cost
from .html import write_report

PROVENANCE_KEYS = ("wall_time_s", "device", "host", "git_commit")


def figure_source(paper: str, key: str) -> dict:
    """The module that draws figure ``key`` of ``paper``: {module, file}; {} if none is found."""
    from optdyn.registry import FIGURES

    try:
        fn = FIGURES.get((paper, key))
        return {"module": fn.__module__, "file": inspect.getsourcefile(fn)}
    except Exception:  # noqa: BLE001 - an unknown figure must not cost the whole report its page
        return {}


def run_files_of(paths: list[str | Path]) -> dict[str, dict[str, str]]:
    """Run files (``runs/<run_id>/{spec,provenance}.json``) grouped as run id -> {stem: path}."""
    out: dict[str, dict[str, str]] = {}
    for p in map(Path, paths):
        out.setdefault(p.parent.name, {})[p.stem] = str(p)
    return out


def _provenance(files: dict[str, str]) -> dict:
    path = files.get("provenance")
    if not path or not Path(path).is_file():
        return {}
    doc = json.loads(Path(path).read_text())
    return {k: doc.get(k) for k in PROVENANCE_KEYS}


def build_report(spec: dict, stems: dict[str, Path], out_html: Path, run_paths: list[str | Path] = ()) -> Path:
    """``stems``: figure target -> the path stem of its png/pdf/csv/claims.json;
    ``run_paths``: the runs' spec.json / provenance.json files."""
    run_files = run_files_of(run_paths)
    commit = git_commit()
    entries = []
    for target, fig in spec["figures"].items():
        stem = stems[target]
        claims_file = Path(f"{stem}.claims.json")
        runs = fig.get("runs") or {}
        source = figure_source(fig["paper"], fig["key"])
        if source:
            source["commit"] = commit
        entries.append({
            "paper": fig["paper"], "paper_title": spec["papers"][fig["paper"]], "figure": fig["key"],
            "title": fig["title"], "caption": fig["caption"], "kind": fig.get("kind", "figure"),
            "png": f"{stem}.png", "pdf": f"{stem}.pdf", "csv": f"{stem}.csv",
            "claims_json": str(claims_file), "values_json": f"{stem}.values.json",
            "claims": json.loads(claims_file.read_text()) if claims_file.exists() else [],
            "runs": runs, "probes": fig.get("probes") or {}, "seeds": fig.get("seeds") or [],
            "setting": fig.get("setting") or {}, "config": fig.get("config") or {},
            "provenance": {rid: _provenance(run_files.get(rid, {})) for rid in runs.values()},
            "costs": {rid: c for rid in runs.values() if (c := run_cost(run_files.get(rid, {}))) is not None},
            "source": source,
        })
    meta = {
        "generated": dt.datetime.now().isoformat(timespec="seconds"),
        "git_commit": commit,
        "optdyn_version": __version__,
        "config": spec["config"],
        "runs": spec["runs"],
        "versions": ", ".join(f"{k} {v}" for k, v in versions().items()),
    }
    out_html = Path(out_html)
    if out_html.name != "index.html":
        raise ValueError(f"the report is written as <folder>/index.html; got {out_html}")
    used = {rid for e in entries for rid in e["runs"].values()}
    return write_report(out_html.parent, spec["tier"], entries, spec["deviations"], meta,
                        run_files={r: f for r, f in run_files.items() if r in used})
