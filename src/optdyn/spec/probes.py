"""Typed configs of probes: measurements on finished runs (their logged trajectories or their
checkpoints) that run as their own jobs and write a parquet table.

A probe names the runs it measures by their figure-local names, in a top-level ``run`` field
(one-run probes) or in ``{run, step}`` checkpoint references (landscapes across runs); the plan
resolves every ``run`` key it finds, at any depth."""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import Field, model_validator

from optdyn.registry import PROBE_SPECS, probe_spec

from .base import Strict


@probe_spec("wsd")
class RiverProgress(Strict):
    """For a 2-D river-valley run: each logged iterate's projection onto the river (the
    projection flow of WSD Def. C.3), its distance to the river, and the time the reference flow
    needs from the projected start to the projected iterate (Thm 3.3's T~)."""

    kind: Literal["river_progress"]
    run: str  # a run of the same figure


@probe_spec("selfstab")
class HessianSpectrum(Strict):
    """Top-k eigenvalues of the Hessian of a run's training loss at its checkpoints (any
    problem), on one fixed batch ``problem.sample_batch(PRNGKey(batch_seed))``; one row per
    (step, rank) with the solver, its matvec count, the residual ||Hv - lv|| and the dtype.
    Steps without a checkpoint are replayed from the nearest earlier one (training is a pure
    function of seed and step)."""

    kind: Literal["hessian_spectrum"]
    run: str  # a run of the same figure
    k: int = Field(1, ge=1)
    method: Literal["lanczos", "lobpcg", "dense"] = "lanczos"
    which: Literal["LA", "LM"] = "LA"  # algebraically largest (sharpness) or largest |value|
    steps: list[int] | None = None  # None: every checkpoint the run has
    iters: int = Field(40, ge=1)  # Lanczos steps (= Hessian-vector products) / LOBPCG iterations
    tol: float | None = Field(None, gt=0)  # LOBPCG only; clamped to the dtype's epsilon
    warm_start: bool = True  # start each step's solve from the previous step's eigenvectors (+10% noise)
    dtype: Literal["float32", "float64"] | None = None  # None: the run's dtype
    batch_seed: int = 0
    seed: int = 0  # random start vectors
    trace_samples: int = Field(0, ge=0)  # > 0: also a Hutchinson estimate of tr(H), this many probes

    @model_validator(mode="after")
    def _lobpcg_finds_largest_only(self):
        if self.method == "lobpcg" and self.which != "LA":
            raise ValueError("method lobpcg finds the algebraically largest eigenvalues only; use which: LA")
        return self


class CheckpointRef(Strict):
    """A run's parameters at one step: a point of a loss landscape. The plan makes the run keep a
    checkpoint there (like a branch point); step 0 is the initialization."""

    run: str  # a run of the same figure
    step: int = Field(ge=0)


class Linspace(Strict):
    """``numpy.linspace(start, stop, num)``: a grid written by its ends."""

    start: float
    stop: float
    num: int = Field(ge=1)


Grid = Linspace | list[float]  # a linspace or the values themselves


class LossEval(Strict):
    """Which loss a landscape probe evaluates at each point: a scalar of ``problem.metrics``
    (e.g. ``val_loss`` on fixed held-out batches), or the training loss on the one fixed batch
    ``problem.sample_batch(PRNGKey(batch_seed))``."""

    metric: str | None = None
    batch_seed: int | None = None

    @model_validator(mode="after")
    def _exactly_one(self):
        if (self.metric is None) == (self.batch_seed is None):
            raise ValueError("give exactly one of metric (a scalar of problem.metrics) or batch_seed (the training loss on that batch)")
        return self


class _Landscape(Strict):
    eval: LossEval = LossEval(batch_seed=0)
    chunk: int = Field(16, ge=1)  # points evaluated together (vmap inside lax.map): memory vs speed


@probe_spec("wsd")
class Interpolation(_Landscape):
    """The loss along theta(alpha) = (1 - alpha) theta_start + alpha theta_end (WSD Fig. 5, 12, 13);
    one row per alpha, with ||theta_end - theta_start||. All points' runs share one model."""

    kind: Literal["interpolation"]
    start: CheckpointRef  # alpha = 0
    end: CheckpointRef  # alpha = 1
    # [inferred] catalog sec. 6: the paper states neither the number of points nor the range
    alphas: Grid = Linspace(start=-0.2, stop=1.2, num=29)


