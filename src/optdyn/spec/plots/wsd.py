"""Figure targets of the WSD / river-valley paper and their plot parameters."""

from __future__ import annotations

from pydantic import Field

from ..base import Strict
from ..components import BigramLanguage
from . import PlotSpec


class ScheduleRow(Strict):
    label: str
    preset: str  # a preset whose ``schedule`` is drawn


class Fig02(PlotSpec):
    rows: list[ScheduleRow] = Field(min_length=1)


class Fig03(PlotSpec):
    required_runs = ("flows", "gd", "sgd_small", "sgd_large")
    required_probes = ("flows_river", "gd_river", "sgd_small_river", "sgd_large_river")
    x1_range: tuple[float, float] = (-0.5, 10.5)
    x2_range: tuple[float, float] = (-2.5, 3.6)  # headroom above the river for the inset


class Fig04(PlotSpec):
    required_runs = ("wsd", "cosine", "constant")


class Fig06(PlotSpec):
    language: BigramLanguage


class Fig07(PlotSpec):
    required_runs = ("constant", "wsd", "cosine")


class Column(Strict):
    header: str
    path: str  # dotted path inside the preset, e.g. model.hidden


class TableOfPresets(PlotSpec):
    """One row per preset, one column per dotted path."""

    rows: list[ScheduleRow] = Field(min_length=1)
    columns: list[Column] = Field(default_factory=list)


FIGURES: dict[str, type[PlotSpec]] = {
    "fig02": Fig02,
    "fig03": Fig03,
    "fig04": Fig04,
    "fig06": Fig06,
    "fig07": Fig07,
    "tab02": TableOfPresets,
    "tab03": TableOfPresets,
    "tab04": TableOfPresets,
}
