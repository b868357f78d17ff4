"""Reference solution: notebook 08, "a pool with a ledger".

A minimal pool built from the stage functions: ``start_workers`` (notebook
04), its ``record=`` callback for the outcomes (03) and ``shutdown`` (05).
Check it in the notebook with ``check_pool(MyPool)``.
"""

from __future__ import annotations

import threading

from pool import Job, Outcome, shutdown, start_workers
from pool.worker import Process


class MyPool:
    """``MyPool(process, workers)``: submit jobs, shut down, read one outcome per finished job."""

    def __init__(self, process: Process, workers: int) -> None:
        self._lock = threading.Lock()
        self._outcomes: list[Outcome] = []
        # The workers start now, before any job arrives; each finished job
        # (succeeded, failed or stopped by its context) is recorded once.
        self._jobs, self._wg = start_workers(workers, process, record=self._record)

    def _record(self, outcome: Outcome) -> None:
        with self._lock:
            self._outcomes.append(outcome)

    @property
    def outcomes(self) -> list[Outcome]:
        """A copy of the outcomes so far, in the order the jobs ended."""
        with self._lock:
            return list(self._outcomes)

    def submit(self, job: Job) -> None:
        """Queue ``job``; raises ``pool.ChannelClosed`` once shutdown has begun."""
        self._jobs.send(job)

    def shutdown(self, timeout: float | None = None) -> bool:
        """Stop intake, wait up to ``timeout`` seconds; True if every worker finished."""
        return shutdown(self._jobs, self._wg, timeout)
