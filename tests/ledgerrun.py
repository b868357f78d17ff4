"""What the hypothesis ledger tests of every engine share: how submitters offer jobs.

Each test subclasses :class:`SubmitRun` with its own ``job(i)`` (the job a
scenario's ``i``-th kind becomes) and drives the engine the same way:
submitters in threads, each submit a ``try_submit`` or a ``submit`` with a
timeout, every accepted future counted by a done callback.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from hypothesis import event

from pool import Job, JobFuture, PoolClosed


@dataclass(frozen=True)
class Submit:
    """How one job is offered: try_submit, or submit with ``timeout``."""

    use_try: bool
    timeout: float | None = None


class SubmitRun:
    """One scenario's submitters and what each of their submits did.

    ``scenario`` has ``kinds``, ``submits`` (a :class:`Submit` per job),
    ``submitters``, ``cancel``, ``shut_after``, ``timeout``, ``drain`` and
    ``grace``; ``pool`` is a pool of any engine.
    """

    def __init__(self, scenario: Any, pool: Any) -> None:
        self.scenario = scenario
        self.pool = pool
        self.progress = threading.Condition()
        self.started = 0  # submits started (guarded by progress)
        self.accepted: list[str] = []
        self.rejected: list[str] = []
        self.failures: list[str] = []
        self.futures: list[JobFuture] = []
        self.callbacks: Counter[str] = Counter()  # job id -> done callbacks run
        self.submitters = [
            threading.Thread(target=self.submitter, args=(n,), name=f"submitter-{n}",
                             daemon=True) for n in range(scenario.submitters)]
        self.canceller: threading.Thread | None = None

    def submit_and_shut_down(self) -> tuple[Any, float]:
        """Start the submitters, cancel and shut down where the scenario says.

        ``scenario.cancel`` is ``(when, count)``: ``"before"`` the shutdown
        (after ``count`` submits), ``"during"`` it or ``"after"`` it. Returns
        the report and how long ``shutdown`` took.
        """
        scenario, pool = self.scenario, self.pool
        for t in self.submitters:
            t.start()
        when, count = scenario.cancel
        if when == "before" and count <= scenario.shut_after:
            self.wait_for_submits(count)
            pool.cancel()
        self.wait_for_submits(scenario.shut_after)
        if when == "during":
            self.canceller = threading.Thread(target=pool.cancel, name="canceller", daemon=True)
            self.canceller.start()
        start = time.monotonic()
        report = pool.shutdown(scenario.timeout, drain=scenario.drain, grace=scenario.grace)
        elapsed = time.monotonic() - start
        if when == "after":
            pool.cancel()
        return report, elapsed

    def job(self, i: int) -> Job:
        """The job the scenario's ``i``-th kind becomes."""
        raise NotImplementedError

    def submitter(self, n: int) -> None:
        for i in range(n, len(self.scenario.kinds), self.scenario.submitters):
            job = self.job(i)
            how = self.scenario.submits[i]
            with self.progress:
                self.started += 1
                self.progress.notify_all()
            future: JobFuture | None
            try:
                if how.use_try:
                    future = self.pool.try_submit(job)
                else:
                    future = self.pool.submit(job, timeout=how.timeout)
            except (PoolClosed, TimeoutError):
                future = None
            except BaseException as exc:
                with self.progress:
                    self.failures.append(f"{job.id}: {exc!r}")
                continue
            with self.progress:
                if future is None:
                    self.rejected.append(job.id)
                else:
                    self.accepted.append(job.id)
                    self.futures.append(future)
            if future is not None:
                future.add_done_callback(self.count_done)
            time.sleep(0)  # let the main thread in, so shutdown lands among the submits

    def count_done(self, future: Future[Any]) -> None:
        """Done callback: count how many times each job's future calls back."""
        with self.progress:
            self.callbacks[future.job_id] += 1  # type: ignore[attr-defined]

    def wait_for_submits(self, count: int) -> None:
        """Wait until ``count`` submits have started (bounded: submitters may be blocked)."""
        with self.progress:
            if not self.progress.wait_for(lambda: self.started >= count, timeout=0.2):
                event("submitters all blocked before the shutdown point")
