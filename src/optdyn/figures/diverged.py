"""Failed runs are results: how a figure draws a diverged run and what it says about its claims.

A run whose loss became non-finite (or passed ``divergence_threshold``) ends with
``status: diverged``, ``diverged_at: N`` and its metrics up to step N (``optdyn.train.run``).
Every figure still draws it:

- its curves stop at the last finite step and end in a red ``x`` (``mark_end``), and its legend
  entry says ``(diverged at step N)`` (``label``);
- ``finish`` writes a red line above the figure naming every diverged run, and replaces each
  metric computed from one by ``None`` with a ``<metric>__note`` saying which run diverged where;
  ``optdyn.claims`` turns that into a failed verdict carrying the note.

A run that the figure *expects* to diverge (the paper shows it diverging, e.g. GD with
eta = 2 in IRE Fig. 1) is passed as ``expected``: it is still labelled, but it voids nothing.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from optdyn.train.results import RunResult

_RED = "tab:red"


def diverged_at(run: RunResult) -> int | None:
    """The step at which ``run`` diverged, or None for a run that did not."""
    if not run.diverged:
        return None
    step = run.status.get("diverged_at", run.status.get("steps_done"))
    return int(step) if step is not None else int(run.metrics["step"].max())


def note(name: str, run: RunResult) -> str:
    return f"run {name} ({run.run_id}) diverged at step {diverged_at(run)} of {run.spec.steps}"


def _first_diverged(runs: RunResult | Iterable[RunResult]) -> RunResult | None:
    runs = [runs] if isinstance(runs, RunResult) else list(runs)
    return next((r for r in runs if r.diverged), None)


def label(text: str, *runs: RunResult) -> str:
    """A legend label, with ``(diverged at step N)`` appended where its run (or one of the runs
    its curve joins, e.g. a WSD main run and its decay branch) diverged."""
    run = _first_diverged(runs)
    return text if run is None else f"{text} (diverged at step {diverged_at(run)})"


def finite_metrics(run: RunResult, *columns: str) -> pd.DataFrame:
    """The run's metrics before its divergence step (all of them for a run that did not diverge),
    without rows where any of ``columns`` is missing or non-finite."""
    df = run.metrics
    step = diverged_at(run)
    if step is not None:
        df = df[df["step"] < step]
    if columns:
        df = df.dropna(subset=list(columns))
        df = df[np.isfinite(df[list(columns)].to_numpy(dtype=float)).all(axis=1)]
    return df.reset_index(drop=True)


def mark_end(ax, run: RunResult | Iterable[RunResult], x, y, **kwargs) -> None:
    """For a diverged run (or a curve joining several runs, one of which diverged), a red ``x``
    at the last finite point of its curve ``(x, y)``."""
    if _first_diverged(run) is None:
        return
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    ok = np.flatnonzero(np.isfinite(x) & np.isfinite(y))
    if ok.size:
        style = {"marker": "x", "color": _RED, "ms": 10, "mew": 2.5, "ls": "none", "zorder": 10} | kwargs
        ax.plot([x[ok[-1]]], [y[ok[-1]]], **style)


def unexpected(runs: Mapping[str, RunResult], expected: Iterable[str] = ()) -> dict[str, RunResult]:
    """The diverged runs among ``runs`` (by figure-local name) that the figure did not expect to diverge."""
    skip = set(expected)
    return {name: run for name, run in runs.items() if run.diverged and name not in skip}


def void(values: dict[str, Any], runs: Mapping[str, RunResult], *, uses: Mapping[str, Iterable[str]] | None = None,
         expected: Iterable[str] = ()) -> dict[str, Any]:
    """``values`` with every metric computed from a diverged run set to None, plus its note.

    ``uses`` maps a metric to the run names it is computed from; a metric it does not list is
    taken to depend on every run of the figure (the safe reading)."""
    bad = unexpected(runs, expected)
    if not bad:
        return values
    uses = uses or {}
    out = dict(values)
    for key in values:
        if "__" in key:
            continue
        reads = set(uses.get(key, runs))
        hit = [note(name, run) for name, run in bad.items() if name in reads]
        if hit:
            out[key] = None
            out[f"{key}__note"] = "; ".join(hit)
    return out


def banner(fig, runs: Mapping[str, RunResult], expected: Iterable[str] = ()) -> None:
    """A red line above the figure naming each diverged run the figure did not expect."""
    bad = unexpected(runs, expected)
    if bad:
        text = "DIVERGED: " + "; ".join(note(name, run) for name, run in bad.items())
        fig.text(0.01, 1.0, text + " (its claims are void)", color=_RED, fontsize=9, fontweight="bold",
                 ha="left", va="bottom", transform=fig.transFigure)


def finish(ctx, fig, values: dict[str, Any], *, uses: Mapping[str, Iterable[str]] | None = None,
           expected: Iterable[str] = ()) -> dict[str, Any]:
    """The last step of a figure with runs: the banner on ``fig`` and the voided ``values``."""
    banner(fig, ctx.runs, expected)
    return void(values, ctx.runs, uses=uses, expected=expected)


def finite_or_none(x: float | None) -> float | None:
    """A scalar metric that is None where it could not be measured (e.g. a curve cut short)."""
    return None if x is None or not math.isfinite(float(x)) else float(x)


def guarded(runs: RunResult | Iterable[RunResult], fn, *args, default: Any = math.nan, **kwargs) -> Any:
    """``fn(*args, **kwargs)`` on data of ``runs``; where one of them diverged (its curves may be
    too short for ``fn``), ``default`` if it fails: ``finish`` voids that metric anyway."""
    runs = [runs] if isinstance(runs, RunResult) else list(runs)
    if not any(r.diverged for r in runs):
        return fn(*args, **kwargs)
    try:
        return fn(*args, **kwargs)
    except (ValueError, IndexError, KeyError, ZeroDivisionError, TypeError, np.linalg.LinAlgError):
        return default


class tolerated:
    """``with tolerated(runs): ...`` runs a block of measurements; where one of ``runs`` diverged
    (its curves may be too short for them), an error inside is dropped and the block's metrics
    stay unset or NaN (``finish`` voids them anyway). Errors on runs that did not diverge pass."""

    _ERRORS = (ValueError, IndexError, KeyError, ZeroDivisionError, TypeError, np.linalg.LinAlgError)

    def __init__(self, runs: RunResult | Iterable[RunResult]):
        self.bad = _first_diverged(runs) is not None

    def __enter__(self) -> "tolerated":
        return self

    def __exit__(self, kind, exc, tb) -> bool:
        return bool(self.bad and kind is not None and issubclass(kind, self._ERRORS))


def unmeasured(ctx) -> dict[str, Any]:
    """Every metric the figure's plot spec declares, as NaN: the values of a figure whose diverged
    run left too little to measure anything (``finish`` then voids each with its note)."""
    return {name: math.nan for name in type(ctx.plot).metrics}
