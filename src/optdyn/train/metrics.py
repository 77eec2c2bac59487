"""Per-step metrics: chunk columns, crash-safe partial files, one parquet at the end.

Partial files are written only together with a checkpoint and are named by that checkpoint's
step, so after a kill the rows up to the restored step are exactly those of an uninterrupted
run and later ones are dropped.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd


def frame(steps: np.ndarray, values: dict) -> dict[str, np.ndarray]:
    """The columns of logged rows: ``step`` and one column per value (a vector per step becomes
    name[0], name[1], ...). Plain arrays, not a DataFrame: an eval row is logged every step in
    the toy runs, and a DataFrame per row cost them seconds."""
    cols: dict = {"step": np.asarray(steps, dtype=np.int64)}
    for name, arr in values.items():
        arr = np.asarray(arr)
        if arr.ndim == len(cols["step"].shape):
            cols[name] = arr
        else:
            flat = arr.reshape(arr.shape[0], -1)
            for i in range(flat.shape[1]):
                cols[f"{name}[{i}]"] = flat[:, i]
    return cols


def _concat(parts: list[dict]) -> pd.DataFrame:
    """The rows of ``parts`` in order, as ``pd.concat`` of one DataFrame per part would give
    them, built with one DataFrame per distinct column set (train chunks, eval rows)."""
    groups: dict[tuple, list[int]] = {}
    for i, cols in enumerate(parts):
        groups.setdefault(tuple(cols), []).append(i)
    frames = []
    for names, idx in groups.items():
        cols = {k: np.concatenate([parts[i][k] for i in idx]) for k in names}
        cols["_part"] = np.concatenate([np.full(len(parts[i]["step"]), i) for i in idx])
        frames.append(pd.DataFrame(cols))
    df = pd.concat(frames, ignore_index=True).sort_values("_part", kind="stable")
    return df.drop(columns="_part").reset_index(drop=True)


class MetricsLog:
    def __init__(self, run_dir: Path):
        self.dir = Path(run_dir) / "metrics"
        self.pending: list[dict] = []

    def resume(self, step: int) -> None:
        """Keep the partial files up to ``step`` (the restored checkpoint), drop later ones."""
        self.dir.mkdir(parents=True, exist_ok=True)
        for path in self.dir.glob("upto-*.parquet"):
            if int(path.stem.split("-")[1]) > step:
                path.unlink()

    def add(self, cols: dict) -> None:
        self.pending.append(cols)

    def flush(self, step: int) -> None:
        if self.pending:
            path = self.dir / f"upto-{step:010d}.parquet"
            tmp = path.with_suffix(".tmp")
            _concat(self.pending).to_parquet(tmp)
            tmp.rename(path)  # a reader (or a resume after a kill) never sees half a file
        self.pending = []

    def collect(self) -> pd.DataFrame:
        parts = [pd.read_parquet(p) for p in sorted(self.dir.glob("upto-*.parquet"))]
        if self.pending:
            parts.append(_concat(self.pending))
        if not parts:
            return pd.DataFrame({"step": np.zeros(0, np.int64)})
        df = pd.concat(parts, ignore_index=True)
        # train rows (loss of the batch at params_t) and eval rows (metrics of params_t) meet by step
        return df.groupby("step", sort=True).first().reset_index()
