"""Figure targets of the WSD / river-valley paper and their plot parameters."""

from __future__ import annotations

from pydantic import Field

from optdyn.registry import plot_spec

from ..base import Strict
from ..components import BigramLanguage
from . import PlotSpec, RunName


class ScheduleRow(Strict):
    label: str
    preset: str  # a preset whose ``schedule`` is drawn


@plot_spec("wsd", "fig02")
class Fig02(PlotSpec):
    metrics = ("wsd_s_breakpoints", "wsd_s_lr_at_decay_ends_over_peak", "wsd_cumulative_compute")
    rows: list[ScheduleRow] = Field(min_length=1)


@plot_spec("wsd", "fig03")
class Fig03(PlotSpec):
    required_runs = ("flows", "gd", "sgd_small", "sgd_large")
    required_probes = ("flows_river", "gd_river", "sgd_small_river", "sgd_large_river")
    metrics = ("flows_final_max_distance_to_river", "gd_progress_slope", "gd_late_mean_distance_to_river",
               "sgd_progress_ratio", "sgd_oscillation_ratio", "sgd_progress", "sgd_mean_distance_to_river")
    x1_range: tuple[float, float] = (-0.5, 10.5)
    x2_range: tuple[float, float] = (-2.5, 3.6)  # headroom above the river for the inset


@plot_spec("wsd", "fig04")
class Fig04(PlotSpec):
    required_runs = ("wsd", "cosine", "constant")
    metrics = ("gap_wsd_minus_cosine_before_decay", "gap_wsd_minus_cosine_at_end", "stable_hill",
               "stable_hill_paper_constant", "stable_hill_exact", "decay_hill_over_paper_bound_mean",
               "max_z_mc_vs_theory", "final_loss")


@plot_spec("wsd", "fig06")
class Fig06(PlotSpec):
    float64 = True  # Hessians of the analytic losses, by autodiff
    metrics = ("max_abs_trace_minus_gini", "max_entropy_deterministic", "min_entropy_stochastic", "mean_entropy")
    language: BigramLanguage


@plot_spec("wsd", "fig07")
class Fig07(PlotSpec):
    required_runs = ("constant", "wsd", "cosine")
    metrics = ("decay_share_of_late_drop", "gap_wsd_minus_cosine_at_decay_start", "sto_share_of_decay_drop",
               "det_loss_wsd_minus_cosine_at_end", "sto_loss_wsd_minus_constant_at_end", "final_loss",
               "final_loss_det", "final_loss_sto")


class SizeRuns(Strict):
    label: str  # the paper's model size this panel stands for
    wsd: RunName  # a WSD plan: its main branch; the decay branches are <wsd>_decay1, _decay2, ...
    wsd_s: RunName  # the WSD-S run over the same budgets


@plot_spec("wsd", "fig10", "fig11")
class VersusWSD(PlotSpec):
    """Figs. 10 and 11: WSD (main + branches) against WSD-S at equal total compute, per size."""

    metrics = ("max_wsd_s_minus_wsd_at_largest_budget", "wsd_s_minus_wsd_at_largest_budget", "wsd_s_minus_wsd",
               "max_abs_diff_at_first_budget", "wsd_s_val_loss", "wsd_val_loss", "wsd_s_compute", "wsd_compute")
    sizes: list[SizeRuns] = Field(min_length=1)


class FractionPanel(Strict):
    label: str
    main: RunName  # the constant main branch the decays restore from
    fractions: dict[str, RunName] = Field(min_length=2)  # legend label ("8%") -> decay run


class SpikeCase(Strict):
    label: str
    main: RunName
    reference: RunName  # the ordinary decay
    spiked: RunName  # the decay that starts right after the (induced) spike
    reference_label: str
    spiked_label: str


@plot_spec("wsd", "fig15")
class Fig15(PlotSpec):
    metrics = ("max_decay_fraction_spread_over_gain", "decay_fraction_spread_over_gain", "decay_fraction_spread",
               "decay_fraction_final_val_loss", "decay_gain", "spike_minus_8pct_final_val_loss",
               "spike_peak_batch_loss_excess", "spike_val_loss_excess_at_decay_start")
    panels: list[FractionPanel] = Field(min_length=1)
    spike: SpikeCase


@plot_spec("wsd", "fig05")
class Fig05(PlotSpec):
    """Fig. 5: loss along the line between (a) two stable-phase checkpoints, (b) a pre-decay
    checkpoint and the end of its decay branch."""

    required_runs = ("stable", "decay")
    required_probes = ("stable", "decay")
    metrics = ("stable_valley_depth", "stable_valley_depth_rel", "stable_argmin_alpha", "decay_max_increase",
               "decay_drop", "decay_rise_over_drop", "distance")


