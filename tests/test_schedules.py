"""Schedules against the paper's formulas at hand-computed points and breakpoints."""

from __future__ import annotations

import json
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from optdyn.optim.schedules import (
    build_schedule,
    decay_value,
    lr_curve,
    total_compute,
    with_linear_warmup,
    wsd_branch,
    wsd_main,
)
from optdyn.spec.schedules import WSD, WSDS, Constant, Cosine, CyclicCosine, Piecewise, StepDecay

PEAK = 6e-4
MIN = 0.1 * PEAK
TABLE3 = [(11250, 12500), (22500, 25000), (48750, 53750)]  # WSD-S
TABLE4 = [(11250, 12500), (22500, 25000), (45000, 50000)]  # WSD, 0.1B-style


def close(actual, expected, rtol=1e-6):
    actual = np.asarray(actual)
    assert actual.dtype == np.float32
    np.testing.assert_allclose(actual.astype(np.float64), expected, rtol=rtol, atol=0)


def inv_prop(s, tau):
    return PEAK / (1 + 9 * s / tau)


# ---------------------------------------------------------------- decay shapes


def test_decay_shapes():
    tau = 1000.0
    for s in [0.0, 1.0, 250.0, 500.0, 999.0, 1000.0]:
        close(decay_value("inverse_proportional", s, tau, PEAK, MIN), inv_prop(s, tau))
        close(decay_value("linear", s, tau, PEAK, MIN), PEAK - (PEAK - MIN) * s / tau)
        close(
            decay_value("cosine", s, tau, PEAK, MIN),
            MIN + (PEAK - MIN) * (1 + math.cos(math.pi * s / tau)) / 2,
        )
    # 1/eta is linear in s for the inverse-proportional shape with any ratio.
    lo = 0.25 * PEAK
    close(decay_value("inverse_proportional", 300.0, tau, PEAK, lo), 1 / (0.3 / lo + 0.7 / PEAK))
    close(decay_value("theory", 0.0, tau, 0.02, 0.0, 10.0), 0.01)
    close(decay_value("theory", 50.0, tau, 0.02, 0.0, 10.0), 0.02 / (2 + 50 * 0.02 * 10))
    with pytest.raises(ValueError):
        decay_value("bogus", 0.0, tau, PEAK, MIN)


# ---------------------------------------------------------------- WSD-S


def test_wsd_s_table3_breakpoints():
    spec = WSDS(name="wsd_s", peak_lr=PEAK, decays=TABLE3)
    f = build_schedule(spec)
    close(f(0), PEAK)
    close(f(11250), PEAK)
    close(f(11251), inv_prop(1, 1250))
    close(f(11875), inv_prop(625, 1250))
    close(f(12500), MIN)
    close(f(12501), PEAK)  # jumps straight back, no re-warmup
    close(f(22500), PEAK)
    close(f(23750), inv_prop(1250, 2500))
    close(f(25000), MIN)
    close(f(30000), PEAK)
    close(f(51250), inv_prop(2500, 5000))
    close(f(53750), MIN)
    close(f(60000), PEAK)
    assert total_compute(spec) == 53750


def test_wsd_s_theory_applies_at_start():
    eta, gamma, ts = 0.02, 10.0, 2000
    spec = WSDS(name="wsd_s", peak_lr=eta, shape="theory", gamma=gamma, decays=[(ts, 3000)])
    f = build_schedule(spec)
    close(f(ts - 1), eta)
    close(f(ts), eta / 2)
    for t in [2001, 2500, 3000]:
        close(f(t), eta / (2 + (t - ts) * eta * gamma))
    close(f(3001), eta)


# ---------------------------------------------------------------- WSD main / branches


