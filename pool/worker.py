"""Stage 2: the worker, a loop that takes jobs until the channel closes.

Go::

    func worker(id int, jobs <-chan Job, wg *sync.WaitGroup) {
        defer wg.Done()               // whatever happens, shutdown can count us out
        for job := range jobs {       // until close(jobs) and the buffer is empty
            if err := process(job); err != nil {
                log.Printf("job %s failed: %v", job.ID, err)  // log, and go on
            }
        }
    }

In Python an error is an exception, so "log and go on" is a ``try`` around
each job, and ``defer wg.Done()`` is a ``try``/``finally`` around the loop.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from ._validate import check_callable, type_name
from .context import Canceled, DeadlineExceeded
from .job import Job, Outcome, Status
from .waitgroup import WaitGroup

__all__ = ["Process", "Record", "call", "context_status", "current_worker_id", "execute", "worker"]

log = logging.getLogger("pool")

_SUCCEEDED = Status.SUCCEEDED

_local = threading.local()  # which worker runs this thread (set by worker() and WorkerPool)


def current_worker_id() -> int | None:
    """The id of the worker running the calling thread, or ``None`` outside a worker.

    Lets ``process(job)`` say which worker it runs on (the demo prints
    "Worker 2 started job 4"). Works under :func:`worker`,
    :func:`~pool.start_workers` and :class:`~pool.WorkerPool`. Never blocks.
    """
    return getattr(_local, "worker_id", None)

Process = Callable[[Job], Any]
"""What a worker calls for each job; its return value becomes the outcome's result."""
Record = Callable[[Outcome], None]
"""What a worker calls once with each job's outcome."""


def context_status(err: BaseException | None) -> Status:
    """``TIMED_OUT`` for a ``DeadlineExceeded``, ``CANCELED`` for anything else."""
    return Status.TIMED_OUT if isinstance(err, DeadlineExceeded) else Status.CANCELED


def execute(job: Job, process: Process,
            worker_id: int | None = None) -> tuple[Status, Any, BaseException | None, bool]:
    """Run one job; return ``(status, result, error, ran)``. Never raises.

    A job whose context is already done is not run: it ends ``CANCELED``
    or ``TIMED_OUT`` with ``ran`` False. Otherwise see :func:`call`.
    """
    err = job.ctx.err()
    if err is not None:
        return context_status(err), None, err, False
    status, result, error = call(job, process, worker_id)
    return status, result, error, True


def call(job: Job, process: Process,
         worker_id: int | None = None) -> tuple[Status, Any, BaseException | None]:
    """Call ``process(job)``; return ``(status, result, error)``. Never raises.

    An exception, even ``SystemExit``, ends the job ``FAILED`` and is
    logged on the ``pool`` logger with the job id; ``DeadlineExceeded`` and
    ``Canceled`` end it ``TIMED_OUT`` and ``CANCELED``. Log records carry
    ``job_id`` and ``worker_id`` attributes (``%(job_id)s`` in a format).
    """
    try:
        return _SUCCEEDED, process(job), None
    except (Canceled, DeadlineExceeded) as exc:
        # A context error means the job stopped because it was told to:
        # worth a line in the log, not an error.
        log.info("job %s stopped: %s", job.id, exc,
                 extra={"job_id": job.id, "worker_id": worker_id})
        return context_status(exc), None, exc
    except BaseException as exc:
        # SystemExit and KeyboardInterrupt too: one job must not end the worker.
        log.error("job %s failed: %r", job.id, exc, exc_info=exc,
                  extra={"job_id": job.id, "worker_id": worker_id})
        return Status.FAILED, None, exc


def worker(
    worker_id: int,
    jobs: Iterable[Job],
    wg: WaitGroup,
    process: Process,
    *,
    record: Record | None = None,
) -> None:
    """Take jobs from ``jobs`` until it is closed and drained, running ``process`` on each.

    Blocks the calling thread for the life of the channel; run it in a
    thread of its own. Each job ends in exactly one :class:`Outcome`,
    passed to ``record`` if given (an exception from ``record`` is logged,
    not raised). ``wg.done()`` is called exactly once, whatever happens,
    even if the arguments are wrong: then the ``TypeError`` is raised after it.

    This stage has no view of when a job was sent, so ``queued_at`` is the
    moment the worker received it; :class:`~pool.WorkerPool` records the
    real submit time.
    """
    if not callable(getattr(wg, "done", None)):
        raise TypeError(f"wg must be a WaitGroup, got {type_name(wg)}")
    try:
        if isinstance(worker_id, bool) or not isinstance(worker_id, int):
            raise TypeError(f"worker_id must be an int, got {type_name(worker_id)}")
        check_callable(process, "process")
        if record is not None:
            check_callable(record, "record")
        _local.worker_id = worker_id
        received = time.monotonic
        for job in jobs:
            queued_at = received()
            if not isinstance(job, Job):
                error: BaseException = TypeError(f"jobs must yield pool.Job, got {type_name(job)}")
                log.error("worker %d got a non-job %r", worker_id, job,
                          extra={"job_id": None, "worker_id": worker_id})
                outcome = Outcome(repr(job)[:80], worker_id, Status.FAILED, None, error,
                                  queued_at, None, received())
            else:
                started = received()
                status, result, error_, ran = execute(job, process, worker_id)
                outcome = Outcome(job.id, worker_id, status, result, error_, queued_at,
                                  started if ran else None, received())
            if record is not None:
                try:
                    record(outcome)
                except BaseException:  # even SystemExit: the worker must go on
                    log.exception("record() failed for job %s", outcome.job_id,
                                  extra={"job_id": outcome.job_id, "worker_id": worker_id})
    finally:
        wg.done()
