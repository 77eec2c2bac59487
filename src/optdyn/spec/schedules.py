"""Typed configs of the learning-rate schedules (the formulas live in ``optim/schedules.py``).

Steps are absolute optimizer-step counts: the update with step count ``t`` (0 for the first
update) uses ``lr(t)``. Every schedule may carry a linear warmup from 0 to its own value at
``warmup_steps`` (optax ``linear_schedule`` semantics).
"""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import Field, field_validator, model_validator

from .base import Strict

DecayShape = Literal["inverse_proportional", "linear", "cosine", "theory"]


class _Schedule(Strict):
    warmup_steps: int = Field(0, ge=0)


class Constant(_Schedule):
    name: Literal["constant"]
    lr: float = Field(gt=0)


class Cosine(_Schedule):
    """eta_min + (eta_max - eta_min)(1 + cos(pi t / total_steps))/2; held at eta_min afterwards."""

    name: Literal["cosine"]
    peak_lr: float = Field(gt=0)
    min_lr_ratio: float = Field(0.1, ge=0, le=1)
    total_steps: int = Field(gt=0)


class CyclicCosine(_Schedule):
    """Consecutive cosines over (T_{k-1}, T_k], each re-starting at peak (paper Sec. 5, T_0 = 0)."""

    name: Literal["cyclic_cosine"]
    peak_lr: float = Field(gt=0)
    min_lr_ratio: float = Field(0.1, ge=0, le=1)
    cycle_ends: list[int] = Field(min_length=1)

    @field_validator("cycle_ends")
    @classmethod
    def _increasing(cls, v):
        if v and v[0] <= 0:
            raise ValueError(f"cycle ends must be positive, got {v}")
        return _check_increasing(v, "cycle_ends")


class StepDecay(_Schedule):
    """lr / factor**(number of milestones <= t)."""

    name: Literal["step_decay"]
    lr: float = Field(gt=0)
    factor: float = Field(gt=1)
    milestones: list[int] = Field(min_length=1)

    @field_validator("milestones")
    @classmethod
    def _increasing(cls, v):
        return _check_increasing(v, "milestones")


class _RiverValley(_Schedule):
    """Shared fields of WSD and WSD-S: a stable phase at peak_lr and decays over (D_k, T_k].

    ``shape`` is the decay function on s = t - D_k in [0, tau_k], tau_k = T_k - D_k:
    inverse_proportional 1/eta linear from 1/eta_max to 1/eta_min (paper Sec. 5.1);
    linear; cosine; theory eta_max/(2 + s*eta_max*gamma) (paper Sec. 3.2, needs ``gamma``).
    """

    peak_lr: float = Field(gt=0)
    min_lr_ratio: float = Field(0.1, gt=0, le=1)
    shape: DecayShape = "inverse_proportional"
    gamma: float | None = Field(None, gt=0)
    decays: list[tuple[int, int]] = Field(min_length=1)

    @field_validator("decays")
    @classmethod
    def _windows(cls, v):
        for k, (d, t) in enumerate(v):
            if not 0 <= d < t:
                raise ValueError(f"decays[{k}] = [{d}, {t}]: need 0 <= start < end")
        return v

    @model_validator(mode="after")
    def _consistent(self):
        if self.shape == "theory" and self.gamma is None:
            raise ValueError("shape 'theory' needs gamma (the sharpness of the hill direction)")
        return self


class WSD(_RiverValley):
    """Multi-budget WSD: a constant main branch to max(D_k) plus one decay branch per (D_k, T_k),
    each branch a separate run restored from the main branch's checkpoint at D_k."""

    name: Literal["wsd"]
    # None: the plan itself (expanded into a main run plus one run per decay when resolved);
    # k: the k-th decay branch, restored from the main branch's checkpoint at D_k.
    branch: int | None = Field(None, ge=0)

    @field_validator("decays")
    @classmethod
    def _starts_increasing(cls, v):
        _check_increasing([d for d, _ in v], "decay starts")
        return v

    @model_validator(mode="after")
    def _branch_exists(self):
        if self.branch is not None and self.branch >= len(self.decays):
            raise ValueError(f"branch {self.branch} but only {len(self.decays)} decays")
        return self


class WSDS(_RiverValley):
    """WSD-S (paper eq. 5): one run; after the decay ending at T_i it jumps back to peak_lr."""

    name: Literal["wsd_s"]

    @field_validator("decays")
    @classmethod
    def _non_overlapping(cls, v):
        _check_increasing([x for pair in v for x in pair], "decay breakpoints")
        return v


def _check_increasing(values: list, what: str) -> list:
    if any(b <= a for a, b in zip(values, values[1:])) or (values and values[0] < 0):
        raise ValueError(f"{what} must be non-negative and strictly increasing, got {values}")
    return values


class Piece(Strict):
    """One segment of a ``piecewise`` schedule: ``schedule`` (at the absolute step) on
    (previous ``until``, ``until``]; the last piece has ``until: null`` and runs on."""

    until: int | None = Field(None, gt=0)
    schedule: "PieceSchedule"


class Piecewise(_Schedule):
    """Schedules spliced in absolute time, e.g. the paper's Fig. 9 hybrids: Cosine-WSD is a
    cosine to T_1 then WSD-S decays after it; WSD-Cosine is WSD-S to T_1 then the second cycle of
    a cyclic cosine. Each piece owns the steps up to and including its ``until`` (the
    (T_{k-1}, T_k] convention of the cyclic cosine), so T_1 itself is still the first piece's eta_min."""

    name: Literal["piecewise"]
    pieces: list[Piece] = Field(min_length=2)

    @model_validator(mode="after")
    def _ends(self):
        ends = [p.until for p in self.pieces]
        if ends[-1] is not None or any(e is None for e in ends[:-1]):
            raise ValueError(f"every piece but the last needs `until`, and the last none; got {ends}")
        _check_increasing(ends[:-1], "piece ends (until)")
        return self


# A WSD plan expands into several runs, so it cannot be one piece of a single run's schedule.
PieceSchedule = Annotated[Union[Constant, Cosine, CyclicCosine, StepDecay, WSDS], Field(discriminator="name")]
Piece.model_rebuild()

ScheduleSpec = Annotated[
    Union[Constant, Cosine, CyclicCosine, StepDecay, WSD, WSDS, Piecewise], Field(discriminator="name")
]
