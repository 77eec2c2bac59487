"""Run families written once: sweeps over dotted paths, seed replicates, and step counts
written as a percentage of a run's budget. All act on the raw YAML, before typing, so every
member is an ordinary run: typed, validated and content-addressed like any other.

A sweep ``{product: {path: [values]}, zip: {path: [values]}}`` makes one run per combination
(product axes crossed with the zipped tuple), named ``<run>[<key>=<value>,...]``; the run's
name then names the group. ``seeds: [0, 1, 2]`` on a run is a product axis over ``seed``. A
figure's ``seeds`` replicates the whole figure: every run and probe gets one member per seed,
each member branching from (and probing) the members of its own seed.
"""

from __future__ import annotations

import copy
import math
import itertools
import json
import re
from fractions import Fraction
from typing import Any

from .errors import SpecError
from .overrides import expand_presets, split_path

#: keys of a run or preset that make a family of runs (or fix step percentages), never a RunSpec field
FAMILY_KEYS = ("sweep", "seeds", "budget", "replicate")
#: the keys whose values count steps, and may be written as "<p>%" of the run's ``budget``
STEP_KEYS = frozenset({"steps", "step", "decays", "checkpoint_steps", "warmup_steps", "until", "total_steps", "cycle_ends"})
PERCENT = re.compile(r"^(\d+(?:\.\d+)?)%$")


def member_name(group: str, values: dict[str, Any]) -> str:
    return f"{group}[{','.join(f'{_short(k, values)}={_show(v)}' for k, v in values.items())}]"


def _short(path: str, values: dict[str, Any]) -> str:
    """The last part of a dotted path, or the whole path where two swept paths share it."""
    last = split_path(path)[-1]
    clash = sum(1 for p in values if split_path(p)[-1] == last) > 1
    return path if clash else last


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (int, str)):
        return str(value)
    return json.dumps(value, separators=(",", ":"))


def sweep_members(run: dict, file: str, where: str) -> list[tuple[dict[str, Any], dict]]:
    """``(swept values, member run)`` of a run with ``sweep`` and/or ``seeds``; ``[]`` for a plain run."""
    sweep = run.get("sweep")
    seeds = run.get("seeds")
    if sweep is None and seeds is None:
        return []
    base = {k: v for k, v in run.items() if k not in ("sweep", "seeds")}
    axes: list[list[dict[str, Any]]] = []
    if sweep is not None:
        if not isinstance(sweep, dict) or not sweep or set(sweep) - {"product", "zip"}:
            raise SpecError(file, f"{where}.sweep", sweep, "a mapping with 'product' and/or 'zip', each {dotted.path: [values]}")
        for kind in ("product", "zip"):
            if kind in sweep:
                axes += _axes(kind, sweep[kind], file, f"{where}.sweep.{kind}")
    if seeds is not None:
        axes.append([{"seed": s} for s in _seed_list(seeds, file, f"{where}.seeds")])
    out, seen = [], {}
    for combo in itertools.product(*axes):
        values = {k: v for part in combo for k, v in part.items()}
        member = copy.deepcopy(base)
        for path, value in values.items():
            _set(member, split_path(path), copy.deepcopy(value), file, f"{where}.sweep ({path})")
        key = json.dumps(values, sort_keys=True, default=str)
        if key in seen:
            raise SpecError(file, f"{where}.sweep", values, "this combination appears twice; sweep values must be distinct")
        seen[key] = True
        out.append((values, member))
    return out


def _axes(kind: str, block: Any, file: str, where: str) -> list[list[dict[str, Any]]]:
    if not isinstance(block, dict) or not block:
        raise SpecError(file, where, block, "a mapping {dotted.path: [values]}")
    for path, values in block.items():
        if not isinstance(path, str) or not split_path(path):
            raise SpecError(file, f"{where}.{path}", path, "a dotted path of the run, e.g. optimizer.lr")
        if not isinstance(values, list) or not values:
            raise SpecError(file, f"{where}.{path}", values, "a non-empty list of values")
        if path in ("sweep", "seeds") or split_path(path)[0] in ("sweep", "seeds", "extends"):
            raise SpecError(file, f"{where}.{path}", path, "cannot sweep the sweep itself or a preset list")
    if kind == "product":
        return [[{path: v} for v in values] for path, values in block.items()]
    lengths = {path: len(values) for path, values in block.items()}
    if len(set(lengths.values())) != 1:
        raise SpecError(file, where, lengths, "zipped lists must have one length")
    n = next(iter(lengths.values()))
    return [[{path: values[i] for path, values in block.items()} for i in range(n)]]


