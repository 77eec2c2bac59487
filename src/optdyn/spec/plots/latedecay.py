"""Figure targets of the `latedecay` paper and their plot parameters."""

from __future__ import annotations

from pydantic import Field

from optdyn.registry import plot_spec

from ..base import Strict
from . import PlotSpec, RunName


class Landscape2D(Strict):
    """The d = 2, n = 1 example of Fig. 3: one sample x, ground truth w*, grid over [lo, hi]^2."""

    w_star: tuple[float, float] = (-1.0, 0.5)
    x: tuple[float, float] = (0.15, -0.7)
    gamma: float = Field(2.0, gt=-1)
    lo: float = -2.0
    hi: float = 2.0
    grid: int = Field(401, ge=11)


@plot_spec("latedecay", "fig03")
class Fig03(PlotSpec):
    float64 = True  # Hessians of the analytic losses, by autodiff
    metrics = ("min_norm_linear", "min_norm_diag", "min_norm_reparam", "min_norm_norm_linear", "min_norm_norm_diag",
               "min_norm_norm_reparam", "min_norm_reparam_closed_form", "min_norm_reparam_minus_closed_form",
               "test_loss_at_min_norm_linear", "test_loss_at_min_norm_diag", "test_loss_at_min_norm_reparam",
               "test_loss_at_zero_linear", "test_loss_at_zero_diag", "test_loss_at_zero_reparam",
               "half_sq_norm_alpha_star_perp", "test_hessian_min_eig", "test_hessian_min_eig_per_model",
               "train_hessian_null_dims_on_manifold", "train_sublevel_touches_boundary",
               "test_sublevel_touches_boundary", "valley_width_exponent", "valley_width_exponent_linear",
               "valley_width_exponent_diag", "valley_width_exponent_reparam", "test_minimizer_on_grid", "stall_radius")
    example: Landscape2D = Field(default_factory=Landscape2D)
    sublevel: float = Field(0.02, gt=0)  # level of the open/closed sublevel-set check
    width_norms: tuple[float, float] = (10.0, 100.0)  # ||w|| range of the valley-width fit on M


@plot_spec("latedecay", "fig04")
class Fig04(PlotSpec):
    required_runs = ("phase2_g1", "phase2_g2")
    metrics = ("drift_towards_col_x_where_c_positive", "norm_over_w_dagger", "dist_dagger_final_over_start",
               "dist_dagger_final_over_start_per_gamma", "ode_max_rel_gap", "ode_max_rel_gap_per_gamma",
               "linearized_rate_over_b19", "linearized_rate_over_b19_per_gamma", "linearized_rate_over_b19_as_printed",
               "min_c_over_d_on_path", "timescale_collapse_max_rel_spread", "train_loss_over_ou_prediction",
               "stall_radius_2d", "numerical_rank_sq")
    example: Landscape2D = Field(default_factory=Landscape2D)
    arrows: int = Field(24, ge=2)
    ode_start_step: int = Field(1000, ge=0)  # Phase I is over (train loss at its noise floor)
    collapse_runs: list[RunName] = Field(default_factory=list)  # same instance and init, other (eta, s)
    collapse_marks: list[float] = Field(default_factory=lambda: [12.5, 25.0, 37.5])  # s^2 eta^2 k
    late_fraction: float = Field(0.5, gt=0, lt=1)  # share of the run averaged for the OU check


@plot_spec("latedecay", "fig01toy")
class Fig01Toy(PlotSpec):
    required_runs = ("main",)
    metrics = ("spearman_decay_step_vs_final_test", "final_test_first_over_last", "final_test_last_over_w_dagger",
               "final_norm_last_over_w_dagger", "final_dist_dagger_last_over_first", "final_test_loss",
               "post_decay_train_over_pre_decay", "decay_steps", "final_train_loss", "test_loss_w_dagger")


@plot_spec("latedecay", "fig01")
class Fig01(PlotSpec):
    """Fig. 1: main path, a sweep of decay subpaths over the branch step, and a noise-free control."""

    metrics = ("spearman_branch_vs_final_test", "final_test_first_over_last", "final_train_rel_spread",
               "main_norm_last_over_first_branch", "control_final_test_last_over_first", "final_test_loss",
               "final_train_loss", "branch_steps", "spearman_branch_vs_final_train", "control_final_test_loss",
               "main_norm_at_branches", "control_final_train_loss")
    main: RunName = "main"
    subpaths: RunName = "sub"  # a sweep group over branch_from.step
    control_main: RunName | None = None
    control_subpaths: RunName | None = None
    final_window: int = Field(1500, ge=0)  # steps at the end of a subpath whose logged losses are averaged
    train_metric: str = "loss"
    test_metric: str = "test_loss"


@plot_spec("latedecay", "fig02")
class Fig02(PlotSpec):
    """Fig. 2: a ``pca_landscape`` probe of the main path and its subpaths."""

    metrics = ("explained_top2", "explained_pc3", "explained_variance", "spearman_main_step_vs_dist_test_min",
               "main_train_valley_fraction", "subpath_end_train_valley_fraction", "spearman_branch_vs_end_dist_test_min",
               "end_dist_test_min", "end_branch_steps", "test_min", "curved", "curve_fit_abc", "local")
    probe: str = "pca"
    local_probe: str | None = None  # a second pca_landscape without the main path's early transient
    main: RunName = "main"
    subpaths: RunName = "sub"
    train_loss: str = "train"  # the probe's loss names
    test_loss: str = "test"
