"""The house style of every figure of the five papers, in one place.

``apply()`` sets the look (``common.style()`` calls it before every figure function), and the
helpers below are what figure modules use instead of per-figure settings:

- ``palette(n)``: n colour-blind-safe colours (seaborn "colorblind"), distinguishable in order;
- ``legend_outside(ax_or_fig, where=...)``: a legend beside or below the axes, never on the data;
- ``log_range(ax, values, axis=...)``: a log axis ranged over the data that carries the message
  (a robust low quantile of the positive values, not the 1e-30 a converged tail reaches);
- ``colorbar(fig, mappable, ax, label)``: a labelled colorbar the same height as its axes;
- ``share(axes, x=..., y=...)``: share the x or y axis of panels that compare;
- ``thin(df, max_rows, by=...)``: a table evenly thinned to the resolution it is plotted at,
  keeping each series' first and last rows (``common.write()`` applies it to every CSV).

Sizes are chosen for a report ~1000 px wide: a 12-inch figure saved at 150 dpi is scaled by
about 0.55, so text is 10 pt (ticks 9 pt) to stay >= ~8 px high there.
"""

from __future__ import annotations

from typing import Any, Iterable, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

FONT = 10  # axis labels, titles
SMALL = 9  # ticks, legends
TINY = 8  # annotations inside axes; the floor for text a reader must read

RC = {
    "figure.dpi": 110,
    "savefig.dpi": 150,
    "savefig.bbox": "tight",
    "font.size": FONT,
    "axes.titlesize": FONT,
    "axes.labelsize": FONT,
    "xtick.labelsize": SMALL,
    "ytick.labelsize": SMALL,
    "legend.fontsize": SMALL,
    "legend.title_fontsize": SMALL,
    "legend.framealpha": 0.9,
    "figure.titlesize": FONT + 1,
    "mathtext.fontset": "dejavusans",  # typeset math that matches the sans text
    "axes.formatter.use_mathtext": True,  # "10^{-3}" offsets and exponents, not "1e-3"
    "lines.linewidth": 1.4,
    "image.cmap": "viridis",  # perceptually uniform, colour-blind safe
}


def apply() -> None:
    sns.set_theme(context="paper", style="whitegrid", palette="colorblind", font_scale=1.0)
    plt.rcParams.update(RC)


def palette(n: int) -> list:
    """n colours from the colour-blind palette; past its 10 colours, a colour-blind-safe ramp
    (so two neighbours of a long sweep never share a colour)."""
    base = sns.color_palette("colorblind")
    return list(base[:n]) if n <= len(base) else list(sns.color_palette("cividis", n))


def ramp(n: int, name: str = "viridis") -> list:
    """n ordered colours for an ordered sweep (a hyperparameter's values), ends clearly apart."""
    return list(sns.color_palette(name, n)) if n > 1 else [sns.color_palette(name, 3)[0]]


def legend_outside(target: Any, where: str = "right", handles: Sequence | None = None, labels: Sequence | None = None,
                   ncol: int | None = None, **kw: Any) -> Any:
    """A legend off the data: ``where`` "right" (beside the axes) or "below" (under them; for a
    figure, under all panels). ``target`` is an Axes or a Figure (one legend for all panels,
    taking the handles of its first axes that has any unless given)."""
    if handles is None:
        source = target if hasattr(target, "get_legend_handles_labels") else None
        if source is None:
            for ax in target.axes:
                h, l = ax.get_legend_handles_labels()
                if h:
                    handles, labels = h, l
                    break
        else:
            handles, labels = source.get_legend_handles_labels()
    if not handles:
        return None
    if labels is None:
        labels = [h.get_label() for h in handles]
    if where == "right":
        kw = {"loc": "upper left", "bbox_to_anchor": (1.01, 1.0), "borderaxespad": 0.0} | kw
        ncol = ncol or 1
    elif where == "below":
        ncol = ncol or min(len(handles), 4)
        if hasattr(target, "transAxes"):
            # the gap is in font sizes (not axes fractions) so it clears the tick labels and the
            # x label whatever the axes' height
            kw = {"loc": "upper center", "bbox_to_anchor": (0.5, 0.0), "borderaxespad": 4.0} | kw
        else:  # below every panel of the figure; savefig's tight bbox keeps it in the picture
            kw = {"loc": "upper center", "bbox_to_anchor": (0.5, 0.0)} | kw
    else:
        raise ValueError(f"legend_outside: where must be 'right' or 'below', not {where!r}")
    return target.legend(handles, labels, ncol=ncol, **kw)


def log_range(ax: Any, values: Iterable, axis: str = "y", q: float = 0.02, pad: float = 1.6,
              floor: float | None = None) -> tuple[float, float] | None:
    """Range a log ``axis`` over the data that carries the message: from the ``q`` quantile of
    the finite positive values (a converged tail's 1e-30 would otherwise squash the headline
    drop into a few pixels) to their maximum, padded by ``pad`` (a factor) at both ends.
    ``floor`` is a lowest value worth showing (e.g. float32 round-off) when the data go below it.
    Returns the limits set (None when there was nothing positive to range over)."""
    v = np.concatenate([np.ravel(np.asarray(x, dtype=float)) for x in (values if _many(values) else [values])])
    v = v[np.isfinite(v) & (v > 0)]
    if v.size == 0:
        return None
    lo, hi = float(np.quantile(v, q)), float(v.max())
    if floor is not None:
        lo = max(lo, floor)
    lo, hi = lo / pad, hi * pad
    if not lo < hi:
        lo, hi = hi / 10, hi * 10
    (ax.set_yscale if axis == "y" else ax.set_xscale)("log")
    (ax.set_ylim if axis == "y" else ax.set_xlim)(lo, hi)
    return lo, hi


