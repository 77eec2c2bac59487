"""Figures and tables of the WSD / river-valley paper, one function per target."""

from .schedules import fig02, tab02, tab03, tab04

__all__ = ["fig02", "tab02", "tab03", "tab04"]
