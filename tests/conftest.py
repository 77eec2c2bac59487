"""Fixtures shared by the test modules.

A test process starts like a float32 job (x64 off). ``x64`` is the one way a test asks for
float64: it does what the CLI does at the start of a job that needs it,
``optdyn.precision.configure_process(True)``, and puts the switch back afterwards
(``x64_module``: the same for a module-scoped fixture, e.g. a float64 run trained once per module).
"""

from __future__ import annotations

import jax
import pytest

from optdyn.precision import configure_process


def _x64_configured():
    before = bool(jax.config.jax_enable_x64)
    configure_process(True)
    try:
        yield
    finally:
        configure_process(before)


x64 = pytest.fixture(_x64_configured, name="x64")
x64_module = pytest.fixture(_x64_configured, name="x64_module", scope="module")
