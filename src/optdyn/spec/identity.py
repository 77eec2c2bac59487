"""Content-addressed run identity: ``<slug>-<hash of the resolved run spec>``."""

from __future__ import annotations

import hashlib
import json

from .paper import LOGGING_FIELDS, RunSpec


def canonical(spec: RunSpec, parent_id: str | None) -> dict:
    data = spec.model_dump(mode="json", exclude=set(LOGGING_FIELDS))
    if parent_id is not None:
        # The parent's identity (not its figure-local name) is what the branch depends on.
        data["branch_from"]["run"] = parent_id
    return data


def run_id(spec: RunSpec, parent_id: str | None = None) -> str:
    blob = json.dumps(canonical(spec, parent_id), sort_keys=True, separators=(",", ":"))
    digest = hashlib.sha256(blob.encode()).hexdigest()[:12]
    slug = f"{spec.model.name}-{spec.schedule.name}".replace("_", "")
    return f"{slug}-{digest}"
