"""Answers to notebook 08's exercise, right and wrong, as a learner could write them.

The exercise asks for ``MyPool(process, workers)`` with ``submit``,
``shutdown(timeout)`` and ``outcomes`` that keeps the ledger rule under a
hung job (see ``pool.checks.check_pool``). ``RIGHT`` holds correct answers
in other styles; ``WRONG`` holds one answer per mistake the notebook warns
about, and a few more a learner could well write, each with the scenarios it
must fail and a phrase the hint of the first one must contain (the name of
the mistake). ``tests/test_check_pool.py`` runs them all through the checker.

Most wrong answers are the plain right one (``Ledgered``) with one method
written the wrong way, so each shows exactly one mistake.
"""

from __future__ import annotations

import collections
import contextlib
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pool import (
    Canceled,
    Channel,
    ChannelClosed,
    ContextError,
    DeadlineExceeded,
    Job,
    Outcome,
    Status,
    WaitGroup,
    WorkerPool,
)

Process = Callable[[Job], Any]

# -- the scenarios, as check_pool prints them (after "pool ") ---------------------------------

DRAINS = ("runs each job once, at most `workers` at a time, and drains the queue at shutdown")
RAISES = "keeps running after a job raises, even SystemExit"
LEDGER = "records one outcome per job, with its status (the ledger)"
FULL = "makes submit wait while the buffer is full, never drops a job"
ONE_TIMEOUT = "gives up on hung jobs after one timeout (0.2 s), however many hang"
ABANDONS = "records a job running at the timeout ABANDONED, once, even when it finishes late"
QUEUED = "records jobs still queued at the timeout CANCELED and never runs them"
RACE = "keeps one outcome per job when jobs finish while shutdown gives up"
REFUSES = "refuses jobs after shutdown"
SCENARIOS = (DRAINS, RAISES, LEDGER, FULL, ONE_TIMEOUT, ABANDONS, QUEUED, RACE, REFUSES)


def status_of(job: Job, process: Process) -> tuple[Status, Any, BaseException | None]:
    """Run one job the right way: its context first, every exception caught, the right status."""
    err = job.ctx.err()
    if err is not None:
        return (Status.TIMED_OUT if isinstance(err, DeadlineExceeded) else Status.CANCELED,
                None, err)
    try:
        return Status.SUCCEEDED, process(job), None
    except DeadlineExceeded as exc:
        return Status.TIMED_OUT, None, exc
    except Canceled as exc:
        return Status.CANCELED, None, exc
    except BaseException as exc:
        return Status.FAILED, None, exc


# -- the plain right answer, and the base of most wrong ones -------------------------------------


class Ledgered:
    """The notebook's stub, filled in: channel + WaitGroup + one lock over the ledger."""

    def __init__(self, process: Process, workers: int) -> None:
        self._process = process
        self._jobs: Channel[Job] = Channel(100)
        self._wg = WaitGroup()
        self._lock = threading.Lock()
        self._outcomes: list[Outcome] = []
        self._running: dict[str, int] = {}
        self._gave_up = False
        self._threads = []
        for worker_id in range(1, workers + 1):
            self._wg.add(1)
            t = threading.Thread(target=self._work, args=(worker_id,), daemon=True)
            self._threads.append(t)
            t.start()

    @property
    def outcomes(self) -> list[Outcome]:
        with self._lock:
            return list(self._outcomes)

    def submit(self, job: Job) -> None:
        self._jobs.send(job)

    def _run(self, job: Job) -> tuple[Status, Any, BaseException | None]:
        return status_of(job, self._process)

    def _work(self, worker_id: int) -> None:
        try:
            for job in self._jobs:
                with self._lock:
                    if self._gave_up:
                        self._outcomes.append(Outcome(job.id, worker_id, Status.CANCELED))
                        continue
                    self._running[job.id] = worker_id
                status, result, error = self._run(job)
                self._finish(job, worker_id, status, result, error)
        finally:
            self._wg.done()

    def _finish(self, job: Job, worker_id: int, status: Status, result: Any,
                error: BaseException | None) -> None:
        with self._lock:
            if self._running.pop(job.id, None) is None:
                return  # abandoned: a late finish is not counted again
            self._outcomes.append(Outcome(job.id, worker_id, status, result, error))

    def _close(self) -> None:
        with contextlib.suppress(ChannelClosed):
            self._jobs.close()

    def _wait(self, timeout: float | None) -> bool:
        return self._wg.wait(timeout)

    def _queued(self) -> list[Job]:
        """Take every job still in the channel (it never blocks: it stops when empty)."""
        taken = []
        while True:
            try:
                job, ok = self._jobs.recv(timeout=0)
            except TimeoutError:  # open and empty
                break
            if not ok or job is None:
                break
            taken.append(job)
        return taken

    def _give_up(self) -> None:
        with self._lock:
            self._gave_up = True
            for job in self._queued():
                self._outcomes.append(Outcome(job.id, None, Status.CANCELED))
            for job_id, worker_id in self._running.items():
                self._outcomes.append(Outcome(job_id, worker_id, Status.ABANDONED))
            self._running.clear()

    def shutdown(self, timeout: float | None = None) -> bool:
        self._close()
        if self._wait(timeout):
            return True
        self._give_up()
        return False


