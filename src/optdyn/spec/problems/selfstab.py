"""Model and probe configs of the `selfstab` paper's own problems (see ``spec/problems/__init__.py``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ..base import Strict


class SelfstabToy(Strict):
    """App. B toy: L(x, y, z) = (2/eta + sqrt(beta) y) x^2/2 - (alpha/sqrt(beta)) y - z from
    (x0, 0, 0). GD on it with learning rate ``eta`` is eq. (3) exactly; ``eta`` is part of the
    loss, so it must equal the run's constant learning rate (the figure checks it)."""

    name: Literal["selfstab_toy"]
    eta: float = Field(gt=0)
    alpha: float = Field(1.0, gt=0)  # progressive-sharpening coefficient -grad L . grad S
    beta: float = Field(1.0, gt=0)  # ||grad S||^2, the self-stabilization strength
    x0: float = Field(0.1, gt=0)  # initial displacement along the unstable direction u = e_1 (its sign is irrelevant)


MODELS: tuple = (SelfstabToy,)
SELF_CONTAINED: tuple[str, ...] = ("selfstab_toy",)
PROBES: tuple = ()
