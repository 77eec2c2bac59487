"""Typed configs of each paper's own problems (toy losses, small analytic models) and probes.

Each module ``spec/problems/<paper>.py`` exports
  ``MODELS``: model config classes (pydantic, a ``name: Literal[...]`` discriminator each),
  ``SELF_CONTAINED``: the names among them that take no ``data`` entry (their data is part of
  the problem, e.g. a synthetic matrix-completion instance drawn from the model's seed),
  ``PROBES``: probe config classes (a ``kind: Literal[...]`` discriminator each).
``spec/components.py`` and ``spec/probes.py`` join them into the spec's tagged unions, so adding
a problem never touches another paper's file.
"""

from __future__ import annotations

import importlib

MODULES = ("normsharp", "latedecay", "ire", "selfstab")


def collect(attr: str) -> tuple:
    return tuple(x for m in MODULES for x in getattr(importlib.import_module(f"{__name__}.{m}"), attr))
