"""The typed spec: paper -> figures -> runs / plot / claims, plus tier overrides.

Base values are the paper's own settings; tiers (``tiny``, ``smoke``, ``paper``) override them,
each override with a one-line reason that the report shows.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from optdyn.registry import MODEL_SPECS

from .base import Strict
from .expr import Expr
from .components import SGD, DataSpec, ModelSpec, OptimizerSpec
from .probes import ProbeSpec
from .schedules import ScheduleSpec

Tier = Literal["tiny", "smoke", "paper", "check"]  # check: the paper tier clipped (spec/check_tier.py)
TIERS: tuple[str, ...] = ("tiny", "smoke", "paper", "check")
Scalar = float | int | bool | str


class BranchFrom(Strict):
    """Start from another run's state at ``step`` (params + optimizer state + step; the data
    randomness is a function of seed and step, so it continues too)."""

    run: str
    step: int = Field(ge=0)
    # True: start from the parent's params and step with a fresh optimizer state (momentum
    # buffers zeroed), as a restart from saved weights only does (late-decay authors' code)
    reset_optimizer: bool = False


class RunSpec(Strict):
    model: ModelSpec
    data: DataSpec | None = Field(None, validate_default=True)

    @field_validator("data")
    @classmethod
    def _data_fits_model(cls, data, info: ValidationInfo):
        model = info.data.get("model")
        if model is None:
            return data
        wanted = MODEL_SPECS.info(type(model)).data  # (): a self-contained problem
        if not wanted and data is not None:
            raise ValueError(f"model '{model.name}' is a self-contained toy problem and takes no data; remove `data`")
        if wanted and (data is None or data.name not in wanted):
            raise ValueError(f"model '{model.name}' needs data named {' or '.join(wanted)}")
        return data
    optimizer: OptimizerSpec = Field(default_factory=lambda: SGD(name="sgd"))
    schedule: ScheduleSpec
    steps: int | None = Field(None, gt=0)  # None: the schedule's natural end (WSD, WSD-S)
    seed: int = Field(0, ge=0, le=2**32 - 1)  # a uint32: what JAX's and numpy's seeding take
    dtype: Literal["float32", "float64"] = "float32"
    branch_from: BranchFrom | None = None
    divergence_threshold: float | None = Field(None, gt=0)  # loss above it counts as diverged
    # Logging-only fields: excluded from the run id (see LOGGING_FIELDS).
    eval_every: int = Field(1, ge=1)
    checkpoint_steps: list[int] = Field(default_factory=list)
    checkpoint_every: int | None = Field(None, gt=0)
    progress: bool = True


#: fields that do not change any number a run produces, so they do not enter its identity
LOGGING_FIELDS = ("eval_every", "checkpoint_steps", "checkpoint_every", "progress")


class Check(Strict):
    """How our value is compared: exactly one key. Tolerances compare with the paper's value;
    bounds compare with a threshold; ``equals`` demands the paper's value exactly. Over seed
    replicates, these apply to the mean, and ``ci_above`` / ``ci_below`` demand the whole 95%
    confidence interval of the mean above / below a bound. A bound may be an expression of the
    config (``{expr: "2 / runs.gd.schedule.lr"}``, spec/expr.py)."""

    rel_tol: float | None = Field(None, gt=0)
    abs_tol: float | None = Field(None, ge=0)
    at_least: float | Expr | None = None
    at_most: float | Expr | None = None
    ci_above: float | Expr | None = None
    ci_below: float | Expr | None = None
    equals: Literal[True] | None = None
    is_true: Literal[True] | None = None

    @model_validator(mode="after")
    def _exactly_one(self):
        given = [k for k, v in self.__dict__.items() if v is not None]
        if len(given) != 1:
            raise ValueError(
                f"give exactly one of {', '.join(type(self).model_fields)} (got {given or 'none'})"
            )
        return self


class ClaimSpec(Strict):
    id: str = Field(pattern=r"^[a-z0-9_]+$")
    statement: str
    source: str  # where the paper says it: "Fig. 3b inset; Thm 3.3"
    metric: str  # a value the figure computes
    paper: Any = None  # the paper's number (None where it states only a shape), or {expr: ...}
    check: Check
    # filled when the plan is resolved: the expression each expected value came from
    expected_from: dict[str, str] | None = None
    # why the claim fails at a scaled-down tier (the phenomenon needs more scale), written
    # before the run; the verdict stays FAIL and the report shows the reason beside it. A
    # resolved plan keeps only its own tier's entry.
    known_failure: dict[Literal["tiny", "smoke"], str] = Field(default_factory=dict)
    # "consistency": true by construction or an echo of the config (a check of our own code,
    # e.g. a schedule's breakpoints); reported and counted apart from reproduced claims
    kind: Literal["reproduction", "consistency"] = "reproduction"


class FigureSpec(Strict):
    title: str
    caption: str = ""
    kind: Literal["figure", "table"] = "figure"
    runs: dict[str, RunSpec] = Field(default_factory=dict)
    probes: dict[str, ProbeSpec] = Field(default_factory=dict)
    plot: dict[str, Any] = Field(default_factory=dict)  # validated by spec/plots/<paper>.py
    claims: list[ClaimSpec] = Field(default_factory=list)
    # replicate every run and probe of the figure over these seeds (spec/expand.py)
    seeds: list[int] | None = Field(None, min_length=1)

    @field_validator("claims")
    @classmethod
    def _unique_claims(cls, claims):
        ids = [c.id for c in claims]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        if dup:
            raise ValueError(f"claim ids must be unique; repeated: {', '.join(repr(d) for d in dup)}")
        return claims


class Override(Strict):
    value: Any
    reason: str = Field(min_length=3)
    replace: bool = False  # a mapping replaces the one it overrides instead of merging into it


class PaperSpec(Strict):
    paper: str
    title: str
    citation: str = ""
    presets: dict[str, dict[str, Any]] = Field(default_factory=dict)
    figures: dict[str, FigureSpec]
    # the paper tier is the base itself: only scaled-down tiers may override
    tiers: dict[Literal["tiny", "smoke"], dict[str, Override]] = Field(default_factory=dict)


#: a config path (results, resources, data): no shell metacharacters, no leading '-' (an option)
SAFE_PATH = r"^[A-Za-z0-9._/][A-Za-z0-9._/-]*$"


class WorkflowConfig(Strict):
    """config/config.yaml"""

    tier: Tier = "smoke"
    papers: list[str] = Field(min_length=1)
    # Paths reach the rules' shell lines (quoted there too): letters, digits and ._-/ only
    results: str = Field("results", json_schema_extra={"pattern": SAFE_PATH})
    resources: str = Field("resources", json_schema_extra={"pattern": SAFE_PATH})  # prepared datasets: <resources>/data/<name>/
    data: str = Field("data.yaml", json_schema_extra={"pattern": SAFE_PATH})  # named datasets, relative to this file's folder

    @field_validator("results", "resources", "data")
    @classmethod
    def _safe_path(cls, value: str) -> str:
        if not re.fullmatch(SAFE_PATH, value):
            raise ValueError("a path of letters, digits and . _ - / only, not starting with - "
                             "(no spaces, quotes or shell characters)")
        return value

    @field_validator("papers")
    @classmethod
    def _unique_papers(cls, papers: list[str]) -> list[str]:
        dup = sorted({p for p in papers if papers.count(p) > 1})
        if dup:
            raise ValueError(f"each paper once; listed twice: {', '.join(dup)}")
        return papers

