"""Seed replicates summarized one way everywhere: mean, sample sd, and a two-sided 95%
Student-t confidence interval of the mean (``mean ± t_{0.975, n-1} · sd / √n``).

Figures draw replicate bands with :func:`t_interval` (seaborn's ``errorbar=`` accepts it) and
the claims of a replicated figure are checked on :func:`summarize`'s numbers, so the band a
reader sees and the interval a verdict uses are the same interval.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import stats as _stats

CI_LEVEL = 0.95
CI_METHOD = "t"  # Student-t interval of the mean over seeds (n - 1 degrees of freedom)


def t_interval(values: Any, level: float = CI_LEVEL) -> tuple[float, float]:
    """The ``level`` t-interval of the mean of ``values`` (non-finite values dropped); a single
    value is its own (zero-width) interval, since one seed says nothing about the spread."""
    x = _finite(values)
    if x.size == 0:
        return (math.nan, math.nan)
    mean = float(x.mean())
    if x.size == 1:
        return (mean, mean)
    half = float(_stats.t.ppf(0.5 + level / 2, x.size - 1) * x.std(ddof=1) / math.sqrt(x.size))
    return (mean - half, mean + half)


def summarize(values: Any, level: float = CI_LEVEL) -> dict[str, Any]:
    """``{mean, sd, n, n_finite, ci95: [lo, hi], ci_method}`` of one number per seed. A seed
    whose number is not finite (a diverged run) makes the mean and interval NaN: a claim over
    replicates cannot pass on the seeds that happened to survive."""
    raw = np.asarray(values, dtype=float).ravel()
    x = _finite(raw)
    lo, hi = t_interval(x, level) if x.size == raw.size else (math.nan, math.nan)
    return {"mean": float(x.mean()) if x.size == raw.size and x.size else math.nan, "sd": float(x.std(ddof=1)) if x.size > 1 else math.nan,
            "n": int(raw.size), "n_finite": int(x.size), "ci95": [lo, hi], "ci_method": CI_METHOD}


def _finite(values: Any) -> np.ndarray:
    x = np.asarray(values, dtype=float).ravel()
    return x[np.isfinite(x)]
