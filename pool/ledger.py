"""The ledger: the accounting every engine shares.

Every job a pool accepts gets one line, an :class:`Entry`, which moves
QUEUED -> RUNNING -> one terminal status under the ledger's lock. Only the
thread that makes the terminal move records the job's :class:`~pool.Outcome`
and resolves its future, so each accepted job ends exactly once, however
submits, workers, cancels and shutdowns race. (An engine may record the end
with :meth:`Ledger.record_end` and no outcome: the ledger then keeps the
ended line and makes the outcome from it when it is first read.) Shutdown
finishes with a sweep (queued jobs CANCELED, running ones ABANDONED); a
worker that comes back after that finds its line already ended and is
traced as late.

An engine (threads, processes, asyncio, a cluster) adds only how jobs run
and how they are stopped; it calls the moves below and nothing else writes
the counters. The moves marked "lock held" are called with :attr:`Ledger.lock`
held, so an engine can move a job in its own queue and in the ledger in one
step (the thread pool's channel shares this lock: one lock per job move).

The thread and process pools' line *is* the job's future: :class:`JobFuture`
is both an :class:`Entry` and a ``concurrent.futures.Future``, so accepting a
job costs one object, not two.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures._base import CANCELLED_AND_NOTIFIED, FINISHED, PENDING
from contextvars import Context as VarsContext
from dataclasses import dataclass
from typing import Any

from . import trace as ev
from .context import Canceled
from .job import Job, Outcome, Status
from .trace import JobTimes, Trace

__all__ = [
    "Abandoned",
    "Entry",
    "JobFuture",
    "Ledger",
    "PoolClosed",
    "ShutdownReport",
    "Stats",
]

log = logging.getLogger("pool")

_QUEUED, _RUNNING = Status.QUEUED, Status.RUNNING
_SUCCEEDED, _FAILED = Status.SUCCEEDED, Status.FAILED
_CANCELED, _ABANDONED = Status.CANCELED, Status.ABANDONED
_TERMINAL = tuple(s for s in Status if s.terminal)
_monotonic = time.monotonic


class PoolClosed(RuntimeError):
    """The pool has begun shutting down and accepts no more jobs.

    A ``RuntimeError``, as ``ThreadPoolExecutor.submit`` raises after shutdown.
    """


class Abandoned(TimeoutError):
    """A job still running when shutdown gave up on it (status ``ABANDONED``).

    ``job_id``, ``worker_id`` and ``ran_for`` (seconds it had run) say which
    and how long. Its thread may still be running it; a process or cluster
    pool has killed it.
    """

    def __init__(self, job_id: str, worker_id: int | None, ran_for: float) -> None:
        super().__init__(f"job {job_id!r} abandoned on worker {worker_id} after "
                         f"{ran_for:.3f} s: still running when shutdown gave up")
        self.job_id = job_id
        self.worker_id = worker_id
        self.ran_for = ran_for

    def __reduce__(self) -> tuple[Any, ...]:  # picklable, for process pools
        return (Abandoned, (self.job_id, self.worker_id, self.ran_for))


@dataclass(frozen=True, slots=True)
class Stats:
    """A consistent snapshot of the ledger: ``submitted`` is the sum of the other seven.

    ``submitted`` counts accepted jobs only, so it never goes down: a submit
    that is still waiting for room, timed out or was refused is not in it.
    """

    submitted: int
    queued: int
    running: int
    succeeded: int
    failed: int
    canceled: int
    timed_out: int
    abandoned: int

    def __str__(self) -> str:
        parts = [f"{name}={getattr(self, name)}" for name in self.__slots__ if getattr(self, name)]
        return "Stats(" + ", ".join(parts or ["submitted=0"]) + ")"


@dataclass(frozen=True, slots=True)
class ShutdownReport:
    """What a pool's ``shutdown()`` did.

    ``clean`` is True when every worker finished within the timeout, so
    nothing had to be cancelled by the pool or abandoned. ``drained``,
    ``canceled`` and ``abandoned`` hold the outcomes of the jobs that ended
    during shutdown (finished, cancelled, still running at the end), each
    with its worker id. ``elapsed`` is in seconds.
    """

    clean: bool
    elapsed: float
    drained: tuple[Outcome, ...]
    canceled: tuple[Outcome, ...]
    abandoned: tuple[Outcome, ...]
    stats: Stats

    def __str__(self) -> str:
        head = "clean shutdown" if self.clean else "shutdown timed out"
        lines = [
            f"{head} in {self.elapsed:.3f} s: {len(self.drained)} drained, "
            f"{len(self.canceled)} canceled, {len(self.abandoned)} abandoned"
        ]
        for o in self.abandoned:
            lines.append(f"  abandoned: job {o.job_id!r} on worker {o.worker_id}, "
                         f"running {o.ran_for or 0.0:.3f} s")
        return "\n".join(lines)


class Entry:
    """The ledger's line for one job: created by a submit, ended exactly once.

    ``status`` is ``None`` while the submit that made it has not been
    accepted (it waits for room), then QUEUED, RUNNING and one terminal
    status. When it ends, :attr:`outcome` is available and the line lets go
    of the job (its payload) and of the submitter's contextvars. An engine
    may subclass it to hand the job's end to a future (:meth:`_settle`,
    :meth:`_notify`, :meth:`_value`).
    """

    __slots__ = ("_outcome", "context", "error", "finished_at", "job", "job_id", "ledger",
                 "queued_at", "started_at", "status", "worker_id")

    def __init__(self, job: Job, ledger: Ledger, context: VarsContext) -> None:
        self.job: Job | None = job  # None once ended
        self.job_id = job.id
        self.ledger = ledger
        self.context: VarsContext | None = context  # the submitter's, copied; the job runs in it
        self.status: Status | None = None
        self.queued_at = 0.0
        self.started_at: float | None = None
        self.worker_id: int | None = None
        self._outcome: Outcome | None = None
        self.error: BaseException | None = None
        self.finished_at: float | None = None  # set (last) by Ledger.record_end

    @property
    def outcome(self) -> Outcome | None:
        """How the job ended (an :class:`~pool.Outcome`), ``None`` until it has."""
        return self._outcome or lazy_outcome(self)

    def _settle(self, status: Status, result: Any, error: BaseException | None) -> bool:
        """Called once, lock held, by the terminal move; True if :meth:`_notify` must follow.

        ``result`` is the job's return value (the outcome may not keep it);
        :attr:`outcome` is readable already.
        """
        return False

    def _notify(self) -> None:
        """Called once, without the lock, when :meth:`_settle` returned True."""

    def _value(self) -> Any:
        """The return value of a job that SUCCEEDED, for an outcome made after its end."""
        return None


class JobFuture(Entry, Future[Any]):
    """The future of one accepted job, and the ledger's line for it.

    Returned by ``submit``; a ``concurrent.futures.Future``, so ``result()``,
    ``exception()``, ``add_done_callback()``, ``concurrent.futures.wait`` and
    ``as_completed`` work as with ``ThreadPoolExecutor``. It resolves exactly
    when the job's ledger line ends: SUCCEEDED sets the result; FAILED,
    TIMED_OUT (a ``DeadlineExceeded``) and a job cancelled while running (a
    ``Canceled``) set the exception; ABANDONED sets an :class:`Abandoned`; a
    job that never ran and ended CANCELED is a cancelled future (``result()``
    raises ``CancelledError``). ``outcome`` is the job's
    :class:`~pool.Outcome` once done. Done callbacks run once, in the thread
    that ended the job. The pool resolves it: do not call ``set_result``.
    """

    # Future.__init__ is not called: a Condition costs about 1 us, and most
    # futures are never waited on. The Condition (and the waiter and callback
    # lists that live under it) appear on first use of ``_condition``, under
    # the ledger lock; the terminal move checks under that same lock whether
    # anyone is looking. If nobody is, it stores the result with no Condition
    # at all; if somebody is, it wakes them after releasing the ledger lock,
    # so the ledger lock is never held while a Condition is taken. Slots, so
    # that no instance dict is made per job.
    __slots__ = ("_cond", "_done_callbacks", "_exception", "_next_state", "_result", "_state",
                 "_waiters")

    def __init__(self, job: Job, ledger: Ledger, context: VarsContext) -> None:
        # Entry.__init__, inlined: one of these is made per job.
        self.job = job
        self.job_id = job.id
        self.ledger = ledger
        self.context = context
        self.status = None
        self.queued_at = 0.0
        self.started_at = None
        self.worker_id = None
        self._outcome = None
        self.error = None
        self.finished_at = None
        self._state = PENDING
        self._result: Any = None
        self._exception: BaseException | None = None
        self._cond: threading.Condition | None = None

    @property
    def _condition(self) -> threading.Condition:  # type: ignore[override]
        cond = self._cond
        if cond is None:
            with self.ledger.lock:
                cond = self._cond
                if cond is None:
                    self._waiters = []
                    self._done_callbacks: list[Callable[[Future[Any]], object]] = []
                    # One per future, even a settled one: concurrent.futures.wait
                    # takes the Conditions of many futures in id order, which is
                    # deadlock-free only if no two futures share one.
                    self._cond = cond = threading.Condition()
        return cond

    def __getattr__(self, name: str) -> Any:
        # _waiters and _done_callbacks are made with the Condition.
        if name in ("_waiters", "_done_callbacks"):
            self._condition  # noqa: B018
            return object.__getattribute__(self, name)
        raise AttributeError(name)

    def cancel(self) -> bool:
        """Take the job out of the queue: it ends CANCELED and never runs.

        Returns True if it was still queued (or already cancelled), False if
        it is running or has ended. Never blocks for long.
        """
        if self.ledger.cancel_queued(self):
            return True
        return self.cancelled()

    def running(self) -> bool:
        """True while a worker runs the job."""
        return self.status is _RUNNING

    def _settle(self, status: Status, result: Any, error: BaseException | None) -> bool:
        if status is _SUCCEEDED:
            self._result = result
            state = FINISHED
        elif status is _CANCELED and never_ran(self):
            state = CANCELLED_AND_NOTIFIED
        elif status is _ABANDONED:
            self._exception = abandoned_error(self)
            state = FINISHED
        else:
            self._exception = error
            state = FINISHED
        if self._cond is None:  # nobody waits, nothing to call back
            self._state = state
            return False
        self._next_state = state
        return True

    def _value(self) -> Any:
        return self._result

    def _notify(self) -> None:
        with self._condition:
            self._state = state = self._next_state
            for waiter in self._waiters:
                if state == CANCELLED_AND_NOTIFIED:
                    waiter.add_cancelled(self)
                elif self._exception is not None:
                    waiter.add_exception(self)
                else:
                    waiter.add_result(self)
            self._condition.notify_all()
        self._invoke_callbacks()

    def _invoke_callbacks(self) -> None:
        # Run in the thread that ended the job: a worker, or a shutdown sweep
        # with more futures to wake. A callback's exception, even SystemExit,
        # must stop neither (Future's own catches only Exception).
        for callback in self._done_callbacks:
            try:
                callback(self)
            except BaseException:
                log.exception("done callback %r of job %s raised", callback, self.job_id,
                              extra={"job_id": self.job_id, "worker_id": self.worker_id})

    def __repr__(self) -> str:
        status = self.status.value if self.status is not None else "submitting"
        return f"<JobFuture job={self.job_id!r} {status}>"


class Ledger:
    """The accounting of one pool: every accepted job's line, the counters, the outcomes.

    ``keep`` bounds the outcomes and errors kept (with their results unless
    ``keep_results`` is False); ``trace`` reads the jobs' times from it
    (:meth:`job_times`); ``lock`` (default: a new one) guards it all.
    ``discard``, if set by the engine, takes a cancelled job out of the
    engine's queue (called with the lock held).
    """

    __slots__ = ("_during", "_ended", "_errors", "_inflight", "_outcomes", "_queued", "_refusal",
                 "_running", "closed", "discard", "keep_results", "lock", "report", "trace")

    def __init__(self, *, keep: int, trace: Trace, lock: threading.Lock | None = None,
                 keep_results: bool = True) -> None:
        self.lock = lock if lock is not None else threading.Lock()
        self.keep_results = keep_results
        """False: kept outcomes drop the jobs' return values (futures still have them)."""
        self.trace = trace
        trace.follow(self.job_times)  # the trace reads job times from here
        self.closed = False
        """True once intake stopped (set under the lock, never unset)."""
        self._refusal: BaseException | None = None  # what reserve() raises once closed
        self.report: ShutdownReport | None = None
        self.discard: Callable[[Any], object] | None = None
        self._inflight: dict[str, Entry] = {}  # job id -> line, from reserve to end
        self._queued = 0
        self._running = 0
        self._ended = dict.fromkeys(_TERMINAL, 0)
        # The ended jobs' outcomes, each an Outcome or the line it is made from
        # when read (see record_end).
        self._outcomes: deque[Outcome | Entry] = deque(maxlen=keep)
        self._errors: deque[Outcome | Entry] = deque(maxlen=keep)
        self._during: list[Outcome | Entry] = []  # those recorded after intake stopped

    # -- intake (lock held) -------------------------------------------------

    def reserve(self, entry: Entry) -> None:
        """Lock held: claim the job's id for a submit. Nothing is counted yet.

        Raises ``PoolClosed`` once intake has stopped and ``ValueError`` if a
        job with the same id is queued, running or being submitted.
        """
        job_id = entry.job_id
        if self.closed:
            raise self.refusal(job_id)
        if job_id in self._inflight:
            raise ValueError(f"job id {job_id!r} is already queued or running")
        self._inflight[job_id] = entry

    def refusal(self, job_id: str) -> Exception:
        """The error a submit of ``job_id`` gets once intake has stopped.

        ``PoolClosed``, or, for a broken pool, an error like the one it was
        closed with (see :meth:`close`).
        """
        if self._refusal is not None:
            return type(self._refusal)(*self._refusal.args)  # type: ignore[return-value]
        return PoolClosed(f"pool is shutting down: job {job_id!r} not accepted")

    def accept(self, entry: Entry) -> None:
        """Lock held: the job is in the pool (QUEUED). From here it is counted.

        Does nothing if it was accepted already: a job waiting for room is
        accepted by whichever comes first, its submitter or the worker that
        takes it.
        """
        if entry.status is None:
            entry.queued_at = time.monotonic()
            # One statement, so that an interrupt cannot split the move from its count.
            entry.status, self._queued = _QUEUED, self._queued + 1

    def admit(self, entry: Entry) -> None:
        """Lock held: :meth:`reserve` and :meth:`accept` in one step.

        For an engine that has checked, under the same lock hold, that it
        has room for the job now: one call instead of two, once per job.
        Raises as :meth:`reserve` does, and then nothing has changed.
        """
        job_id = entry.job_id
        inflight = self._inflight
        if self.closed:
            raise self.refusal(job_id)
        if job_id in inflight:
            raise ValueError(f"job id {job_id!r} is already queued or running")
        inflight[job_id] = entry
        entry.queued_at = _monotonic()
        # One statement, so that an interrupt cannot split the move from its count.
        entry.status, self._queued = _QUEUED, self._queued + 1

    def withdraw(self, entry: Entry) -> None:
        """Lock held: a reserved job that was never accepted leaves; it will never run.

        Safe to repeat, and to call for a job whose reserve() failed.
        """
        if entry.status is None or (entry.status is _CANCELED and entry.outcome is None):
            entry.status = _CANCELED  # dead first: a worker that still finds it skips it
            if self._inflight.get(entry.job_id) is entry:
                del self._inflight[entry.job_id]

    # -- running ------------------------------------------------------------

    def start(self, worker_id: int, entry: Entry) -> Entry | None:
        """Lock held: a worker took the job: QUEUED -> RUNNING.

        Returns the entry to run, or ``None`` if it ended while it waited
        (cancelled, swept by shutdown, withdrawn).
        """
        if entry.status is None:  # handed straight from a waiting submitter
            self.accept(entry)
        elif entry.status is not _QUEUED:
            return None
        entry.status = _RUNNING
        entry.worker_id = worker_id
        entry.started_at = _monotonic()
        self._queued -= 1
        self._running += 1
        return entry

    def end(self, entry: Entry, status: Status, result: Any, error: BaseException | None,
            started_at: float | None, finished_at: float) -> None:
        """The terminal move: the job ended with ``status`` at ``finished_at``.

        ``started_at`` is ``None`` for a job that never ran. Takes the lock;
        wakes the job's future after releasing it. A job that shutdown
        abandoned meanwhile is not counted twice: its finish is traced and
        logged as late.
        """
        with self.lock:
            notify = self.record(entry, status, result, error, started_at, finished_at)
        if notify is not None:
            notify()

    def record(self, entry: Entry, status: Status, result: Any, error: BaseException | None,
               started_at: float | None, finished_at: float) -> Callable[[], None] | None:
        """Lock held: the terminal move, as :meth:`end`, for an engine that holds the lock.

        Returns the function that wakes the job's future, to be called once
        the lock is released, or ``None`` if nobody needs waking.
        """
        outcome = Outcome(entry.job_id, entry.worker_id, status,
                          result if self.keep_results else None, error, entry.queued_at,
                          started_at, finished_at)
        return self.record_outcome(entry, outcome, result)

    def record_outcome(self, entry: Entry, outcome: Outcome,
                       result: Any = None) -> Callable[[], None] | None:
        """Lock held: :meth:`record`, with the outcome already made (outside the lock).

        ``result`` is the job's return value for its future: the outcome
        keeps it only if the ledger keeps results.
        """
        return self.record_end(entry, outcome.status, result, outcome.error, outcome.finished_at,
                               outcome)

    def record_end(self, entry: Entry, status: Status, result: Any, error: BaseException | None,
                   finished_at: float, outcome: Outcome | None = None
                   ) -> Callable[[], None] | None:
        """Lock held: the terminal move, as :meth:`record`, for a job that ran.

        The job's worker and start time are the line's own (set by
        :meth:`start`). Without ``outcome`` the ledger keeps the line itself
        and makes the :class:`~pool.Outcome` from it when it is first read:
        one object a job fewer to make, and for the garbage collector to
        walk for as long as the outcome is kept (with ``keep_results`` off it
        makes the outcome now, so that a kept line never pins a result).
        Returns what :meth:`record` returns.
        """
        if outcome is None and not self.keep_results:
            outcome = Outcome(entry.job_id, entry.worker_id, status, None, error,
                              entry.queued_at, entry.started_at, finished_at)
        state = entry.status
        if state is _RUNNING:
            self._running -= 1
        elif state is _QUEUED:
            self._queued -= 1
        else:  # abandoned by shutdown, and now back
            self._late(entry, status, finished_at)
            return None
        self._ended[status] += 1
        entry.status = status
        kept: Outcome | Entry
        if outcome is None:
            entry.error = error
            entry.finished_at = finished_at  # last: from here the outcome can be made
            kept = entry
        else:
            entry._outcome = kept = outcome
        entry.job = None  # an ended line pins no payload, and no contextvars:
        if entry.context is not None:  # (an engine's line may have none, and no slot for it)
            entry.context = None
        del self._inflight[entry.job_id]
        self._outcomes.append(kept)
        if status is _FAILED:
            self._errors.append(kept)
        if self.closed:
            self._during.append(kept)
        return entry._notify if entry._settle(status, result, error) else None

    def record_pending(self, pending: list[tuple[Any, ...]]) -> Callable[[], None] | None:
        """Lock held: :meth:`record` the one ``(entry, outcome, result)`` in ``pending``, if any.

        For a worker that keeps the job it just ran until it next takes the
        lock, to record it then, in the same step as taking its next job.
        """
        return self.record_outcome(*pending.pop()) if pending else None

    def cancel_queued(self, entry: Entry) -> bool:
        """End a QUEUED job CANCELED, unrun, and take it out of the engine's queue.

        Returns False if the job is not queued (running, or ended).
        """
        with self.lock:
            if entry.status is not _QUEUED:
                return False
            if self.discard is not None:
                self.discard(entry)
            notify = self.record_outcome(entry, _unrun(entry, _CANCELED, Canceled(
                "future cancelled: job never ran"), time.monotonic()))
        if notify is not None:
            notify()
        return True

    def _late(self, entry: Entry, status: Status, finished_at: float) -> None:
        self.trace.record(ev.LATE, entry.worker_id, entry.job_id, status, at=finished_at)
        log.warning("job %s finished %s on worker %s after shutdown abandoned it",
                    entry.job_id, status.value, entry.worker_id,
                    extra={"job_id": entry.job_id, "worker_id": entry.worker_id})

    # -- shutdown -----------------------------------------------------------

    def close(self, refuse: BaseException | None = None) -> bool:
        """Lock held: stop intake. Returns True the first time.

        From now on :meth:`reserve` raises ``PoolClosed``, or an exception
        like ``refuse`` if given (a broken pool says why).
        """
        if refuse is not None and self._refusal is None:
            self._refusal = refuse
        if self.closed:
            return False
        self.closed = True
        return True

    def end_all(self, state: Status, status: Status, why: str,
                error: BaseException | None = None) -> int:
        """End every job in ``state`` (QUEUED or RUNNING) with ``status``; return how many.

        The shutdown sweep: queued jobs end CANCELED unrun (their error a
        ``Canceled`` naming ``why``, or ``error``), running ones ABANDONED.
        Takes the lock; wakes their futures after releasing it. About 2 us
        a job.
        """
        now = time.monotonic()
        woken: list[Callable[[], None]] = []
        with self.lock:
            entries = [e for e in self._inflight.values() if e.status is state]
            for entry in entries:
                if state is _QUEUED:
                    outcome = _unrun(entry, status, error or Canceled(f"{why}: job never ran"),
                                     now)
                else:
                    outcome = Outcome(entry.job_id, entry.worker_id, status, None, None,
                                      entry.queued_at, entry.started_at, now)
                notify = self.record_outcome(entry, outcome)
                if notify is not None:
                    woken.append(notify)
        for notify in woken:
            notify()
        return len(entries)

    def finish(self, clean: bool, elapsed: float) -> ShutdownReport:
        """Lock held: the shutdown report (made once; later calls return the same)."""
        if self.report is None:
            during = [_read(o) for o in self._during]
            self.report = ShutdownReport(
                clean=clean,
                elapsed=elapsed,
                drained=tuple(o for o in during if o.status not in (_CANCELED, _ABANDONED)),
                canceled=tuple(o for o in during if o.status is _CANCELED),
                abandoned=tuple(o for o in during if o.status is _ABANDONED),
                stats=self.snapshot(),
            )
        return self.report

    # -- reading ------------------------------------------------------------

    def snapshot(self) -> Stats:
        """Lock held: the counters as :class:`Stats`."""
        e = self._ended
        parts = (self._queued, self._running, e[_SUCCEEDED], e[_FAILED], e[_CANCELED],
                 e[Status.TIMED_OUT], e[_ABANDONED])
        return Stats(sum(parts), *parts)

    @property
    def stats(self) -> Stats:
        """A consistent snapshot of the counters. Takes the lock briefly."""
        with self.lock:
            return self.snapshot()

    @property
    def outcomes(self) -> list[Outcome]:
        """The last ``keep`` outcomes, oldest first."""
        with self.lock:
            return [_read(o) for o in self._outcomes]

    @property
    def errors(self) -> list[Outcome]:
        """The last ``keep`` FAILED outcomes, oldest first."""
        with self.lock:
            return [_read(o) for o in self._errors]

    def job_times(self) -> list[JobTimes]:
        """Every kept and in-flight job's times, for the trace (see ``Trace.follow``).

        The jobs whose outcomes are kept (the last ``keep``), then the jobs
        queued or running now. Takes the lock for a copy.
        """
        with self.lock:
            ended = list(self._outcomes)
            live = [(e.job_id, e.worker_id, e.status, e.queued_at, e.started_at, None)
                    for e in self._inflight.values() if e.status in (_QUEUED, _RUNNING)]
        # (An ended line's fields are its outcome's: no outcome need be made.)
        times: list[JobTimes] = [
            (o.job_id, o.worker_id, o.status, o.queued_at, o.started_at, o.finished_at)  # type: ignore[misc]
            for o in ended]
        times.extend(live)  # (status is set on these lines)
        return times

    def running(self) -> list[Entry]:
        """The lines of the jobs running now, in start order."""
        with self.lock:
            found = [e for e in self._inflight.values() if e.status is _RUNNING]
        return sorted(found, key=lambda e: e.started_at or 0.0)


