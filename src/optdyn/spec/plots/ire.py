"""Figure targets of the `ire` paper and their plot parameters.

The toy figures read each run's kappa, eta, rho and p from its spec, so a run added to the YAML
(another kappa, another rho) shows up in the figure and its fits without code changes."""

from __future__ import annotations

from pydantic import Field

from optdyn.registry import plot_spec

from . import PlotSpec


@plot_spec("ire", "fig01")
class Fig01(PlotSpec):
    required_runs = ("gd_eta1", "gd_eta2")  # every other run is a GD-IRE run
    metrics = ("gd_eta1_final_u", "gd_eta1_converged_at", "gd_eta2_diverged", "ire_kappas", "ire_final_u",
               "ire_converged_at", "final_sharpness_decreasing_in_kappa", "first_step_drift_ratio",
               "first_step_v_unchanged", "ire_max_abs_v_over_v0", "final_sharpness")
    converged_below: float = Field(1e-12, gt=0)


@plot_spec("ire", "appA")
class AppA(PlotSpec):
    required_runs = ("sgd",)  # every other run is an IRE run around the same SGD
    metrics = ("kappas", "drift_rate", "drift_rate_ratio", "v_sq_mean", "v_sq_ratio_to_sgd", "v_sq_over_theory")
    rate_window: tuple[float, float] = (0.2, 0.8)
    skip_steps: int = Field(20, ge=0)


@plot_spec("ire", "tab06")
class Tab06(PlotSpec):
    required_runs = ("std_global_lr",)  # the others are classified by their optimizer spec
    metrics = ("rows", "standard_sam_slope_rho", "standard_ire_slope_rho", "standard_ire_over_sam",
               "average_sam_slope_eta", "average_ire_slope_eta", "average_slope_p", "standard_ire_over_sam_v_sq",
               "standard_peak_loss", "peak_loss_ire_over_sam_max", "peak_loss_global_lr_over_ire",
               "measured_over_predicted", "global_lr", "global_lr_status", "standard_one_plus_kappa")
    fit_skip_steps: int = Field(100, ge=0)  # phase I (the flow onto M) is left out of the fits
    fit_max_drop: float = Field(3.0, gt=0)  # fit ln|u| until it has fallen this many nats


@plot_spec("ire", "tab04")
class Tab04(PlotSpec):
    required_runs = ("adamw",)
    required_probes = ("step_time",)
    metrics = ("rows", "every", "ratio", "ratio_k10", "ratio_rank_correlation_with_k", "seconds_per_step_adamw",
               "seconds_per_step_admire", "predicted_ratio", "paper_ratio_k10")


@plot_spec("ire", "fig04")
class Fig04(PlotSpec):
    required_runs = ("tf_used", "llama_used")  # and the sweeps `tf` and `llama`
    metrics = ("tf_lrs", "tf_final_train_loss", "tf_argmin_lr", "llama_lrs", "llama_final_val_loss", "llama_argmin_lr")
    ema: float = Field(0.98, ge=0, lt=1)  # EMA of the per-step batch loss for the Transformer's final training loss


@plot_spec("ire", "fig05")
class Fig05(PlotSpec):
    required_runs = ("adamw",)  # and the sweep `admire`
    metrics = ("rows", "adamw_final", "admire_final", "every_admire_below_adamw", "speedup", "best_speedup",
               "best_run", "kappa5_below_kappa2")
    ema: float = Field(0.98, ge=0, lt=1)  # EMA of the per-step batch loss


@plot_spec("ire", "fig03")
class Fig03(PlotSpec):
    metrics = ("rows", "panels", "admire_T_minus_adamw_2T", "worst_admire_T_minus_adamw_2T", "speedup", "min_speedup",
               "admire_T_minus_adamw_T", "worst_admire_T_minus_adamw_T")
    panels: list[str] = Field(default_factory=lambda: ["wt103", "minipile", "owt"], min_length=1)


# --- Sec. 4.1 vision targets (figures/ire/vision*.py) ---


@plot_spec("ire", "fig02")
class Fig02(PlotSpec):
    # runs: <schedule>_sam and the sweep <schedule>_ire for each schedule present (const, step)
    metrics = ("rows", "const_max_inversions", "step_max_inversions", "every_ire_below_sam", "step_train_loss_delta_mean",
               "step_test_acc_delta_mean", "final_trace", "const_ire_below_sam", "step_ire_below_sam")
    final_epochs: int = Field(5, ge=1)  # "final" = mean over the last this many evaluations


@plot_spec("ire", "tab01", "tab07", "tab03", "tab02")
class VisionTable(PlotSpec):
    # runs: <column>_sgd, <column>_sam and (sweeps or single runs) <column>_sgd_ire, <column>_sam_ire
    metrics = ("rows", "every_ire_lowers_trace", "min_sgd_ire_delta", "min_sam_ire_delta", "min_top5_delta",
               "sgd_ire_delta", "sam_ire_delta", "ire_trace_ratio")
    columns: list[str] = Field(min_length=1)
    paper: dict[str, list[float]] = Field(default_factory=dict)  # column -> [base, base-IRE, SAM, SAM-IRE] accuracy
    paper_top5: dict[str, list[float]] = Field(default_factory=dict)
    top_k: bool = False  # also report top-5 accuracy (Table 2)
    base_name: str = "SGD"
    ire_name: str = "SGD-IRE"
