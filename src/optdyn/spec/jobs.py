"""Job specs: the resolved, content-addressed spec of one run, probe, figure, claims check,
dataset or report, written once per id as JSON (``results/<tier>/specs/<kind>/<id>.json``).

The Snakefile parses and validates the YAML once; every job then reads only the spec file the
rule hands it, plus the inputs the rule declares. Loading a run's spec recomputes its id, so a
hand-edited spec file is refused instead of training under a wrong name.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter

from .errors import SpecError
from .identity import canonical, probe_id, run_id
from .load import Plan, ResolvedFigure, ResolvedProbe, ResolvedRun
from .paper import ClaimSpec, FigureSpec, RunSpec
from .probes import ProbeSpec
from .setting import config_line, setting_summary

KINDS = ("runs", "probes", "figures", "claims", "data", "report")
FORMAT = 1


@dataclass
class PaperInfo:
    """What a figure reads of its paper besides its own block: the title and the presets."""

    name: str
    title: str
    presets: dict[str, dict[str, Any]]


def job_spec(plan: Plan, kind: str, key: str) -> dict:
    """The JSON document of one job (``key``: a run id, probe id, figure target, dataset name,
    or ``tier`` for the report)."""
    if kind == "runs":
        run = plan.runs[key]
        return {"run_id": key, "parent": run.parent, "dataset": run.dataset, "used_by": run.used_by,
                "checkpoint_steps": sorted(run.checkpoint_steps), "spec": run.spec.model_dump(mode="json"),
                "hashed": canonical(run.spec, run.parent, run.dataset),
                **({"compile_over_budget": True} if run.compile_over_budget else {})}
    if kind == "probes":
        probe = plan.probes[key]
        return {"probe_id": key, "run_ids": probe.run_ids, "spec": probe.spec.model_dump(mode="json")}
    if kind in ("figures", "claims"):
        fig = plan.figure(key)
        if kind == "claims":
            return {"target": key, "claims": [c.model_dump(mode="json") for c in fig.spec.claims]}
        paper = plan.papers[fig.paper]
        return {"target": key, "paper": fig.paper, "key": fig.key, "paper_title": paper.title,
                "presets": paper.presets, "spec": fig.spec.model_dump(mode="json", exclude={"claims"}),
                "plot": fig.plot.model_dump(mode="json"), "runs": fig.runs, "probes": fig.probes,
                "run_specs": {rid: plan.runs[rid].spec.model_dump(mode="json") for rid in fig.runs.values()},
                "deviations": fig.deviations, "groups": fig.groups, "seeds": fig.seeds,
                "settings": fig.settings}
    if kind == "data":
        return {"dataset": key, "definition": plan.datasets[key]}
    if kind == "report":
        return {"tier": plan.tier, "config": str(plan.config_file), "runs": len(plan.runs),
                "papers": {name: p.title for name, p in plan.papers.items()},
                "figures": {t: report_entry(plan, f) for t, f in plan.figures.items()},
                "deviations": plan.deviations}
    raise ValueError(f"unknown job kind {kind!r}; allowed: {', '.join(KINDS)}")


def job_papers(plan: Plan, kind: str, key: str) -> list[str]:
    """The papers whose YAML decides this job's spec: a spec job loads only these (a run's or a
    probe's users, a figure's own paper), so its spec is the one the whole plan resolves, at a
    fraction of the cost. Datasets and the report read every paper of the plan."""
    if kind == "runs":
        papers = plan.runs[key].papers
    elif kind == "probes":
        papers = {f.paper for f in plan.figures.values() if key in f.probes.values()}
    elif kind in ("figures", "claims"):
        papers = {plan.figure(key).paper}
    else:
        papers = set()
    return sorted(papers) or list(plan.papers)


def report_entry(plan: Plan, fig: ResolvedFigure) -> dict:
    """What the report shows of a figure besides its files: the words, the setting that ran (and
    what it stands in for), the runs and probes it read, and where its config block is."""
    file = plan.config_file.parent / "papers" / f"{fig.paper}.yaml"
    return {"paper": fig.paper, "key": fig.key, "title": fig.spec.title, "caption": fig.spec.caption,
            "kind": fig.spec.kind, "runs": fig.runs, "probes": fig.probes, "seeds": fig.seeds,
            "setting": setting_summary(fig.settings), "config": {"file": str(file), "line": config_line(file, fig.key)},
            "deviations": fig.deviations}


def write_job_spec(plan: Plan, kind: str, key: str, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps({"format": FORMAT, "kind": kind, **job_spec(plan, kind, key)}, indent=1, sort_keys=True, default=str) + "\n")
    tmp.replace(path)
    return path


def read_job_spec(path: str | Path, kind: str) -> dict:
    path = Path(path)
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError:
        raise SpecError(str(path), "", None, "job spec not found; jobs are handed their spec by the workflow") from None
    except json.JSONDecodeError as exc:
        raise SpecError(str(path), "", None, f"not valid JSON: {exc}") from None
    except (UnicodeDecodeError, IsADirectoryError) as exc:
        raise SpecError(str(path), "", None, f"not a JSON job spec ({type(exc).__name__})") from None
    if not isinstance(doc, dict):
        raise SpecError(str(path), "", type(doc).__name__, f"expected a '{kind}' job spec (a JSON object)")
    if doc.get("kind") != kind or doc.get("format") != FORMAT:
        raise SpecError(str(path), "kind", doc.get("kind"), f"expected a '{kind}' job spec of format {FORMAT}")
    return doc


def load_run_job(path: str | Path) -> ResolvedRun:
    doc = read_job_spec(path, "runs")
    spec = RunSpec.model_validate_json(json.dumps(doc["spec"]))
    rid = run_id(spec, doc["parent"], doc["dataset"])
    if rid != doc["run_id"]:
        raise SpecError(str(path), "spec", doc["run_id"], f"the spec hashes to {rid}: the file was modified")
    run = ResolvedRun(rid, spec, doc["parent"], list(doc["used_by"]), set(doc["checkpoint_steps"]), doc["dataset"],
                      bool(doc.get("compile_over_budget", False)))
    return run


def load_probe_job(path: str | Path) -> ResolvedProbe:
    doc = read_job_spec(path, "probes")
    spec = TypeAdapter(ProbeSpec).validate_json(json.dumps(doc["spec"]))
    pid = probe_id(spec, doc["run_ids"])
    if pid != doc["probe_id"]:
        raise SpecError(str(path), "spec", doc["probe_id"], f"the spec hashes to {pid}: the file was modified")
    return ResolvedProbe(pid, dict(doc["run_ids"]), spec)


def load_figure_job(path: str | Path) -> tuple[ResolvedFigure, PaperInfo]:
    """The figure and its paper's title and presets. (The file also holds the resolved spec of
    each run it draws, so editing a run's logging fields redraws the figure; the figure itself
    reads each run's spec from the run's own folder: what was actually trained.)"""
    from optdyn.registry import PLOT_SPECS

    doc = read_job_spec(path, "figures")
    spec = FigureSpec.model_validate_json(json.dumps(doc["spec"]))
    plot = PLOT_SPECS.of(doc["paper"])[doc["key"]].model_validate_json(json.dumps(doc["plot"]))
    fig = ResolvedFigure(doc["paper"], doc["key"], spec, plot, dict(doc["runs"]), list(doc["deviations"]), dict(doc["probes"]),
                         dict(doc.get("groups", {})), list(doc.get("seeds", [])), dict(doc.get("settings", {})))
    return fig, PaperInfo(doc["paper"], doc["paper_title"], doc["presets"])


def load_claims_job(path: str | Path) -> list[ClaimSpec]:
    doc = read_job_spec(path, "claims")
    return [ClaimSpec.model_validate_json(json.dumps(c)) for c in doc["claims"]]
