"""YAML loading that refuses what PyYAML silently accepts.

PyYAML reads ``1e-3`` as a string (YAML 1.1 wants a dot) and keeps the last of two duplicate
keys; both have cost researchers runs, so both are handled here.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from .errors import SpecError


class _Loader(yaml.SafeLoader):
    pass


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:\d+\.?\d*|\.\d+)[eE][-+]?\d+$"),
    list("-+0123456789."),
)


def _mapping(loader: _Loader, node: yaml.MappingNode) -> dict:
    seen: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in seen:
            line = key_node.start_mark.line + 1
            raise SpecError(loader.name, str(key), key, f"duplicate key (line {line}); keys must be unique")
        seen[key] = loader.construct_object(value_node, deep=True)
    return seen


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


def load_yaml(path: str | Path) -> Any:
    path = Path(path)
    if not path.exists():
        raise SpecError(str(path), "", None, "file not found")
    try:
        with path.open() as fh:
            loader = _Loader(fh)
            loader.name = str(path)
            try:
                return loader.get_single_data()
            finally:
                loader.dispose()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "?"
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise SpecError(str(path), where, None, f"invalid YAML: {problem}") from None
