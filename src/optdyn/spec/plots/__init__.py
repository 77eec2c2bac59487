"""Figure targets of each paper, ``spec/plots/<paper>.py``: which figure keys exist (each
``PlotSpec`` subclass registered with ``@plot_spec("<paper>", key, ...)``, see
``optdyn.registry``), what their ``plot`` block may contain and which named runs each figure
needs. Light (pydantic only) so validation is fast."""

from __future__ import annotations

from typing import ClassVar

from ..base import Strict


class PlotSpec(Strict):
    #: run names the figure function reads; checked against the figure's ``runs``
    required_runs: ClassVar[tuple[str, ...]] = ()
    #: probe names the figure function reads; checked against the figure's ``probes``
    required_probes: ClassVar[tuple[str, ...]] = ()
    #: the named values the figure computes; a claim's ``metric`` must be one of them
    metrics: ClassVar[tuple[str, ...]] = ()
    #: the figure computes in float64 (its job switches x64 on at process start: precision.py)
    float64: ClassVar[bool] = False
