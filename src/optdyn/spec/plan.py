"""The resolved plan: every run, probe and figure of a tier, with content-addressed ids.

``spec/load.py`` builds it from the YAML; the Snakefile, every job spec and every figure read it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import SpecError
from .paper import FigureSpec, PaperSpec, RunSpec, WorkflowConfig
from .plots import PlotSpec


@dataclass
class ResolvedRun:
    run_id: str
    spec: RunSpec  # with steps resolved
    parent: str | None = None  # run id of branch_from
    used_by: list[str] = field(default_factory=list)  # "wsd/fig04:wsd"
    checkpoint_steps: set[int] = field(default_factory=set)  # declared + needed by branches
    dataset: dict | None = None  # the prepared dataset's definition (config/data.yaml), if any
    compile_over_budget: bool = False  # the check tier: compiled, not stepped, when over budget (train/compile_only.py)

    @property
    def papers(self) -> set[str]:
        """The papers whose figures use this run (the part of ``used_by`` before the slash)."""
        return {u.partition("/")[0] for u in self.used_by}


@dataclass
class ResolvedProbe:
    probe_id: str
    run_ids: dict[str, str]  # figure-local run name -> run id: every run the probe reads
    spec: Any  # a ProbeSpec

    @property
    def run_id(self) -> str:
        """The run a one-run probe measures (a probe across runs: their ids, joined by ', ')."""
        return ", ".join(self.run_ids.values())


@dataclass
class ResolvedFigure:
    paper: str
    key: str
    spec: FigureSpec
    plot: PlotSpec
    runs: dict[str, str]  # figure-local run name -> run id
    deviations: list[dict]
    probes: dict[str, str] = field(default_factory=dict)  # figure-local probe name -> probe id
    # a sweep's or replicate's name -> its members [{name, values}], in order (spec/expand.py)
    groups: dict[str, list[dict]] = field(default_factory=dict)
    seeds: list[int] = field(default_factory=list)  # figure-level replicates, [] if none
    # run name -> {"ran": {model, data, steps}, "paper": the same for the paper's run, or None
    # where the tier runs the paper's setting} (spec/setting.py)
    settings: dict[str, dict] = field(default_factory=dict)

    @property
    def target(self) -> str:
        return f"{self.paper}_{self.key}"


@dataclass
class Plan:
    config: WorkflowConfig
    config_file: Path
    papers: dict[str, PaperSpec]
    runs: dict[str, ResolvedRun]
    figures: dict[str, ResolvedFigure]  # by target name, e.g. wsd_fig03
    deviations: list[dict]
    probes: dict[str, ResolvedProbe] = field(default_factory=dict)
    datasets: dict[str, dict] = field(default_factory=dict)  # config/data.yaml, resolved

    @property
    def tier(self) -> str:
        return self.config.tier

    @property
    def tier_dir(self) -> Path:
        return Path(self.config.results) / self.tier

    def run_dir(self, rid: str) -> Path:
        return self.tier_dir / "runs" / rid

    @property
    def data_root(self) -> Path:
        return Path(self.config.resources) / "data"

    def dataset_dir(self, name: str) -> Path:
        return self.data_root / name

    def spec_path(self, kind: str, key: str) -> Path:
        """Where the job spec of a run / probe / figure / claims check / dataset lies (spec/jobs.py)."""
        return self.tier_dir / "specs" / kind / f"{key}.json"

    def probe_path(self, pid: str) -> Path:
        return self.tier_dir / "probes" / f"{pid}.parquet"

    def figure_stem(self, target: str) -> Path:
        fig = self.figures[target]
        return self.tier_dir / "figures" / fig.paper / fig.key

    def figure(self, target: str) -> ResolvedFigure:
        if target not in self.figures:
            raise SpecError(str(self.config_file), "target", target, f"unknown figure target; allowed: {', '.join(self.figures)}")
        return self.figures[target]
