"""Figures of the `selfstab` paper, one function per target."""
