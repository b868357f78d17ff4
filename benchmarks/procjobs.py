"""The jobs of ``benchmarks.processes``, in a module of their own.

Worker processes import a pool's ``process`` by name; keeping the jobs here,
with nothing else to import, means a new worker is ready as soon as the pool
can make one, so the benchmark times the pool and not this module's imports.
"""

from __future__ import annotations

import time

from pool import Job


def noop(_: object) -> None:
    return None


def work(job: Job) -> int:
    """A fixed amount of CPU work: ``int(job.payload)`` loops of integer arithmetic."""
    return loops(int(job.payload))


def loops(n: int) -> int:
    """``n`` loops of integer arithmetic (``work`` for ProcessPoolExecutor)."""
    total = 0
    for i in range(n):
        total = (total + i * i) % 1_000_003
    return total


def hang(job: Job) -> None:
    time.sleep(60)
