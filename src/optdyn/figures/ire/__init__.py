"""Figures of the `ire` paper, one function per target."""
