"""Honest labels: what a figure's run actually was, in words a legend or title can print.

Every label comes from the resolved spec of the tier that ran (``ResolvedFigure.settings``,
spec/setting.py) plus the parameter count of the network as built, so a smoke figure names its
toy model ("LLaMA d=32, 2 layers, 0.11M params") and names the paper's model only as what that toy
stands in for ("stands in for LLaMA 0.1B (d=768, 12 layers) on the Pile").
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from optdyn.spec.setting import sentence


#: the words of a model's description that name its size: the paper's size name, else its width
SIZE_WORDS = re.compile(r"\b\d+(?:\.\d+)?[BM]\b|d=\d+|(?:widths|channels) \[[^\]]*\]|width \d+")


@dataclass(frozen=True)
class Setting:
    ran: dict[str, Any]  # {"model", "data", "steps"} of the tier's run
    paper_setting: dict[str, Any] | None  # the same for the paper's run; None where they agree
    params: int | None  # trainable parameters of the network as built (None for analytic toys)

    @property
    def model(self) -> str:
        return f"{self.ran['model']}, {format_params(self.params)} params" if self.params else self.ran["model"]

    @property
    def data(self) -> str:
        return self.ran["data"]

    @property
    def steps(self) -> int | None:
        return self.ran["steps"]

    @property
    def paper(self) -> str | None:
        return sentence(self.paper_setting) if self.paper_setting else None

    @property
    def short(self) -> str:
        """Legend-sized: the model's size words ("d=32", "widths [16, 16]") and its parameters."""
        found = SIZE_WORDS.search(self.ran["model"])
        words = found.group(0) if found else self.ran["model"]
        return f"{words} ({format_params(self.params)})" if self.params else words

    @property
    def line(self) -> str:
        ran = f"{self.model} on {self.data}" + (f", {self.steps:,} steps" if isinstance(self.steps, int) else "")
        return f"{ran}; stands in for {self.paper}" if self.paper else ran


def format_params(n: int | None) -> str:
    if n is None:
        return "?"
    if n >= 1e9:
        return f"{n / 1e9:.2g}B"
    if n >= 1e6:
        return f"{n / 1e6:.2g}M"
    if n >= 1e3:
        return f"{n / 1e3:.3g}k"
    return str(n)


def setting(settings: dict[str, dict], name: str, spec: Any, data_root: Path | None) -> Setting:
    if name not in settings:
        raise KeyError(f"no run '{name}' in this figure's settings; have: {', '.join(settings) or 'none'}")
    s = settings[name]
    return Setting(s["ran"], s.get("paper"), param_count(json.dumps(spec.model_dump(mode="json"), sort_keys=True),
                                                          str(data_root) if data_root else None))


@functools.cache
def param_count(spec_json: str, data_root: str | None) -> int | None:
    """Parameters of the run's network, by abstract initialization (no FLOPs, no memory); None
    for a problem without a parameter count of its own (replicated toys, analytic losses)."""
    import jax

    from optdyn.models.registry import build_problem
    from optdyn.spec.paper import RunSpec

    spec = RunSpec.model_validate_json(spec_json)
    try:
        problem = build_problem(spec, Path(data_root) if data_root else Path("resources/data"))
    except (FileNotFoundError, ValueError):
        return None
    if getattr(problem, "replica_axis", False) or spec.data is None:
        return None
    shapes = jax.eval_shape(problem.init, jax.random.key(0))
    return int(sum(x.size for x in jax.tree.leaves(shapes)))