# -- right answers, other styles ----------------------------------------------------------------


@dataclass
class Report:
    """A learner's own report: what shutdown abandoned, like pool.ShutdownReport."""

    clean: bool
    abandoned: list[Outcome] = field(default_factory=list)
    canceled: list[Outcome] = field(default_factory=list)


class CondPool:
    """No Channel, no WaitGroup: a deque and a Condition; a while loop; a report; str statuses."""

    @dataclass(frozen=True)
    class Rec:
        job_id: str
        status: str

    def __init__(self, process: Process, workers: int) -> None:
        self.process = process
        self.cond = threading.Condition()
        self.queue: collections.deque[Job] = collections.deque()
        self.capacity = 50
        self.closed = False
        self.gave_up = False
        self.running: set[str] = set()
        self.live = workers
        self.outcomes: list[CondPool.Rec] = []
        for _ in range(workers):
            threading.Thread(target=self.work, daemon=True).start()

    def submit(self, job: Job) -> None:
        with self.cond:
            while len(self.queue) >= self.capacity and not self.closed:
                self.cond.wait()
            if self.closed:
                raise RuntimeError("pool is shut down")
            self.queue.append(job)
            self.cond.notify_all()

    def work(self) -> None:
        while True:
            with self.cond:
                while not self.queue and not self.closed:
                    self.cond.wait()
                if not self.queue:  # closed and drained
                    self.live -= 1
                    self.cond.notify_all()
                    return
                job = self.queue.popleft()
                self.cond.notify_all()
                if self.gave_up:
                    self.outcomes.append(self.Rec(job.id, "canceled"))
                    continue
                self.running.add(job.id)
            status, _, _ = status_of(job, self.process)
            with self.cond:
                if job.id in self.running:
                    self.running.discard(job.id)
                    self.outcomes.append(self.Rec(job.id, status.value))

    def shutdown(self, timeout: float | None = None) -> Report:
        with self.cond:
            self.closed = True
            self.cond.notify_all()
            ended = self.cond.wait_for(lambda: self.live == 0, timeout)
            if ended:
                return Report(clean=True)
            self.gave_up = True
            canceled = [self.Rec(j.id, "canceled") for j in self.queue]
            self.queue.clear()
            abandoned = [self.Rec(job_id, "abandoned") for job_id in sorted(self.running)]
            self.running.clear()
            self.outcomes.extend(canceled + abandoned)
            return Report(False, abandoned, canceled)  # type: ignore[arg-type]


class QueuePool:
    """queue.Queue and sentinels; a flag instead of try/finally; threads joined to one deadline."""

    STOP = object()

    def __init__(self, process: Process, workers: int) -> None:
        self.process = process
        self.jobs: queue.Queue[Any] = queue.Queue(maxsize=20)
        self.lock = threading.RLock()
        self.closed = False
        self.gave_up = False
        self.ledger: dict[str, Outcome] = {}
        self.running: dict[str, int] = {}
        self.threads = [threading.Thread(target=self.work, args=(w,), daemon=True)
                        for w in range(1, workers + 1)]
        for t in self.threads:
            t.start()

    @property
    def outcomes(self) -> list[Outcome]:
        with self.lock:
            return list(self.ledger.values())

    def submit(self, job: Job) -> None:
        with self.lock:
            if self.closed:
                raise RuntimeError("closed")
        self.jobs.put(job)  # blocks while full

    def work(self, worker_id: int) -> None:
        while True:
            job = self.jobs.get()
            if job is self.STOP:
                return
            with self.lock:
                if self.gave_up:
                    self.ledger[job.id] = Outcome(job.id, worker_id, Status.CANCELED)
                    continue
                self.running[job.id] = worker_id
            status, result, error = status_of(job, self.process)
            with self.lock:
                if job.id not in self.running:
                    continue
                del self.running[job.id]
                self.ledger[job.id] = Outcome(job.id, worker_id, status, result, error)

    def shutdown(self, timeout: float | None = None) -> bool:
        with self.lock:
            self.closed = True
        deadline = None if timeout is None else time.monotonic() + timeout
        stops = threading.Thread(target=lambda: [self.jobs.put(self.STOP) for _ in self.threads],
                                 daemon=True)
        stops.start()  # putting the sentinels may wait for room: not in our thread
        for t in self.threads:
            t.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
        if not any(t.is_alive() for t in self.threads):
            return True
        with self.lock:
            self.gave_up = True
            while True:
                try:
                    job = self.jobs.get_nowait()
                except queue.Empty:
                    break
                if job is not self.STOP:
                    self.ledger[job.id] = Outcome(job.id, None, Status.CANCELED)
            for job_id, worker_id in self.running.items():
                self.ledger[job_id] = Outcome(job_id, worker_id, Status.ABANDONED)
            self.running.clear()
            for _ in self.threads:  # the hung workers stop once they come back
                self.jobs.put_nowait(self.STOP)
        return False


