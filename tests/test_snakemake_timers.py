"""The Snakefile's end-of-workflow hooks cancel Snakemake's pending rescheduling timers, which
Python would otherwise wait for before the process exits."""

from __future__ import annotations

import threading
from pathlib import Path

from optdyn.snakemake_timers import cancel_pending_timers


def test_pending_timers_are_cancelled_without_firing():
    fired = []
    timers = [threading.Timer(600, fired.append, args=(i,)) for i in range(3)]
    for t in timers:
        t.start()
    assert cancel_pending_timers() >= 3
    for t in timers:
        t.join(timeout=5)
        assert not t.is_alive()
    assert fired == []


def test_a_fired_timer_is_not_counted():
    done = threading.Event()
    t = threading.Timer(0.0, done.set)
    t.start()
    t.join(timeout=5)
    assert done.is_set() and cancel_pending_timers() == 0


def test_the_snakefile_cancels_them_on_success_and_on_error():
    text = Path(__file__).resolve().parents[1].joinpath("Snakefile").read_text()
    for hook in ("onsuccess:", "onerror:"):
        body = text.split(hook, 1)[1].split("\n\n", 1)[0]
        assert "cancel_pending_timers()" in body, hook
