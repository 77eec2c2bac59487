"""Table 6's speed-up estimator: SAM and SAM-IRE fitted over the same window of ln|u|.

A decay rate that depends on u (on the toy, v's O(eta rho) oscillation depends on h(u)) makes
a fit over each run's own window compare different u ranges: the fast run sweeps a much wider
one. Two synthetic runs whose rates are r c(u) and 51 r c(u) must come out 51 apart."""

import numpy as np
import pandas as pd

from optdyn.figures.ire.sam import paired_rate_ratio


def _run(rate: float, steps: int, every: int) -> pd.DataFrame:
    # d ln u / dt = -rate * u^2: a rate that shrinks as u falls
    t = np.arange(0, steps + 1)
    log_u = np.zeros(t.size)
    for i in range(1, t.size):
        log_u[i] = log_u[i - 1] - rate * np.exp(2 * log_u[i - 1])
    keep = t % every == 0
    return pd.DataFrame({"step": t[keep], "log_u_norm": log_u[keep]})


def test_paired_window_recovers_the_true_ratio():
    slow, fast = _run(5e-5, 10000, 5), _run(51 * 5e-5, 10000, 5)
    ratio = paired_rate_ratio(fast, slow, skip=100, max_drop=3.0)
    assert abs(ratio / 51 - 1) < 0.01
    # each over its own window (the old estimator): the fast run's wider u range biases it low
    own = [-np.polyfit(df["step"][(df["step"] >= 100) & (df["log_u_norm"] > df["log_u_norm"].iloc[0] - 3)],
                       df["log_u_norm"][(df["step"] >= 100) & (df["log_u_norm"] > df["log_u_norm"].iloc[0] - 3)], 1)[0]
           for df in (fast, slow)]
    assert own[0] / own[1] < 0.9 * 51


def test_no_common_window_gives_nan():
    slow = pd.DataFrame({"step": [100, 200], "log_u_norm": [0.0, -0.01]})
    assert np.isnan(paired_rate_ratio(slow, slow, skip=100, max_drop=3.0))
