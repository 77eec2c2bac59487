"""Figures of the `latedecay` paper, one function per target."""