class EventPool(Ledgered):
    """An Event per worker instead of a WaitGroup; shutdown waits on each with what is left."""

    def __init__(self, process: Process, workers: int) -> None:
        self._ended = [threading.Event() for _ in range(workers)]
        super().__init__(process, workers)

    def _work(self, worker_id: int) -> None:
        ended = self._ended[worker_id - 1]
        try:
            super()._work(worker_id)
        finally:
            ended.set()

    def _wait(self, timeout: float | None) -> bool:
        deadline = None if timeout is None else time.monotonic() + timeout
        for ended in self._ended:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            if not ended.wait(left):
                return False
        return True


def _right() -> list[tuple[str, Any]]:
    return [
        ("the stub filled in (Channel, WaitGroup, one Lock)", Ledgered),
        ("deque + Condition, while loop, a report, str statuses", CondPool),
        ("queue.Queue + sentinels, RLock, joins to one deadline", QueuePool),
        ("an Event per worker, waited to one deadline", EventPool),
        ("pool.WorkerPool itself", WorkerPool),
    ]


RIGHT = _right()


# -- wrong answers ----------------------------------------------------------------------------


class DropsQueuedAtShutdown(Ledgered):
    """Shutdown empties the queue first, "so it stops faster": the queued jobs vanish."""

    def shutdown(self, timeout: float | None = None) -> bool:
        self._close()
        self._queued()
        return super().shutdown(timeout)


class CatchesOnlyException(Ledgered):
    def _run(self, job: Job) -> tuple[Status, Any, BaseException | None]:
        try:
            return Status.SUCCEEDED, self._process(job), None
        except DeadlineExceeded as exc:
            return Status.TIMED_OUT, None, exc
        except Canceled as exc:
            return Status.CANCELED, None, exc
        except Exception as exc:  # SystemExit is not an Exception
            return Status.FAILED, None, exc


class DiesOnException(Ledgered):
    def _run(self, job: Job) -> tuple[Status, Any, BaseException | None]:
        return Status.SUCCEEDED, self._process(job), None


class SleepsItsTimeout(Ledgered):
    def _wait(self, timeout: float | None) -> bool:
        time.sleep(timeout or 0)  # "give the workers time to finish"
        return self._wg.wait(0)


LEFT_OPEN: list[Ledgered] = []
"""Pools whose shutdown never closes their channel: the test closes them afterwards."""


def close_left_open() -> None:
    """End the workers of every NeverCloses pool (the answer never would)."""
    while LEFT_OPEN:
        Ledgered._close(LEFT_OPEN.pop())


class NeverCloses(Ledgered):
    def __init__(self, process: Process, workers: int) -> None:
        super().__init__(process, workers)
        LEFT_OPEN.append(self)

    def _close(self) -> None:
        pass  # forgot: the workers wait for more jobs forever


class DeadlineAsCanceled(Ledgered):
    def _run(self, job: Job) -> tuple[Status, Any, BaseException | None]:
        if job.ctx.err() is not None:
            return Status.CANCELED, None, job.ctx.err()
        try:
            return Status.SUCCEEDED, self._process(job), None
        except ContextError as exc:  # "the context stopped it": but which way?
            return Status.CANCELED, None, exc
        except BaseException as exc:
            return Status.FAILED, None, exc


class ContextAsFailed(Ledgered):
    def _run(self, job: Job) -> tuple[Status, Any, BaseException | None]:
        try:
            return Status.SUCCEEDED, self._process(job), None
        except BaseException as exc:
            return Status.FAILED, None, exc


