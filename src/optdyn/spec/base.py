"""The strict base class every typed config derives from.

Strict mode and ``extra="forbid"`` are what make a typo in a YAML file an error instead of a
silently ignored key (init2winit-style strict overrides).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)
