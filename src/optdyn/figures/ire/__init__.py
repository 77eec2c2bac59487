"""Figures of the `ire` paper, one function per target."""

from .sam import tab06
from .toy import appA, fig01

__all__ = ["appA", "fig01", "tab06"]
