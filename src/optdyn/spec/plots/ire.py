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
