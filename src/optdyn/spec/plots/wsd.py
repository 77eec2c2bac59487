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
    metrics = ("wsd_s_breakpoints", "wsd_s_lr_at_decay_ends_over_peak", "wsd_cumulative_compute")
    rows: list[ScheduleRow] = Field(min_length=1)


class Fig03(PlotSpec):
    required_runs = ("flows", "gd", "sgd_small", "sgd_large")
    required_probes = ("flows_river", "gd_river", "sgd_small_river", "sgd_large_river")
    metrics = ("flows_final_max_distance_to_river", "gd_progress_slope", "gd_late_mean_distance_to_river",
               "sgd_progress_ratio", "sgd_oscillation_ratio", "sgd_progress", "sgd_mean_distance_to_river")
    x1_range: tuple[float, float] = (-0.5, 10.5)
    x2_range: tuple[float, float] = (-2.5, 3.6)  # headroom above the river for the inset


class Fig04(PlotSpec):
    required_runs = ("wsd", "cosine", "constant")
    metrics = ("gap_wsd_minus_cosine_before_decay", "gap_wsd_minus_cosine_at_end", "stable_hill",
               "stable_hill_paper_constant", "stable_hill_exact", "decay_hill_over_paper_bound_mean",
               "max_z_mc_vs_theory", "final_loss")


class Fig06(PlotSpec):
    metrics = ("max_abs_trace_minus_gini", "max_entropy_deterministic", "min_entropy_stochastic", "mean_entropy")
    language: BigramLanguage


class Fig07(PlotSpec):
    required_runs = ("constant", "wsd", "cosine")
    metrics = ("decay_share_of_late_drop", "gap_wsd_minus_cosine_at_decay_start", "sto_share_of_decay_drop",
               "det_loss_wsd_minus_cosine_at_end", "sto_loss_wsd_minus_constant_at_end", "final_loss",
               "final_loss_det", "final_loss_sto")


class Column(Strict):
    header: str
    path: str  # dotted path inside the preset, e.g. model.hidden


class TableOfPresets(PlotSpec):
    """One row per preset, one column per dotted path."""

    metrics = ("cells", "total_compute_k")
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
