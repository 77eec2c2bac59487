"""YAML loading that refuses what PyYAML silently accepts, and what would crash or hang it.

PyYAML reads ``1e-3`` as a string (YAML 1.1 wants a dot) and keeps the last of two duplicate
keys; both have cost researchers runs, so both are handled here. A config file is also input
that may be hostile or simply broken, so every file is held to bounds before it is turned into
Python objects, each refusal one ``SpecError`` line:

- the file is read as bytes (at most ``MAX_BYTES``) and decoded as UTF-8 here, naming the line
  of the first bad byte, rather than by the locale's codec;
- nesting deeper than ``MAX_DEPTH`` is refused while composing (PyYAML's composer recurses, so a
  100,000-deep ``[[[...`` would end in a ``RecursionError``);
- the composed node graph is walked iteratively before construction: aliases are counted every
  time they are used, so an alias bomb ("billion laughs") is refused once its expansion passes
  ``MAX_NODES``, and a recursive alias (``&a [*a]``) is refused outright;
- mapping keys must be strings (``? [a, b]``, ``1:``, ``true:`` and ``null:`` keys are refused:
  every key of the spec is a name, and JSON, which the spec is validated through, has no others);
- numbers must be finite (``.inf``, ``.nan``, ``1e400``) and integers must fit in 64 bits.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.resolver import Resolver

from .errors import SpecError

MAX_BYTES = 8 * 2**20  # the largest shipped config is ~80 KB
MAX_DEPTH = 64  # the deepest shipped config nests 13 levels
MAX_NODES = 250_000  # nodes after alias expansion; the largest shipped config has ~7,000
_INT64 = 2**63


try:  # libyaml's scanner and parser (5x faster; every `optdyn spec` job reads every config)
    from yaml._yaml import CParser as _Parser
except ImportError:  # PyYAML built without libyaml
    from yaml.parser import Parser
    from yaml.reader import Reader
    from yaml.scanner import Scanner

    class _Parser(Reader, Scanner, Parser):  # type: ignore[no-redef]
        def __init__(self, stream):
            Reader.__init__(self, stream)
            Scanner.__init__(self)
            Parser.__init__(self)


class _Loader(Composer, _Parser, SafeConstructor, Resolver):
    """The parser's events (libyaml's where present) composed here, in Python: the composer is
    where nesting depth is capped, and libyaml's own composer would recurse without a cap."""

    _depth = 0

    def __init__(self, stream):
        _Parser.__init__(self, stream)
        Composer.__init__(self)
        SafeConstructor.__init__(self)
        Resolver.__init__(self)

    def compose_node(self, parent, index):
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise _Refused(None, f"nesting deeper than {MAX_DEPTH} levels", "a config nests far less deeply",
                               mark=self.peek_event().start_mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:\d+\.?\d*|\.\d+)[eE][-+]?\d+$"),
    list("-+0123456789."),
)


class _Refused(Exception):
    """A value the loader refuses: ``node`` (for its key path) or ``mark`` (for its line)."""

    def __init__(self, node: yaml.Node | None, value: Any, expected: str, mark: Any = None):
        self.node, self.value, self.expected = node, value, expected
        self.mark = mark if mark is not None else (node.start_mark if node is not None else None)


def _mapping(loader: _Loader, node: yaml.MappingNode) -> dict:
    seen: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        if not isinstance(key_node, yaml.ScalarNode):
            kind = "sequence" if isinstance(key_node, yaml.SequenceNode) else "mapping"
            raise _Refused(key_node, f"a {kind} as a key", "keys must be plain names (strings)")
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, str):
            raise _Refused(key_node, key, f"keys must be names (strings), not {type(key).__name__}; quote it: '{key_node.value}'")
        if key in seen:
            line = key_node.start_mark.line + 1
            raise _Refused(key_node, key, f"duplicate key (line {line}); keys must be unique")
        seen[key] = loader.construct_object(value_node, deep=True)
    return seen


def _float(loader: _Loader, node: yaml.ScalarNode) -> float:
    value = loader.construct_yaml_float(node)
    if not math.isfinite(value):
        raise _Refused(node, node.value, "a finite number (inf and nan are not allowed; 1e400 overflows to inf)")
    return value