def _seed_list(seeds: Any, file: str, where: str) -> list[int]:
    if not isinstance(seeds, list) or not seeds or not all(isinstance(s, int) and not isinstance(s, bool) for s in seeds):
        raise SpecError(file, where, seeds, "a non-empty list of integer seeds")
    if len(set(seeds)) != len(seeds):
        raise SpecError(file, where, seeds, "seeds must be distinct")
    return seeds


def _set(node: dict, parts: list[str], value: Any, file: str, where: str) -> None:
    for k, part in enumerate(parts[:-1]):
        nxt = node.get(part)
        if nxt is None:
            nxt = node[part] = {}
        if not isinstance(nxt, dict):
            raise SpecError(file, where, ".".join(parts[: k + 1]), "the swept path runs into a value that is not a mapping")
        node = nxt
    node[parts[-1]] = value


def expand_runs(runs: dict, file: str, where: str) -> tuple[dict, dict[str, list[dict]]]:
    """The runs with every sweep expanded, and the groups: ``name -> [{name, values}]``."""
    out: dict = {}
    groups: dict[str, list[dict]] = {}
    for name, run in runs.items():
        members = sweep_members(run, file, f"{where}.{name}") if isinstance(run, dict) else []
        if not members:
            out[name] = run
            continue
        groups[name] = []
        for values, member in members:
            mname = member_name(name, values)
            if mname in runs:
                raise SpecError(file, f"{where}.{mname}", mname, f"the name is taken by a member of sweep '{name}'; rename the run")
            out[mname] = member
            groups[name].append({"name": mname, "values": values})
    return out, groups


def replicate_figure(fig: dict, seeds: list[int], groups: dict[str, list[dict]], file: str, where: str) -> dict[str, list[dict]]:
    """Figure-level ``seeds``: each run and probe becomes one member per seed (in place); returns
    the groups, run and probe names alike, so a figure reads ``name`` per seed. A run marked
    ``replicate: false`` (say, an expensive pretrained parent) stays one run that every seed's
    members share."""
    seeds = _seed_list(seeds, file, f"{where}.seeds")
    if groups:
        raise SpecError(file, f"{where}.seeds", seeds, f"a figure with sweeps ({', '.join(groups)}) replicates per run: put seeds on the runs")
    runs = fig.get("runs") or {}
    shared = {name for name, run in runs.items() if isinstance(run, dict) and run.get("replicate") is False}
    new_runs: dict = {}
    out: dict[str, list[dict]] = {}
    for name, run in runs.items():
        if name in shared:
            new_runs[name] = {k: v for k, v in run.items() if k != "replicate"}
            continue
        out[name] = []
        for s in seeds:
            mname = member_name(name, {"seed": s})
            member = copy.deepcopy(run) if isinstance(run, dict) else run
            if isinstance(member, dict):
                member.pop("replicate", None)
                member["seed"] = s
                parent = member.get("branch_from", {}).get("run") if isinstance(member.get("branch_from"), dict) else None
                if isinstance(parent, str) and parent not in shared:
                    member["branch_from"]["run"] = member_name(parent, {"seed": s})
            new_runs[mname] = member
            out[name].append({"name": mname, "values": {"seed": s}})
    fig["runs"] = new_runs
    new_probes: dict = {}
    for pname, probe in (fig.get("probes") or {}).items():
        out[pname] = []
        for s in seeds:
            mname = member_name(pname, {"seed": s})
            new_probes[mname] = _rename_runs(copy.deepcopy(probe), s, shared)
            out[pname].append({"name": mname, "values": {"seed": s}})
    if "probes" in fig:
        fig["probes"] = new_probes
    return out


