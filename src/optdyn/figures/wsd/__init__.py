"""Figures and tables of the WSD / river-valley paper, one function per target."""

from .bigram import fig06, fig07
from .cities import sec4
from .decay_fraction import fig15
from .hybrids import fig09, tab01
from .landscape import fig05, fig12, fig13, fig14
from .oracle import fig01, fig08
from .river import fig03, fig04
from .schedules import fig02, tab02, tab03, tab04
from .versus_wsd import fig10, fig11

__all__ = ["fig02", "fig03", "fig04", "fig05", "fig12", "fig13", "fig14", "fig06", "fig07", "tab02", "tab03", "tab04",
           "fig10", "fig11", "fig15", "fig01", "fig08", "fig09", "tab01", "sec4"]
