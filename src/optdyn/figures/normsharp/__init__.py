"""Figures of the `normsharp` paper, one function per target.

Each figure function is registered with ``@figure("normsharp", key)`` (``optdyn.registry``),
which imports every module of this package when a figure of the paper is looked up."""
