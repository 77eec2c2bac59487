"""Fixtures shared by the test modules.

A test process starts like a float32 job (x64 off). ``x64`` is the one way a test asks for
float64: it does what the CLI does at the start of a job that needs it,
``optdyn.precision.configure_process(True)``, and puts the switch back afterwards
(``x64_module``: the same for a module-scoped fixture, e.g. a float64 run trained once per module).

The suite runs on every core (``-n logical --dist loadfile --no-loadscope-reorder`` in
pyproject.toml): each test module
stays on one worker, so its module-scoped fixtures are built once. ``-n 0`` runs it in one process
(needed with ``-s``, whose output xdist does not pass through).
"""

from __future__ import annotations

import os

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


# The whole `tiny` DAG (test_workflow.py) is over a third of the suite's time. Workers take
# modules in collection order (--no-loadscope-reorder: xdist would otherwise sort modules by their
# number of tests, which started this 8-test module 6 minutes late), so it is collected first and
# overlaps everything else; modules with slow tests come next, so no long module starts last.
_FIRST_MODULES = ("test_workflow.py",)


def _module_rank(item, slow_modules) -> int:
    if item.path.name in _FIRST_MODULES:
        return 0
    return 1 if item.path in slow_modules else 2


def pytest_collection_modifyitems(config, items):
    slow_modules = {item.path for item in items if item.get_closest_marker("slow")}
    # A stable sort on the module alone keeps each module's tests in their own order and together.
    items.sort(key=lambda item: _module_rank(item, slow_modules))


def pytest_xdist_auto_num_workers(config):
    """One worker per CPU this process may run on (its affinity), not per CPU of the host, which
    psutil would count inside a container pinned to a few cores."""
    return len(os.sched_getaffinity(0))
