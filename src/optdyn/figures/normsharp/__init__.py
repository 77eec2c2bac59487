"""Figures of the `normsharp` paper, one function per target."""
