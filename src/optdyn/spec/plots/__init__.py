"""Figure targets of each paper, ``spec/plots/<paper>.py``: which figure keys exist (each
``PlotSpec`` subclass registered with ``@plot_spec("<paper>", key, ...)``, see
``optdyn.registry``), what their ``plot`` block may contain and which named runs each figure
needs. Light (pydantic only) so validation is fast."""

from __future__ import annotations

from typing import Annotated, ClassVar

from ..base import Strict


class _RunNameMarker:
    def __repr__(self) -> str:
        return "RUN_NAME"


RUN_NAME = _RunNameMarker()
#: a plot field that names one of the figure's runs: checked against them at load time
#: (spec/guards.py), so a typo fails there rather than when the figure is drawn
RunName = Annotated[str, RUN_NAME]


class PlotSpec(Strict):
    #: run names the figure function reads; checked against the figure's ``runs``
    required_runs: ClassVar[tuple[str, ...]] = ()
    #: probe names the figure function reads; checked against the figure's ``probes``
    required_probes: ClassVar[tuple[str, ...]] = ()
    #: the named values the figure computes; a claim's ``metric`` must be one of them
    metrics: ClassVar[tuple[str, ...]] = ()
    #: the figure computes in float64 (its job switches x64 on at process start: precision.py)
    float64: ClassVar[bool] = False