def _many(values: Any) -> bool:
    """A list of series (arrays), rather than one series."""
    return isinstance(values, (list, tuple)) and bool(values) and all(np.ndim(x) >= 1 for x in values)


def colorbar(fig: Any, mappable: Any, ax: Any, label: str, **kw: Any) -> Any:
    """A colorbar beside ``ax``, as tall as it, with its label typeset."""
    return fig.colorbar(mappable, ax=ax, label=label, fraction=0.046, pad=0.03, **kw)


def share(axes: Sequence, x: bool = False, y: bool = False) -> None:
    """Share the x and/or y axis of panels that compare (after they are drawn: limits become the union)."""
    axes = list(np.ravel(axes))
    for ax in axes[1:]:
        if x:
            ax.sharex(axes[0])
        if y:
            ax.sharey(axes[0])
    for which, on in (("x", x), ("y", y)):
        if on:
            for ax in axes:
                ax.relim()
                ax.autoscale(axis=which)


def series_keys(df: pd.DataFrame) -> list[str]:
    """The columns that name a series of a tidy table: the non-numeric ones, ``seed``, and
    numeric ones with few distinct values and no gaps (a swept kappa or eta, a panel number; a
    sparse evaluation column, NaN between evaluations, is a value, not a key)."""
    n = len(df)
    keys = []
    for c in df.columns:
        col = df[c]
        if c == "seed" or not pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col):
            keys.append(c)
        elif n >= 200 and col.notna().all() and col.nunique() <= min(64, n // 50):
            keys.append(c)
    return keys


def thin(df: pd.DataFrame, max_rows: int = 2000, by: Sequence[str] | None = None) -> pd.DataFrame:
    """``df`` evenly thinned to at most ``max_rows`` rows per series (the rows of one value of
    the ``by`` columns; by default ``series_keys(df)``), keeping each series' first and last row.
    Rows that carry a sparse column (an eval every k steps, NaN between) are kept too, so the
    coarse series survive thinning the fine ones. A series already short enough is kept whole."""
    if len(df) <= max_rows:
        return df
    by = [c for c in (series_keys(df) if by is None else by) if c in df.columns]
    key = df.groupby(by, sort=False, dropna=False).ngroup() if by else pd.Series(0, index=df.index)
    present = df.notna().to_numpy()
    keep = []
    for idx in pd.RangeIndex(len(df)).groupby(key.to_numpy()).values():
        idx = np.sort(np.asarray(idx))
        if len(idx) > max_rows:
            counts = present[idx].sum(axis=0)
            sparse = (counts < len(idx)) & (counts > 0) & (counts <= max_rows)
            even = idx[np.unique(np.linspace(0, len(idx) - 1, max_rows).round().astype(int))]
            idx = np.union1d(even, idx[present[idx][:, sparse].any(axis=1)]) if sparse.any() else even
        keep.append(idx)
    return df.iloc[np.sort(np.concatenate(keep))]


def stand_in(ctx: Any, run_name: str) -> str:
    """A legend- or title-sized label of a run from the resolved spec of the tier that ran:
    "d=16 (12.4k) \u2259 LLaMA 0.1B (paper)" where it stands in for the paper's model, its own
    size alone where it is the paper's setting (figures/labels.py)."""
    s = setting_of(ctx, run_name)
    if s is None:
        return _spec_label(ctx, run_name)
    paper_model = (s.paper_setting or {}).get("model")
    if not paper_model or paper_model == s.ran.get("model"):
        return s.short
    return f"{s.short} \u2259 {paper_model.split(' (')[0]} (paper)"


def short_of(ctx: Any, run_name: str) -> str:
    """The run's legend-sized size words alone ("d=32 (41.1k)"), where the paper's setting is
    named beside it anyway."""
    s = setting_of(ctx, run_name)
    return s.short if s is not None else _spec_label(ctx, run_name)


def ran_line(ctx: Any, run_name: str, width: int = 110) -> str:
    """What run ``run_name`` was, and what it stands in for, wrapped for a figure's suptitle."""
    import textwrap

    s = setting_of(ctx, run_name)
    return "\n".join(textwrap.wrap(s.line if s is not None else _spec_label(ctx, run_name), width))


def setting_of(ctx: Any, run_name: str) -> Any:
    """``ctx.setting(run_name)``; None for a context without resolved settings (unit tests'
    hand-made contexts), which fall back to the run's own spec."""
    settings = getattr(getattr(ctx, "figure", None), "settings", None)
    return ctx.setting(run_name) if isinstance(settings, dict) and settings else None


def _spec_label(ctx: Any, run_name: str) -> str:
    """The run's own model size from its spec (no paper names): the label without settings."""
    model = getattr(getattr(ctx.runs[run_name], "spec", None), "model", None)
    if model is not None and hasattr(model, "hidden") and hasattr(model, "layers"):
        return f"d={model.hidden}, {model.layers} layer{'s' if model.layers > 1 else ''}"
    return run_name
