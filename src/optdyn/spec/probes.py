"""Typed configs of probes: measurements on a finished run (its logged trajectory or its
checkpoints) that run as their own jobs and write a parquet table."""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import Field

from . import problems
from .base import Strict


class RiverProgress(Strict):
    """For a 2-D river-valley run: each logged iterate's projection onto the river (the
    projection flow of WSD Def. C.3), its distance to the river, and the time the reference flow
    needs from the projected start to the projected iterate (Thm 3.3's T~)."""

    kind: Literal["river_progress"]
    run: str  # a run of the same figure


ProbeSpec = Annotated[Union[(RiverProgress, *problems.collect("PROBES"))], Field(discriminator="kind")]
