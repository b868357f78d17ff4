"""The production pattern in one object: stages 1-4 plus the three concerns.

:class:`WorkerPool` is the dispatcher (workers started before traffic), the
channel and WaitGroup, graceful shutdown with a timeout, a pool-wide
context that cancels running jobs, and a ledger that accounts for every
job it accepted.

The ledger is the heart of it. Every job the pool accepts gets an entry
under ``_lock``; the entry moves QUEUED -> RUNNING -> one terminal status,
and only the thread that makes that last move records the outcome. Shutdown
finishes by moving every entry still QUEUED to CANCELED and every entry
still RUNNING to ABANDONED, so when ``shutdown()`` returns each accepted job
has exactly one outcome, even if a worker is hung forever. A worker that
comes back after that finds its entry already ended and only logs it.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections import deque
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from . import trace as ev
from ._validate import check_callable, check_int, check_seconds, check_timeout, type_name
from .channel import Channel, ChannelClosed
from .context import Canceled, Context, background
from .job import Job, Outcome, Status
from .trace import Trace
from .waitgroup import WaitGroup
from .worker import Process, _local, call, context_status, current_worker_id

__all__ = ["PoolClosed", "ShutdownReport", "Stats", "WorkerPool", "current_worker_id"]

log = logging.getLogger("pool")

_BACKGROUND = background()
_QUEUED, _RUNNING, _FAILED = Status.QUEUED, Status.RUNNING, Status.FAILED
_ABANDONED = Status.ABANDONED
_TERMINAL = tuple(s for s in Status if s.terminal)
_new_outcome = tuple.__new__  # Outcome(...) without its Python-level __new__: once per job
_set_id = Job.__dict__["id"].__set__
_set_payload = Job.__dict__["payload"].__set__
_set_ctx = Job.__dict__["ctx"].__set__


def _with_ctx(job: Job, ctx: Context) -> Job:
    # Job.with_ctx without re-checking id and payload: the pool makes one
    # such copy per job, so it is on the hot path. The slot descriptors set
    # the fields of a frozen dataclass directly.
    copy = object.__new__(Job)
    _set_id(copy, job.id)
    _set_payload(copy, job.payload)
    _set_ctx(copy, ctx)
    return copy


class PoolClosed(RuntimeError):
    """The pool has begun shutting down and accepts no more jobs."""


@dataclass(frozen=True, slots=True)
class Stats:
    """A consistent snapshot of the ledger: ``submitted`` is the sum of the other seven."""

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
    """What :meth:`WorkerPool.shutdown` did.

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


class _Entry:
    """The ledger's line for one accepted job."""

    __slots__ = ("job", "queued_at", "started_at", "state", "worker_id")

    def __init__(self, job: Job) -> None:
        if not isinstance(job, Job):
            raise TypeError(f"job must be a pool.Job, got {type_name(job)}")
        self.job = job
        self.queued_at = time.monotonic()
        self.state = _QUEUED
        self.worker_id: int | None = None
        self.started_at: float | None = None


