"""Figures of the `selfstab` paper, one function per target.

Each figure function is registered with ``@figure("selfstab", key)`` (``optdyn.registry``),
which imports every module of this package when a figure of the paper is looked up."""
