"""Figure targets of the `selfstab` paper and their plot parameters."""

from __future__ import annotations

from pydantic import Field

from optdyn.registry import plot_spec

from . import PlotSpec, RunName


@plot_spec("selfstab", "fig01")
class Fig01(PlotSpec):
    """Full-batch GD on a network at one or more learning rates, sharpness logged at each eval."""

    metrics = ("lrs", "onset_step", "all_reach_instability", "max_initial_sharpness_over_threshold",
               "sharpness_after_onset_over_threshold", "max_rel_deviation_after_onset", "max_loss_ratio_end_over_onset")


@plot_spec("selfstab", "fig02")
class Fig02(PlotSpec):
    """GD on the App. B toy: one EoS cycle in detail (its four stages), the whole run beside it."""

    required_runs = ("gd",)
    metrics = ("eq3_max_residual", "measured_alpha_beta", "stages_in_order", "complete_cycles",
               "first_cycle_length_over_ode_period", "first_cycle_max_y_over_ode", "first_cycle_max_abs_x_over_ode",
               "mean_sharpness_over_cycles_times_eta_over_2", "mean_y_over_cycles_in_amplitudes",
               "constrained_loss_step", "loss_increases", "cycle_lengths", "cycle_max_y", "cycle_max_abs_x",
               "stage_steps_first_cycle", "ode_max_abs_x", "ode_max_y", "ode_period_steps")
    zoom_cycle: int = Field(0, ge=0)  # the cycle drawn in detail (0 = the first)


@plot_spec("selfstab", "fig03")
class Fig03(PlotSpec):
    """The ODE (eq. 4): orbits for several X(0) (left) and the four stages on one orbit (right)."""

    metrics = ("conserved_max_relative_drift", "orbit_closure_max_relative_error", "fixed_point",
               "extremes_max_relative_error_vs_closed_form", "smaller_x0_larger_orbits", "x_never_below_x0",
               "corollary1_constant_x", "corollary1_constant_y", "stages_in_order_on_orbit", "periods",
               "max_x", "max_abs_y", "small_oscillation_period", "x0_values")
    alpha: float = Field(1.0, gt=0)
    beta: float = Field(1.0, gt=0)
    x0_values: list[float] = Field(min_length=2)
    stage_orbit_x0: float = Field(gt=0)
    bound_x0_max: float = Field(gt=0)  # Corollary 1's constants are checked on orbits with X(0) <= this
    rtol: float = Field(1e-11, gt=0)
    atol: float = Field(1e-13, gt=0)
    max_step: float = Field(0.01, gt=0)


@plot_spec("selfstab", "fig04")
class Fig04(PlotSpec):
    """Predicted dynamics vs GD vs the constrained trajectory vs gradient flow, per setting: the
    ``selfstab_tracking`` probe ``<setting>_tracking`` of the GD run ``<setting>``; per setting a
    zoom on one GD cycle (top) over the whole tracked window (bottom). The MLP is required; the
    CNN and Transformer rows are drawn when their run and probe are there (a tier may drop them)."""

    required_runs = ("mlp",)
    required_probes = ("mlp_tracking",)
    metrics = ("settings", "etas", "instability_steps", "tracked_steps", "epsilons", "first_cycles", "all_complete_a_cycle",
               "max_constrained_sharpness_rel_error", "max_constrained_grad_dot_u", "max_constrained_loss_increase",
               "gd_sharpness_mean_over_threshold", "max_gd_sharpness_mean_rel_deviation",
               "gd_over_gf_distance_after_cycle", "max_gd_over_gf_distance_after_cycle",
               "pred_peak_timing_error", "max_pred_peak_timing_error", "pred_loss_error", "max_pred_loss_error",
               "pred_sharpness_error", "max_pred_sharpness_error", "pred_distance_error", "max_pred_distance_error")
    zoom_cycle: int = Field(0, ge=0)  # the GD cycle drawn in the top rows (0 = the first)
    zoom_margin: float = Field(0.2, ge=0)  # extra steps either side of the zoomed cycle, in cycle lengths


@plot_spec("selfstab", "fig05")
class Fig05(PlotSpec):
    """The top-k Hessian eigenvalues (``hessian_spectrum`` probe ``spectrum``) along a long GD run
    ``gd``, each one's first step at 2/eta, and the loss's roughness with one vs several unstable."""

    required_runs = ("gd",)
    required_probes = ("spectrum",)
    metrics = ("lr", "two_over_eta", "crossing_steps", "eigenvalues_reaching_threshold",
               "last_crossing_dip_over_threshold", "lambda1_mean_after_onset_over_threshold",
               "loss_roughness_one_unstable", "loss_roughness_several_unstable", "loss_roughness_ratio",
               "loss_rise_fraction_one_unstable", "loss_rise_fraction_several_unstable")
    k: int = Field(4, ge=2)  # eigenvalues drawn (at most the probe's k)


@plot_spec("selfstab", "fig06")
class Fig06(PlotSpec):
    """Full-batch GD at fixed learning rates (every run but ``inverse_sharpness_run``) and the
    eta_t = 1/S rule: training loss, test accuracy and sharpness (logged at each eval)."""

    metrics = ("lrs", "target_loss", "steps_to_target_loss", "faster_with_larger_lr", "final_sharpness_over_threshold",
               "max_final_sharpness_over_threshold", "final_sharpness", "final_sharpness_decreasing_in_lr",
               "final_test_accuracy", "test_accuracy_rank_correlation_with_lr", "inverse_sharpness_steps_to_target_loss",
               "inverse_sharpness_final_test_accuracy", "inverse_sharpness_slowdown_vs_largest_lr",
               "largest_lr_test_accuracy_gain_over_inverse_sharpness")
    inverse_sharpness_run: RunName = "inverse_sharpness"
    target_loss: float = Field(gt=0)  # "converges faster" = fewer steps to this training loss
    final_fraction: float = Field(0.1, gt=0, le=1)  # "final" = mean over this last fraction of evals


@plot_spec("selfstab", "appE")
class AppE(PlotSpec):
    """App. E: the assumption quantities along theta^dagger, one row of eight panels per (setting,
    eta): every run ``<name>`` with its ``selfstab_tracking`` probe ``<name>_tracking``."""

    metrics = ("settings", "etas", "tracked_steps", "stopped", "min_alpha", "all_alpha_positive", "epsilon_range",
               "max_epsilon", "gamma_range", "min_gamma", "grad_s_perp_over_rho3_range", "min_grad_s_perp_over_rho3",
               "rho4_over_eta_rho3_sq_range", "max_rho4_over_eta_rho3_sq", "assumption5_max_ratio_over_epsilon",
               "max_assumption5_ratio_over_epsilon", "lambda2_over_threshold", "max_lambda2_over_threshold")


@plot_spec("selfstab", "appG")
class AppG(PlotSpec):
    """App. G.2: Fig. 4's layout with the generalized predicted dynamics, one block per (setting,
    eta): every run ``<name>`` with its ``selfstab_tracking`` probe ``<name>_tracking``."""

    metrics = Fig04.metrics + ("fixed_point_sharpness_over_threshold",)
    zoom_cycle: int = Field(0, ge=0)
    zoom_margin: float = Field(0.2, ge=0)
