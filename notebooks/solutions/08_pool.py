"""Reference solution: notebook 08, "a pool that keeps the ledger rule".

``MyPool(process, workers)``: every submitted job ends in exactly one
outcome, also under a hung job. The plumbing (the channel, the WaitGroup,
the worker threads) is the stub's; the accounting is the exercise:

- a worker records each job it ran, with the status its end deserves;
- when shutdown's timeout passes, it ends the jobs still queued ``CANCELED``
  (they never run) and the jobs still running ``ABANDONED``;
- an abandoned job that finishes late is not recorded again;
- one lock makes "who records this job?" and the recording a single step,
  in the worker and in shutdown alike.

Check it in the notebook with ``check_pool(MyPool)``.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from pool import Canceled, Channel, ChannelClosed, DeadlineExceeded, Job, Outcome, Status, WaitGroup

log = logging.getLogger("pool")


class MyPool:
    """``MyPool(process, workers)``: submit jobs, shut down, read one outcome per job."""

    def __init__(self, process: Callable[[Job], Any], workers: int) -> None:
        self._process = process
        self._jobs: Channel[Job] = Channel(100)  # bounded: submit waits while it is full
        self._wg = WaitGroup()
        self._lock = threading.Lock()  # guards the three fields below
        self._outcomes: list[Outcome] = []  # one per job, in the order the jobs ended
        self._running: dict[str, tuple[int, float]] = {}  # job id -> (worker id, started at)
        self._gave_up = False  # True once shutdown's timeout has passed
        for worker_id in range(1, workers + 1):
            self._wg.add(1)
            threading.Thread(target=self._work, args=(worker_id,), daemon=True,
                             name=f"mypool-worker-{worker_id}").start()

    @property
    def outcomes(self) -> list[Outcome]:
        """A copy of the outcomes so far, in the order the jobs ended."""
        with self._lock:
            return list(self._outcomes)

    def submit(self, job: Job) -> None:
        """Queue ``job``, waiting while the buffer is full; ``ChannelClosed`` after shutdown."""
        self._jobs.send(job)

    def _work(self, worker_id: int) -> None:
        try:  # Go's `defer wg.Done()`
            for job in self._jobs:
                with self._lock:  # "start it" and "shutdown gave up" cannot cross
                    if self._gave_up:  # taken off the queue just as shutdown gave up
                        self._outcomes.append(Outcome(job.id, worker_id, Status.CANCELED,
                                                      finished_at=time.monotonic()))
                        continue
                    self._running[job.id] = (worker_id, time.monotonic())
                status, result, error = self._run(job)
                with self._lock:
                    started = self._running.pop(job.id, None)
                    if started is None:  # shutdown abandoned it: its one outcome exists
                        log.warning("job %s finished after shutdown abandoned it", job.id)
                        continue
                    self._outcomes.append(Outcome(job.id, worker_id, status, result, error,
                                                  started_at=started[1],
                                                  finished_at=time.monotonic()))
        finally:
            self._wg.done()

    def _run(self, job: Job) -> tuple[Status, Any, BaseException | None]:
        err = job.ctx.err()
        if err is not None:  # nobody waits for it any more: do not run it
            return (Status.TIMED_OUT if isinstance(err, DeadlineExceeded) else Status.CANCELED,
                    None, err)
        try:
            return Status.SUCCEEDED, self._process(job), None
        except DeadlineExceeded as exc:  # before Canceled's siblings: it is a TimeoutError too
            return Status.TIMED_OUT, None, exc
        except Canceled as exc:
            return Status.CANCELED, None, exc
        except BaseException as exc:  # SystemExit too: one job must not end the worker
            log.error("job %s failed: %r", job.id, exc, exc_info=exc)
            return Status.FAILED, None, exc

    def shutdown(self, timeout: float | None = None) -> bool:
        """Stop intake, wait up to ``timeout`` seconds; True if every job finished in time."""
        with contextlib.suppress(ChannelClosed):  # a second shutdown finds it closed
            self._jobs.close()  # no more jobs: each worker's loop ends once the queue is empty
        if self._wg.wait(timeout):
            return True
        now = time.monotonic()
        with self._lock:  # one step: the workers see either all of this or none of it
            self._gave_up = True
            while True:  # the jobs still queued will never run
                job, ok = self._jobs.recv(timeout=0)  # closed: never blocks
                if not ok or job is None:
                    break
                self._outcomes.append(Outcome(job.id, None, Status.CANCELED, finished_at=now))
            for job_id, (worker_id, started) in self._running.items():
                log.warning("job %s abandoned on worker %d", job_id, worker_id)
                self._outcomes.append(Outcome(job_id, worker_id, Status.ABANDONED,
                                              started_at=started, finished_at=now))
            self._running.clear()
        return False
