"""Generic curvature probes on a run's checkpoints (built on ``probes/curvature.py``)."""

from __future__ import annotations

KINDS: dict = {}
