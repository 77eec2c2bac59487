"""Probes of the WSD / river-valley paper (found through ``optdyn.registry``): river progress
of the 2-D toys, loss landscapes between checkpoints and the per-city losses of Sec. 4."""

from __future__ import annotations

from . import cities, landscape, river  # noqa: F401  (their @probe_kind registrations)
