"""Content-addressed identities: ``<slug>-<hash of the resolved spec>`` for runs and probes."""

from __future__ import annotations

import hashlib
import json

from .paper import LOGGING_FIELDS, RunSpec


def canonical(spec: RunSpec, parent_id: str | None, dataset: dict | None = None) -> dict:
    data = spec.model_dump(mode="json", exclude=set(LOGGING_FIELDS))
    if parent_id is not None:
        # The parent's identity (not its figure-local name) is what the branch depends on.
        data["branch_from"]["run"] = parent_id
        if not data["branch_from"].get("reset_optimizer"):
            data["branch_from"].pop("reset_optimizer", None)  # the default: ids from before the field stay
    if dataset is not None:
        # A prepared dataset counts by what it is (kind + parameters): redefining a name in
        # config/data.yaml makes new runs instead of silently reusing the old ones.
        data["data"]["definition"] = dataset
    return data


def digest(data) -> str:
    blob = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def run_id(spec: RunSpec, parent_id: str | None = None, dataset: dict | None = None) -> str:
    slug = f"{spec.model.name}-{spec.schedule.name}".replace("_", "")
    return f"{slug}-{digest(canonical(spec, parent_id, dataset))}"


def run_refs(data, path: str = "") -> list[tuple[str, str]]:
    """``(key path, run name)`` of every ``run: <name>`` in a probe's dumped settings, at any
    depth: a one-run probe's top-level ``run``, a landscape's ``{run, step}`` points."""
    if isinstance(data, list):
        return [ref for i, v in enumerate(data) for ref in run_refs(v, f"{path}[{i}]")]
    if not isinstance(data, dict):
        return []
    out = []
    for k, v in data.items():
        where = f"{path}.{k}" if path else k
        if k == "run" and isinstance(v, str):
            out.append((where, v))
        else:
            out += run_refs(v, where)
    return out


def _with_run_ids(data, ids: dict[str, str]):
    if isinstance(data, dict):
        return {k: ids[v] if k == "run" and isinstance(v, str) else _with_run_ids(v, ids) for k, v in data.items()}
    if isinstance(data, list):
        return [_with_run_ids(v, ids) for v in data]
    return data


def probe_id(spec, run_ids: dict[str, str]) -> str:
    """``<kind>-<hash>``: the probe's settings with every figure-local run name replaced by that
    run's id (``run_ids``: name -> id), so the same measurement of the same runs is one job
    whichever figure asks, and retraining any run it reads makes a new probe."""
    data = _with_run_ids(spec.model_dump(mode="json"), run_ids)
    return f"{spec.kind.replace('_', '')}-{digest(data)}"
