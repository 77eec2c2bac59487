"""The `selfstab` paper's own problems as ``Problem``s (see ``models/registry.py``)."""

from __future__ import annotations

BUILDERS: dict = {}