class TrySendDrops(Ledgered):
    def submit(self, job: Job) -> None:
        self._jobs.try_send(job)  # never blocks... and drops the job when full


class ThreadPerJob(Ledgered):
    """A thread per job, "so nothing waits in a queue"."""

    def __init__(self, process: Process, workers: int) -> None:
        super().__init__(process, 0)
        self._open = True

    def submit(self, job: Job) -> None:
        if not self._open:
            raise RuntimeError("closed")
        self._wg.add(1)
        with self._lock:
            self._running[job.id] = 0
        threading.Thread(target=self._one, args=(job,), daemon=True).start()

    def _one(self, job: Job) -> None:
        try:
            status, result, error = self._run(job)
            self._finish(job, 0, status, result, error)
        finally:
            self._wg.done()

    def _close(self) -> None:
        self._open = False
        super()._close()


class JoinsEachThread(Ledgered):
    def _wait(self, timeout: float | None) -> bool:
        for t in self._threads:
            t.join(timeout)  # each hung thread costs the whole timeout
        return not any(t.is_alive() for t in self._threads)


class IgnoresTimeout(Ledgered):
    def _wait(self, timeout: float | None) -> bool:
        return self._wg.wait()


class NoAccounting(Ledgered):
    """shutdown returns False at the timeout, and that is all: the ledger has holes."""

    def _give_up(self) -> None:
        pass


class AbandonedAsCanceled(Ledgered):
    def _give_up(self) -> None:
        with self._lock:
            self._gave_up = True
            for job in self._queued():
                self._outcomes.append(Outcome(job.id, None, Status.CANCELED))
            for job_id, worker_id in self._running.items():
                self._outcomes.append(Outcome(job_id, worker_id, Status.CANCELED))
            self._running.clear()


class ReportsClean(Ledgered):
    def shutdown(self, timeout: float | None = None) -> bool:
        super().shutdown(timeout)
        return True


class CountsLateFinish(Ledgered):
    def _finish(self, job: Job, worker_id: int, status: Status, result: Any,
                error: BaseException | None) -> None:
        with self._lock:
            self._running.pop(job.id, None)
            self._outcomes.append(Outcome(job.id, worker_id, status, result, error))


class ForgetsQueued(Ledgered):
    """At the timeout only the running jobs are accounted for; the queued ones are left."""

    def _give_up(self) -> None:
        with self._lock:
            for job_id, worker_id in self._running.items():
                self._outcomes.append(Outcome(job_id, worker_id, Status.ABANDONED))
            self._running.clear()


class RunsCancelledJobs(Ledgered):
    """Records the queued jobs CANCELED from its own list, but leaves them in the channel."""

    def __init__(self, process: Process, workers: int) -> None:
        self._queued: list[str] = []
        super().__init__(process, workers)

    def submit(self, job: Job) -> None:
        with self._lock:
            self._queued.append(job.id)
        self._jobs.send(job)

    def _work(self, worker_id: int) -> None:
        try:
            for job in self._jobs:
                with self._lock:
                    self._queued.remove(job.id)
                    self._running[job.id] = worker_id
                status, result, error = self._run(job)
                self._finish(job, worker_id, status, result, error)
        finally:
            self._wg.done()

    def _give_up(self) -> None:
        with self._lock:
            for job_id in self._queued:
                self._outcomes.append(Outcome(job_id, None, Status.CANCELED))
            for job_id, worker_id in self._running.items():
                self._outcomes.append(Outcome(job_id, worker_id, Status.ABANDONED))
            self._running.clear()

    def _finish(self, job: Job, worker_id: int, status: Status, result: Any,
                error: BaseException | None) -> None:
        with self._lock:
            if self._running.pop(job.id, None) is None:
                return
            if any(o.job_id == job.id for o in self._outcomes):
                return  # cancelled earlier: it ran anyway, but is not counted twice
            self._outcomes.append(Outcome(job.id, worker_id, status, result, error))


class NoLock(Ledgered):
    """The same bookkeeping with no lock: "appending to a list is atomic anyway"."""

    def __init__(self, process: Process, workers: int) -> None:
        self._abandoned: set[str] = set()
        super().__init__(process, workers)

    @property
    def outcomes(self) -> list[Outcome]:
        return list(self._outcomes)

    def _finish(self, job: Job, worker_id: int, status: Status, result: Any,
                error: BaseException | None) -> None:
        if job.id in self._abandoned:
            return
        self._outcomes.append(Outcome(job.id, worker_id, status, result, error))
        self._running.pop(job.id, None)

    def _give_up(self) -> None:
        self._gave_up = True
        for job in self._queued():
            self._outcomes.append(Outcome(job.id, None, Status.CANCELED))
        for job_id in list(self._running):
            worker_id = self._running.get(job_id)
            self._abandoned.add(job_id)
            self._outcomes.append(Outcome(job_id, worker_id, Status.ABANDONED))