def _rename_runs(data: Any, seed: int, shared: set[str]) -> Any:
    if isinstance(data, dict):
        return {k: member_name(v, {"seed": seed}) if k == "run" and isinstance(v, str) and v not in shared
                else _rename_runs(v, seed, shared) for k, v in data.items()}
    if isinstance(data, list):
        return [_rename_runs(v, seed, shared) for v in data]
    return data


def resolve_percent_steps(run: dict, budget: Any, file: str, where: str) -> dict:
    """Replace each ``"<p>%"`` under a step key by ``round(p / 100 * budget)``."""
    if budget is not None and (not isinstance(budget, int) or isinstance(budget, bool) or budget <= 0):
        raise SpecError(file, f"{where}.budget", budget, "a positive number of steps")

    def walk(node: Any, path: str, under_steps: bool) -> Any:
        if isinstance(node, dict):
            return {k: walk(v, f"{path}.{k}", under_steps or k in STEP_KEYS) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v, f"{path}[{i}]", under_steps) for i, v in enumerate(node)]
        if under_steps and isinstance(node, str) and PERCENT.match(node):
            if budget is None:
                raise SpecError(file, path, node, "a percentage of the budget needs `budget: <steps>` in the run or its presets")
            return percent_of(node, budget)
        return node

    return walk(run, where, False)


def percent_of(text: str, budget: int) -> int:
    """Exact (a fraction, not a float), so 80% of 1500 is 1200 and never 1199."""
    steps = Fraction(PERCENT.match(text).group(1)) / 100 * budget
    return math.floor(steps + Fraction(1, 2))


def is_percent(value: Any) -> bool:
    return isinstance(value, str) and bool(PERCENT.match(value))


def expand_figure(fig: dict, presets: dict, f: str, where: str) -> tuple[dict[str, list[dict]], dict[str, int]]:
    """Presets merged into each run, then the figure's seeds, the sweeps, and the steps written
    as percentages of a budget (in place); returns the groups and each run's budget."""
    if not isinstance(fig.get("runs"), dict):
        return {}, {}
    runs = {r: expand_presets(run, presets, f, f"{where}.runs.{r}") if isinstance(run, dict) else run for r, run in fig["runs"].items()}
    runs, groups = expand_runs(runs, f, f"{where}.runs")
    fig["runs"] = runs
    if fig.get("seeds") is not None:
        groups = replicate_figure(fig, fig["seeds"], groups, f, where)
    budgets: dict[str, int] = {}
    for r, run in fig["runs"].items():
        if isinstance(run, dict):
            if run.pop("replicate", True) is not True and fig.get("seeds") is None:
                raise SpecError(f, f"{where}.runs.{r}.replicate", False, "only a figure with `seeds:` replicates its runs")
            budget = run.pop("budget", None)
            fig["runs"][r] = resolve_percent_steps(run, budget, f, f"{where}.runs.{r}")
            if budget is not None:
                budgets[r] = budget
    for p, probe in (fig.get("probes") or {}).items():
        if isinstance(probe, dict):
            fig["probes"][p] = percent_points(probe, budgets, f, f"{where}.probes.{p}")
    return groups, budgets


def percent_points(node: Any, budgets: dict[str, int], f: str, where: str) -> Any:
    """A probe's ``{run, step: "<p>%"}`` points, in steps of that run's budget."""
    if isinstance(node, list):
        return [percent_points(v, budgets, f, f"{where}[{i}]") for i, v in enumerate(node)]
    if not isinstance(node, dict):
        return node
    out = {k: percent_points(v, budgets, f, f"{where}.{k}") for k, v in node.items()}
    if is_percent(out.get("step")) and isinstance(out.get("run"), str):
        if out["run"] not in budgets:
            raise SpecError(f, f"{where}.step", out["step"], f"a percentage needs run '{out['run']}' to have a `budget`")
        out["step"] = percent_of(out["step"], budgets[out["run"]])
    return out
