"""Load config.yaml and the paper files into a validated, tier-merged ``Plan``.

Everything that can be wrong with a config is found here, before Snakemake schedules a job.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import pydantic
from pydantic import TypeAdapter

from optdyn.registry import PAPERS, PLOT_SPECS

from .datasets import load_datasets
from .expr import resolve_claims
from .errors import SpecError, from_validation
from .identity import probe_id, run_id, run_refs
from .expand import FAMILY_KEYS, expand_figure
from .overrides import apply_overrides, resolve_presets
from .paper import FigureSpec, PaperSpec, RunSpec, WorkflowConfig
from .plots import PlotSpec
from .probes import CheckpointRef
from .runs import natural_steps, wsd_plan_runs
from .yamlio import load_yaml


@dataclass
class ResolvedRun:
    run_id: str
    spec: RunSpec  # with steps resolved
    parent: str | None = None  # run id of branch_from
    used_by: list[str] = field(default_factory=list)  # "wsd/fig04:wsd"
    checkpoint_steps: set[int] = field(default_factory=set)  # declared + needed by branches
    dataset: dict | None = None  # the prepared dataset's definition (config/data.yaml), if any


@dataclass
class ResolvedProbe:
    probe_id: str
    run_ids: dict[str, str]  # figure-local run name -> run id: every run the probe reads
    spec: Any  # a ProbeSpec

    @property
    def run_id(self) -> str:
        """The run a one-run probe measures (a probe across runs: their ids, joined by ', ')."""
        return ", ".join(self.run_ids.values())


@dataclass
class ResolvedFigure:
    paper: str
    key: str
    spec: FigureSpec
    plot: PlotSpec
    runs: dict[str, str]  # figure-local run name -> run id
    deviations: list[dict]
    probes: dict[str, str] = field(default_factory=dict)  # figure-local probe name -> probe id
    # a sweep's or replicate's name -> its members [{name, values}], in order (spec/expand.py)
    groups: dict[str, list[dict]] = field(default_factory=dict)
    seeds: list[int] = field(default_factory=list)  # figure-level replicates, [] if none

    @property
    def target(self) -> str:
        return f"{self.paper}_{self.key}"


@dataclass
class Plan:
    config: WorkflowConfig
    config_file: Path
    papers: dict[str, PaperSpec]
    runs: dict[str, ResolvedRun]
    figures: dict[str, ResolvedFigure]  # by target name, e.g. wsd_fig03
    deviations: list[dict]
    probes: dict[str, ResolvedProbe] = field(default_factory=dict)
    datasets: dict[str, dict] = field(default_factory=dict)  # config/data.yaml, resolved

    @property
    def tier(self) -> str:
        return self.config.tier

    @property
    def tier_dir(self) -> Path:
        return Path(self.config.results) / self.tier

    def run_dir(self, rid: str) -> Path:
        return self.tier_dir / "runs" / rid

    @property
    def data_root(self) -> Path:
        return Path(self.config.resources) / "data"

    def dataset_dir(self, name: str) -> Path:
        return self.data_root / name

    def spec_path(self, kind: str, key: str) -> Path:
        """Where the job spec of a run / probe / figure / claims check / dataset lies (spec/jobs.py)."""
        return self.tier_dir / "specs" / kind / f"{key}.json"

    def probe_path(self, pid: str) -> Path:
        return self.tier_dir / "probes" / f"{pid}.parquet"

    def figure_stem(self, target: str) -> Path:
        fig = self.figures[target]
        return self.tier_dir / "figures" / fig.paper / fig.key

    def figure(self, target: str) -> ResolvedFigure:
        if target not in self.figures:
            raise SpecError(str(self.config_file), "target", target, f"unknown figure target; allowed: {', '.join(self.figures)}")
        return self.figures[target]


def load_config(path: str | Path, tier: str | None = None, papers: list[str] | None = None,
                overrides: dict[str, Any] | None = None) -> WorkflowConfig:
    """``overrides``: config keys given on the command line (``snakemake --config k=v``,
    ``optdyn --results ...``), applied over the file's; an unknown or invalid one is refused."""
    path = Path(path)
    raw = load_yaml(path)
    if not isinstance(raw, dict):
        raise SpecError(str(path), "", raw, "expected a mapping at the top level")
    raw = dict(raw)
    given = dict(overrides or {})
    if tier is not None:
        given["tier"] = tier
    if papers is not None:
        given["papers"] = papers
    raw.update(given)
    try:
        cfg = _validate(WorkflowConfig, raw, str(path), "")
    except SpecError as exc:
        if exc.path.split(".")[0].split("[")[0] in given:
            raise SpecError(exc.file, exc.path, exc.value, exc.expected + " (value given on the command line)") from None
        raise
    for k, name in enumerate(cfg.papers):
        if name not in PAPERS:
            raise SpecError(str(path), f"papers[{k}]", name, f"unknown paper; allowed: {', '.join(PAPERS)}")
    return cfg


