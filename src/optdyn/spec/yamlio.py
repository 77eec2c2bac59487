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


class _Duplicate(Exception):
    def __init__(self, key: Any, node: yaml.Node):
        self.key, self.node = key, node


def _mapping(loader: _Loader, node: yaml.MappingNode) -> dict:
    seen: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in seen:
            raise _Duplicate(key, key_node)
        seen[key] = loader.construct_object(value_node, deep=True)
    return seen


def _path_to(node: yaml.Node, target: yaml.Node, path: str = "") -> str | None:
    """Dotted path of ``target`` (a key node) in the composed document."""
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            here = f"{path}.{k.value}" if path else str(k.value)
            if k is target:
                return here
            found = _path_to(v, target, here)
            if found:
                return found
    elif isinstance(node, yaml.SequenceNode):
        for i, v in enumerate(node.value):
            found = _path_to(v, target, f"{path}[{i}]")
            if found:
                return found
    return None


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
                root = loader.get_single_node()
                return loader.construct_document(root) if root is not None else None
            except _Duplicate as dup:
                line = dup.node.start_mark.line + 1
                where = _path_to(root, dup.node) or str(dup.key)
                raise SpecError(str(path), where, dup.key, f"duplicate key (line {line}); keys must be unique") from None
            finally:
                loader.dispose()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "?"
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise SpecError(str(path), where, None, f"invalid YAML: {problem}") from None
