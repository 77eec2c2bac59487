"""JSON Schemas generated from the typed spec (Snakemake validates config.yaml against one)."""

from __future__ import annotations

import json
from pathlib import Path

from .expand import PERCENT
from .expand import STEP_KEYS
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
        # run families (spec/expand.py), expanded before typing
        axes = {"type": "object", "additionalProperties": {"type": "array", "minItems": 1}}
        run["properties"]["sweep"] = {"type": "object", "properties": {"product": axes, "zip": axes}, "additionalProperties": False,
                                      "description": "one run per combination: product axes crossed with the zipped lists"}
        run["properties"]["seeds"] = {"type": "array", "items": {"type": "integer"}, "minItems": 1,
                                      "description": "one run per seed (a sweep axis over `seed`)"}
        run["properties"]["replicate"] = {"type": "boolean",
                                          "description": "false: one run shared by every seed of a replicated figure"}
        run["properties"]["budget"] = {"type": "integer", "exclusiveMinimum": 0,
                                       "description": "steps that step keys written as '<p>%' are a percentage of"}
        # Presets merge key by key, so a run may also override part of a tagged block (say a
        # schedule's `decays` only, or its `name` and `decays` over a preset's peak LR). Such a
        # partial block is checked once merged by the typed loader; here its `name`, if given,
        # must be one of the block's kinds.
        defs = schema["$defs"]
        for key, prop in run["properties"].items():
            if "discriminator" in prop:
                variants = []
                for ref in sorted(set(prop["discriminator"]["mapping"].values())):
                    name = ref.rsplit("/", 1)[-1]
                    partial = {k: v for k, v in defs[name].items() if k != "required"}
                    defs[f"{name}Partial"] = partial | {"description": f"part of a {name}, merged over a preset's"}
                    variants.append({"$ref": f"#/$defs/{name}Partial"})
                run["properties"][key] = {"anyOf": [prop, *variants]}
    for definition in schema.get("$defs", {}).values():
        for key, prop in (definition.get("properties") or {}).items():
            if key in STEP_KEYS:
                definition["properties"][key] = _allow_percent(prop)
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def _allow_percent(node):
    """Every integer in a step field may also be written "<p>%" of the run's budget (spec/expand.py)."""
    if isinstance(node, list):
        return [_allow_percent(n) for n in node]
    if not isinstance(node, dict):
        return node
    if node.get("type") == "integer":
        return {"anyOf": [node, {"type": "string", "pattern": PERCENT.pattern}]}
    return {k: _allow_percent(v) for k, v in node.items()}


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