def test_wsd_main_and_branches_table4():
    spec = WSD(name="wsd", peak_lr=PEAK, decays=TABLE4)
    assert total_compute(spec) == 53750
    main = wsd_main(spec)
    close(lr_curve(main, 50001), np.full(50001, PEAK))
    for k, (d, end) in enumerate(TABLE4):
        f = wsd_branch(spec, k)
        tau = end - d
        close(f(0), PEAK)
        close(f(d), PEAK)
        close(f(d + tau // 2), inv_prop(tau // 2, tau))
        close(f(end), MIN)
        close(f(end + 1000), MIN)  # held after T_k
    with pytest.raises(IndexError):
        wsd_branch(spec, 3)
    # A WSD plan's own run (branch None) is its constant main branch.
    close(lr_curve(build_schedule(spec), 50001), np.full(50001, PEAK))


def test_wsd_03b_total_compute():
    # D_K + sum(T_k - D_k) = 45000 + 1250 + 3000 + 5000.
    spec = WSD(name="wsd", peak_lr=PEAK, decays=[(11250, 12500), (22000, 25000), (45000, 50000)])
    assert total_compute(spec) == 54250


def test_build_schedule_wsd_with_branch():
    spec = WSD(name="wsd", peak_lr=PEAK, decays=TABLE4, branch=1)
    f, g = build_schedule(spec), wsd_branch(spec)
    for t in [0, 22500, 23750, 25000, 30000]:
        close(f(t), float(wsd_branch(spec, 1)(t)))
        close(g(t), float(wsd_branch(spec, 1)(t)))


def test_wsd_branch_other_shapes():
    lin = WSD(name="wsd", peak_lr=PEAK, shape="linear", decays=[(100, 200)])
    close(wsd_branch(lin, 0)(150), (PEAK + MIN) / 2)
    cos = WSD(name="wsd", peak_lr=PEAK, shape="cosine", decays=[(100, 200)])
    close(wsd_branch(cos, 0)(150), (PEAK + MIN) / 2)
    close(wsd_branch(cos, 0)(125), MIN + (PEAK - MIN) * (1 + math.cos(math.pi / 4)) / 2)
    th = WSD(name="wsd", peak_lr=0.02, shape="theory", gamma=10.0, decays=[(2000, 3000)])
    g = wsd_branch(th, 0)
    close(g(1999), 0.02)
    close(g(2000), 0.01)
    close(g(4000), 0.02 / (2 + 1000 * 0.02 * 10))  # held at the value reached at T


# ---------------------------------------------------------------- cosine family, step decay


def test_cosine():
    f = build_schedule(Cosine(name="cosine", peak_lr=PEAK, total_steps=1000))
    close(f(0), PEAK)
    close(f(500), (PEAK + MIN) / 2)
    close(f(250), MIN + (PEAK - MIN) * (1 + math.cos(math.pi / 4)) / 2)
    close(f(1000), MIN)
    close(f(5000), MIN)


def test_cyclic_cosine_restarts():
    spec = CyclicCosine(name="cyclic_cosine", peak_lr=PEAK, cycle_ends=[100, 300])
    f = build_schedule(spec)
    close(f(0), PEAK)
    close(f(50), (PEAK + MIN) / 2)
    close(f(100), MIN)
    close(f(101), MIN + (PEAK - MIN) * (1 + math.cos(math.pi / 200)) / 2)  # restart near peak
    close(f(200), (PEAK + MIN) / 2)
    close(f(300), MIN)
    close(f(400), MIN)


# Fig. 9's hybrids at 1/20 scale: both reach eta_min at T_1 = 250, then continue to 500.
COSINE_WSD = {"name": "piecewise", "pieces": [
    {"until": 250, "schedule": {"name": "cosine", "peak_lr": PEAK, "total_steps": 250}},
    {"schedule": {"name": "wsd_s", "peak_lr": PEAK, "decays": [[450, 500]]}}]}
WSD_COSINE = {"name": "piecewise", "pieces": [
    {"until": 250, "schedule": {"name": "wsd_s", "peak_lr": PEAK, "decays": [[225, 250]]}},
    {"schedule": {"name": "cyclic_cosine", "peak_lr": PEAK, "cycle_ends": [250, 500]}}]}


def piecewise(raw: dict) -> Piecewise:
    return Piecewise.model_validate_json(json.dumps(raw))  # as the YAML loader validates


def test_cosine_then_wsd_hybrid():
    f = build_schedule(piecewise(COSINE_WSD))
    close(f(125), (PEAK + MIN) / 2)
    close(f(250), MIN)  # T_1 still belongs to the cosine
    close(f(251), PEAK)  # then WSD's stable phase, at peak with no warmup
    close(f(450), PEAK)
    close(f(475), inv_prop(25, 50))
    close(f(500), MIN)
    assert total_compute(piecewise(COSINE_WSD)) == 500


def test_wsd_then_cosine_hybrid():
    f = build_schedule(piecewise(WSD_COSINE))
    close(f(100), PEAK)
    close(f(240), inv_prop(15, 25))
    close(f(250), MIN)
    close(f(251), MIN + (PEAK - MIN) * (1 + math.cos(math.pi / 250)) / 2)
    close(f(375), (PEAK + MIN) / 2)
    close(f(500), MIN)


@pytest.mark.parametrize("pieces, message", [
    ([{"schedule": {"name": "constant", "lr": 0.1}}], "at least 2"),
    ([{"until": 10, "schedule": {"name": "constant", "lr": 0.1}}, {"until": 20, "schedule": {"name": "constant", "lr": 0.2}}],
     "the last none"),
    ([{"until": 10, "schedule": {"name": "constant", "lr": 0.1}}, {"until": 5, "schedule": {"name": "constant", "lr": 0.1}},
      {"schedule": {"name": "constant", "lr": 0.2}}], "strictly increasing"),
    ([{"until": 10, "schedule": {"name": "wsd", "peak_lr": 0.1, "decays": [[5, 10]]}}, {"schedule": {"name": "constant", "lr": 0.2}}],
     "wsd"),
])
def test_piecewise_rejects_bad_pieces(pieces, message):
    with pytest.raises(ValueError, match=message):
        piecewise({"name": "piecewise", "pieces": pieces})


def test_step_decay():
    f = build_schedule(StepDecay(name="step_decay", lr=0.1, factor=10.0, milestones=[100, 200]))
    close(f(0), 0.1)
    close(f(99), 0.1)
    close(f(100), 0.01)
    close(f(199), 0.01)
    close(f(200), 0.001)
    close(f(10_000), 0.001)


def test_constant():
    close(build_schedule(Constant(name="constant", lr=0.3))(12345), 0.3)


# ---------------------------------------------------------------- warmup, jit, lr_curve


def test_warmup():
    spec = Cosine(name="cosine", peak_lr=PEAK, total_steps=1000, warmup_steps=100)
    f = build_schedule(spec)
    inner = build_schedule(spec.model_copy(update={"warmup_steps": 0}))
    close(f(0), 0.0)
    close(f(50), float(inner(100)) / 2)
    for t in [100, 101, 500, 1200]:
        close(f(t), float(inner(t)))  # absolute step, not shifted by the warmup
    w = with_linear_warmup(lambda t: jnp.float32(2.0), 4)
    close(lr_curve(w, 6), [0.0, 0.5, 1.0, 1.5, 2.0, 2.0])


SPECS = [
    Constant(name="constant", lr=0.1, warmup_steps=3),
    Cosine(name="cosine", peak_lr=PEAK, total_steps=50),
    CyclicCosine(name="cyclic_cosine", peak_lr=PEAK, cycle_ends=[20, 45], warmup_steps=5),
    StepDecay(name="step_decay", lr=0.1, factor=2.0, milestones=[10, 30]),
    WSDS(name="wsd_s", peak_lr=PEAK, decays=[(10, 20), (30, 50)], warmup_steps=5),
    WSDS(name="wsd_s", peak_lr=0.02, shape="theory", gamma=10.0, decays=[(10, 20)]),
    piecewise(WSD_COSINE),
]


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_jit_and_lr_curve(spec):
    f = build_schedule(spec)
    close(jax.jit(f)(jnp.int32(5)), float(f(5)))
    curve = lr_curve(f, 60)
    assert curve.shape == (60,)
    close(curve, [float(f(t)) for t in range(60)])


def test_lr_curve_wsd_branch_jit():
    spec = WSD(name="wsd", peak_lr=PEAK, decays=[(10, 20), (30, 50)], warmup_steps=5)
    f = wsd_branch(spec, 1)
    close(jax.jit(f)(jnp.int32(40)), inv_prop(10, 20))
    close(lr_curve(f, 60), [float(f(t)) for t in range(60)])


@pytest.mark.parametrize("spec", [Constant(name="constant", lr=0.01), StepDecay(name="step_decay", lr=0.01, milestones=[50], factor=10.0)])
def test_float64_runs_apply_the_exact_learning_rate(spec, x64):
    """A float64 run's eta must be the eta of its loss and theory (0.01 in float32 is 0.0099999998)."""
    lr = build_schedule(spec, dtype=jnp.float64)(jnp.asarray(10, jnp.int32))
    assert lr.dtype == jnp.float64
    assert float(lr) == 0.01
    assert build_schedule(spec)(jnp.asarray(10, jnp.int32)).dtype == jnp.float32  # the dtype is the one given
