"""WSD Figs. 5, 12, 13, 14: the shape measures of figures/wsd/landscape.py on synthetic probe
tables with known answers (parabolas, monotone curves, a quadratic loss on a plane through three
points in R^n, built with the probe's own geometry)."""

from __future__ import annotations

from types import SimpleNamespace

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from optdyn.figures.wsd.landscape import fig05, fig12, fig13, fig14, line_curvature, monotone, valley
from optdyn.probes.landscape import gram_schmidt
from optdyn.spec.plots.wsd import Fig12, Fig13, Fig14

ALPHAS = np.linspace(-0.2, 1.2, 29)  # the probe's default grid


def interp(loss_fn, start=("stable", 100), end=("stable", 150), distance=2.0) -> pd.DataFrame:
    return pd.DataFrame({"alpha": ALPHAS, "loss": loss_fn(ALPHAS), "distance": distance, "loss_of": "val_loss",
                         "start_run": start[0], "start_step": start[1], "end_run": end[0], "end_step": end[1]})


def ctx(probes: dict, plot=None, steps: int = 200) -> SimpleNamespace:
    runs = {"stable": SimpleNamespace(spec=SimpleNamespace(steps=steps), diverged=False)}
    return SimpleNamespace(probes=probes, runs=runs, plot=plot)


def test_valley_depth_of_a_parabola_is_its_drop_below_the_ends():
    v = valley(interp(lambda a: 3.0 + (a - 0.4) ** 2))
    # ends: L(0) = 3.16, L(1) = 3.36; interior minimum 3.0 at alpha = 0.4
    assert v["depth"] == pytest.approx(0.16, abs=1e-12)
    assert v["depth_rel"] == pytest.approx(0.16 / 3.16, abs=1e-12)
    assert v["argmin_alpha"] == pytest.approx(0.4, abs=1e-12)


def test_a_monotone_line_has_no_valley():
    v = valley(interp(lambda a: 2.0 - 0.1 * a))
    assert v["depth"] == pytest.approx(-0.1 * 0.05, abs=1e-12)  # the best interior point is one step above L(1)
    assert v["depth"] < 0


def test_monotone_reports_the_largest_rise_inside_zero_one_only():
    m = monotone(interp(lambda a: 2.0 - 0.1 * a + 5.0 * (a > 1.0)))  # a jump beyond alpha = 1 is outside
    assert m["max_increase"] == pytest.approx(-0.1 * 0.05, abs=1e-12)
    assert m["drop"] == pytest.approx(0.1, abs=1e-12)
    bump = lambda a: 2.0 - 0.1 * a + 0.003 * np.isclose(a, 0.5)
    assert monotone(interp(bump))["max_increase"] == pytest.approx(0.003 - 0.005, abs=1e-12)
    rising_end = lambda a: (a - 0.9) ** 2  # minimum at 0.9: the last step rises by 0.01 - 0.0025
    assert monotone(interp(rising_end))["max_increase"] == pytest.approx(0.0075, abs=1e-12)


def test_an_alpha_grid_without_the_checkpoints_is_an_error():
    probe = interp(lambda a: a**2)
    probe["alpha"] += 0.01
    with pytest.raises(ValueError, match="no point at 0.0"):
        valley(probe)


def test_fig05_values_and_figure():
    probes = {"stable": interp(lambda a: 2.0 + 0.05 * (a - 0.5) ** 2),
              "decay": interp(lambda a: 2.0 - 0.02 * a, end=("decay", 150))}
    out = fig05(ctx(probes))
    assert out.values["stable_valley_depth"] == pytest.approx(0.05 * 0.25, abs=1e-12)
    assert out.values["stable_argmin_alpha"] == pytest.approx(0.5, abs=1e-12)
    assert out.values["decay_max_increase"] == pytest.approx(-0.001, abs=1e-12)
    assert out.values["decay_drop"] == pytest.approx(0.02, abs=1e-12)
    assert set(out.data["pair"]) == {"stable", "decay"} and len(out.data) == 2 * len(ALPHAS)
    assert "decay from step 100 (50%), +50 steps" in [a.get_title()[4:] for a in out.figure.axes]
    plt.close(out.figure)


