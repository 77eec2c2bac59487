"""Typed configs of probes: measurements on a finished run (its logged trajectory or its
checkpoints) that run as their own jobs and write a parquet table."""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import Field, model_validator

from . import problems
from .base import Strict


class RiverProgress(Strict):
    """For a 2-D river-valley run: each logged iterate's projection onto the river (the
    projection flow of WSD Def. C.3), its distance to the river, and the time the reference flow
    needs from the projected start to the projected iterate (Thm 3.3's T~)."""

    kind: Literal["river_progress"]
    run: str  # a run of the same figure


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


ProbeSpec = Annotated[Union[(RiverProgress, HessianSpectrum, *problems.collect("PROBES"))], Field(discriminator="kind")]
