"""Shared helpers of the training tests: tiny toy plans written into a temporary config."""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path

import jax
import numpy as np
import pandas as pd
import yaml

from optdyn.spec.load import Plan
from optdyn.train.checkpoint import Checkpoints
from optdyn.train.trainer import Trainer

OPTDYN = Path(sys.executable).parent / "optdyn"
FIG = "wsd_fig04"

# --- tiny specs ---------------------------------------------------------------------------------


def qr(replicas: int = 32, sigma: float = 10.0, gamma: float = 10.0) -> dict:
    return {"name": "quadratic_river", "gamma": gamma, "replicas": replicas, "noise_sigma": sigma}


SGD_M = {"name": "sgd", "momentum": 0.9}
D, T = 300, 400  # WSD decay window of the branch tests

#: fig04 needs runs named wsd, cosine and constant; tests that do not train them get these
PLACEHOLDERS = {
    "wsd": {"model": qr(), "schedule": {"name": "wsd", "peak_lr": 0.02, "decays": [[50, 60]]}, "progress": False},
    "cosine": {"model": qr(), "schedule": {"name": "cosine", "peak_lr": 0.02, "total_steps": 60}, "progress": False},
    "constant": {"model": qr(), "schedule": {"name": "constant", "lr": 0.02}, "steps": 60, "progress": False},
}

#: a WSD plan (main to D, branch wsd_decay1 over (D, T]) and the WSD-S run with the same decay
WSD_PLAN = {
    "model": qr(), "optimizer": SGD_M, "seed": 3, "progress": False,
    "schedule": {"name": "wsd", "peak_lr": 0.02, "decays": [[D, T]], "shape": "inverse_proportional"},
}
WSD_S = {
    "model": qr(), "optimizer": SGD_M, "seed": 3, "progress": False,
    "schedule": {"name": "wsd_s", "peak_lr": 0.02, "decays": [[D, T]], "shape": "inverse_proportional"},
}


def write_config(root: Path, runs: dict) -> Path:
    """A config tree under ``root`` with one fig04 holding ``runs`` (placeholders fill in the
    names fig04 requires); returns the path of config.yaml."""
    (root / "config" / "papers").mkdir(parents=True, exist_ok=True)
    cfg = {"tier": "smoke", "papers": ["wsd"], "results": str(root / "results")}
    (root / "config" / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    all_runs = {**copy.deepcopy(PLACEHOLDERS), **copy.deepcopy(runs)}
    doc = {"paper": "wsd", "title": "test paper", "figures": {"fig04": {"title": "test figure", "runs": all_runs}}}
    (root / "config" / "papers" / "wsd.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    return root / "config" / "config.yaml"


def rid_of(plan: Plan, name: str) -> str:
    return plan.figures[FIG].runs[name]


def metrics(plan: Plan, rid: str) -> pd.DataFrame:
    return pd.read_parquet(plan.run_dir(rid) / "metrics.parquet")


def read_json(path: Path) -> dict:
    return json.loads(path.read_text())


def ckpt_steps(plan: Plan, rid: str) -> list[int]:
    folder = plan.run_dir(rid) / "checkpoints"
    return sorted(int(p.name) for p in folder.iterdir() if p.name.isdigit()) if folder.exists() else []


def restore(plan: Plan, rid: str, step: int) -> dict:
    ckpts = Checkpoints(plan.run_dir(rid) / "checkpoints")
    try:
        return ckpts.restore(step, Trainer(plan.runs[rid].spec).init_state())
    finally:
        ckpts.close()


def assert_trees_equal(a, b) -> None:
    la, lb = jax.tree.leaves(a), jax.tree.leaves(b)
    assert jax.tree.structure(a) == jax.tree.structure(b)
    for x, y in zip(la, lb):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y), strict=True)


def advance_one_by_one(trainer: Trainer, state: dict, n: int) -> tuple[dict, dict]:
    """n single steps (one compiled chunk per trainer, however the run is cut) and their
    concatenated logged metrics."""
    rows = []
    for _ in range(n):
        state, logged = trainer.advance(state, 1)
        rows.append(logged)
    return state, {k: np.concatenate([r[k] for r in rows]) for k in rows[0]}


def from_step(df: pd.DataFrame, start: int) -> pd.DataFrame:
    return df[df.step >= start].reset_index(drop=True)


# --- 1. kill -9 and resume ----------------------------------------------------------------------

KILL_STEPS, KILL_EVERY = 3000, 200
