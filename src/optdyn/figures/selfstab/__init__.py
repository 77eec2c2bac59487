"""Figures of the `selfstab` paper, one function per target."""

from .ode import fig03
from .toy import fig02

__all__ = ["fig02", "fig03"]
