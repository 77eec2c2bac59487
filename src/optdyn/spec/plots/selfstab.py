"""Figure targets of the `selfstab` paper and their plot parameters."""

from __future__ import annotations

from pydantic import Field

from . import PlotSpec


class Fig01(PlotSpec):
    """Full-batch GD on a network at one or more learning rates, sharpness logged at each eval."""

    metrics = ("lrs", "onset_step", "all_reach_instability", "max_initial_sharpness_over_threshold",
               "sharpness_after_onset_over_threshold", "max_rel_deviation_after_onset", "max_loss_ratio_end_over_onset")


class Fig02(PlotSpec):
    """GD on the App. B toy: one EoS cycle in detail (its four stages), the whole run beside it."""

    required_runs = ("gd",)
    metrics = ("eq3_max_residual", "measured_alpha_beta", "stages_in_order", "complete_cycles",
               "first_cycle_length_over_ode_period", "first_cycle_max_y_over_ode", "first_cycle_max_abs_x_over_ode",
               "mean_sharpness_over_cycles_times_eta_over_2", "mean_y_over_cycles_in_amplitudes",
               "constrained_loss_step", "loss_increases", "cycle_lengths", "cycle_max_y", "cycle_max_abs_x",
               "stage_steps_first_cycle", "ode_max_abs_x", "ode_max_y", "ode_period_steps")
    zoom_cycle: int = Field(0, ge=0)  # the cycle drawn in detail (0 = the first)


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


FIGURES: dict[str, type[PlotSpec]] = {"fig01": Fig01, "fig02": Fig02, "fig03": Fig03}