def _int(loader: _Loader, node: yaml.ScalarNode) -> int:
    try:
        value = loader.construct_yaml_int(node)
    except ValueError:  # Python refuses to convert integers of over 4300 digits
        value = None
    if value is None or not -_INT64 <= value < _INT64:
        raise _Refused(node, node.value if len(node.value) <= 40 else node.value[:37] + "...",
                       "an integer that fits in 64 bits")
    return value


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)
_Loader.add_constructor("tag:yaml.org,2002:float", _float)
_Loader.add_constructor("tag:yaml.org,2002:int", _int)


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _check_size(root: yaml.Node) -> None:
    """Refuse a node graph whose alias expansion exceeds ``MAX_NODES`` or that contains itself.
    Iterative and memoized, so it runs in time linear in the distinct nodes."""
    size: dict[int, int] = {}
    entered: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        if done:
            total = 1 + sum(size[id(c)] for c in _children(node))
            if total > MAX_NODES:
                raise _Refused(None, f"more than {MAX_NODES:,} values once aliases are expanded",
                               "a config of fewer values (an alias bomb?)", mark=node.start_mark)
            size[key] = total
            continue
        if key in size:
            continue
        if key in entered:  # popped again before its size is known: reached from inside itself
            raise _Refused(None, "an alias inside the node it refers to", "aliases may not refer to themselves",
                           mark=node.start_mark)
        entered.add(key)
        stack.append((node, True))
        stack.extend((c, False) for c in _children(node) if id(c) not in size)


def _path_to(node: yaml.Node, target: yaml.Node, path: str = "") -> str | None:
    """Dotted path of ``target`` (a key or value node) in the composed document."""
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            name = k.value if isinstance(k, yaml.ScalarNode) else f"<key on line {k.start_mark.line + 1}>"
            here = f"{path}.{name}" if path else str(name)
            if k is target or v is target:
                return here
            found = _path_to(v, target, here)
            if found:
                return found
    elif isinstance(node, yaml.SequenceNode):
        for i, v in enumerate(node.value):
            if v is target:
                return f"{path}[{i}]"
            found = _path_to(v, target, f"{path}[{i}]")
            if found:
                return found
    return None


def _read_text(path: Path) -> str:
    if not path.exists():
        raise SpecError(str(path), "", None, "file not found")
    if not path.is_file():
        raise SpecError(str(path), "", None, "not a regular file (a YAML file is expected)")
    try:
        with path.open("rb") as fh:
            data = fh.read(MAX_BYTES + 1)
    except OSError as exc:
        raise SpecError(str(path), "", None, f"cannot be read ({exc.strerror or exc})") from None
    if len(data) > MAX_BYTES:
        raise SpecError(str(path), "", f"over {MAX_BYTES // 2**20} MiB", f"a config file of at most {MAX_BYTES // 2**20} MiB")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise SpecError(str(path), f"line {line}", f"byte 0x{data[exc.start]:02x}",
                        "the file must be UTF-8 text") from None
    return text.removeprefix("\ufeff")


def load_yaml(path: str | Path) -> Any:
    path = Path(path)
    text = _read_text(path)
    root = None
    try:
        loader = _Loader(text)
        loader.name = str(path)
        try:
            root = loader.get_single_node()
            if root is None:
                return None
            _check_size(root)
            return loader.construct_document(root)
        finally:
            loader.dispose()
    except _Refused as ref:
        where = _path_to(root, ref.node) if root is not None and ref.node is not None else None
        if not where:
            where = f"line {ref.mark.line + 1}" if ref.mark is not None else ""
        raise SpecError(str(path), where, ref.value, ref.expected) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        if mark is None and isinstance(exc, yaml.reader.ReaderError):
            where = f"line {text.count(chr(10), 0, exc.position) + 1}"
            problem = f"unacceptable character #x{exc.character:04x} ({exc.reason})"
        else:
            where = f"line {mark.line + 1}" if mark else "?"
            problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
            if "maximum nesting depth" in problem:  # libyaml's own cap (1000) came before ours
                raise SpecError(str(path), where, f"nesting deeper than {MAX_DEPTH} levels", "a config nests far less deeply") from None
        raise SpecError(str(path), where, None, f"invalid YAML: {problem}") from None
    except RecursionError:  # a safety net: the depth cap above should make this unreachable
        raise SpecError(str(path), "", None, f"nesting too deep; at most {MAX_DEPTH} levels") from None
