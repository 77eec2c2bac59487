"""What a figure of the ``check`` tier draws: what ran, not the paper's figure (docs/check-tier.md).

Check-tier runs step 3 times on fake data, or are only compiled (``train/compile_only.py``), and
the tier has no probes, so no figure of it can show what the paper shows. Instead of the
figure's own code, every check-tier figure draws this panel: the stepped runs' losses over their
3 steps, and a list of the runs that were compiled only with their memory (estimate and XLA's)
and FLOPs. Like a diverged run's (``figures/diverged.py``), its metrics are None with a note, so
each claim is a failed verdict carrying the reason; the ``NOT_EVALUATED`` key tells
``optdyn.claims`` to report them as not evaluated rather than as failed reproductions.
"""

from __future__ import annotations

import math
import textwrap
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from optdyn.train.compile_only import COMPILED_ONLY
from optdyn.train.cost import human

from . import diverged
from .style import legend_outside, palette

#: the values key whose presence marks every claim of the figure as not evaluated (claims.py)
NOT_EVALUATED = "__not_evaluated__"
_LISTED = 14  # compiled-only runs named one per line; the rest are counted


def _loss_column(df: pd.DataFrame) -> str | None:
    return next((c for c in ("batch_loss", "loss") if c in df and df[c].notna().any()), None)


def _ran(ctx, name: str) -> str:
    """The run's model as built and the data it ran on: a fake in the real dataset's format."""
    try:
        s = ctx.setting(name)
        return f"{s.model}, on a fake stand-in for {s.data}"
    except KeyError:
        return diverged.note(name, ctx.runs[name]) if ctx.runs[name].diverged else name


def _cost_line(name: str, status: dict) -> str:
    cost = status.get("cost") or {}
    parts = [f"est. {human(cost['estimate_bytes'])}/device"] if "estimate_bytes" in cost else []
    if cost.get("compiled_bytes"):
        parts.append(f"XLA {human(cost['compiled_bytes'])}")
    if cost.get("flops_step"):
        parts.append(f"{human(cost['flops_step'], '')}FLOP/step")
    return f"{name}: " + (", ".join(parts) or status.get("reason", ""))


def draw_check(ctx) -> Any:
    from .common import FigureOutput

    stepped = {n: r for n, r in ctx.runs.items() if r.status.get("status") != COMPILED_ONLY}
    compiled = {n: r for n, r in ctx.runs.items() if r.status.get("status") == COMPILED_ONLY}
    fig, (ax, side) = plt.subplots(1, 2, figsize=(11, 4.2), gridspec_kw={"width_ratios": [1.3, 1]})
    rows = []
    colors = palette(max(len(stepped), 1))
    for (name, run), color in zip(stepped.items(), colors):
        col = _loss_column(run.metrics)
        if col is None:
            continue
        df = diverged.finite_metrics(run, col)
        ax.plot(df["step"], df[col], "o-", color=color, label=diverged.label(name, run) if len(stepped) <= 8 else None)
        diverged.mark_end(ax, run, df["step"], df[col])
        rows += [{"run": name, "run_id": run.run_id, "status": run.status.get("status"), "step": int(s), "metric": col,
                  "value": float(v)} for s, v in zip(df["step"], df[col])]
    ax.set_xlabel("step")
    ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
    ax.set_ylabel("training loss")
    ax.set_title(f"{len(stepped)} run(s) stepped {max((r.spec.steps for r in stepped.values()), default=0)} times")
    if not rows:
        ax.set_title("no run stepped here")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.text(0.5, 0.5, "every run over this machine's budget:\ncompiled only (right)", ha="center", va="center",
                transform=ax.transAxes)
    elif len(stepped) <= 8:
        legend_outside(ax, where="below")
    lines = [_cost_line(n, r.status) for n, r in list(compiled.items())[:_LISTED]]
    if len(compiled) > _LISTED:
        lines.append(f"... and {len(compiled) - _LISTED} more")
    side.axis("off")
    head = f"check tier: {len(compiled)} run(s) compiled only, not stepped (over this machine's budget)"
    side.text(0, 1, "\n".join(textwrap.wrap(head, 60) + [""] + lines or ["none"]), va="top", ha="left",
              fontsize=8, family="monospace", transform=side.transAxes)
    for name, run in compiled.items():
        cost = run.status.get("cost") or {}
        rows.append({"run": name, "run_id": run.run_id, "status": COMPILED_ONLY, "step": 0, "metric": "compiled_bytes",
                     "value": float(cost.get("compiled_bytes") or math.nan)})
    first = next(iter(ctx.runs), None)
    what = _ran(ctx, first) if first else ""
    fig.suptitle("\n".join([f"{ctx.figure.target}, check tier: what ran, not the paper's figure"]
                           + textwrap.wrap(what, 110)), fontsize=9)
    fig.tight_layout()
    diverged.banner(fig, ctx.runs)
    return FigureOutput(fig, pd.DataFrame(rows, columns=["run", "run_id", "status", "step", "metric", "value"]),
                        not_evaluated(ctx, len(stepped), len(compiled)))


def not_evaluated(ctx, n_stepped: int, n_compiled: int) -> dict[str, Any]:
    """Every metric of the figure as None with the reason (diverged.py's shape of a void metric)."""
    steps = sorted({int(r.spec.steps) for r in ctx.runs.values()})
    reason = (f"check tier: not evaluated ({n_stepped} run(s) stepped {'/'.join(map(str, steps)) or 0} times, "
              f"{n_compiled} compiled only, not stepped; no probes)")
    values: dict[str, Any] = {NOT_EVALUATED: reason}
    for name in type(ctx.plot).metrics:
        values[name] = None
        values[f"{name}__note"] = reason
    values["runs_stepped"], values["runs_compiled_only"] = n_stepped, n_compiled
    values["runs_diverged"] = int(np.sum([r.diverged for r in ctx.runs.values()]))
    return values
