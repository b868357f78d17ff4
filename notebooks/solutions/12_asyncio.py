"""Notebook 12, exercise: an asyncio worker pool with a TaskGroup and a bounded shutdown.

``await run_pool(process, jobs, workers, timeout)`` runs ``await process(job)``
for every job on ``workers`` worker tasks fed by an ``asyncio.Queue``, shuts
down within ``timeout`` and returns ``{job.id: "succeeded" | "failed" |
"canceled"}`` with every job exactly once.
"""

from __future__ import annotations

import asyncio
from typing import Any

from pool import Job


async def run_pool(process: Any, jobs: list[Job], workers: int,
                   timeout: float) -> dict[str, str]:
    queue: asyncio.Queue[Job] = asyncio.Queue()
    for job in jobs:
        queue.put_nowait(job)
    # Every job starts out "canceled": one still queued when the workers are
    # cancelled keeps it, and so does the job a worker was running then.
    status = dict.fromkeys((job.id for job in jobs), "canceled")

    async def worker() -> None:
        # All jobs are queued up front, so an empty queue means "no more jobs":
        # Go's `range jobs` on a closed channel.
        while not queue.empty():
            job = queue.get_nowait()
            try:
                await process(job)
            except Exception:           # not BaseException: a CancelledError must end the worker
                status[job.id] = "failed"   # a job's error never ends the pool
            else:
                status[job.id] = "succeeded"

    async with asyncio.TaskGroup() as tg:
        tasks = [tg.create_task(worker()) for _ in range(workers)]
        # Shut down: wait at most `timeout` for the workers (Go: wg.Wait in a select
        # with a timer), then cancel the ones still running. Leaving the TaskGroup
        # waits for the cancelled workers to end.
        _, still_running = await asyncio.wait(tasks, timeout=timeout)
        for task in still_running:
            task.cancel()
    return status
