"""The house style's helpers (figures/style.py) and the CSV written at plotted resolution."""

from __future__ import annotations

from types import SimpleNamespace

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from optdyn.figures import style  # noqa: E402
from optdyn.figures.common import CSV_MAX_BYTES, FigureOutput, plotted_resolution, write  # noqa: E402


def test_log_range_ignores_a_round_off_tail():
    # a loss falling 1 -> 1e-3 over 990 steps, then 10 steps at float round-off (1e-32)
    loss = np.concatenate([np.logspace(0, -3, 990), np.full(10, 1e-32)])
    fig, ax = plt.subplots()
    lo, hi = style.log_range(ax, loss, q=0.02, pad=2.0)
    assert ax.get_yscale() == "log"
    assert lo == pytest.approx(np.quantile(loss[loss > 0], 0.02) / 2.0)
    assert 1e-4 < lo < 1e-3 and hi == pytest.approx(2.0)  # the drop fills the axis; 1e-32 is off it
    plt.close(fig)


def test_log_range_of_several_series_and_nothing_positive():
    fig, ax = plt.subplots()
    lo, hi = style.log_range(ax, [np.array([1.0, 10.0]), np.array([100.0, np.nan, -1.0])], q=0.0, pad=1.0)
    assert (lo, hi) == (1.0, 100.0)
    assert style.log_range(ax, np.array([0.0, -1.0, np.inf])) is None
    plt.close(fig)


def _inside(inner, outer) -> bool:
    return inner.x0 >= outer.x0 and inner.x1 <= outer.x1 and inner.y0 >= outer.y0 and inner.y1 <= outer.y1


@pytest.mark.parametrize("where", ["right", "below"])
def test_legend_outside_is_off_the_axes(where):
    fig, ax = plt.subplots()
    ax.set_xlabel("step")
    for k in range(3):
        ax.plot([0, 1], [k, k + 1], label=f"series {k}")
    leg = style.legend_outside(ax, where)
    fig.canvas.draw()
    box, axes_box = leg.get_window_extent(), ax.get_window_extent()
    assert not box.overlaps(axes_box)
    if where == "below":  # and under the x label, not over it
        assert box.y1 <= ax.xaxis.label.get_window_extent().y0
    plt.close(fig)


def test_figure_legend_below_takes_the_first_panel_with_handles():
    fig, (a, b) = plt.subplots(1, 2)
    b.plot([0, 1], [0, 1], label="only here")
    leg = style.legend_outside(fig, "below")
    assert [t.get_text() for t in leg.get_texts()] == ["only here"]
    assert style.legend_outside(plt.subplots()[0], "below") is None  # nothing to show
    with pytest.raises(ValueError):
        style.legend_outside(a, "left", handles=[a.plot([0], [0])[0]])
    plt.close("all")


def test_palette_keeps_neighbours_distinct():
    for n in (3, 10, 14):
        colors = style.palette(n)
        assert len(colors) == n and len({tuple(np.round(c, 3)) for c in colors}) == n


def test_thin_caps_each_series_and_keeps_its_ends_and_sparse_rows():
    steps = np.arange(10_000)
    df = pd.concat([pd.DataFrame({"run": name, "step": steps, "loss": np.exp(-steps / 3000.0) + k,
                                  # an evaluation every 1000 steps, NaN between
                                  "test": np.where(steps % 1000 == 0, 1.0 * k, np.nan)})
                    for k, name in enumerate(("a", "b"))], ignore_index=True)
    out = style.thin(df, max_rows=500)
    for name, part in out.groupby("run"):
        assert 500 <= len(part) <= 500 + 10
        assert part["step"].iloc[0] == 0 and part["step"].iloc[-1] == 9_999
        assert part["test"].notna().sum() == 10  # every evaluation survives
        assert part["step"].is_monotonic_increasing
    assert len(style.thin(df.head(100), max_rows=500)) == 100  # short tables untouched


def test_series_keys_find_a_numeric_sweep_column():
    df = pd.DataFrame({"kappa": np.repeat([0.0, 1.0, 4.0], 400), "step": np.tile(np.arange(400), 3),
                       "u": np.random.default_rng(0).random(1200)})
    assert style.series_keys(df) == ["kappa"]
    out = style.thin(df, max_rows=100)
    assert out.groupby("kappa").size().tolist() == [100, 100, 100]


def test_written_csv_is_at_plotted_resolution(tmp_path):
    steps = np.arange(200_000)
    data = pd.DataFrame({"run": np.repeat(["x", "y"], 100_000), "step": steps % 100_000,
                         "loss": np.random.default_rng(1).random(200_000), "lr": 1e-3})
    fig, ax = plt.subplots()
    write(FigureOutput(fig, data, {"final": 1.0}), tmp_path / "f")
    csv = tmp_path / "f.csv"
    assert csv.stat().st_size < CSV_MAX_BYTES
    back = pd.read_csv(csv)
    assert back.groupby("run").size().max() <= 2000
    assert (back.groupby("run")["step"].max() == 99_999).all()
    assert (tmp_path / "f.values.json").read_text().strip().endswith("}")
    assert len(plotted_resolution(data.head(10))) == 10


def _ctx(monkeypatch, ran_model: str, paper_model: str | None):
    from optdyn.figures import labels

    monkeypatch.setattr(labels, "param_count", lambda spec_json, data_root: 12_400)
    settings = {"main[seed=0]": {"ran": {"model": ran_model, "data": "synthetic Markov language (markov_lm)", "steps": 1000},
                                 "paper": {"model": paper_model, "data": "the Pile", "steps": 50_000} if paper_model else None}}
    run = SimpleNamespace(run_id="rid-1", spec=SimpleNamespace(model_dump=lambda mode: {}), data_root=None)
    figure = SimpleNamespace(settings=settings, runs={"main[seed=0]": "rid-1"}, target="t")
    # a one-seed context (figures/replicates.py): plain run names, the figure's seed-tagged settings
    from optdyn.figures.common import FigureContext

    return FigureContext(figure, paper=None, runs={"main": run})


def test_stand_in_names_the_toy_first_and_the_paper_model_as_what_it_stands_for(monkeypatch):
    ctx = _ctx(monkeypatch, "LLaMA d=16, 2 layers", "LLaMA 0.1B (d=768, 12 layers)")
    assert style.stand_in(ctx, "main") == "d=16 (12.4k) \u2259 LLaMA 0.1B (paper)"
    assert "stands in for LLaMA 0.1B" in style.ran_line(ctx, "main", width=1000)
    assert style.stand_in(_ctx(monkeypatch, "LLaMA d=768, 12 layers", None), "main") == "d=768 (12.4k)"
