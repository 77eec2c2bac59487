"""Figures of the late-LR-decay paper (Ren, Ma, Ying 2024), one function per target.

Each figure function is registered with ``@figure("latedecay", key)`` (``optdyn.registry``),
which imports every module of this package when a figure of the paper is looked up."""