def load_plan(config_path: str | Path = "config/config.yaml", tier: str | None = None, papers: list[str] | None = None,
              overrides: dict[str, Any] | None = None) -> Plan:
    from .guards import check_data_file, check_plan

    config_path = Path(config_path)
    cfg = load_config(config_path, tier, papers, overrides)
    check_data_file(cfg, config_path)
    plan = Plan(cfg, config_path, {}, {}, {}, [], datasets=load_datasets(config_path.parent / cfg.data))
    for name in cfg.papers:
        _load_paper(plan, config_path.parent / "papers" / f"{name}.yaml", name)
    check_plan(plan)
    return plan


def _load_paper(plan: Plan, file: Path, name: str) -> None:
    f = str(file)
    doc = load_yaml(file)
    if not isinstance(doc, dict):
        raise SpecError(f, "", doc, "expected a mapping at the top level")
    if doc.get("paper") != name:
        raise SpecError(f, "paper", doc.get("paper"), f"must be '{name}' (the file's name)")
    tiers = doc.get("tiers") or {}
    deviations = []
    if plan.tier != "paper" and isinstance(tiers, dict) and isinstance(tiers.get(plan.tier), dict):
        deviations = apply_overrides(doc, tiers[plan.tier], f, plan.tier)
    presets = doc.get("presets") or {}
    if isinstance(presets, dict):
        presets = doc["presets"] = resolve_presets(presets, f)
        _check_presets(presets, f)
    groups: dict[str, dict[str, list[dict]]] = {}
    budgets: dict[str, dict[str, int]] = {}
    for fkey, fig in (doc.get("figures") or {}).items():
        if isinstance(fig, dict):
            groups[fkey], budgets[fkey] = expand_figure(fig, presets, f, f"figures.{fkey}")
    paper = _validate_with_overrides(doc, f, deviations, plan.tier)
    plan.papers[name] = paper
    plan.deviations += deviations
    registry = PLOT_SPECS.of(name)  # figure key -> plot spec class
    for fkey, fig in paper.figures.items():
        where = f"figures.{fkey}"
        if fkey not in registry:
            raise SpecError(f, where, fkey, f"unknown figure of paper '{name}'; allowed: {', '.join(registry)}")
        plot_cls = registry[fkey]
        plot = _validate(plot_cls, fig.plot, f, f"{where}.plot")
        _check_plot(plot, plot_cls, fig, paper, f, where, groups.get(fkey, {}))
        runs = _resolve_runs(plan, fig, f, where, f"{name}/{fkey}")
        probes = _resolve_probes(plan, fig, runs, f, where)
        devs = [d for d in deviations if d["scope"] == f"{name}/{fkey}"]
        target = f"{name}_{fkey}"
        fig = resolve_claims(fig, _namespace(plan, fig, runs, plot, paper), f, where)
        fig = fig.model_copy(update={"claims": [_for_tier(c, plan.tier) for c in fig.claims]})
        plan.figures[target] = ResolvedFigure(name, fkey, fig, plot, runs, devs, probes, groups.get(fkey, {}), list(fig.seeds or []))


def _for_tier(claim: Any, tier: str) -> Any:
    known = {t: r for t, r in claim.known_failure.items() if t == tier}
    return claim if known == claim.known_failure else claim.model_copy(update={"known_failure": known})


def _namespace(plan: Plan, fig: FigureSpec, runs: dict[str, str], plot: PlotSpec, paper: PaperSpec) -> dict:
    """What a claim's expression may read: the figure's resolved runs, its plot, the presets."""
    return {"runs": {name: plan.runs[rid].spec.model_dump(mode="json") for name, rid in runs.items()},
            "plot": plot.model_dump(mode="json"), "presets": paper.presets}


