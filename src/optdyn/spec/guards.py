"""Last checks on a resolved plan, before Snakemake schedules anything: values every part of the
spec accepts on its own but that cannot run anywhere, or that would fail only when a figure is
drawn.

- a paper with no figures (``figures: {}``);
- a plot field that names a run the figure does not have (fields typed ``RunName``,
  ``spec/plots/__init__.py``);
- a run whose rough memory estimate exceeds what any single machine has (``MAX_BYTES``), or
  whose step count overflows the int32 step counters of optax. The estimate is deliberately
  crude (parameters and optimizer state, one micro-batch's activations, the logged series) and
  generous: it is there to refuse ``batch_size: 1000000000`` or ``steps: 10**15``, not to plan
  a cluster job, so it must pass every tier of the shipped configs, ``paper`` included.
"""

from __future__ import annotations

import math
import typing
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pydantic

from .errors import SpecError

if TYPE_CHECKING:
    from .load import Plan
    from .paper import RunSpec, WorkflowConfig

MAX_BYTES = 2 * 2**40  # 2 TiB: more memory than any single machine a run is placed on
MAX_STEPS = 2**31 - 1  # optax counts steps in int32 (and saturates there)
#: integer model/data fields that set a layer's width (the estimate takes the largest)
SIZE_KEYS = ("hidden", "intermediate", "ffn", "base_width", "d", "flat_dims", "sharp_dims")
LOGGED_SERIES = 32  # generous: values logged per eval step, 8 bytes each


def check_data_file(cfg: WorkflowConfig, config_path: Path) -> None:
    """A ``data:`` file named in config.yaml (or on the command line) must exist; only the
    default ``data.yaml`` may be absent (no prepared datasets)."""
    file = config_path.parent / cfg.data
    if file.is_file():
        return
    if "data" in cfg.model_fields_set or file.exists():
        raise SpecError(str(config_path), "data", cfg.data,
                        f"no such file {file}; a YAML file of named datasets, relative to {config_path.parent}")


def check_plan(plan: Plan) -> None:
    for name, paper in plan.papers.items():
        if not paper.figures:
            raise SpecError(str(_paper_file(plan, name)), "figures", {}, "at least one figure")
    for fig in plan.figures.values():
        have = set(fig.runs) | set(fig.spec.runs) | set(getattr(fig, "groups", None) or {})
        for path, ref in _run_names(fig.plot):
            if ref not in have:
                raise SpecError(str(_paper_file(plan, fig.paper)), f"figures.{fig.key}.plot.{path}", ref,
                                f"no such run in this figure; have: {', '.join(fig.runs)}")
    for run in plan.runs.values():
        _check_run(plan, run)


def _paper_file(plan: Plan, name: str) -> Path:
    return plan.config_file.parent / "papers" / f"{name}.yaml"


def _check_run(plan: Plan, run: Any) -> None:
    paper, _, rest = run.used_by[0].partition("/") if run.used_by else ("?", "", "")
    fkey, _, rname = rest.partition(":")
    file, where = str(_paper_file(plan, paper)), f"figures.{fkey}.runs.{rname}"
    steps = run.spec.steps or 0
    if steps > MAX_STEPS:
        raise SpecError(file, f"{where}.steps", steps, f"at most {MAX_STEPS:,} (optax counts steps in int32)")
    need, parts = estimate_bytes(run.spec)
    if need > MAX_BYTES:
        raise SpecError(file, where, f"~{_human(need)} of memory ({parts})",
                        f"a run that fits one machine (at most {_human(MAX_BYTES)}); "
                        "lower batch_size, replicas, steps or the model's size")


def estimate_bytes(spec: RunSpec) -> tuple[int, str]:
    """A rough upper-end memory estimate of one run and what it is made of."""
    model = spec.model.model_dump()
    data = spec.data.model_dump() if spec.data is not None else {}
    item = 8 if spec.dtype == "float64" else 4
    lists = [w for k in ("widths", "channels") for w in (model.get(k) or []) if isinstance(w, int)]
    width = max([v for k, v in model.items() if k in SIZE_KEYS and isinstance(v, int)] + lists, default=2)
    layers = max(model.get("layers") or 0, len(lists), 1)
    replicas = model.get("replicas") or 1
    params = replicas * (layers * width * width + width * (model.get("vocab_size") or 1))
    batch = model.get("batch_size") or data.get("batch_size") or 1
    if model.get("seq_len"):  # a language model: one micro-batch's residual stream per layer (remat)
        tokens = math.ceil(batch / max(model.get("microbatches") or 1, 1)) * model["seq_len"]
        activations = tokens * (model.get("hidden") or width) * (layers + 1)
    else:  # every layer's pre- and post-activation values, kept for the backward pass
        activations = replicas * batch * (sum(lists) or width * layers) * 2
    logged = (spec.steps or 0) // max(spec.eval_every, 1) * LOGGED_SERIES * 8
    total = 4 * params * item + activations * item + logged  # params, grads, two optimizer moments
    parts = (f"{_human(4 * params * item)} parameters and optimizer state, {_human(activations * item)} activations, "
             f"{_human(logged)} logged series")
    return total, parts


def _human(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"):
        if n < 1024 or unit == "EiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} EiB"


def _run_names(model: Any, path: str = "") -> list[tuple[str, str]]:
    """(display path, run name) of every plot field typed ``RunName`` (or a list / mapping of it)."""
    from .plots import RUN_NAME

    out: list[tuple[str, str]] = []
    if not isinstance(model, pydantic.BaseModel):
        return out
    for key, field in type(model).model_fields.items():
        value, here = getattr(model, key), f"{path}.{key}" if path else key
        if RUN_NAME in field.metadata and isinstance(value, str):
            out.append((here, value))
        elif _holds_run_names(field.annotation) and isinstance(value, (list, dict)):
            items = value.items() if isinstance(value, dict) else enumerate(value)
            out += [(f"{here}.{k}" if isinstance(k, str) else f"{here}[{k}]", v) for k, v in items if isinstance(v, str)]
        elif isinstance(value, pydantic.BaseModel):
            out += _run_names(value, here)
        elif isinstance(value, (list, tuple)):
            for i, item in enumerate(value):
                out += _run_names(item, f"{here}[{i}]")
    return out


def _holds_run_names(tp: Any) -> bool:
    from .plots import RUN_NAME

    args = typing.get_args(tp)
    if typing.get_origin(tp) in (list, dict) and args:
        inner = args[-1]
        return typing.get_origin(inner) is typing.Annotated and RUN_NAME in typing.get_args(inner)[1:]
    return False
