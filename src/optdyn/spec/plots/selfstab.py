"""Figure targets of the `selfstab` paper and their plot parameters."""

from __future__ import annotations

from . import PlotSpec

FIGURES: dict[str, type[PlotSpec]] = {}
