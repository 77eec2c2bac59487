"""The report's table of each run's memory and cost (the ``check`` tier: docs/check-tier.md).

A check-tier run records its cost in ``provenance.json`` under ``cost`` (``train/compile_only.py``):
the estimate per device at the paper's shapes, XLA's compiled memory where the run was only
compiled, FLOPs per step and in total, and the smallest configured device it fits. Runs of
other tiers record none, and the report then has no such section.
"""

from __future__ import annotations

import json
from html import escape
from pathlib import Path

_HEAD = ("Run", "Used by", "Ran", "Params", "Estimate / device", "XLA compiled", "Estimate / XLA", "FLOP / step",
         "FLOP, the run's steps", "Smallest device", "Notes")


def run_cost(files: dict[str, str]) -> dict | None:
    """The ``cost`` a run's provenance records, or None."""
    path = files.get("provenance")
    if not path or not Path(path).is_file():
        return None
    return json.loads(Path(path).read_text()).get("cost")


def _bytes(n) -> str:
    from optdyn.train.cost import human

    return human(float(n)) if isinstance(n, (int, float)) else "—"


def _flops(n) -> str:
    from optdyn.train.cost import human

    return human(float(n), "") if isinstance(n, (int, float)) and n else "—"


def cost_rows(entries: list[dict]) -> list[dict]:
    """One row per run with a recorded cost, in the report's figure order, each run once."""
    seen: dict[str, dict] = {}
    for e in entries:
        for name, rid in (e.get("runs") or {}).items():
            cost = (e.get("costs") or {}).get(rid)
            if cost is None:
                continue
            row = seen.setdefault(rid, {"run_id": rid, "cost": cost, "used_by": []})
            row["used_by"].append(f"{e.get('paper')}_{e.get('figure')}:{name}")
    return list(seen.values())


def cost_section(entries: list[dict]) -> str:
    """The HTML section (empty where no run recorded its cost)."""
    rows = cost_rows(entries)
    if not rows:
        return ""
    body = []
    for r in rows:
        c = r["cost"]
        if "error" in c:
            cells = [r["run_id"], ", ".join(r["used_by"][:3]), c.get("ran", "stepped"), "", "", "", "", "", "", "", c["error"]]
        else:
            ratio = c.get("estimate_over_compiled")
            cells = [r["run_id"], ", ".join(r["used_by"][:3]) + (f" (+{len(r['used_by']) - 3})" if len(r["used_by"]) > 3 else ""),
                     str(c.get("ran", "")).replace("_", " "), _flops(c.get("params")), _bytes(c.get("estimate_bytes")),
                     _bytes(c.get("compiled_bytes")), f"{ratio:.2f}" if isinstance(ratio, (int, float)) else "—",
                     _flops(c.get("flops_step")), _flops(c.get("flops_total")), str(c.get("smallest_device", "")),
                     "; ".join(c.get("notes") or [])]
        body.append("<tr>" + "".join(f"<td>{escape(str(x))}</td>" for x in cells) + "</tr>")
    n_compiled = sum(1 for r in rows if r["cost"].get("ran") == "compiled_only")
    head = "".join(f"<th>{h}</th>" for h in _HEAD)
    return (f'<h2 id="costs">Memory and cost of each run</h2><details class="costs" open><summary>{len(rows)} runs: '
            f'{len(rows) - n_compiled} stepped, {n_compiled} compiled only (over this machine\'s budget). The estimate is '
            'per device at the paper\'s shapes (train/cost.py); "XLA compiled" is the compiled step\'s memory analysis on '
            'this machine\'s backend, where the run was compiled.</summary><div class="table-wrap"><table class="costs">'
            f'<thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table></div></details>')
