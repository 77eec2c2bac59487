"""Figures of the late-LR-decay paper (Ren, Ma, Ying 2024), one function per target."""

from .landscapes import fig03
from .late_decay import fig01toy
from .phase2 import fig04

__all__ = ["fig01toy", "fig03", "fig04"]
