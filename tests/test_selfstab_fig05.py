"""selfstab Fig. 5's statistics on constructed series: crossing steps, the loss roughness by the
number of unstable eigenvalues, and the dip of the last eigenvalue to cross."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from optdyn.figures.selfstab.multi_eig import (
    crossing_steps,
    eigen_table,
    last_crossing_dip,
    roughness_by_unstable_count,
)


def _eig(rows: dict[int, list[float]]) -> pd.DataFrame:
    return pd.DataFrame.from_dict(rows, orient="index").sort_index()


def test_eigen_table_pivots_the_probe_and_refuses_too_few_ranks():
    probe = pd.DataFrame({"step": [0, 0, 10, 10], "rank": [0, 1, 0, 1], "eigenvalue": [3.0, 2.0, 4.0, 1.0]})
    table = eigen_table(probe, 2)
    assert table.loc[10].tolist() == [4.0, 1.0]
    with pytest.raises(ValueError):
        eigen_table(probe, 3)


def test_crossing_steps_are_the_first_probed_step_at_or_above_the_threshold():
    eig = _eig({0: [1.0, 0.5, 0.1], 10: [2.0, 1.0, 0.2], 20: [1.9, 2.0, 0.3], 30: [2.1, 1.9, 0.4]})
    assert crossing_steps(eig, 2.0) == [10, 20, None]


def test_roughness_tells_an_erratic_loss_from_a_smooth_one_at_any_descent_rate():
    steps = np.arange(400)
    smooth = np.exp(-0.01 * steps)  # log L linear: second difference exactly 0
    jitter = np.where(steps % 2 == 0, 1.1, 0.9)
    loss = np.where(steps >= 200, smooth * jitter, smooth)
    eig = _eig({0: [2.5, 1.0], 200: [2.5, 2.2]})
    rough, rising = roughness_by_unstable_count(steps, loss, eig, 2.0, onset=0)
    # step t's second difference reaches step t + 1: only the window's last step sees the jitter
    assert rough["one"] == pytest.approx(abs(np.log(1.1)) / 199, rel=1e-6)
    # |log 1.1 - 2 log 0.9 + log 1.1| every step, but the first (step 199 is unjittered)
    expected = (abs(np.log(0.9) - 2 * np.log(1.1)) + 198 * 2 * np.log(1.1 / 0.9)) / 199
    assert rough["several"] == pytest.approx(expected, rel=1e-9)
    assert rising["one"] == pytest.approx(1 / 199) and rising["several"] == pytest.approx(0.5, abs=0.01)


def test_roughness_ignores_steps_before_the_onset_and_too_short_windows():
    steps = np.arange(100)
    loss = np.exp(-0.01 * steps) * np.where(steps < 50, np.where(steps % 2 == 0, 1.5, 0.5), 1.0)
    eig = _eig({0: [2.5, 1.0]})
    rough, _ = roughness_by_unstable_count(steps, loss, eig, 2.0, onset=51)  # step 50's reaches back to 49
    assert rough["one"] == pytest.approx(0.0, abs=1e-12)
    assert rough["several"] is None


def test_last_crossing_dip_is_the_lowest_value_of_the_last_crossing_eigenvalue_after_the_onset():
    eig = _eig({0: [1.0, 0.9, 0.5], 10: [2.0, 2.0, 1.9], 20: [2.0, 1.9, 1.6], 30: [2.0, 1.9, 1.8], 40: [2.1, 2.0, 2.0]})
    # lambda_2 crosses with lambda_1 (step 10) and is ignored; lambda_3 crosses at 40, min 1.6 at 20
    assert last_crossing_dip(eig, crossing_steps(eig, 2.0), 2.0) == pytest.approx(0.8)
    assert last_crossing_dip(eig.iloc[:3], crossing_steps(eig.iloc[:3], 2.0), 2.0) is None
