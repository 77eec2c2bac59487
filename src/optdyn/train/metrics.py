"""Per-step metrics: chunk frames, crash-safe partial files, one parquet at the end.

Partial files are written only together with a checkpoint and are named by that checkpoint's
step, so after a kill the rows up to the restored step are exactly those of an uninterrupted
run and later ones are dropped.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd


def frame(steps: np.ndarray, values: dict) -> pd.DataFrame:
    cols: dict = {"step": np.asarray(steps, dtype=np.int64)}
    for name, arr in values.items():
        arr = np.asarray(arr)
        if arr.ndim == len(cols["step"].shape):
            cols[name] = arr
        else:  # a vector per step becomes name[0], name[1], ...
            flat = arr.reshape(arr.shape[0], -1)
            for i in range(flat.shape[1]):
                cols[f"{name}[{i}]"] = flat[:, i]
    return pd.DataFrame(cols)


class MetricsLog:
    def __init__(self, run_dir: Path):
        self.dir = Path(run_dir) / "metrics"
        self.pending: list[pd.DataFrame] = []

    def resume(self, step: int) -> None:
        """Keep the partial files up to ``step`` (the restored checkpoint), drop later ones."""
        self.dir.mkdir(parents=True, exist_ok=True)
        for path in self.dir.glob("upto-*.parquet"):
            if int(path.stem.split("-")[1]) > step:
                path.unlink()

    def add(self, df: pd.DataFrame) -> None:
        self.pending.append(df)

    def flush(self, step: int) -> None:
        if self.pending:
            path = self.dir / f"upto-{step:010d}.parquet"
            tmp = path.with_suffix(".tmp")
            pd.concat(self.pending).to_parquet(tmp)
            tmp.rename(path)  # a reader (or a resume after a kill) never sees half a file
        self.pending = []

    def collect(self) -> pd.DataFrame:
        parts = [pd.read_parquet(p) for p in sorted(self.dir.glob("upto-*.parquet"))] + self.pending
        if not parts:
            return pd.DataFrame({"step": np.zeros(0, np.int64)})
        df = pd.concat(parts, ignore_index=True)
        # train rows (loss of the batch at params_t) and eval rows (metrics of params_t) meet by step
        return df.groupby("step", sort=True).first().reset_index()
