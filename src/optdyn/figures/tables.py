"""Tables as figures: a paper table is drawn (png/pdf) from the same frame its csv holds."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd


def table_figure(df: pd.DataFrame, title: str) -> plt.Figure:
    fig, ax = plt.subplots(figsize=(1.2 + 1.6 * len(df.columns), 0.9 + 0.38 * len(df)))
    draw_table(ax, df, title)
    return fig


def draw_table(ax: plt.Axes, df: pd.DataFrame, title: str, row_scale: float = 1.4) -> None:
    """``df`` as a table on ``ax`` (bold shaded header), for tables that share a figure with plots."""
    ax.axis("off")
    cells = [[_fmt(v) for v in row] for row in df.itertuples(index=False)]
    table = ax.table(cellText=cells, colLabels=list(df.columns), loc="center", cellLoc="center")
    table.auto_set_font_size(False)
    table.set_fontsize(9)
    table.auto_set_column_width(col=list(range(len(df.columns))))
    table.scale(1.0, row_scale)
    for (r, _c), cell in table.get_celld().items():
        if r == 0:
            cell.set_text_props(weight="bold")
            cell.set_facecolor("#e8eef7")
    ax.set_title(title, fontsize=10)


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)
