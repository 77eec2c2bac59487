"""Fig. 4's cycle bookkeeping on synthetic |x| series: the cycles of |x| around delta, and the
zoomed (top) row, which must show the chosen cycle's blow-up and return, not the whole window
(issue 12's review: zooming from the instability drew nearly the whole window again)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from optdyn.figures.selfstab.tracking import _zoom, gd_cycles


def _table(x: np.ndarray, delta: float = 1.0) -> pd.DataFrame:
    return pd.DataFrame({"x_gd": x, "delta": np.full(len(x), delta)})


def _two_cycles() -> pd.DataFrame:
    # quiet growth for 200 steps, a blow-up over steps 200-229, quiet again, a second blow-up at 280-289
    x = np.full(320, 0.1)
    x[200:230] = 3.0
    x[280:290] = 2.0
    return _table(x)


def test_cycles_are_blowup_and_return():
    assert gd_cycles(_two_cycles()) == [(0, 200, 230), (230, 280, 290)]
    assert gd_cycles(_table(np.r_[np.full(10, 0.1), np.full(5, 2.0)])) == [(0, 10, None)]
    assert gd_cycles(_table(np.full(10, 0.1))) == []


def test_zoom_frames_the_active_part_of_the_cycle():
    df = _two_cycles()
    lo, hi = _zoom(df, gd_cycles(df), 0, 0.2)
    assert (lo, hi) == (194, 236)  # blow-up 200 to return 230, padded by 0.2 x 30 steps
    assert hi - lo < 0.2 * len(df)  # a zoom, not the window
    lo, hi = _zoom(df, gd_cycles(df), 1, 0.2)
    assert (lo, hi) == (278, 292)  # the second cycle; padding at least 2 steps
    assert _zoom(df, [], 0, 0.2) == (0, len(df) - 1)  # no cycle: the whole window
