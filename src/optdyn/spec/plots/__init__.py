"""Per-paper registries of figure targets: which figure keys exist, what their ``plot`` block may
contain and which named runs each figure needs. Light (pydantic only) so validation is fast."""

from __future__ import annotations

import importlib
from typing import ClassVar

from ..base import Strict

PAPERS = ("wsd", "normsharp", "latedecay", "ire", "selfstab")


class PlotSpec(Strict):
    #: run names the figure function reads; checked against the figure's ``runs``
    required_runs: ClassVar[tuple[str, ...]] = ()
    #: probe names the figure function reads; checked against the figure's ``probes``
    required_probes: ClassVar[tuple[str, ...]] = ()
    #: the named values the figure computes; a claim's ``metric`` must be one of them
    metrics: ClassVar[tuple[str, ...]] = ()


def registry(paper: str) -> dict[str, type[PlotSpec]]:
    return importlib.import_module(f"{__name__}.{paper}").FIGURES
