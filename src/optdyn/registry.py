"""One route from a name in the spec to the code behind it.

Every layer registers what it provides with a decorator, where it is defined:

  ``@model_spec(paper, data=...)``, ``@probe_spec(paper)``  spec classes (pydantic, light) and
      the paper they belong to; the spec's tagged unions are the registered classes;
  ``@plot_spec(paper, key, ...)``  the plot block of figure ``key`` of ``paper``;
  ``@figure(paper, key, ...)``  the function drawing figure ``key`` of ``paper``;
  ``@replicate_figure(paper, key, ...)``  how that figure draws seed replicates as bands;
  ``@problem_builder(SpecClass, ...)``  the function (or class) building a model spec's problem;
  ``@probe_kind(SpecClass, ...)``  the function measuring a probe spec.

A lookup first imports the modules of the paper the key belongs to, by one convention: the
modules of ``paper`` in layer ``L`` are ``optdyn.L.<paper>`` (a module, or a package and every
module in it), so a job imports its own paper's modules only. A spec class belongs to one paper
(the one whose engines build it); a paper that reuses it imports that paper's engines too.

Nothing here imports JAX or pydantic: the spec modules register themselves too.
"""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
import typing
from collections.abc import Callable, Hashable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

#: the papers, in the order of their spec modules in the tagged unions
PAPERS: tuple[str, ...] = ("wsd", "normsharp", "latedecay", "ire", "selfstab")

_loaded: set[tuple[str, str]] = set()


class UnknownName(KeyError):
    """A lookup of a name nothing registered; the message lists the names that are."""

    def __init__(self, what: str, name: Any, allowed: tuple[str, ...]):
        self.what, self.name, self.allowed = what, name, tuple(allowed)
        super().__init__(f"unknown {what} {name!r}; allowed: {', '.join(self.allowed) or '(none)'}")

    def __str__(self) -> str:
        return str(self.args[0])


def load(layer: str, paper: str) -> None:
    """Import the modules of ``paper`` in ``layer`` (``optdyn.<layer>.<paper>``), once; a paper
    with nothing in a layer has no such module."""
    if paper not in PAPERS:
        raise UnknownName("paper", paper, PAPERS)
    if (layer, paper) in _loaded:
        return
    name = f"optdyn.{layer}.{paper}"
    if importlib.util.find_spec(name) is not None:
        module = importlib.import_module(name)
        for sub in pkgutil.iter_modules(getattr(module, "__path__", [])):
            importlib.import_module(f"{name}.{sub.name}")
    _loaded.add((layer, paper))


def load_all(layer: str) -> None:
    for paper in PAPERS:
        load(layer, paper)


def _same(a: Any, b: Any) -> bool:
    """The same object, or its re-definition (a module imported again)."""
    return a is b or (getattr(a, "__module__", None), getattr(a, "__qualname__", None)) == (
        getattr(b, "__module__", None), getattr(b, "__qualname__", None))


# --- spec classes --------------------------------------------------------------------------


@dataclass(frozen=True)
class SpecInfo:
    paper: str
    tag: str  # the discriminator's value: a model's ``name``, a probe's ``kind``
    data: tuple[str, ...] = ()  # models: the data names it trains on; (): self-contained
    spec_only: str | None = None  # why no engine builds it (yet); None: one does


class SpecRegistry:
    """Spec classes of one tagged union (``spec/components.py``, ``spec/probes.py`` and each
    paper's ``spec/problems/<paper>.py``), in registration order."""

    def __init__(self, what: str, tag_field: str):
        self.what, self.tag_field = what, tag_field
        self._info: dict[type, SpecInfo] = {}

    def register(self, paper: str, *, data: tuple[str, ...] = (), spec_only: str | None = None) -> Callable[[type], type]:
        if paper not in PAPERS:
            raise UnknownName("paper", paper, PAPERS)

        def deco(cls: type) -> type:
            (tag,) = typing.get_args(cls.model_fields[self.tag_field].annotation)
            self._info[cls] = SpecInfo(paper, tag, tuple(data), spec_only)
            return cls

        return deco

    def classes(self) -> tuple[type, ...]:
        """Every registered class, each paper's spec modules imported first; in a fixed order
        (the union's, whatever the import order): the shared spec modules' classes, then each
        paper's ``spec/problems/<paper>.py`` in ``PAPERS`` order, each in definition order."""
        load_all("spec.problems")

        def rank(cls: type) -> int:
            own = cls.__module__.startswith(f"{__package__}.spec.problems.")
            return 1 + PAPERS.index(self._info[cls].paper) if own else 0

        return tuple(sorted(self._info, key=rank))  # stable: registration order within a rank

    def info(self, cls: type) -> SpecInfo:
        try:
            return self._info[cls]
        except KeyError:
            raise UnknownName(f"{self.what} spec class", getattr(cls, "__name__", cls), tuple(c.__name__ for c in self.classes())) from None

    def paper_of(self, cls: type) -> str:
        return self.info(cls).paper

    def tag_of(self, cls: type) -> str:
        return self.info(cls).tag if cls in self._info else getattr(cls, "__name__", str(cls))

    def by_tag(self, tag: str) -> type:
        for cls in self.classes():
            if self._info[cls].tag == tag:
                return cls
        raise UnknownName(self.what, tag, tuple(sorted(i.tag for i in self._info.values())))


MODEL_SPECS = SpecRegistry("model", "name")
PROBE_SPECS = SpecRegistry("probe", "kind")


