"""Snakemake's rescheduling timers, cancelled when a workflow ends.

Snakemake (9.27) arms a ``threading.Timer`` after each scheduling pass that leaves jobs waiting,
for its submission rate limit (``--max-jobs-per-timespan``), and each timer's pass arms the next:
the chains multiply with the jobs finished, and every pass re-evaluates every waiting job. The
default profile sets a long period so the chains cost ~nothing (docs/performance.md), but the
timers are ordinary threads and Python waits for them before it exits: without this, the
command would return only when the last one fired. The Snakefile's ``onsuccess`` and
``onerror`` hooks (a Ctrl-C ends in ``onerror`` too) call this once the jobs are done.
"""

from __future__ import annotations

import threading


def cancel_pending_timers() -> int:
    """Cancel every ``threading.Timer`` of this process that has not fired yet; how many."""
    pending = [t for t in threading.enumerate() if isinstance(t, threading.Timer) and t.is_alive()]
    for timer in pending:
        timer.cancel()
    return len(pending)
