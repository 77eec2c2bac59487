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


def probe_id(spec, of_run: str) -> str:
    """``<kind>-<hash>``: the probe's settings with its figure-local run name replaced by the
    run's id, so the same measurement of the same run is one job whichever figure asks."""
    data = spec.model_dump(mode="json")
    data["run"] = of_run
    return f"{spec.kind.replace('_', '')}-{digest(data)}"
