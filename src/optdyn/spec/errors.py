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
    if isinstance(value, dict):  # a whole block: its keys say which one it is
        value = "{" + ", ".join(f"{k}: ..." if isinstance(v, (dict, list)) else f"{k}: {v}" for k, v in value.items()) + "}"
        return value if len(value) <= 80 else value[:77] + "..."
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


def from_validation(err: pydantic.ValidationError, root: Any, file: str, prefix: str) -> SpecError:
    """Translate pydantic's first error into a SpecError with the YAML key path. ``root`` is the
    validated type (a model class or an annotated union)."""
    e = err.errors()[0]
    shown, cls, here = _walk(root, e["loc"])
    path = join(prefix, *shown)
    kind, value = e["type"], e.get("input")
    if kind == "extra_forbidden":
        allowed = ", ".join(cls.model_fields) if cls else "?"
        return SpecError(file, path, value, f"unknown key '{shown[-1]}'; allowed keys: {allowed}")
    if kind == "union_tag_invalid":
        tags = e["ctx"]["expected_tags"].replace("'", "")
        return SpecError(file, join(path, "name"), e["ctx"]["tag"], f"unknown name; allowed: {tags}")
    if kind == "union_tag_not_found":
        tags = ", ".join(str(t) for t in (_tag(a) for a in typing.get_args(here)) if t is not None)
        return SpecError(file, join(path, "name"), None, f"missing key 'name'; allowed: {tags}")
    if kind == "missing":
        return SpecError(file, path, None, f"missing required key '{shown[-1]}'")
    msg = e["msg"].removeprefix("Value error, ")
    return SpecError(file, path, value, "expected: " + msg[0].lower() + msg[1:])


def _walk(root: Any, loc: tuple) -> tuple[list, type | None, Any]:
    """Follow ``loc`` through the types, dropping discriminator tags and pydantic's ``[key]``
    marker from the path; return the shown path, the class that owns the last key (for listing
    allowed keys) and the type reached."""
    shown: list = []
    tp: Any = root
    owner = root if isinstance(root, type) else None
    for part in loc:
        tp = _unwrap(tp)
        if part == "[key]":  # the error is about a mapping's key, already the path's last part
            continue
        if _is_union(tp):
            match = [a for a in typing.get_args(tp) if _tag(a) == part]
            if match:  # the element is a discriminator tag, not a key of the YAML
                tp = match[0]
                continue
        if _tag(tp) is not None and _tag(tp) == part and part not in tp.model_fields:
            continue  # a one-member tagged union (Union[X] is X to typing) still tags the loc
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
    here = tp
    tp = _unwrap(tp)
    if isinstance(tp, type) and issubclass(tp, pydantic.BaseModel):
        owner = tp
    return shown, owner, _unwrap(here)


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
