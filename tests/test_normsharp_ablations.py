"""The numbers Figs. 14, 15, 18 are checked on (figures/normsharp/ablations.py), the Lanczos
residual logged with the spherical sharpness (models/normsharp_nets.py ``top_ritz``), each
against a known answer (the shared CPU convolution is tested in test_conv.py)."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest

from optdyn.figures.normsharp.ablations import spike_size, summary_values
from optdyn.models.normsharp_nets import top_ritz


def _row(best, sharp, drop=0.1, spike=1.0):
    return {"best_acc": best, "final_sharpness": sharp, "drop": drop, "spike": spike}


def test_fig14_steps_are_differences_in_increasing_lambda():
    rows = [_row(0.80, 100.0), _row(0.82, 60.0), _row(0.81, 40.0), _row(0.85, 10.0)]
    v = summary_values("fig14", rows)
    assert v["best_acc_step1"] == pytest.approx(0.02) and v["best_acc_step2"] == pytest.approx(-0.01)
    assert v["best_acc_step3"] == pytest.approx(0.04) and v["best_acc_gain_max_wd"] == pytest.approx(0.05)
    assert v["final_sharpness_max_wd_over_no_wd"] == pytest.approx(0.1)
    # two lambdas (the CI tier): the later steps are unmeasured, not zero
    short = summary_values("fig14", rows[:2])
    assert short["best_acc_step2"] is None and short["best_acc_gain_max_wd"] == pytest.approx(0.02)


def test_fig15_ranges_and_a_single_run_compares_nothing():
    v = summary_values("fig15", [_row(0.80, 30.0), _row(0.83, 20.0), _row(0.81, 60.0)])
    assert v["best_acc_range"] == pytest.approx(0.03) and v["final_sharpness_max_over_min"] == pytest.approx(3.0)
    one = summary_values("fig15", [_row(0.80, 30.0)])
    assert one["best_acc_range"] is None and one["final_sharpness_max_over_min"] is None
    # an unmeasured number is NaN in the lists (averaged across seeds), None in the scalars
    gap = summary_values("fig15", [_row(None, 30.0), _row(0.8, None)])
    assert np.isnan(gap["best_acc"][0]) and gap["best_acc_range"] is None


def test_fig18_spike_gain_and_the_largest_drop():
    v = summary_values("fig18", [_row(0.8, 5.0, drop=0.2, spike=0.5), _row(0.8, 5.0, drop=0.4, spike=2.0)])
    assert v["spike_gain"] == pytest.approx(1.5) and v["max_sharpness_drop_ratio"] == pytest.approx(0.4)
    assert summary_values("fig18", [_row(0.8, 5.0, drop=None), _row(0.8, 5.0)])["max_sharpness_drop_ratio"] is None


def test_spike_size_in_decades_after_full_train():
    steps = np.arange(200)
    gap = np.full(200, 1e-4)
    gap[120] = 1e-1  # one spike three decades up; before step 50 the loss is far higher
    gap[:50] = 1.0
    df = pd.DataFrame({"step": steps, "train_loss": 0.5 + gap})
    assert spike_size(df, 0.5, after=50) == pytest.approx(3.0, abs=1e-6)
    assert spike_size(df, 0.5, after=None) is None
    # a smooth decay over decades (a run below the edge) is no spike
    smooth = pd.DataFrame({"step": steps, "train_loss": 0.5 + 10.0 ** (-steps / 25)})
    assert spike_size(smooth, 0.5, after=0) < 0.05


@pytest.mark.parametrize("iters, converged", [(4, False), (30, True)])
def test_ritz_residual_bounds_the_error_of_the_top_eigenvalue(iters, converged):
    rng = np.random.default_rng(0)
    q, _ = np.linalg.qr(rng.normal(size=(30, 30)))
    eig = np.concatenate([[10.0, 9.5], np.linspace(-3, 8, 28)])
    a = jnp.asarray(q @ np.diag(eig) @ q.T)
    top, resid = top_ritz(lambda v: a @ v, 30, iters, jnp.float32)
    top, resid = float(top), float(resid)
    # a Ritz value lies within its residual of an eigenvalue (Bauer-Fike for symmetric A)
    assert np.min(np.abs(eig - top)) <= resid * abs(top) * (1 + 1e-4) + 1e-5
    if converged:
        assert top == pytest.approx(10.0, rel=1e-5) and resid < 1e-5
    else:
        assert resid > 1e-3  # four steps are not enough here, and the residual says so