def lazy_outcome(entry: Any) -> Outcome | None:
    """The outcome of a line ended by :meth:`Ledger.record_end`, made and kept on first read.

    ``None`` if the line has not ended that way. For the ``outcome``
    property, which reads the kept one first; also of an engine's future
    that cannot subclass :class:`Entry` (it has the same fields).
    """
    finished_at = entry.finished_at
    if finished_at is None:
        return None
    status = entry.status
    outcome = Outcome(
        entry.job_id, entry.worker_id, status, entry._value() if status is _SUCCEEDED else None,
        entry.error, entry.queued_at, entry.started_at, finished_at)
    entry._outcome = outcome  # (a race between two readers makes two equal outcomes)
    return outcome


def _read(kept: Outcome | Entry) -> Outcome:
    # Lock held: a kept outcome, or the one its ended line makes.
    if type(kept) is Outcome:
        return kept
    outcome = kept.outcome  # type: ignore[union-attr]
    assert outcome is not None
    return outcome


def never_ran(entry: Any) -> bool:
    """In ``_settle``: True if the line's job ended without running (its outcome says)."""
    return entry.outcome.started_at is None


def abandoned_error(entry: Any) -> Abandoned:
    """In ``_settle``: the :class:`Abandoned` error of a line that ended ABANDONED."""
    outcome = entry.outcome
    return Abandoned(entry.job_id, outcome.worker_id, outcome.ran_for or 0.0)


def _unrun(entry: Entry, status: Status, error: BaseException, now: float) -> Outcome:
    """The outcome of a job that ends without running."""
    return Outcome(entry.job_id, entry.worker_id, status, None, error, entry.queued_at, None, now)


def forget_frames(error: BaseException | None) -> None:
    """Drop the locals of the frames in ``error``'s traceback (and its chain).

    The traceback still prints (file, line, code); what the failing frames
    held (a job's payload, a big buffer) is released. So are the locals of
    the frames that called them and have returned since: a frame that
    outlives its call keeps its caller's frame, locals and all. Frames still
    running are left alone.
    """
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        tb = error.__traceback__
        if tb is not None:
            traceback.clear_frames(tb)
            caller = tb.tb_frame.f_back
            while caller is not None:
                try:
                    caller.clear()
                except RuntimeError:  # still running, and so are its callers
                    break
                caller = caller.f_back
        error = error.__cause__ or error.__context__
