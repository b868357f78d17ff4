"""Reference solution for the exercise in notebook 03: a worker of your own.

``my_worker(worker_id, jobs, wg, process, *, record=None)`` takes jobs from
``jobs`` until the channel is closed and drained, calls ``process(job)`` on
each, hands ``record`` one ``Outcome`` per job, survives a job that raises
(even ``SystemExit``), and calls ``wg.done()`` exactly once, however it ends.

Check it with ``pool.checks.check_worker(my_worker)``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

from pool import DeadlineExceeded, Job, Outcome, Status, WaitGroup

log = logging.getLogger("pool")


def my_worker(
    worker_id: int,
    jobs: Iterable[Job],
    wg: WaitGroup,
    process: Callable[[Job], Any],
    *,
    record: Callable[[Outcome], None] | None = None,
) -> None:
    try:  # Go's `defer wg.Done()`: the finally runs however the loop ends
        for job in jobs:  # Go's `for job := range jobs`: ends once closed and drained
            received = time.monotonic()
            err = job.ctx.err()
            if err is not None:  # nobody waits for this job any more: do not run it
                status = Status.TIMED_OUT if isinstance(err, DeadlineExceeded) else Status.CANCELED
                outcome = Outcome(job.id, worker_id, status, None, err,
                                  received, None, time.monotonic())
            else:
                try:
                    result = process(job)
                except BaseException as exc:  # SystemExit too: one job must not end the worker
                    log.error("job %s failed: %r", job.id, exc, exc_info=exc)
                    outcome = Outcome(job.id, worker_id, Status.FAILED, None, exc,
                                      received, received, time.monotonic())
                else:
                    outcome = Outcome(job.id, worker_id, Status.SUCCEEDED, result, None,
                                      received, received, time.monotonic())
            if record is not None:
                record(outcome)
    finally:
        wg.done()
