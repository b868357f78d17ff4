"""Reference solution for the exercise in notebook 04: a dispatcher of your own.

``my_start_workers(num_workers, process, *, buffer=100, record=None,
daemon=True)`` makes a channel with room for ``buffer`` waiting jobs, counts
each worker in a WaitGroup *before* starting its thread, starts
``num_workers`` threads running ``pool.worker`` and returns ``(jobs, wg)`` at
once, without waiting for the workers.

Check it with ``pool.checks.check_start_workers(my_start_workers)``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from pool import Channel, Job, Outcome, WaitGroup, worker


def my_start_workers(
    num_workers: int,
    process: Callable[[Job], Any],
    *,
    buffer: int = 100,
    record: Callable[[Outcome], None] | None = None,
    daemon: bool = True,
) -> tuple[Channel[Job], WaitGroup]:
    jobs: Channel[Job] = Channel(buffer)
    wg = WaitGroup()
    for worker_id in range(1, num_workers + 1):
        wg.add(1)  # before start(): a shutdown that comes at once must still wait for it
        threading.Thread(
            target=worker,
            args=(worker_id, jobs, wg, process),
            kwargs={"record": record},
            name=f"my-worker-{worker_id}",
            daemon=daemon,
        ).start()
    return jobs, wg
