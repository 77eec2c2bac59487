"""The statistics Figs. 2, 10, 12, 13 are checked on (figures/normsharp/netseries.py), on
synthetic series with known answers, and the cross-entropy floor of the final BN (App. R)."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from optdyn.figures.normsharp import netseries as N
from optdyn.figures.normsharp.architectures import layer_table
from optdyn.theory.normsharp import final_bn_min_loss


def test_final_bn_floor_is_ln_100_over_91_at_the_papers_gamma():
    assert final_bn_min_loss(0.3 * math.log(91)) == pytest.approx(math.log(100 / 91), rel=1e-12)
    # a larger gamma lowers the floor; gamma -> 0 gives ln C (uniform logits)
    assert final_bn_min_loss(4.0) < final_bn_min_loss(1.0) < final_bn_min_loss(1e-9) == pytest.approx(math.log(10))


@pytest.mark.parametrize("period", [2, 7])
def test_dominant_period_of_a_noisy_oscillation_on_a_trend(period):
    rng = np.random.default_rng(0)
    t = np.arange(120)
    x = 5 - 0.01 * t + np.cos(2 * np.pi * t / period) + 0.1 * rng.normal(size=t.size)
    lag, peak = N.dominant_period(x)
    assert lag == period and peak > 0.5


def test_no_period_in_noise():
    _, peak = N.dominant_period(np.random.default_rng(1).normal(size=200))
    assert peak is None or peak < 0.3


def test_summary_after_full_train_accuracy():
    steps = np.arange(0, 101)
    df = pd.DataFrame({"step": steps, "sharpness": np.nan, "accuracy": np.nan, "test_accuracy": np.nan,
                       "two_over_eta": 50.0})
    ev = steps % 10 == 0
    df.loc[ev, "accuracy"] = np.where(steps[ev] >= 30, 1.0, 0.9)
    df.loc[ev, "test_accuracy"] = 0.8 + steps[ev] / 1000
    sh = steps % 20 == 0
    df.loc[sh, "sharpness"] = 100.0 - steps[sh] / 2
    out = N.summary(df)
    assert out["full_train_step"] == 30
    assert out["test_acc_gain"] == pytest.approx(0.9 - 0.83)
    # the first measurement at or after step 30 is step 40 (80); the last is step 100 (50)
    assert out["sharpness_drop_ratio"] == pytest.approx(50 / 80)
    assert out["eos_tracking_ratio"] == pytest.approx(np.median([80, 70, 60, 50]) / 50)


def test_summary_without_full_train_accuracy_leaves_the_after_numbers_empty():
    df = pd.DataFrame({"step": [0, 10], "sharpness": [5.0, 4.0], "accuracy": [0.5, 0.9],
                       "test_accuracy": [0.4, 0.7], "two_over_eta": [1.0, 1.0]})
    out = N.summary(df)
    assert out["full_train_step"] is None and out["sharpness_drop_ratio"] is None
    assert out["test_acc_final"] == 0.7


def _run(arch="si_vgg", cfg=(16, "M", 32, "M"), dataset="digits_20_per_class"):
    model = SimpleNamespace(arch=arch, vgg_cfg=list(cfg), width=1.0, depth=20, resnet_widths=(16, 32, 64))
    spec = SimpleNamespace(model=model, data=SimpleNamespace(dataset=dataset),
                           optimizer=SimpleNamespace(weight_decay=0.01), schedule=SimpleNamespace(lr=0.1))
    return SimpleNamespace(spec=spec, metrics=pd.DataFrame({"lr": [0.1]}))


def test_labels_name_what_ran_and_what_it_stands_in_for():
    small = N.describe(_run())
    assert small.startswith("SI CNN (16-32 channels) on digits_20_per_class")
    assert "stands in for SI VGG-11 on CIFAR-10" in small
    paper = N.describe(_run(cfg=N.VGG11_CFG, dataset="cifar10"))
    assert paper.startswith("SI VGG-11 on cifar10") and "stands in" not in paper


def test_layer_table_totals_and_rows_add_up():
    table = layer_table("preact_resnet")
    body, total = table.iloc[:-1], table.iloc[-1]
    assert total["params"] == body["params"].sum() == 272_282
    assert list(body["layer"][:2]) == ["stem", "block 1"] and body["layer"].iloc[-1] == "fc"