def _resolve_probes(plan: Plan, fig: FigureSpec, runs: dict[str, str], f: str, where: str) -> dict[str, str]:
    out = {}
    for pname, probe in fig.probes.items():
        pwhere = f"{where}.probes.{pname}"
        used = {}
        for path, name in run_refs(probe.model_dump(mode="json")):
            if name not in runs:
                raise SpecError(f, f"{pwhere}.{path}", name, f"no such run in this figure; have: {', '.join(runs)}")
            used[name] = runs[name]
        _check_points(plan, probe, used, f, pwhere)
        pid = probe_id(probe, used)
        plan.probes.setdefault(pid, ResolvedProbe(pid, used, probe))
        out[pname] = pid
    return out


def _check_points(plan: Plan, probe: Any, used: dict[str, str], f: str, pwhere: str) -> None:
    """A probe's ``{run, step}`` points: within their runs, on one parameter structure (one
    model); like a branch point, each step becomes a checkpoint the run keeps."""
    points = [(path, p) for path, p in _named(probe, "step") if isinstance(p, CheckpointRef)]
    first = points[0][1].run if points else None
    for path, point in points:
        run = plan.runs[used[point.run]]
        branch = run.spec.branch_from
        if point.step > run.spec.steps:
            raise SpecError(f, f"{pwhere}.{path}.step", point.step, f"run '{point.run}' only runs {run.spec.steps} steps")
        if branch is not None and point.step < branch.step:
            raise SpecError(f, f"{pwhere}.{path}.step", point.step,
                            f"run '{point.run}' starts at step {branch.step} (a branch of '{branch.run}'); name that run for earlier steps")
        if point.step > (branch.step if branch is not None else 0):  # the start is the parent's checkpoint / the init
            run.checkpoint_steps.add(point.step)
        if run.spec.model != plan.runs[used[first]].spec.model:
            raise SpecError(f, f"{pwhere}.{path}.run", point.run,
                            f"its model differs from run '{first}''s; the points of one landscape must share a model")


def _check_plot(plot: PlotSpec, cls: type[PlotSpec], fig: FigureSpec, paper: PaperSpec, f: str, where: str,
                groups: dict[str, list[dict]]) -> None:
    for kind, have, needed in (("runs", [*fig.runs, *groups], cls.required_runs), ("probes", [*fig.probes, *groups], cls.required_probes)):
        if any(n not in have for n in needed):
            raise SpecError(f, f"{where}.{kind}", sorted(have), f"this figure needs {kind} named {list(needed)}")
    for row_key, row in _named(plot, "preset"):
        if row.preset not in paper.presets:
            raise SpecError(f, f"{where}.plot.{row_key}.preset", row.preset, f"unknown preset; allowed: {', '.join(paper.presets)}")
    for k, claim in enumerate(fig.claims):
        if cls.metrics and claim.metric not in cls.metrics:
            raise SpecError(f, f"{where}.claims[{k}].metric", claim.metric, f"this figure computes: {', '.join(cls.metrics)}")


def _named(model: Any, attr: str, path: str = "") -> list:
    """Every sub-model (in lists/fields) that has ``attr``, with its display path."""
    out = []
    if hasattr(model, attr) and path:
        out.append((path, model))
    if isinstance(model, pydantic.BaseModel):
        for k in type(model).model_fields:
            out += _named(getattr(model, k), attr, f"{path}.{k}" if path else k)
    elif isinstance(model, (list, tuple)):
        for i, item in enumerate(model):
            out += _named(item, attr, f"{path}[{i}]")
    return out


def _validate_with_overrides(doc: dict, f: str, deviations: list[dict], tier: str) -> PaperSpec:
    """Validate the merged paper; an error in a value a tier override set names the override."""
    try:
        return _validate(PaperSpec, doc, f, "")
    except SpecError as exc:
        for dev in deviations:
            if exc.path == dev["path"] or exc.path.startswith(dev["path"] + "."):
                raise SpecError(f, f"tiers.{tier}.{dev['path']}", exc.value, exc.expected + " (value set by this tier override)") from None
        raise


def _block_type(key: str) -> Any:
    field = RunSpec.model_fields[key]
    # the FieldInfo carries the discriminator (the bare annotation would lose it); only that,
    # since its other attributes (validate_default...) mean nothing outside a model
    if field.discriminator is None:
        return field.annotation
    return Annotated[field.annotation, pydantic.Field(discriminator=field.discriminator)]


@functools.cache
def _adapter(key: str) -> TypeAdapter:
    """One adapter per run key: building one costs ~2 ms, and every spec job loads the plan."""
    return TypeAdapter(_block_type(key))


