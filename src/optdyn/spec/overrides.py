"""Tier overrides and preset inheritance, applied to the raw YAML before typing."""

from __future__ import annotations

import copy
from typing import Any

from .errors import SpecError


def split_path(path: str) -> list[str]:
    return [p for p in path.split(".") if p]


def apply_overrides(doc: dict, overrides: dict[str, dict], file: str, tier: str) -> list[dict]:
    """Set each dotted path (``*`` matches every key at its level) and return the deviations.

    A mapping deep-merges into the mapping it overrides (a ``null`` in it removes that key), so
    an override states only what changes; ``replace: true`` replaces the mapping whole. The
    parent of every path must exist in the paper's base values, so an override can never
    silently create a stray branch of the config, and no two overrides may touch one value.
    """
    deviations = []
    touched: dict[str, str] = {}  # concrete path -> the override (as written) that set it
    for path, override in overrides.items():
        where = f"tiers.{tier}.{path}"
        if not isinstance(override, dict) or not {"value", "reason"} <= set(override) <= {"value", "reason", "replace"}:
            raise SpecError(file, where, override, "an override is {value: ..., reason: '...'} (optionally replace: true)")
        if override.get("replace", False) not in (True, False):
            raise SpecError(file, f"{where}.replace", override["replace"], "true or false")
        targets = _expand(doc, split_path(path), file, where)
        for parent, key, concrete in targets:
            _check_conflict(touched, concrete, path, file, where)
            old, new = parent.get(key), copy.deepcopy(override["value"])
            merge = isinstance(old, dict) and isinstance(new, dict) and not override.get("replace", False)
            deviations.append(
                {
                    "scope": _scope(concrete, doc),
                    "path": concrete,
                    "paper_value": old,
                    "tier_value": override["value"],
                    "reason": override["reason"],
                }
            )
            parent[key] = deep_merge(old, new, drop_null=True) if merge else new
    return deviations


def _check_conflict(touched: dict[str, str], concrete: str, written: str, file: str, where: str) -> None:
    for other, by in touched.items():
        if by != written and (other == concrete or other.startswith(concrete + ".") or concrete.startswith(other + ".")):
            raise SpecError(file, where, concrete, f"conflicts with the override '{by}' (both set {min(other, concrete, key=len)}); merge them into one")
    touched[concrete] = written


def _scope(concrete: str, doc: dict) -> str:
    parts = split_path(concrete)
    paper = doc.get("paper", "?")
    return f"{paper}/{parts[1]}" if parts[0] == "figures" and len(parts) > 1 else str(paper)


def _expand(node: Any, parts: list[str], file: str, where: str, done: str = "") -> list:
    head, rest = parts[0], parts[1:]
    if not isinstance(node, dict):
        raise SpecError(file, where, done, "override path runs into a value that is not a mapping")
    keys = list(node) if head == "*" else [head]
    if head != "*" and rest and head not in node:
        raise SpecError(file, where, head, f"no key '{head}' under '{done or '<top>'}'; have: {', '.join(map(str, node))}")
    out = []
    for key in keys:
        path = f"{done}.{key}" if done else str(key)
        if rest:
            out += _expand(node[key], rest, file, where, path)
        else:
            out.append((node, key, path))
    if not out:
        raise SpecError(file, where, done, "override path matches nothing")
    return out


def deep_merge(base: dict, top: dict, drop_null: bool = False) -> dict:
    out = copy.deepcopy(base)
    for key, value in top.items():
        if drop_null and value is None:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value, drop_null)
        else:
            out[key] = copy.deepcopy(value)
    return out


def resolve_presets(presets: dict, file: str) -> dict[str, dict]:
    """Every preset with its own ``extends`` chain merged in (left to right, then its keys)."""
    done: dict[str, dict] = {}

    def resolve(name: str, stack: tuple[str, ...]) -> dict:
        if name in done:
            return done[name]
        preset = presets[name]
        if not isinstance(preset, dict):
            raise SpecError(file, f"presets.{name}", preset, "a preset is a mapping of run keys")
        merged: dict = {}
        for parent in _names(preset.get("extends", []), file, f"presets.{name}.extends"):
            if parent not in presets:
                raise SpecError(file, f"presets.{name}.extends", parent, f"unknown preset; allowed: {', '.join(presets)}")
            if parent in stack or parent == name:
                raise SpecError(file, f"presets.{name}.extends", parent, f"presets extend each other in a cycle: {' -> '.join(stack + (name, parent))}")
            merged = deep_merge(merged, resolve(parent, stack + (name,)))
        done[name] = deep_merge(merged, {k: v for k, v in preset.items() if k != "extends"})
        return done[name]

    for name in presets:
        resolve(name, ())
    return done


def _names(names: Any, file: str, where: str) -> list[str]:
    names = [names] if isinstance(names, str) else names
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise SpecError(file, where, names, "a preset name or a list of them")
    return names


def expand_presets(run: dict, presets: dict[str, dict], file: str, where: str) -> dict:
    """``extends: name`` (or a list, merged left to right) then the run's own keys on top.
    ``presets`` are resolved (``resolve_presets``): their own chains already merged in."""
    run = dict(run)
    merged: dict = {}
    for name in _names(run.pop("extends", []), file, f"{where}.extends"):
        if name not in presets:
            raise SpecError(file, f"{where}.extends", name, f"unknown preset; allowed: {', '.join(presets) or 'none'}")
        merged = deep_merge(merged, presets[name])
    return deep_merge(merged, run)
