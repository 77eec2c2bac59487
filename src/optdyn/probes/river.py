"""Probes of the WSD paper's 2-D river valley (Fig. 3)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from optdyn.registry import probe_kind
from optdyn.spec.probes import RiverProgress
from optdyn.theory import river2d


def trajectory(metrics: pd.DataFrame, replicas: int) -> tuple[np.ndarray, np.ndarray]:
    """(steps, replicas, 2) positions from the logged x1[i], x2[i] columns, and the steps."""
    df = metrics.dropna(subset=["x1[0]"])
    x1 = df[[f"x1[{i}]" for i in range(replicas)]].to_numpy()
    x2 = df[[f"x2[{i}]" for i in range(replicas)]].to_numpy()
    return np.stack([x1, x2], axis=-1), df["step"].to_numpy()


@probe_kind(RiverProgress)
def river_progress(run, spec) -> pd.DataFrame:
    model = run.spec.model
    traj, steps = trajectory(run.metrics, model.replicas)
    frames = []
    for r in range(traj.shape[1]):
        proj = river2d.project_to_river(traj[:, r], model.slope, model.end)
        progress = river2d.reference_flow_time(proj, proj[0], model.slope, model.end, project=False)
        frames.append(pd.DataFrame({
            "step": steps, "replica": r, "x1": traj[:, r, 0], "x2": traj[:, r, 1],
            "proj_x1": proj[:, 0], "proj_x2": proj[:, 1],
            "distance_to_river": np.linalg.norm(traj[:, r] - proj, axis=-1),
            "progress": progress,
        }))
    return pd.concat(frames, ignore_index=True)
