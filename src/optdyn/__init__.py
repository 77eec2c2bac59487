"""optdyn: a declarative reproduction pipeline for optimization-dynamics papers."""

__version__ = "0.1.0"
