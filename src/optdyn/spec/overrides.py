"""Tier overrides and preset inheritance, applied to the raw YAML before typing."""

from __future__ import annotations

import copy
from typing import Any

from .errors import SpecError


def split_path(path: str) -> list[str]:
    return [p for p in path.split(".") if p]


def apply_overrides(doc: dict, overrides: dict[str, dict], file: str, tier: str) -> list[dict]:
    """Set each dotted path (``*`` matches every key at its level) and return the deviations.

    The parent of every path must exist in the paper's base values, so an override can never
    silently create a stray branch of the config.
    """
    deviations = []
    for path, override in overrides.items():
        if not isinstance(override, dict) or set(override) != {"value", "reason"}:
            raise SpecError(file, f"tiers.{tier}.{path}", override, "an override is {value: ..., reason: '...'}")
        targets = _expand(doc, split_path(path), file, f"tiers.{tier}.{path}")
        for parent, key, concrete in targets:
            deviations.append(
                {
                    "scope": _scope(concrete, doc),
                    "path": concrete,
                    "paper_value": parent.get(key),
                    "tier_value": override["value"],
                    "reason": override["reason"],
                }
            )
            parent[key] = copy.deepcopy(override["value"])
    return deviations


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


def deep_merge(base: dict, top: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def expand_presets(run: dict, presets: dict[str, dict], file: str, where: str) -> dict:
    """``extends: name`` (or a list, merged left to right) then the run's own keys on top."""
    run = dict(run)
    names = run.pop("extends", [])
    names = [names] if isinstance(names, str) else names
    if not isinstance(names, list):
        raise SpecError(file, f"{where}.extends", names, "a preset name or a list of them")
    merged: dict = {}
    for name in names:
        if name not in presets:
            raise SpecError(file, f"{where}.extends", name, f"unknown preset; allowed: {', '.join(presets) or 'none'}")
        merged = deep_merge(merged, presets[name])
    return deep_merge(merged, run)
