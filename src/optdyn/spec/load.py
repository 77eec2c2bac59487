"""Load config.yaml and the paper files into a validated, tier-merged ``Plan``.

Everything that can be wrong with a config is found here, before Snakemake schedules a job.
"""

from __future__ import annotations

import functools
import json
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
from .probes import CheckpointRef, PathRef
from .runs import natural_steps, wsd_plan_runs
from .setting import base_runs, settings
from .yamlio import load_yaml
from .plan import Plan, ResolvedFigure, ResolvedProbe, ResolvedRun  # noqa: F401  (the plan's types, re-exported)


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
    if plan.tier == "check":  # the paper tier (no tier overrides), clipped
        from .check_tier import to_check

        return to_check(plan)
    return plan


def _load_paper(plan: Plan, file: Path, name: str) -> None:
    f = str(file)
    doc = load_yaml(file)
    if not isinstance(doc, dict):
        raise SpecError(f, "", doc, "expected a mapping at the top level")
    if doc.get("paper") != name:
        raise SpecError(f, "paper", doc.get("paper"), f"must be '{name}' (the file's name)")
    if doc.get("figures") == {}:  # before the tier's overrides, which would blame a figure path instead
        raise SpecError(f, "figures", {}, "at least one figure")
    tiers = doc.get("tiers") or {}
    deviations = []
    paper_runs = None  # the paper's own runs, for what a scaled-down tier's runs stand in for
    if plan.tier != "paper" and isinstance(tiers, dict) and isinstance(tiers.get(plan.tier), dict):
        paper_runs = base_runs(doc, f)
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
        probes = _resolve_probes(plan, fig, runs, f, where, groups.get(fkey, {}))
        devs = [d for d in deviations if d["scope"] == f"{name}/{fkey}"]
        target = f"{name}_{fkey}"
        fig = resolve_claims(fig, _namespace(plan, fig, runs, plot, paper), f, where)
        fig = fig.model_copy(update={"claims": [_for_tier(c, plan.tier) for c in fig.claims]})
        setting = settings({r: plan.runs[rid].spec for r, rid in runs.items()},
                           None if paper_runs is None else paper_runs.get(fkey, {}), plan.datasets)
        plan.figures[target] = ResolvedFigure(name, fkey, fig, plot, runs, devs, probes, groups.get(fkey, {}),
                                              list(fig.seeds or []), setting)


def _for_tier(claim: Any, tier: str) -> Any:
    known = {t: r for t, r in claim.known_failure.items() if t == tier}
    return claim if known == claim.known_failure else claim.model_copy(update={"known_failure": known})


def _namespace(plan: Plan, fig: FigureSpec, runs: dict[str, str], plot: PlotSpec, paper: PaperSpec) -> dict:
    """What a claim's expression may read: the figure's resolved runs, its plot, the presets."""
    return {"runs": {name: plan.runs[rid].spec.model_dump(mode="json") for name, rid in runs.items()},
            "plot": plot.model_dump(mode="json"), "presets": paper.presets}


def _resolve_probes(plan: Plan, fig: FigureSpec, runs: dict[str, str], f: str, where: str,
                    groups: dict[str, list[dict]] | None = None) -> dict[str, str]:
    out = {}
    for pname, probe in fig.probes.items():
        pwhere = f"{where}.probes.{pname}"
        probe = _expand_group_refs(probe, groups or {})
        used = {}
        for path, name in run_refs(probe.model_dump(mode="json")):
            if name not in runs:
                raise SpecError(f, f"{pwhere}.{path}", name, f"no such run in this figure; have: {', '.join(runs)}")
            used[name] = runs[name]
        _check_points(plan, probe, used, f, pwhere)
        _keep_path_states(plan, probe, used)
        pid = probe_id(probe, used)
        plan.probes.setdefault(pid, ResolvedProbe(pid, used, probe))
        out[pname] = pid
    return out


def _keep_path_states(plan: Plan, probe: Any, used: dict[str, str]) -> None:
    """A trajectory a probe reads every ``every`` steps (``PathRef``) is kept as checkpoints, like
    a ``{run, step}`` point, so the probe restores its states instead of replaying the run."""
    for _, ref in _named(probe, "every"):
        if not isinstance(ref, PathRef):
            continue
        run = plan.runs[used[ref.run]]
        start = run.spec.branch_from.step if run.spec.branch_from is not None else 0
        lo = max(start, ref.from_step or 0)
        run.checkpoint_steps.update(s for s in range(lo, run.spec.steps + 1, ref.every) if s > start)


def _expand_group_refs(probe: Any, groups: dict[str, list[dict]]) -> Any:
    """A list item ``{run: <sweep group>, ...}`` of a probe stands for one item per member, in
    sweep order (a PCA landscape over every subpath); the expanded spec is the probe's, so its
    id follows the members. Probes naming no group are returned unchanged."""
    def walk(node):
        if isinstance(node, list):
            out = []
            for item in node:
                if isinstance(item, dict) and item.get("run") in groups:
                    out += [{**item, "run": m["name"]} for m in groups[item["run"]]]
                else:
                    out.append(walk(item))
            return out
        if isinstance(node, dict):
            return {k: walk(v) for k, v in node.items()}
        return node

    data = probe.model_dump(mode="json")
    expanded = walk(data)
    return probe if expanded == data else type(probe).model_validate(expanded)


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
