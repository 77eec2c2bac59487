"""One-line configuration errors: file, key path, offending value, what is allowed."""

from __future__ import annotations

import json
import typing
from typing import Any

import pydantic


class SpecError(ValueError):
    """A configuration error, raised before any job runs."""

    def __init__(self, file: str, path: str, value: Any, expected: str):
        self.file, self.path, self.value, self.expected = str(file), path, value, expected
        super().__init__(f"{self.file}: {path or '<top>'}: got {_show(value)}; {expected}")


def _show(value: Any) -> str:
    text = json.dumps(value, default=str) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def join(*parts: Any) -> str:
    out = ""
    for p in parts:
        if p is None or p == "":
            continue
        if isinstance(p, int):
            out += f"[{p}]"
        else:
            out += ("." if out else "") + str(p)
    return out


def from_validation(
    err: pydantic.ValidationError, root: type[pydantic.BaseModel], file: str, prefix: str
) -> SpecError:
    """Translate pydantic's first error into a SpecError with the YAML key path."""
    e = err.errors()[0]
    shown, cls = _walk(root, e["loc"])
    path = join(prefix, *shown)
    kind, value = e["type"], e.get("input")
    if kind == "extra_forbidden":
        allowed = ", ".join(cls.model_fields) if cls else "?"
        return SpecError(file, path, value, f"unknown key '{shown[-1]}'; allowed keys: {allowed}")
    if kind == "union_tag_invalid":
        tags = e["ctx"]["expected_tags"].replace("'", "")
        return SpecError(file, join(path, "name"), e["ctx"]["tag"], f"unknown name; allowed: {tags}")
    if kind == "union_tag_not_found":
        return SpecError(file, join(path, "name"), None, "missing key 'name'")
    if kind == "missing":
        return SpecError(file, path, None, f"missing required key '{shown[-1]}'")
    msg = e["msg"].removeprefix("Value error, ")
    return SpecError(file, path, value, "expected: " + msg[0].lower() + msg[1:])


def _walk(root: type[pydantic.BaseModel], loc: tuple) -> tuple[list, type | None]:
    """Follow ``loc`` through the model classes, dropping discriminator tags from the path and
    returning the class that owns the last key (for listing allowed keys)."""
    shown: list = []
    tp: Any = root
    owner = root
    for part in loc:
        tp = _unwrap(tp)
        if _is_union(tp):
            match = [a for a in typing.get_args(tp) if _tag(a) == part]
            if match:  # the element is a discriminator tag, not a key of the YAML
                tp = match[0]
                continue
        shown.append(part)
        if isinstance(tp, type) and issubclass(tp, pydantic.BaseModel):
            owner = tp
            field = tp.model_fields.get(part) if isinstance(part, str) else None
            tp = field.annotation if field else None
        elif typing.get_origin(tp) is dict:
            tp = typing.get_args(tp)[1]
        elif typing.get_origin(tp) in (list, tuple):
            tp = typing.get_args(tp)[0]
        else:
            tp = None
    tp = _unwrap(tp)
    if isinstance(tp, type) and issubclass(tp, pydantic.BaseModel):
        owner = tp
    return shown, owner


def _unwrap(tp: Any) -> Any:
    while typing.get_origin(tp) is typing.Annotated:
        tp = typing.get_args(tp)[0]
    if _is_union(tp):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return _unwrap(args[0])
    return tp


def _is_union(tp: Any) -> bool:
    import types

    return typing.get_origin(tp) in (typing.Union, types.UnionType)


def _tag(cls: Any) -> Any:
    cls = _unwrap(cls)
    if isinstance(cls, type) and issubclass(cls, pydantic.BaseModel) and "name" in cls.model_fields:
        args = typing.get_args(cls.model_fields["name"].annotation)
        return args[0] if args else None
    return None