def _check_presets(presets: dict, f: str) -> None:
    """Presets are partial runs, merged into runs by ``extends``: a block that names its kind
    (``name: ...``) must be valid on its own; nameless blocks are fragments checked once merged."""
    fields = tuple(RunSpec.model_fields)
    for name, preset in presets.items():
        if not isinstance(preset, dict):
            raise SpecError(f, f"presets.{name}", preset, "a preset is a mapping of run keys")
        for key, value in preset.items():
            where = f"presets.{name}.{key}"
            if key in FAMILY_KEYS:
                continue  # checked where a run uses the preset (spec/expand.py)
            if key not in fields:
                raise SpecError(f, where, key, f"unknown key; allowed keys: {', '.join(fields + FAMILY_KEYS)}")
            if isinstance(value, dict) and "name" not in value:
                continue
            tp = _block_type(key)
            try:
                _adapter(key).validate_json(json.dumps(value), strict=True)
            except pydantic.ValidationError as exc:
                raise from_validation(exc, tp, f, where) from None


def preset_block(paper: PaperSpec, name: str, key: str) -> Any:
    """The typed ``key`` block (model, schedule, ...) of a preset."""
    return _adapter(key).validate_json(json.dumps(paper.presets[name][key]), strict=True)


def _resolve_runs(plan: Plan, fig: FigureSpec, f: str, where: str, scope: str) -> dict[str, str]:
    specs: dict[str, RunSpec] = {}
    written: dict[str, str] = {}  # run name -> the YAML entry it comes from (WSD branches expand)
    for rname, spec in fig.runs.items():
        for sub, sub_spec in wsd_plan_runs(rname, spec).items():
            written[sub] = rname
            if sub in fig.runs and sub != rname:
                raise SpecError(f, f"{where}.runs.{sub}", sub, "name is taken by an expanded WSD branch; rename the run")
            specs[sub] = sub_spec
    ids: dict[str, str] = {}

    def resolve(rname: str, stack: tuple[str, ...]) -> str:
        if rname in ids:
            return ids[rname]
        spec = specs[rname]
        rwhere = f"{where}.runs.{written[rname]}"
        steps = spec.steps or natural_steps(spec)
        if steps is None:
            raise SpecError(f, f"{rwhere}.steps", None, f"required for schedule '{spec.schedule.name}'")
        spec = spec.model_copy(update={"steps": steps})
        parent = None
        if spec.branch_from is not None:
            pname = spec.branch_from.run
            if pname not in specs:
                raise SpecError(f, f"{rwhere}.branch_from.run", pname, f"no such run in this figure; have: {', '.join(specs)}")
            if pname in stack:
                raise SpecError(f, f"{rwhere}.branch_from.run", pname, "branching forms a cycle")
            parent = resolve(pname, stack + (rname,))
            if spec.branch_from.step > plan.runs[parent].spec.steps:
                raise SpecError(f, f"{rwhere}.branch_from.step", spec.branch_from.step, f"parent '{pname}' only runs {plan.runs[parent].spec.steps} steps")
            if spec.branch_from.step >= steps:
                raise SpecError(f, f"{rwhere}.branch_from.step", spec.branch_from.step, f"must be below this run's steps ({steps})")
            plan.runs[parent].checkpoint_steps.add(spec.branch_from.step)
        dataset = None
        if spec.data is not None and spec.data.name == "prepared":
            if spec.data.dataset not in plan.datasets:
                allowed = ", ".join(plan.datasets) or "none (no config/data.yaml)"
                raise SpecError(f, f"{rwhere}.data.dataset", spec.data.dataset, f"not a dataset of {plan.config.data}; allowed: {allowed}")
            dataset = plan.datasets[spec.data.dataset]
        rid = run_id(spec, parent, dataset)
        run = plan.runs.setdefault(rid, ResolvedRun(rid, spec, parent, dataset=dataset))
        run.used_by.append(f"{scope}:{rname}")
        run.checkpoint_steps.update(spec.checkpoint_steps)
        ids[rname] = rid
        return rid

    for rname in specs:
        resolve(rname, ())
    return ids


def _validate(cls: type[pydantic.BaseModel], raw: Any, f: str, prefix: str):
    try:
        return cls.model_validate_json(json.dumps(raw))
    except pydantic.ValidationError as exc:
        raise from_validation(exc, cls, f, prefix) from None
    except TypeError as exc:  # e.g. non-string mapping keys in the YAML
        raise SpecError(f, prefix, None, f"cannot be represented as JSON: {exc}") from None
