"""App. E / App. G.2 figure bookkeeping on hand-made tracking tables: the eigengap is read before the
row that stopped the tracking, ratios over rho_3 use the latest rho_3, and the generalized fixed
point is App. F's S = 2/eta - F'(delta)/delta + F''(delta), L = L(theta^dagger) + delta^2/eta + F(delta)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from optdyn.figures.selfstab.assumptions import derived, setting_values
from optdyn.figures.selfstab.tracking import fixed_point

ETA = 0.5


def _table(stopped: str = "lambda2") -> pd.DataFrame:
    n = 6
    nan = np.nan
    return pd.DataFrame({
        "step": np.arange(n), "eta": ETA, "stopped": stopped,
        "alpha": [0.01, 0.02, 0.03, 0.02, 0.01, 0.005],
        "epsilon": [0.05, 0.07, 0.09, 0.07, 0.05, 0.04],
        "gamma": [0.3, 0.4, 0.5, 0.4, 0.3, 0.2],
        "grad_s_perp_norm": [2.0, 2.0, 2.0, 3.0, 3.0, 3.0],
        "rho3": [4.0, nan, nan, 6.0, nan, nan],
        "rho4": [1.0, nan, nan, 2.0, nan, nan],
        "d3_vhat_norm": [0.4, 0.4, 0.4, 0.6, 0.6, 0.6],
        "d3_grad_norm": [0.1, 0.1, 0.1, 0.1, 0.1, 0.1],
        "d2_vhat_ratio": [0.01, 0.01, 0.01, 0.01, 0.01, 0.01],
        # the last row is the one whose lambda_2 >= 1.9/eta stopped the tracking
        "lambda2": [2.0, 2.1, 2.2, 2.3, 2.4, 3.9],
    })


def test_app_e_values():
    v = setting_values(derived(_table()))
    assert v["alpha_positive"] and v["min_alpha"] == 0.005
    assert v["epsilon_range"] == [0.04, 0.09] and v["gamma_range"] == [0.2, 0.5]
    assert v["grad_s_perp_over_rho3_range"] == [0.5, 0.5]  # 2/4 and 3/6, only where rho_3 was measured
    assert v["rho4_over_eta_rho3_sq_range"] == pytest.approx([2 / (ETA * 36), 1 / (ETA * 16)])
    # ||D^3 L[v, v]|| / rho_3 with rho_3 carried forward: 0.1 for steps 0-5; over epsilon its max is at step 5
    assert v["assumption5_max_ratio_over_epsilon"]["d3_vhat_over_rho3"] == pytest.approx(0.1 / 0.04)
    assert v["assumption5_max_ratio_over_epsilon"]["d2_vhat_ratio"] == pytest.approx(0.01 / 0.04)
    assert v["lambda2_over_threshold"] == pytest.approx(2.4 * ETA / 2)  # the stopping row left out
    assert setting_values(derived(_table("steps")))["lambda2_over_threshold"] == pytest.approx(3.9 * ETA / 2)


def test_alpha_sign_change_is_reported():
    df = _table()
    df.loc[3, "alpha"] = -1e-4
    assert not setting_values(derived(df))["alpha_positive"]


def test_generalized_fixed_point_is_app_f():
    df = pd.DataFrame({"eta": ETA, "delta": [0.1, 0.2], "loss_fixed_point": [1.0, 2.0],
                       "F_delta": [-0.01, 0.02], "F1_delta": [-0.3, 0.4], "F2_delta": [-2.0, 1.0]})
    loss, sharp = fixed_point(df, generalized=True)
    np.testing.assert_allclose(sharp, [4 + 3 - 2, 4 - 2 + 1])  # 2/eta - F'/delta + F''
    np.testing.assert_allclose(loss, [0.99, 2.02])
    loss, sharp = fixed_point(df, generalized=False)
    np.testing.assert_allclose(sharp, [4, 4])
    np.testing.assert_allclose(loss, [1.0, 2.0])
