"""Figures of the `ire` paper, one function per target.

Each figure function is registered with ``@figure("ire", key)`` (``optdyn.registry``),
which imports every module of this package when a figure of the paper is looked up."""
