"""Figures and tables of the WSD / river-valley paper, one function per target.

Each figure function is registered with ``@figure("wsd", key)`` (``optdyn.registry``),
which imports every module of this package when a figure of the paper is looked up."""