def test_fig12_and_fig13_take_the_worst_pair():
    decays = {f"d{k}": interp(lambda a, k=k: 2.0 - 0.01 * a + (k == 2) * 0.2 * (a - 0.9) ** 2, end=("d", 150))
              for k in range(3)}
    out = fig12(ctx(decays, Fig12(columns=2)))
    # pair d2: L = 2 - 0.01 a + 0.2 (a - 0.9)^2; the last step 0.95 -> 1 rises by 0.2 (0.01 - 0.0025) - 0.0005
    assert out.values["max_increase_worst"] == pytest.approx(0.2 * (0.01 - 0.0025) - 0.0005, abs=1e-12)
    assert out.values["max_increase"]["d0"] == pytest.approx(-0.0005, abs=1e-12)
    assert sum(a.get_visible() for a in out.figure.axes) == 3
    plt.close(out.figure)
    stables = {f"s{k}": interp(lambda a, k=k: 2.0 + (k + 1) * 0.01 * (a - 0.5) ** 2) for k in range(3)}
    out = fig13(ctx(stables, Fig13()))
    assert out.values["valley_depth_min"] == pytest.approx(0.01 * 0.25, abs=1e-12)
    assert out.values["argmin_alpha"] == {f"s{k}": pytest.approx(0.5) for k in range(3)}
    plt.close(out.figure)


def plane_tables(hess: np.ndarray, o: np.ndarray, pa: np.ndarray, pb: np.ndarray, grid: np.ndarray) -> dict:
    """What the plane_slice probe writes for L(theta) = theta^T H theta / 2 + 1 (both bases)."""
    u, v = pa - o, pb - o
    g = gram_schmidt(u, v)
    a, b = (m.ravel() for m in np.meshgrid(grid, grid, indexing="ij"))
    loss = lambda th: 0.5 * np.einsum("ni,ij,nj->n", th, hess, th) + 1.0
    common = {"a": a, "b": b, "dist_a": g["dist_a"], "dist_b": g["dist_b"], "angle_deg": g["angle_deg"]}
    raw = pd.DataFrame(common | {"x": a * g["dist_a"] + b * g["v_along_e1"], "y": b * g["v_across_e1"],
                                 "loss": loss(o + a[:, None] * u + b[:, None] * v), "basis": "raw"})
    e1, e2 = g["dist_a"] * g["e1"], g["dist_b"] * g["e2"]
    ortho = pd.DataFrame(common | {"x": a * g["dist_a"], "y": b * g["dist_b"],
                                   "loss": loss(o + a[:, None] * e1 + b[:, None] * e2), "basis": "orthonormal"})
    return {"raw": raw, "orthonormal": ortho}


def test_fig14_curvatures_are_the_hessian_along_each_direction():
    rng = np.random.default_rng(0)
    n = 6
    q = np.linalg.qr(rng.normal(size=(n, n)))[0]
    hess = q @ np.diag([50.0, 0.2, 1.0, 2.0, 3.0, 4.0]) @ q.T  # sharp along q0, flat along q1
    o = rng.normal(size=n)
    pa = o + 0.3 * q[:, 0] + 0.01 * q[:, 2]  # A - A' mostly across the hill
    pb = o + 2.0 * q[:, 1] + 0.2 * q[:, 0]  # B' - A' mostly along the river
    probes = plane_tables(hess, o, pa, pb, np.linspace(-0.5, 1.5, 21))
    out = fig14(ctx(probes, Fig14(levels=12)))
    u, v = pa - o, pb - o
    e2 = gram_schmidt(u, v)["e2"]
    rayleigh = lambda d: float(d @ hess @ d / (d @ d))  # d^2 L / ds^2 along the unit vector of d
    assert out.values["curvature_aa"] == pytest.approx(rayleigh(u), rel=1e-8)
    assert out.values["curvature_ab_raw"] == pytest.approx(rayleigh(v), rel=1e-8)
    assert out.values["curvature_ab_orthonormal"] == pytest.approx(rayleigh(e2), rel=1e-8)
    assert out.values["sharpness_ratio_raw"] == pytest.approx(rayleigh(u) / rayleigh(v), rel=1e-8)
    assert out.values["sharpness_ratio_orthonormal"] > 10
    assert out.values["dist_aa"] == pytest.approx(np.linalg.norm(u)) and out.values["dist_ab"] == pytest.approx(np.linalg.norm(v))
    assert out.values["loss_at_points"]["A"] == pytest.approx(0.5 * pa @ hess @ pa + 1.0)
    plt.close(out.figure)


def test_line_curvature_needs_the_axis_line():
    plane = pd.DataFrame({"a": [0.1, 0.2, 0.3], "b": [0.5, 0.5, 0.5], "loss": [1.0, 2.0, 3.0], "dist_a": 1.0, "dist_b": 1.0})
    with pytest.raises(ValueError, match="no point at 0.0"):
        line_curvature(plane, "a")
