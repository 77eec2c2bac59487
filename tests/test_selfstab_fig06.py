"""selfstab Fig. 6's statistics on constructed runs: steps to a target loss, final means and
the ordering helpers."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from optdyn.figures.selfstab.lr_speed import (
    _rank_correlation,
    _ratio,
    _strictly_decreasing,
    final_mean,
    steps_to_loss,
)


def _run(losses) -> SimpleNamespace:
    return SimpleNamespace(metrics=pd.DataFrame({"step": np.arange(len(losses)), "batch_loss": losses}))


def test_steps_to_loss_is_the_first_step_at_or_below_the_target():
    assert steps_to_loss(_run([1.0, 0.5, 0.2, 0.3, 0.1]), 0.2) == 2
    assert steps_to_loss(_run([1.0, 0.5]), 0.2) is None


def test_final_mean_averages_the_last_fraction_of_evaluations():
    evals = pd.DataFrame({"sharpness": np.arange(20, dtype=float)})
    assert final_mean(evals, "sharpness", 0.1) == pytest.approx(18.5)
    assert final_mean(evals, "sharpness", 0.01) == 19.0  # at least one evaluation


def test_ordering_helpers():
    assert _strictly_decreasing([3, 2, 1]) and not _strictly_decreasing([3, 3, 1])
    assert _ratio(None, 10) == float("inf") and _ratio(20, 10) == 2.0 and _ratio(5, None) is None
    assert _rank_correlation([1, 2, 3, 4], [0.1, 0.3, 0.2, 0.4]) == pytest.approx(0.8)
    assert _rank_correlation([1, 2, 3], [0.5, 0.5, 0.5]) == 0.0
