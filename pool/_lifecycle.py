"""Shutdown helpers shared by the thread and process pools.

:func:`unstoppable` runs shutdown's steps where a ``KeyboardInterrupt``
cannot split them; :func:`forked_report` is what a pool's copy in a forked
child reports (it owns no worker, so it has nothing to shut down).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

from .ledger import ShutdownReport, Stats

T = TypeVar("T")

FORKED_STATS = Stats(0, 0, 0, 0, 0, 0, 0, 0)
"""The stats of a pool's copy in a forked child: it has no jobs."""


def forked_report() -> ShutdownReport:
    """The shutdown report of a pool's copy in a forked child: clean, nothing done."""
    return ShutdownReport(clean=True, elapsed=0.0, drained=(), canceled=(), abandoned=(),
                          stats=FORKED_STATS)


def unstoppable(steps: Callable[..., T], *args: Any) -> T:
    """Run ``steps(*args)`` in a thread of its own and wait for it.

    Shutdown moves many jobs in the ledger and wakes parked threads; a
    ``KeyboardInterrupt`` (which only the main thread receives) landing
    half-way through such a move would leave it half-done. Here it can only
    stop the caller's wait: the steps, each bounded, run to their end, and a
    later call finds them done. About 0.1 ms; other threads run the steps
    themselves.
    """
    if threading.current_thread() is not threading.main_thread():
        return steps(*args)  # no interrupt can reach this thread
    result: list[T] = []
    error: list[BaseException] = []

    def run() -> None:
        try:
            result.append(steps(*args))
        except BaseException as exc:  # handed to the caller
            error.append(exc)

    thread = threading.Thread(target=run, name="pool-shutdown", daemon=True)
    try:
        thread.start()
    except RuntimeError:  # at interpreter exit no thread can start: run them here
        return steps(*args)
    thread.join()
    if error:
        raise error[0]
    return result[0]