class WorkerPool:
    """A fixed set of worker threads running ``process(job)`` for each submitted job.

    ``WorkerPool(process, workers=4, *, buffer=100, keep=10_000)`` starts
    ``workers`` daemon threads at once, before any job arrives. ``buffer``
    jobs may wait (0: every submit waits for a free worker). The pool keeps
    the last ``keep`` outcomes and a trace of about as many jobs. Use it as
    a context manager, or call :meth:`shutdown`. Raises ``TypeError``/
    ``ValueError`` for bad arguments.
    """

    def __init__(
        self, process: Process, workers: int = 4, *, buffer: int = 100, keep: int = 10_000
    ) -> None:
        self._process = check_callable(process, "process")
        self._workers = check_int(workers, "workers", minimum=1)
        check_int(buffer, "buffer", minimum=0)
        check_int(keep, "keep", minimum=0)
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._ctx, self._cancel_ctx = _BACKGROUND.with_cancel()
        # The channel shares the ledger's lock, so a job enters the channel
        # and the ledger (or leaves both) in one step: one lock per move.
        self._jobs: Channel[_Entry] = Channel._sharing(buffer, self._lock)
        self._wg = WaitGroup()
        self._trace = Trace(maxlen=min(4 * keep + 4 * workers + 16, 10_000_000))
        # Hot-path shortcuts into the trace (Trace.record without the call).
        self._log = self._trace._events.append
        self._t0 = self._trace.origin
        self._inflight: dict[str, _Entry] = {}
        self._queued = 0  # the ledger's counters; the rest are in _ended
        self._running = 0
        self._ended = dict.fromkeys(_TERMINAL, 0)
        self._outcomes: deque[Outcome] = deque(maxlen=keep)
        self._errors: deque[Outcome] = deque(maxlen=keep)
        self._blocked_submits = 0  # submitters parked in a full channel
        self._closing = False  # intake stopped; set once, under _lock
        self._during: list[Outcome] = []  # outcomes recorded after shutdown began
        self._report: ShutdownReport | None = None
        self._threads: list[threading.Thread] = []
        for worker_id in range(1, workers + 1):
            # add before start, as in Go: a shutdown must never see a count
            # that misses a worker which has not yet started running.
            self._wg.add(1)
            thread = threading.Thread(
                target=self._work, args=(worker_id,), name=f"pool-worker-{worker_id}", daemon=True
            )
            try:
                thread.start()
            except BaseException:
                # Out of threads: nobody will ever shut this pool down, so let
                # the workers already started leave their loop, and re-raise.
                self._wg.done()
                self._closing = True
                self._jobs.close()
                raise
            self._threads.append(thread)

    # -- intake -----------------------------------------------------------

    def submit(self, job: Job, timeout: float | None = None) -> None:
        """Queue ``job``; block while the buffer is full, at most ``timeout`` seconds.

        Raises ``PoolClosed`` once shutdown has begun (also if it begins
        while this call waits), ``TimeoutError`` if no room was made in
        time (the job is then not in the pool), ``ValueError`` if a job with
        the same id is queued or running, ``TypeError`` if ``job`` is not a
        :class:`~pool.Job`.
        """
        if timeout is not None:
            timeout = check_timeout(timeout)
        entry = _Entry(job)
        with self._lock:
            self._accept(entry)
            if self._jobs._offer(entry):
                return
            if timeout == 0:
                self._withdraw(entry)
                raise TimeoutError(f"pool buffer full: job {job.id!r} not queued")
            self._blocked_submits += 1
        sent = False
        try:
            self._jobs.send(entry, timeout)
            sent = True
        except ChannelClosed:
            raise PoolClosed(f"pool is shutting down: job {job.id!r} not accepted") from None
        finally:
            with self._lock:
                self._blocked_submits -= 1
                if not sent and entry.state is _QUEUED:
                    # Not taken (closed, timed out, or interrupted): the job
                    # never entered the pool. Marking it ended also stops a
                    # worker from running it if an interrupt raced the hand-off.
                    self._withdraw(entry)
                if self._closing and not self._blocked_submits:
                    self._changed.notify_all()

    def try_submit(self, job: Job) -> bool:
        """Queue ``job`` only if that needs no waiting; return whether it was queued.

        Never blocks. Raises ``PoolClosed``, ``ValueError`` and ``TypeError``
        as :meth:`submit` does.
        """
        entry = _Entry(job)
        with self._lock:
            self._accept(entry)
            if self._jobs._offer(entry):
                return True
            self._withdraw(entry)
            return False

    def _accept(self, entry: _Entry) -> None:
        # Called with _lock held: register the job as QUEUED.
        job_id = entry.job.id
        if self._closing:
            raise PoolClosed(f"pool is shutting down: job {job_id!r} not accepted")
        if job_id in self._inflight:
            raise ValueError(f"job id {job_id!r} is already queued or running")
        self._inflight[job_id] = entry
        self._queued += 1
        self._log((entry.queued_at - self._t0, ev.QUEUED, None, job_id, None, None))

    def _withdraw(self, entry: _Entry) -> None:
        # Called with _lock held: undo _accept for a job that never entered.
        del self._inflight[entry.job.id]
        self._queued -= 1
        entry.state = Status.CANCELED  # so no worker can ever run it
        self._trace.record(ev.WITHDRAWN, None, entry.job.id)

    # -- the workers --------------------------------------------------------

    def _work(self, worker_id: int) -> None:
        # One worker thread. Per job it takes the lock once: to record the
        # last job's end, take the next job and mark it RUNNING, in one step.
        # (Hot loop: names are bound to locals once, outside it.)
        _local.worker_id = worker_id
        trace = self._trace
        trace.record(ev.WORKER_START, worker_id)
        receive = self._jobs._recv_then
        process, pool_ctx, end, record = self._process, self._ctx, self._end, self._record
        log_event, origin, monotonic, rebind = self._log, self._t0, time.monotonic, _with_ctx
        pending: tuple[_Entry, Outcome] | None = None  # the job just run, not yet recorded

        def settle() -> None:  # with the lock held: keep it short, others wait on it
            if pending is not None:
                entry, outcome = pending
                if entry.state is _RUNNING:
                    record(entry, outcome)
                else:  # shutdown gave up on it and already recorded it ABANDONED
                    log_event((outcome.finished_at - origin, ev.LATE, worker_id, entry.job.id,
                               outcome.status, None))

        def begin(entry: _Entry) -> _Entry | None:  # with the lock held
            if entry.state is not _QUEUED:
                return None  # ended by shutdown while it waited in the channel
            job_ctx = entry.job.ctx
            err = None if job_ctx is _BACKGROUND else job_ctx.err()
            if err is None:
                err = pool_ctx.err()
            now = monotonic()
            if err is not None:  # its deadline passed in the queue, or it was cancelled
                end(entry, context_status(err), None, err, now, worker_id)
                return None
            entry.state = _RUNNING
            entry.worker_id = worker_id
            entry.started_at = now
            self._queued -= 1
            self._running += 1
            log_event((now - origin, ev.START, worker_id, entry.job.id, None, None))
            return entry

        try:
            while True:
                entry, ok = receive(begin, settle)
                if pending is not None:
                    if pending[0].state is _ABANDONED:
                        self._log_late(worker_id, pending[0], pending[1].status)
                    pending = None
                if not ok:
                    return
                if entry is None:
                    continue
                # Run without the lock, with a context that ends when the
                # job's own context or the pool's does.
                job = entry.job
                if job.ctx is _BACKGROUND:
                    status, result, error = call(rebind(job, pool_ctx), process)
                else:
                    ctx, release = Context.merge(job.ctx, pool_ctx)
                    try:
                        status, result, error = call(rebind(job, ctx), process)
                    finally:
                        release()
                # The outcome is built here, outside the lock, and recorded
                # (or found late) by settle() when this worker next receives.
                pending = entry, _new_outcome(Outcome, (
                    job.id, worker_id, status, result, error, entry.queued_at, entry.started_at,
                    monotonic()))
        finally:
            if pending is not None:  # only if receive() itself failed
                with self._lock:
                    settle()
            trace.record(ev.WORKER_EXIT, worker_id)
            self._wg.done()

    @staticmethod
    def _log_late(worker_id: int, entry: _Entry, status: Status) -> None:
        log.warning("job %s finished %s on worker %d after shutdown abandoned it",
                    entry.job.id, status.value, worker_id)

    def _end(self, entry: _Entry, status: Status, result: Any, error: BaseException | None,
             finished: float, worker_id: int | None) -> None:
        # Called with _lock held: end a job (run or not) with a new outcome.
        self._record(entry, _new_outcome(Outcome, (
            entry.job.id, worker_id, status, result, error, entry.queued_at, entry.started_at,
            finished)))

    def _record(self, entry: _Entry, outcome: Outcome) -> None:
        # Called with _lock held: the one and only terminal move of a job.
        if entry.state is _RUNNING:
            self._running -= 1
        else:
            self._queued -= 1
        status = outcome.status
        self._ended[status] += 1
        entry.state = status
        del self._inflight[outcome.job_id]
        self._outcomes.append(outcome)
        if status is _FAILED:
            self._errors.append(outcome)
        if self._closing:
            self._during.append(outcome)
        self._log((outcome.finished_at - self._t0, ev.END, outcome.worker_id, outcome.job_id,
                   status, None))

    # -- shutdown ----------------------------------------------------------

    def cancel(self) -> None:
        """Cancel the pool context: every running job's ``ctx`` is done from now on.

        Queued jobs then end ``CANCELED`` without running. Does not stop
        intake (see :meth:`shutdown`). Idempotent, never blocks.
        """
        if not self._ctx.done():
            self._cancel_ctx()
            self._trace.record(ev.CANCEL)

    def shutdown(
        self, timeout: float | None = None, *, drain: bool = True, grace: float = 0.1
    ) -> ShutdownReport:
        """Stop intake, let the workers finish, and account for every job.

        With ``drain=True`` queued jobs still run; with ``drain=False`` they
        end ``CANCELED`` unrun. Waits up to ``timeout`` seconds (``None``:
        forever) for the workers; if they are not done, cancels the pool
        context and waits up to ``grace`` more; jobs still running then are
        ``ABANDONED`` (their threads are daemon threads and may run on).
        Returns within ``timeout + grace`` plus a few milliseconds.

        Idempotent: once a report exists, every call returns that same
        report. Calls from several threads at once each keep their own
        bound; the first to finish writes the report the others return. If
        a ``KeyboardInterrupt`` stops the wait, the pool stays consistent
        and a later call finishes the job. Ending the jobs still queued
        takes time in proportion to their number (about 2 us each).
        Raises ``TypeError``/``ValueError`` for bad arguments.
        """
        timeout = check_timeout(timeout)
        grace = check_seconds(grace, "grace")
        if not isinstance(drain, bool):
            raise TypeError(f"drain must be a bool, got {type_name(drain)}")
        start = time.monotonic()
        trace = self._trace
        with self._lock:
            if self._report is not None:
                return self._report
            if not self._closing:
                self._closing = True
                deadline = None if timeout is None else start + timeout - trace.origin
                trace.record(ev.SHUTDOWN_REQUESTED, at=start, detail=deadline)
        # Every step below is safe to repeat, so a call that follows an
        # interrupted one (or runs beside another) simply does them again.
        # Closing wakes parked submitters: they withdraw and raise PoolClosed.
        with contextlib.suppress(ChannelClosed):
            self._jobs.close()
        with self._lock:
            while self._blocked_submits:  # bounded: a closed channel never blocks
                self._changed.wait()
            if not drain:
                self._end_all(_QUEUED, Status.CANCELED, "shutdown(drain=False)")
        clean = self._wg.wait(timeout)
        if not clean:
            trace.record(ev.SHUTDOWN_DEADLINE)
            self.cancel()
            self._wg.wait(grace)
        with self._lock:
            if self._report is not None:  # another thread's call finished first
                return self._report
            self._end_all(_QUEUED, Status.CANCELED, "shutdown")
            self._end_all(_RUNNING, Status.ABANDONED, "shutdown")
            during = self._during
            report = ShutdownReport(
                clean=clean,
                elapsed=time.monotonic() - start,
                drained=tuple(o for o in during
                              if o.status not in (Status.CANCELED, Status.ABANDONED)),
                canceled=tuple(o for o in during if o.status is Status.CANCELED),
                abandoned=tuple(o for o in during if o.status is Status.ABANDONED),
                stats=self._snapshot(),
            )
            self._report = report
        # Nothing is left to run: release the pool context's children. Not
        # traced as a cancel, since nobody was cancelled.
        self._cancel_ctx()
        trace.record(ev.SHUTDOWN_DONE)
        for o in report.abandoned:
            log.warning("job %s abandoned on worker %s after %.3f s", o.job_id, o.worker_id,
                        o.ran_for or 0.0)
        return report

    def _end_all(self, state: Status, status: Status, why: str) -> None:
        # Called with _lock held.
        now = time.monotonic()
        for entry in [e for e in self._inflight.values() if e.state is state]:
            error = Canceled(f"{why}: job never ran") if status is Status.CANCELED else None
            self._end(entry, status, None, error, now, entry.worker_id)

    # -- reading -----------------------------------------------------------

    @property
    def stats(self) -> Stats:
        """A consistent snapshot of the ledger. Never blocks for long."""
        with self._lock:
            return self._snapshot()

    def _snapshot(self) -> Stats:
        e = self._ended
        parts = (self._queued, self._running, e[Status.SUCCEEDED], e[Status.FAILED],
                 e[Status.CANCELED], e[Status.TIMED_OUT], e[Status.ABANDONED])
        return Stats(sum(parts), *parts)

    @property
    def outcomes(self) -> list[Outcome]:
        """The last ``keep`` outcomes, oldest first."""
        with self._lock:
            return list(self._outcomes)

    @property
    def errors(self) -> list[Outcome]:
        """The last ``keep`` FAILED outcomes, oldest first."""
        with self._lock:
            return list(self._errors)

    @property
    def trace(self) -> Trace:
        """The pool's event log (see :class:`~pool.Trace`)."""
        return self._trace

    @property
    def context(self) -> Context:
        """The pool context: done once :meth:`cancel` is called or shutdown times out."""
        return self._ctx

    @property
    def workers(self) -> int:
        """How many worker threads the pool started."""
        return self._workers

    @property
    def closed(self) -> bool:
        """True once shutdown has begun: submits raise ``PoolClosed``."""
        return self._closing

    @property
    def report(self) -> ShutdownReport | None:
        """The shutdown report, once a shutdown has completed."""
        return self._report

    def threads(self) -> list[threading.Thread]:
        """The worker threads in worker-id order (``threads()[0]`` is worker 1).

        A hung worker's thread stays alive after shutdown.
        """
        return list(self._threads)

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        # On an error in the with-block, queued work is dropped (CANCELED);
        # running jobs still finish. Without one, everything drains.
        self.shutdown(drain=exc_type is None)

    def __repr__(self) -> str:
        state = "closed" if self._closing else "open"
        return f"<WorkerPool {state} workers={self._workers} buffer={self._jobs.capacity}>"
