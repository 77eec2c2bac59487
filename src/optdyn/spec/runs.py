"""Run-level rules of the spec: natural lengths of schedules and the WSD plan expansion."""

from __future__ import annotations

from .paper import BranchFrom, RunSpec


def natural_steps(spec: RunSpec) -> int | None:
    return schedule_steps(spec.schedule)


def schedule_steps(s) -> int | None:
    """Where a schedule ends by itself (None for open-ended ones: constant, step decay)."""
    if s.name == "wsd":
        return s.decays[s.branch][1] if s.branch is not None else max(d for d, _ in s.decays)
    if s.name == "wsd_s":
        return s.decays[-1][1]
    if s.name == "cosine":
        return s.total_steps
    if s.name == "cyclic_cosine":
        return s.cycle_ends[-1]
    return None


def wsd_plan_runs(name: str, spec: RunSpec) -> dict[str, RunSpec]:
    """A WSD plan is a constant main branch plus one run per decay, each restored from the main
    branch's checkpoint at its decay start (optimizer state included). Other runs pass through."""
    s = spec.schedule
    if s.name != "wsd" or s.branch is not None:
        return {name: spec}
    out = {name: spec}
    for k, (start, _end) in enumerate(s.decays):
        out[f"{name}_decay{k + 1}"] = spec.model_copy(
            update={
                "schedule": s.model_copy(update={"branch": k}),
                "branch_from": BranchFrom(run=name, step=start),
                "steps": None,
            }
        )
    return out
