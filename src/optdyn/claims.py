"""A claim check: the paper's statement, its number, ours, the tolerance, and an honest verdict."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from optdyn.spec.paper import Check, ClaimSpec


def describe(check: Check) -> str:
    if check.rel_tol is not None:
        return f"|ours - paper| <= {check.rel_tol:g} * |paper|"
    if check.abs_tol is not None:
        return f"|ours - paper| <= {check.abs_tol:g}"
    if check.at_least is not None:
        return f"ours >= {check.at_least:g}"
    if check.at_most is not None:
        return f"ours <= {check.at_most:g}"
    if check.ci_above is not None:
        return f"95% CI of the mean over seeds > {check.ci_above:g}"
    if check.ci_below is not None:
        return f"95% CI of the mean over seeds < {check.ci_below:g}"
    if check.equals:
        return "ours == paper"
    return "ours is true"


def check_type(check: Check) -> str:
    """What kind of evidence a check is: ``tolerance`` (within a stated distance of the paper's
    number), ``bound`` (past a threshold), ``sign`` (a threshold of 0: only the direction),
    ``exact``, ``boolean`` or ``ci`` (a seed interval excludes a value)."""
    if check.rel_tol is not None or check.abs_tol is not None:
        return "tolerance"
    if check.ci_above is not None or check.ci_below is not None:
        return "ci"
    if check.equals:
        return "exact"
    if check.is_true:
        return "boolean"
    bound = check.at_least if check.at_least is not None else check.at_most
    return "sign" if bound == 0 else "bound"


def ratio(ours: Any, paper: Any) -> float | None:
    """ours / paper for two finite numbers with paper != 0 (not for booleans or lists)."""
    if isinstance(ours, bool) or isinstance(paper, bool):
        return None
    if not (isinstance(ours, (int, float)) and isinstance(paper, (int, float))):
        return None
    if paper == 0 or not (math.isfinite(ours) and math.isfinite(paper)):
        return None
    return float(ours) / float(paper)


def verdict(check: Check, ours: Any, paper: Any, summary: dict | None = None) -> bool:
    """``summary`` (stats.summarize over seeds) is what ``ci_above`` / ``ci_below`` read."""
    if check.ci_above is not None or check.ci_below is not None:
        if summary is None:
            raise ValueError("a confidence-interval check needs seed replicates (`seeds:` on the figure or run)")
        lo, hi = (float(v) for v in summary["ci95"])
        if not (math.isfinite(lo) and math.isfinite(hi)):
            return False
        return lo > check.ci_above if check.ci_above is not None else hi < check.ci_below
    if check.equals:
        return _same(ours, paper)
    if check.is_true:
        return ours is True
    if check.rel_tol is not None or check.abs_tol is not None:
        return _close(ours, paper, check)
    x = float(ours)
    if not math.isfinite(x):
        return False
    if check.at_least is not None:
        return x >= check.at_least
    return x <= check.at_most


def _close(ours: Any, paper: Any, check: Check) -> bool:
    """Tolerances apply elementwise to lists (every element must be within tolerance)."""
    if isinstance(ours, (list, tuple)) or isinstance(paper, (list, tuple)):
        if not (isinstance(ours, (list, tuple)) and isinstance(paper, (list, tuple)) and len(ours) == len(paper)):
            return False
        return all(_close(a, b, check) for a, b in zip(ours, paper))
    x, p = float(ours), float(paper)
    if not math.isfinite(x):
        return False
    tol = check.abs_tol if check.abs_tol is not None else check.rel_tol * abs(p)
    return abs(x - p) <= tol


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        return math.isclose(a, b, rel_tol=1e-12, abs_tol=0.0)
    return a == b


def evaluate(claims: list[ClaimSpec], values: dict[str, Any]) -> list[dict]:
    out = []
    for claim in claims:
        row = {"id": claim.id, "claim": claim.statement, "statement": claim.statement, "source": claim.source,
               "metric": claim.metric, "paper_value": claim.paper, "tolerance": describe(claim.check),
               "kind": claim.kind, "check_type": check_type(claim.check), "ratio": None}
        if claim.expected_from:
            row["expected_from"] = claim.expected_from
        if values.get("__not_evaluated__"):  # the check tier's panel (figures/check_panel.py): nothing to check
            row.update(our_value=None, passed=None, evaluated=False, note=values["__not_evaluated__"])
        elif claim.metric not in values:
            row.update(our_value=None, passed=False, note=f"the figure did not compute '{claim.metric}'")
        else:
            ours = values[claim.metric]
            note = values.get(f"{claim.metric}__note", "")
            summary = values.get(f"{claim.metric}__summary")
            if summary is not None:
                row.update(n=summary["n"], sd=summary["sd"], ci95=summary["ci95"], ci_method=summary["ci_method"],
                           per_seed=values.get(f"{claim.metric}__seeds"))
            if ours is None:  # not measurable (e.g. its run diverged): a failure, with the figure's note
                passed, note = False, note or f"the figure could not compute '{claim.metric}'"
            else:
                try:
                    passed = verdict(claim.check, ours, claim.paper, summary)
                except (TypeError, ValueError) as exc:
                    passed, note = False, f"cannot compare: {exc}"
            if not passed and claim.known_failure:
                reason = "; ".join(claim.known_failure.values())
                note = f"{note}; expected at this tier: {reason}" if note else f"expected at this tier: {reason}"
            row.update(our_value=ours, passed=bool(passed), note=note, ratio=ratio(ours, claim.paper))
        row["pass/fail"] = "pass" if row["passed"] else "fail" if row.get("evaluated", True) else "not evaluated"
        out.append(row)
    return out


def write_claims(claims: list[ClaimSpec], values_file: Path, out: Path) -> list[dict]:
    rows = evaluate(claims, json.loads(Path(values_file).read_text()))
    out.write_text(json.dumps(rows, indent=2, default=str) + "\n")
    return rows
