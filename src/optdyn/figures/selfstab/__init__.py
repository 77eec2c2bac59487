"""Figures of the `selfstab` paper, one function per target."""

from .lr_speed import fig06
from .multi_eig import fig05
from .ode import fig03
from .sharpening import fig01
from .toy import fig02
from .tracking import fig04

__all__ = ["fig01", "fig02", "fig03", "fig04", "fig05", "fig06"]
