"""Figures of the `normsharp` paper, one function per target."""

from .hamiltonian import fig05
from .linreg import fig04
from .matrix import fig01, fig06, fig07, fig11
from .toy import fig03

__all__ = ["fig01", "fig03", "fig04", "fig05", "fig06", "fig07", "fig11"]
