"""Model and probe configs of the `ire` paper's own problems (see ``spec/problems/__init__.py``)."""

from __future__ import annotations

MODELS: tuple = ()
SELF_CONTAINED: tuple[str, ...] = ()
PROBES: tuple = ()
