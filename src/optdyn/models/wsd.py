"""Problems of the WSD / river-valley paper (found through ``optdyn.registry``): the 2-D toy
losses, the city -> name bigram model and the decoder-only language models."""

from __future__ import annotations

from . import bigram, toy  # noqa: F401  (their @problem_builder registrations)
from .lm import problem  # noqa: F401