# --- engines, figures and plot specs --------------------------------------------------------


class Registry:
    """key -> value, filled by decorators in the modules ``optdyn.<layer>.<paper>``; a lookup
    imports the key's paper's modules first (``paper_of(key)``)."""

    def __init__(self, what: str, layer: str, paper_of: Callable[[Any], str], label: Callable[[Any], str],
                 scope: Callable[[Any], Hashable] = lambda key: None):
        self.what, self.layer = what, layer
        self._paper_of, self._label, self._scope = paper_of, label, scope
        self._items: dict = {}

    def add(self, key: Hashable, value: Any) -> None:
        old = self._items.get(key)
        if old is not None and not _same(old, value):
            raise ValueError(f"{self.what} {self._label(key)!r} registered twice: {old!r} and {value!r}")
        self._items[key] = value

    def decorator(self, *keys: Hashable) -> Callable:
        def deco(value):
            for key in keys:
                self.add(key, value)
            return value

        return deco

    def get(self, key: Hashable) -> Any:
        if key not in self._items:
            load(self.layer, self._paper_of(key))
        try:
            return self._items[key]
        except KeyError:
            pass
        load_all(self.layer)  # only to name every allowed key
        scope = self._scope(key)
        allowed = tuple(sorted(self._label(k) for k in self._items if self._scope(k) == scope))
        raise UnknownName(self.what, self._label(key), allowed)

    def of(self, paper: str) -> dict[Any, Any]:
        """The registered entries of ``paper`` (its modules imported first)."""
        load(self.layer, paper)
        return {k: v for k, v in self._items.items() if self._paper_of(k) == paper}

    def keys_loaded(self) -> list:
        return list(self._items)


class _ByPaper(Registry):
    """Keys (paper, key): a paper's figures."""

    def __init__(self, what: str, layer: str):
        super().__init__(what, layer, paper_of=lambda k: k[0], label=lambda k: k[1], scope=lambda k: k[0])

    def of(self, paper: str) -> dict[str, Any]:  # by figure key
        return {k[1]: v for k, v in super().of(paper).items()}


class _BySpec(Registry):
    """Keys: spec classes; a lookup imports the modules of the paper the class belongs to."""

    def __init__(self, what: str, layer: str, specs: SpecRegistry):
        super().__init__(what, layer, paper_of=specs.paper_of, label=specs.tag_of)
        self.specs = specs

    def by_tag(self) -> Mapping[str, Any]:
        """The entries by tag (model name / probe kind), each looked up lazily."""
        return _TagView(self)


class _TagView(Mapping):
    def __init__(self, registry: _BySpec):
        self._registry = registry

    def __getitem__(self, tag: str) -> Any:
        return self._registry.get(self._registry.specs.by_tag(tag))

    def __iter__(self) -> Iterator[str]:
        load_all(self._registry.layer)
        return iter([self._registry.specs.tag_of(k) for k in self._registry.keys_loaded()])

    def __len__(self) -> int:
        return sum(1 for _ in self)


PLOT_SPECS = _ByPaper("figure", "spec.plots")
FIGURES = _ByPaper("figure function", "figures")
REPLICATE_FIGURES = _ByPaper("replicate drawing", "figures")
PROBLEMS = _BySpec("model", "models", MODEL_SPECS)
PROBE_KINDS = _BySpec("probe kind", "probes", PROBE_SPECS)


# --- the decorators -------------------------------------------------------------------------


def model_spec(paper: str, *, data: tuple[str, ...] = (), spec_only: str | None = None) -> Callable[[type], type]:
    """A model config class of ``paper``; ``data``: the data names it trains on (none: a
    self-contained problem, no ``data`` entry); ``spec_only``: why nothing builds it yet."""
    return MODEL_SPECS.register(paper, data=data, spec_only=spec_only)


def probe_spec(paper: str) -> Callable[[type], type]:
    """A probe config class of ``paper``."""
    return PROBE_SPECS.register(paper)


def plot_spec(paper: str, *keys: str) -> Callable[[type], type]:
    """The plot block of figures ``keys`` of ``paper`` (a ``PlotSpec`` subclass)."""
    return PLOT_SPECS.decorator(*[(paper, k) for k in keys])


def figure(paper: str, *keys: str) -> Callable:
    """The function ``fn(FigureContext) -> FigureOutput`` of figures ``keys`` of ``paper``."""
    return FIGURES.decorator(*[(paper, k) for k in keys])


def replicate_figure(paper: str, *keys: str) -> Callable:
    """``fn(ctx, outputs) -> matplotlib Figure``: how figures ``keys`` of ``paper`` draw their
    seed replicates as bands (``outputs``: one FigureOutput per seed, in the figure's seed order).
    A replicated figure without one shows its first seed's drawing, labelled as such."""
    return REPLICATE_FIGURES.decorator(*[(paper, k) for k in keys])


def problem_builder(*specs: type) -> Callable:
    """``fn(model, *, dtype) -> Problem`` for self-contained models, ``fn(model, data, data_root,
    *, dtype)`` for models that train on data, building the problem of the model spec classes
    ``specs`` in the run's dtype."""
    return PROBLEMS.decorator(*specs)


def probe_kind(*specs: type) -> Callable:
    """``fn(run, spec) -> DataFrame`` (one-run probes: a top-level ``run`` field) or
    ``fn(runs_by_name, spec)``, measuring the probe spec classes ``specs``."""
    return PROBE_KINDS.decorator(*specs)