@plot_spec("wsd", "fig12")
class Fig12(PlotSpec):
    """Fig. 12: one panel per decay interpolation probe (pre-decay -> decayed), in YAML order."""

    required_runs = ("stable",)
    metrics = ("rise_over_drop_worst", "rise_over_drop", "max_increase_worst", "max_increase", "drop", "distance")
    columns: int = Field(3, ge=1)


@plot_spec("wsd", "fig13")
class Fig13(PlotSpec):
    """Fig. 13: one panel per stable-segment interpolation probe, in YAML order."""

    required_runs = ("stable",)
    metrics = ("valley_depth_min", "valley_depth", "valley_depth_rel", "argmin_alpha", "distance")
    columns: int = Field(3, ge=1)


@plot_spec("wsd", "fig14")
class Fig14(PlotSpec):
    """Fig. 14: contours of the loss on the plane through A', A and B' (raw and orthonormal)."""

    required_runs = ("stable", "decay_a", "decay_b")
    required_probes = ("raw", "orthonormal")
    metrics = ("sharpness_ratio_raw", "sharpness_ratio_orthonormal", "curvature_aa", "curvature_ab_raw",
               "curvature_ab_orthonormal", "range_ratio_raw", "dist_aa", "dist_ab", "angle_deg", "loss_at_points")
    levels: int = Field(20, ge=2)


class OraclePanel(Strict):
    label: str  # the paper's model size this panel stands for ("0.1B"); the shape trained is added
    wsd_s: RunName  # the single WSD-S run
    cosine: list[RunName] = Field(min_length=1)  # one cosine-oracle run per budget, in budget order


@plot_spec("wsd", "fig08")
class Fig08(PlotSpec):
    """Fig. 8: WSD-S against the cosine oracles (a star per budget), one panel per size, and the
    LR curves of the first size."""

    metrics = ("max_abs_gap", "max_abs_gap_over_doubling_gain", "gap_wsd_s_minus_cosine", "doubling_gain",
               "final_loss")
    panels: list[OraclePanel] = Field(min_length=1)


@plot_spec("wsd", "fig01")
class Fig01(PlotSpec):
    """Fig. 1: the WSD loss curve (main branch + its decay branch) against cosine."""

    required_runs = ("wsd", "cosine")  # wsd is a one-decay WSD plan: its branch is wsd_decay1
    metrics = ("gap_wsd_minus_cosine_at_decay_start", "decay_share_of_late_drop", "gap_wsd_minus_cosine_at_end",
               "final_loss")


@plot_spec("wsd", "fig09")
class Fig09(PlotSpec):
    """Fig. 9: WSD-S, cyclic cosine and the two hybrids over two budgets (min LR at the first)."""

    required_runs = ("wsd_s", "cos_t1", "cyclic", "cosine_wsd", "wsd_cosine")
    metrics = ("cyclic_minus_wsd_s_at_end", "wsd_first_half_advantage", "final_loss", "loss_at_intermediate")


class SweepColumn(Strict):
    paper_lr: float = Field(gt=0)  # the paper's column header
    cyclic_cosine: RunName  # our runs at the LR this column stands for
    wsd_s: RunName
    paper_cyclic_cosine: float  # the paper's numbers, printed beside ours
    paper_wsd_s: float


@plot_spec("wsd", "tab01")
class Tab01(PlotSpec):
    """Table 1: final loss of cyclic cosine and WSD-S across peak learning rates."""

    metrics = ("n_lrs_wsd_s_better", "best_wsd_s_minus_best_cyclic", "wsd_s_minus_cyclic", "final_loss")
    columns: list[SweepColumn] = Field(min_length=2)


class Column(Strict):
    header: str
    path: str  # dotted path inside the preset, e.g. model.hidden


@plot_spec("wsd", "tab02", "tab03", "tab04")
class TableOfPresets(PlotSpec):
    """One row per preset, one column per dotted path."""

    metrics = ("cells", "total_compute_k")
    rows: list[ScheduleRow] = Field(min_length=1)
    columns: list[Column] = Field(default_factory=list)


@plot_spec("wsd", "sec4")
class Sec4(PlotSpec):
    """Sec. 4 (text only): per-city name loss of a stable (constant) and a decayed fine-tune of one
    parent, the difference (stable - decay) against the city's entropy, with Spearman's rho."""

    required_runs = ("stable", "decay")
    required_probes = ("stable", "decay")
    metrics = ("spearman_rho", "spearman_pvalue", "spearman_rho_det", "spearman_rho_sto", "det_loss_stable_minus_decay",
               "sto_loss_stable_minus_decay", "loss_stable_minus_decay", "mean_loss_stable", "mean_loss_decay",
               "mean_entropy")
