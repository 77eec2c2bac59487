"""Probes of the `selfstab` paper (see ``probes/__init__.py``)."""

from __future__ import annotations

KINDS: dict = {}
