"""Fixtures shared by the test modules."""

from __future__ import annotations

import jax
import pytest


@pytest.fixture
def x64():
    """float64 inside one test only. The trainer switches ``jax_enable_x64`` globally for a
    float64 run, so the previous value is put back too, whatever the test did in between."""
    before = jax.config.jax_enable_x64
    with jax.enable_x64(True):
        yield
    jax.config.update("jax_enable_x64", before)
