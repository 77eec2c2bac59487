"""Figure targets of the `latedecay` paper and their plot parameters."""

from __future__ import annotations

from . import PlotSpec

FIGURES: dict[str, type[PlotSpec]] = {}
