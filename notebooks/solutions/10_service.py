"""Reference solution: notebook 10, "the heart of a service".

Two functions a request handler and a SIGTERM handler call:
``handle(pool, job)`` answers one request with ``(status, body)``, and
``stop(pool, timeout)`` drains the pool with a bound. Check them in the
notebook with ``check_service(handle, stop)``.
"""

from __future__ import annotations

from concurrent.futures import CancelledError
from typing import Any

from pool import Abandoned, Job, PoolClosed, ShutdownReport, WorkerPool


def handle(pool: WorkerPool, job: Job) -> tuple[int, dict[str, Any]]:
    """Run ``job`` for one request; return ``(HTTP status, JSON body)``."""
    try:
        future = pool.try_submit(job)  # never waits
    except PoolClosed:  # stop() has begun: intake is closed
        return 503, {"error": "draining"}
    if future is None:  # full: nothing was queued
        return 429, {"error": "busy, retry later"}
    try:
        # No timeout needed: stop() is bounded, and a shutdown resolves every
        # future, also those of jobs that never ran or were abandoned.
        return 200, {"result": future.result()}
    except CancelledError:  # the job never ran: shutdown dropped it from the queue
        return 503, {"error": "not run: shutting down"}
    except Abandoned:  # still running when shutdown gave up on it
        return 503, {"error": "abandoned: shutting down"}
    except Exception as exc:  # the job raised
        return 500, {"error": f"{type(exc).__name__}: {exc}"}


def stop(pool: WorkerPool, timeout: float) -> ShutdownReport:
    """Stop intake at once, drain the accepted jobs, give up after ``timeout`` (+ 0.1 s grace)."""
    return pool.shutdown(timeout=timeout)
