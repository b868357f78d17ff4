"""Reference solution: notebook 09, "drain on the first signal, cancel on the second".

``Stopper(pool, timeout)`` is a signal handler: ``signal.signal(SIGINT,
stopper)``. The first SIGINT/SIGTERM starts ``pool.shutdown(timeout)`` in a
thread of its own (a handler runs on the main thread and must return at
once); the second cancels the pool, so running jobs see ``job.ctx`` done and
queued ones never run; later ones change nothing. ``wait()`` gives the main
thread the shutdown's report.

Check it in the notebook with ``check_stopper(Stopper)``. Run as a script,
it is a small program wired that way: ``python 09_stopper.py``, then Ctrl-C.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType

from pool import Job, ShutdownReport, WorkerPool


class Stopper:
    """``Stopper(pool, timeout)``: a SIGINT/SIGTERM handler, and ``wait()`` for the report."""

    def __init__(self, pool: WorkerPool, timeout: float) -> None:
        self._pool = pool
        self._timeout = timeout
        self._lock = threading.Lock()  # a second signal may arrive while the first is handled
        self._signals = 0
        self._done = threading.Event()
        self._report: ShutdownReport | None = None

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        with self._lock:
            self._signals += 1
            n = self._signals
        if n == 1:  # graceful: stop intake, let queued and running jobs finish, within the bound
            threading.Thread(target=self._shut_down, name="stopper-shutdown", daemon=True).start()
        elif n == 2:  # impatient: running jobs see job.ctx done; queued ones never run
            self._pool.cancel()

    def _shut_down(self) -> None:
        try:
            self._report = self._pool.shutdown(timeout=self._timeout)
        finally:
            self._done.set()

    def wait(self, timeout: float | None = None) -> ShutdownReport | None:
        """The shutdown's report once it has finished; None if ``timeout`` passed first."""
        self._done.wait(timeout)
        return self._report


def main() -> int:  # pragma: no cover - run by hand
    def work(job: Job) -> str:
        job.ctx.sleep(1.0)  # a second of work that listens to its context
        return job.id

    pool = WorkerPool(work, workers=2)
    stopper = Stopper(pool, timeout=5.0)
    signal.signal(signal.SIGINT, stopper)
    signal.signal(signal.SIGTERM, stopper)
    for i in range(1, 11):
        pool.submit(Job(str(i)))
    print("10 jobs submitted; Ctrl-C drains, a second Ctrl-C cancels")
    while (report := stopper.wait(timeout=0.5)) is None:
        if pool.stats.queued == pool.stats.running == 0:
            stopper(signal.SIGTERM, None)  # all done: stop as if asked to
    print(report)
    return 0 if report.clean and not report.canceled else 3  # 3: jobs were cut short


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
