"""Figures of the `selfstab` paper, one function per target."""

from .ode import fig03
from .sharpening import fig01
from .toy import fig02

__all__ = ["fig01", "fig02", "fig03"]
