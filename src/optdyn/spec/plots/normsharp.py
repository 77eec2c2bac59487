"""Figure targets of the `normsharp` paper and their plot parameters."""

from __future__ import annotations

from typing import Literal

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


@plot_spec("normsharp", "fig02", "fig08", "fig09")
class VGGMain(PlotSpec):
    """Figs. 2, 8, 9: one scale-invariant VGG / ResNet run of full-batch GD+WD (its smoke stand-in
    on digits)."""

    required_runs = ("main",)
    metrics = ("full_train_step", "test_acc_at_full_train", "test_acc_final", "test_acc_gain", "sharpness_at_full_train",
               "sharpness_final", "sharpness_drop_ratio", "eos_tracking_ratio", "initial_sharpness")


@plot_spec("normsharp", "fig10")
class VGGEarly(PlotSpec):
    """Fig. 10: the first steps of the Fig. 2 run (the same run)."""

    required_runs = ("main",)
    metrics = ("initial_sharpness_over_threshold", "eos_entry_step", "eos_tracking_ratio_early")
    until: int = Field(1500, ge=1)  # the last step drawn (the paper's 1500)
    # a measurement within this factor of 2/eta~_t counts as at the edge (EoS entry)
    entry_band: float = Field(1.25, gt=1)


@plot_spec("normsharp", "fig12")
class VGGWindow(PlotSpec):
    """Fig. 12: a window of per-step sharpness in the middle of the Fig. 2 run (the same run)."""

    required_runs = ("main",)
    metrics = ("window_start", "window_end", "below_fraction", "loss_period_steps", "loss_acf_peak", "grad_period_steps")
    window: int = Field(1, ge=0)  # which of the run's ``sharpness_windows`` (the dense per-step one)


@plot_spec("normsharp", "fig13")
class VGGWeightDecay(PlotSpec):
    """Fig. 13: the Fig. 2 run (WD) against the same run without WD."""

    required_runs = ("wd", "nowd")
    metrics = ("wd_sharpness_drop_ratio", "nowd_sharpness_ratio", "wd_test_acc_final", "nowd_test_acc_final",
               "test_acc_wd_minus_nowd", "nowd_test_acc_gain")


@plot_spec("normsharp", "fig14", "fig15", "fig18")
class NetAblation(PlotSpec):
    """Figs. 14, 15, 18: seed-replicated sweeps of the SI VGG over lambda, eta at fixed eta_in, and
    the final-BN gamma; one curve per run of ``series``."""

    metrics = ("best_acc", "final_sharpness", "sharpness_drop_ratios", "spike_sizes", "best_acc_step1", "best_acc_step2",
               "best_acc_step3", "best_acc_gain_max_wd", "final_sharpness_max_wd_over_no_wd", "best_acc_range",
               "final_sharpness_max_over_min", "max_sharpness_drop_ratio", "spike_gain")
    series: list[RunName] = Field(min_length=1)  # run names, in legend order


@plot_spec("normsharp", "fig16", "fig17")
class ArchitectureTable(PlotSpec):
    """Figs. 16, 17: the architectures as generated layer tables with parameter counts."""

    metrics = ("si_vgg11_params", "preact_resnet20_params", "preact_resnet20_si_group_params", "si_resnet20_params")
    archs: list[Literal["si_vgg", "preact_resnet", "si_resnet"]] = Field(min_length=1)
