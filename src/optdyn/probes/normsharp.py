"""Probes of the `normsharp` paper (see ``probes/__init__.py``)."""

from __future__ import annotations

KINDS: dict = {}
