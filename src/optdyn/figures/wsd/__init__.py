"""Figures and tables of the WSD / river-valley paper, one function per target."""

from .bigram import fig06, fig07
from .river import fig03, fig04
from .schedules import fig02, tab02, tab03, tab04

__all__ = ["fig02", "fig03", "fig04", "fig06", "fig07", "tab02", "tab03", "tab04"]
