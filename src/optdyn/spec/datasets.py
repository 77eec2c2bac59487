"""config/data.yaml: named datasets, each a builder ``kind`` (``data/builders.py``) plus its
parameters, checked before any job starts. A dataset is prepared by the ``data`` rule into
``<resources>/data/<name>/`` with a sha256 manifest, which training jobs verify before reading."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from .errors import SpecError
from .yamlio import load_yaml

NAME = re.compile(r"^[a-z0-9_]+$")


def load_datasets(file: Path) -> dict[str, dict[str, Any]]:
    """name -> {"kind": ..., "params": fully resolved builder parameters}; {} without a file."""
    from optdyn.data.errors import DataError
    from optdyn.data.prepare import resolve_params

    if not file.exists():
        return {}
    doc = load_yaml(file)
    if not isinstance(doc, dict) or set(doc) - {"datasets"}:
        raise SpecError(str(file), "", doc, "expected a mapping with one key, datasets")
    datasets = doc.get("datasets") or {}
    if not isinstance(datasets, dict):
        raise SpecError(str(file), "datasets", datasets, "expected a mapping of dataset names to {kind, ...parameters}")
    out = {}
    for name, entry in datasets.items():
        where = f"datasets.{name}"
        if not isinstance(name, str) or not NAME.match(name):
            raise SpecError(str(file), where, name, "a name of lower-case letters, digits and _")
        if not isinstance(entry, dict) or "kind" not in entry:
            raise SpecError(str(file), where, entry, "a mapping with a kind and the builder's parameters")
        params = {k: v for k, v in entry.items() if k != "kind"}
        try:
            out[name] = {"kind": entry["kind"], "params": resolve_params(entry["kind"], params)}
        except DataError as exc:  # resolve_params names the key as <kind>.<key>; report the YAML path
            key = exc.what.split(".", 1)[1] if "." in exc.what else exc.what
            raise SpecError(str(file), f"{where}.{key}", exc.value, f"expected {exc.expected}") from None
    return out