class AcceptsAfterShutdown(Ledgered):
    def submit(self, job: Job) -> None:
        if not self._jobs.closed:
            self._jobs.send(job)


class WithoutOutcomes:
    """Built from the stage functions only: no ledger at all (the old exercise's answer)."""

    def __init__(self, process: Process, workers: int) -> None:
        import pool

        self._jobs, self._wg = pool.start_workers(workers, process)
        self._shutdown = pool.shutdown

    def submit(self, job: Job) -> None:
        self._jobs.send(job)

    def shutdown(self, timeout: float | None = None) -> bool:
        return self._shutdown(self._jobs, self._wg, timeout)


@dataclass(frozen=True)
class Wrong:
    """A wrong answer: the scenarios it fails, the phrase the first one's hint must contain.

    ``also``: scenarios it may fail too, or not, depending on timing (never the first).
    """

    name: str
    cls: Any
    fails: frozenset[str]
    hint: str
    also: frozenset[str] = frozenset()


def _wrong() -> list[Wrong]:
    def w(name: str, cls: Any, fails: tuple[str, ...], hint: str,
          also: tuple[str, ...] = ()) -> Wrong:
        return Wrong(name, cls, frozenset(fails), hint, frozenset(also))

    return [
        w("drops the queued jobs when shutdown begins", DropsQueuedAtShutdown, (DRAINS, QUEUED),
          "a graceful shutdown lets queued jobs finish", also=(RAISES, LEDGER, FULL)),
        w("catches only Exception", CatchesOnlyException, (RAISES,),
          "`except Exception` does not catch SystemExit"),
        w("catches nothing", DiesOnException, (RAISES, LEDGER),
          "catch exceptions around process(job)"),
        w("sleeps its whole timeout", SleepsItsTimeout, (DRAINS, RAISES, LEDGER, FULL, REFUSES),
          "do not sleep it out"),
        w("never closes the channel", NeverCloses, (DRAINS, RAISES, LEDGER, FULL, REFUSES),
          "the intake (the channel) was never closed"),
        w("records a deadline as CANCELED", DeadlineAsCanceled, (LEDGER,),
          "that is TIMED_OUT; CANCELED is for a context that was cancelled"),
        w("records a context's stop as FAILED", ContextAsFailed, (LEDGER,),
          "not FAILED (that hides real errors)"),
        w("try_send drops jobs when the buffer is full", TrySendDrops, (FULL,),
          "never drop the job"),
        w("a thread per job", ThreadPerJob, (DRAINS, QUEUED), "a thread per job has no limit"),
        w("joins each hung thread with the whole timeout", JoinsEachThread, (ONE_TIMEOUT,),
          "joining each thread with the full timeout adds the timeouts up"),
        w("ignores the shutdown timeout", IgnoresTimeout, (ONE_TIMEOUT, ABANDONS, QUEUED, RACE),
          "was still waiting 1 s after its timeout"),
        w("no accounting at the timeout", NoAccounting, (ONE_TIMEOUT, ABANDONS, QUEUED),
          "record it ABANDONED"),
        w("records running jobs CANCELED at the timeout", AbandonedAsCanceled,
          (ONE_TIMEOUT, ABANDONS, QUEUED, RACE), "it has not finished, so it is ABANDONED"),
        w("reports a clean stop with jobs hung", ReportsClean, (ONE_TIMEOUT, ABANDONS, QUEUED),
          "reported a clean stop"),
        w("counts an abandoned job's late finish again", CountsLateFinish, (ABANDONS, QUEUED, RACE),
          "its late finish was counted again"),
        w("forgets the jobs queued behind a hung one", ForgetsQueued, (QUEUED,),
          "it was dropped; a queued job that will never run must end CANCELED"),
        w("runs jobs it recorded CANCELED", RunsCancelledJobs, (QUEUED,),
          "ran after shutdown had ended it CANCELED"),
        w("no lock around the ledger", NoLock, (RACE,), "must happen under one lock"),
        w("accepts jobs after shutdown", AcceptsAfterShutdown, (REFUSES,),
          "accepted job 'late'"),
        w("the stage functions only, no ledger", WithoutOutcomes,
          (DRAINS, RAISES, LEDGER, FULL, ONE_TIMEOUT, ABANDONS, QUEUED, RACE),
          "the pool has no outcomes"),
    ]


WRONG = _wrong()
