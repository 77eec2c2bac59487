"""Figure targets of the `normsharp` paper and their plot parameters."""

from __future__ import annotations

from pydantic import Field

from optdyn.registry import plot_spec

from . import PlotSpec, RunName


@plot_spec("normsharp", "fig01")
class MatrixCompletionMain(PlotSpec):
    """Fig. 1: one GD+WD run of matrix completion with BN."""

    required_runs = ("main",)
    metrics = ("test_loss_at_interpolation", "test_loss_final", "eos_entry_step", "eos_sharpness_ratio",
               "sharpness_drop_ratio", "sv_gap_growth", "norm_recursion_max_rel_err")
    # EoS-tracking statistics skip this many steps after entry (the transient of Fig. 11)
    settle_steps: int = Field(1000, ge=0)


@plot_spec("normsharp", "fig06", "fig07")
class MatrixCompletionSweep(PlotSpec):
    """Figs. 6, 7: the same run for several numbers of observations (one column each)."""

    metrics = ("observations", "eos_entry_steps", "test_onset_lags", "test_loss_at_interpolation",
               "test_loss_final", "sharpness_drop_ratios", "max_test_onset_lag")
    series: list[RunName] = Field(min_length=1)  # run names, in column order


@plot_spec("normsharp", "fig11")
class MatrixCompletionCloseUp(PlotSpec):
    """Fig. 11: per-step close-up around EoS entry (a branch of the Fig. 1 run)."""

    required_runs = ("main", "window")
    metrics = ("crossings", "loss_period_steps", "predicted_small_period_steps", "window_start", "window_end")


@plot_spec("normsharp", "fig03")
class Toy3D(PlotSpec):
    """Fig. 3c: theta_t on the sphere for the 3-D scale-invariant toy."""

    required_runs = ("toy",)
    metrics = ("initial_two_over_eta", "initial_manifold_sharpness", "final_abs_z", "final_orbit_xy",
               "final_sharpness_at_midpoint", "period_two_residual")


@plot_spec("normsharp", "fig04")
class LinearRegression(PlotSpec):
    """Fig. 4: linear regression with BN, oscillation and periodicity."""

    required_runs = ("main", "osc", "window")
    metrics = ("train_loss_before_eos", "eos_entry_step", "log10_eos_train_loss", "test_loss_at_entry",
               "test_loss_final", "test_loss_flattest", "test_final_over_flattest", "dist_ratio", "crossings", "h_sign_alternation",
               "h_period_steps", "predicted_small_period_steps", "sharpness_flattest", "sharpness_phi_final",
               "sharpness_final_over_flattest")


@plot_spec("normsharp", "fig05")
class Hamiltonian(PlotSpec):
    """Fig. 5: the dynamical system (17)."""

    metrics = ("x_star", "energy_rel_drift", "mean_h2", "small_period", "large_orbit_period_rel_err")
    k: float = Field(2.0, gt=0)
    c_b: float = Field(1.0, gt=0)
    energies: list[float] = Field(default_factory=lambda: [0.0, 0.5, 1.5, 3.0], min_length=1)  # above the minimum
