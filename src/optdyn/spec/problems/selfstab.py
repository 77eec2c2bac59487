"""Model and probe configs of the `selfstab` paper's own problems (see ``spec/problems/__init__.py``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from optdyn.registry import model_spec, probe_spec

from ..base import Strict


@model_spec("selfstab")
class SelfstabToy(Strict):
    """App. B toy: L(x, y, z) = (2/eta + sqrt(beta) y) x^2/2 - (alpha/sqrt(beta)) y - z from
    (x0, 0, 0). GD on it with learning rate ``eta`` is eq. (3) exactly; ``eta`` is part of the
    loss, so it must equal the run's constant learning rate (the figure checks it)."""

    name: Literal["selfstab_toy"]
    eta: float = Field(gt=0)
    alpha: float = Field(1.0, gt=0)  # progressive-sharpening coefficient -grad L . grad S
    beta: float = Field(1.0, gt=0)  # ||grad S||^2, the self-stabilization strength
    x0: float = Field(0.1, gt=0)  # initial displacement along the unstable direction u = e_1 (its sign is irrelevant)


@probe_spec("selfstab")
class SelfstabTracking(Strict):
    """Fig. 4 / App. D.3 on a full-batch GD run (the run's problem, seed and constant learning
    rate eta): GD from the run's initial parameters until the midpoint sharpness reaches 2/eta
    (in ``search_dtype``, float32 as the authors), then ``steps`` steps of GD, the constrained
    trajectory theta^dagger, gradient flow and the predicted dynamics in lockstep (``dtype``,
    float64 as the authors); one row per tracked step (``probes/selfstab_tracking.py``)."""

    kind: Literal["selfstab_tracking"]
    run: str  # a full-batch GD run (constant lr, no momentum or weight decay) of the same figure
    steps: int = Field(2000, ge=1)  # tracked steps (the code's --steps)
    proj_steps: int = Field(3, ge=1)  # linearized projections per constrained step (--num_proj_steps)
    method: Literal["lobpcg", "lanczos", "dense"] = "lobpcg"  # the paper: warm-started LOBPCG
    iters: int | None = Field(None, ge=1)  # eigen-solver iterations (None: the solver's default)
    tol: float | None = Field(1e-9, gt=0)  # LOBPCG tolerance while tracking (--solver_tol)
    predicted: Literal["paper", "code"] = "paper"  # eq. (6) as written, or the code's gradient form
    generalized: bool = False  # App. F's generalized predicted dynamics (--generalized_pred)
    lambda2_stop: float = Field(1.9, gt=0)  # stop once lambda_2(theta^dagger) >= lambda2_stop / eta
    lambda2_every: int = Field(50, ge=1)  # the stop rule is checked every this many steps (the code: 50)
    search_dtype: Literal["float32", "float64"] = "float32"
    search_max_steps: int = Field(20000, ge=1)
    dtype: Literal["float32", "float64"] = "float64"
    max_gf_substeps: int = Field(64, ge=1)  # cap on gradient flow's ceil(eta S) Euler sub-steps
    checkpoint_every: int = Field(10, ge=1)  # the tracking state is saved this often (resumable)
    seed: int = 0  # random start blocks of the eigen-solvers
    # App. E's quantities (probes/selfstab_assumptions.py): gamma, the Assumption-5 ratios every step and
    # rho_3 / rho_4 every lambda2_every steps (the authors' slow stats); False leaves their columns NaN
    assumption_stats: bool = True