@probe_spec("wsd")
class PlaneSlice(_Landscape):
    """The loss on theta = O + a (P_a - O) + b (P_b - O) over the grid a_values x b_values (WSD
    Fig. 14: O = A', P_a = A, P_b = B'). ``basis: orthonormal`` evaluates instead on
    O + a ||P_a - O|| e1 + b ||P_b - O|| e2, with (e1, e2) Gram-Schmidt of the two directions,
    so distances along both axes are true parameter distances. Every row carries both
    coordinates ((a, b) and the distances (x, y) along e1, e2), ||P_a - O||, ||P_b - O|| and
    the angle between the directions."""

    kind: Literal["plane_slice"]
    origin: CheckpointRef  # (a, b) = (0, 0)
    a_point: CheckpointRef  # (1, 0)
    b_point: CheckpointRef  # (0, 1) in the raw basis
    a_values: Grid = Linspace(start=-0.5, stop=1.5, num=21)  # [inferred] catalog sec. 6
    b_values: Grid = Linspace(start=-0.5, stop=1.5, num=21)
    basis: Literal["raw", "orthonormal"] = "raw"


@probe_spec("wsd")
class CityLoss(Strict):
    """For a language model on a ``bigram`` (city -> name) dataset (WSD Sec. 4): each city's
    expected loss on the following name, - sum_j P_ij log q(name_j | context, city), exact in the
    name, averaged over ``contexts`` fixed pair-aligned stretches of the validation stream of
    ``context_len`` tokens (None: the longest even length below the model's seq_len); with the
    city's entropy, Gini impurity and type. One row per city, at ``step`` (None: the last)."""

    kind: Literal["city_loss"]
    run: str  # a run of the same figure
    step: int | None = Field(None, ge=0)
    contexts: int = Field(8, ge=1)
    context_len: int | None = Field(None, ge=0)
    batch: int | None = Field(None, ge=1)  # sequences per forward pass; None: the model's micro-batch


class PathRef(Strict):
    """A run's trajectory for a PCA landscape: its states every ``every`` steps from its first
    (a branch's branch point) to its last, both included. ``run`` may name a sweep group of the
    figure: it stands for every member, in sweep order."""

    run: str
    every: int = Field(ge=1)
    from_step: int | None = Field(None, ge=0)  # None: from the run's first state; later drops a transient


@probe_spec("latedecay")
class PCALandscape(Strict):
    """Loss landscape in the PCA plane of a set of trajectories (late-decay Fig. 2, after Lorch
    2016 / Li et al. 2018; generic: any problem, any runs of one model). The flattened states of
    ``paths`` are the rows of a PCA (Gram-matrix, exact); the losses are evaluated on
    theta = mean + x1 pc1 + x2 pc2 (``surface: plane``) and, as the authors' code does, on the
    curved surface mean + x1 pc1 + x2 pc2 + (a x1^2 + b x1 + c) pc3 with (a, b, c) the
    least-squares fit of the states' PC3 coordinate on their PC1 coordinate (``curved``). The
    table holds the grid (``part: grid``), every state's coordinates and losses (``part: path``)
    and the explained-variance spectrum (``part: pca``). ``x1``/``x2`` None: the states' PC
    range widened by ``margin`` of it on each side."""

    kind: Literal["pca_landscape"]
    paths: list[PathRef] = Field(min_length=1)
    losses: dict[str, LossEval] = Field(default_factory=lambda: {"loss": LossEval(batch_seed=0)}, min_length=1)
    surface: Literal["plane", "curved", "both"] = "plane"
    components: int = Field(5, ge=3)  # the explained-variance spectrum kept (PC3 is the curved surface's)
    x1: Grid | None = None
    x2: Grid | None = None
    grid: list[int] = Field(default_factory=lambda: [42, 31], min_length=2, max_length=2)  # points along (x1, x2) when the range is automatic
    margin: float = Field(0.25, ge=0)
    chunk: int = Field(64, ge=1)


#: every registered probe class: the ones above, then each paper's ``spec/problems/<paper>.py``
ProbeSpec = Annotated[Union[PROBE_SPECS.classes()], Field(discriminator="kind")]
