"""JSON Schemas generated from the typed spec (Snakemake validates config.yaml against one)."""

from __future__ import annotations

import json
from pathlib import Path

from .paper import PaperSpec, WorkflowConfig

SCHEMAS = {"config.schema.json": WorkflowConfig, "paper.schema.json": PaperSpec}


def render(cls) -> str:
    schema = cls.model_json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    run = schema.get("$defs", {}).get("RunSpec")
    if run is not None:
        # A run as written may inherit any of its keys from presets (`extends`), which are
        # merged before typing; the typed loader checks the merged run.
        run["properties"]["extends"] = {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}],
                                        "description": "preset name(s) merged under this run's own keys"}
        run.pop("required", None)
        # Presets merge key by key, so a run may also override part of a tagged block (say a
        # schedule's `decays` only). A block without its `name` tag is such a partial override,
        # checked once merged by the typed loader; a block with a `name` must be whole and valid.
        partial = {"type": "object", "not": {"required": ["name"]}, "description": "a partial block merged over the preset's"}
        for key, prop in run["properties"].items():
            if "discriminator" in prop:
                run["properties"][key] = {"anyOf": [prop, partial]}
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def write_schemas(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    out = []
    for name, cls in SCHEMAS.items():
        (directory / name).write_text(render(cls))
        out.append(directory / name)
    return out


def check_schemas(directory: Path) -> list[Path]:
    """Files that differ from what the spec generates now."""
    return [directory / n for n, cls in SCHEMAS.items() if not (directory / n).exists() or (directory / n).read_text() != render(cls)]
