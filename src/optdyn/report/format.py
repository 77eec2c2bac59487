"""Plain formatting helpers shared by the report's modules: verdicts, values, slugs, badges."""

from __future__ import annotations

import math
import re
from html import escape
from typing import Any

PASS, FAIL, NE = "pass", "fail", "ne"
LABEL = {PASS: "PASS", FAIL: "FAIL", NE: "NOT EVALUATED"}


def verdict(passed: Any) -> str:
    """Map a claim's ``passed`` to pass/fail/ne; anything but a real boolean is 'ne'."""
    # Only a real boolean counts: a stray 1 or "yes" must never render as PASS.
    if isinstance(passed, bool) or type(passed).__name__ == "bool_":  # numpy.bool_ too
        return PASS if passed else FAIL
    return NE


def format_value(v: Any, *, max_items: int = 6) -> str:
    """Plain-text rendering of a claim/deviation value (not yet HTML-escaped)."""
    if v is None:
        return "—"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)  # exact: replica counts and step budgets must not round
    if isinstance(v, float):
        if math.isnan(v) or math.isinf(v):
            return str(v)
        if v.is_integer() and abs(v) < 1e6:
            return str(int(v))
        s = f"{v:.4g}"
        # 1e-05 -> 1e-5: shorter and matches how papers print exponents
        return re.sub(r"e([+-])0*(\d)", lambda m: "e" + m.group(1).replace("+", "") + m.group(2), s)
    if isinstance(v, (list, tuple)):
        items = [format_value(x, max_items=max_items) for x in v]
        if len(items) > max_items:
            head = ", ".join(items[: max_items - 2])
            tail = ", ".join(items[-2:])
            return f"[{head}, …, {tail}] (n={len(items)})"
        return "[" + ", ".join(items) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k}: {format_value(x, max_items=max_items)}" for k, x in v.items()) + "}"
    if hasattr(v, "item") and callable(v.item):  # numpy scalars sneaking in
        try:
            return format_value(v.item(), max_items=max_items)
        except (TypeError, ValueError):
            pass
    return str(v)


def val(v: Any) -> str:
    """A value as HTML: abridged, with the full value on hover when it was shortened."""
    text = format_value(v)
    if v is None:
        return '<span class="muted">—</span>'
    full = str(v)
    title = f' title="{escape(full)}"' if full != text and len(full) < 4000 else ""
    # Sequences may wrap; scalars stay on one line so "1e-5" never splits at the minus.
    cls = "val seq" if isinstance(v, (list, tuple, dict)) else "val"
    return f'<span class="{cls}"{title}>{escape(text)}</span>'


def slug(s: Any) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", str(s)).strip("-") or "x"


def badge(v: str) -> str:
    return f'<span class="badge {v}">{LABEL[v]}</span>'


def fig_status(claims: list[dict]) -> str:
    vs = [verdict(c.get("passed")) for c in claims]
    if FAIL in vs:
        return FAIL
    return PASS if vs and all(v == PASS for v in vs) else NE


def human_bytes(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e6 else f"{n / 1e3:.0f} kB"


def human_seconds(s: Any) -> str:
    if not isinstance(s, (int, float)) or isinstance(s, bool):
        return "—"
    return f"{s:.1f} s" if s < 120 else f"{s / 60:.1f} min"
