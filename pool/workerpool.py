"""The production pattern in one object: stages 1-4 plus the three concerns.

:class:`WorkerPool` is the dispatcher (workers started before traffic), the
channel and WaitGroup, graceful shutdown with a timeout, a pool-wide
context that cancels running jobs, and the ledger (``pool.ledger``) that
accounts for every job it accepted and resolves its future.

The worker threads hold the channel, the ledger and ``process``, never the
pool object itself: a pool dropped without ``shutdown()`` is collected, its
intake closes, and its workers finish the accepted jobs and exit, as
``ThreadPoolExecutor``'s do. At interpreter exit a pool not shut down is
shut down with ``timeout=exit_timeout``.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import logging
import threading
import time
import weakref
from collections.abc import Callable, Iterable
from concurrent.futures.thread import BrokenThreadPool
from types import TracebackType
from typing import Any, TypeVar

from . import trace as ev
from ._lifecycle import FORKED_STATS, LivePools, forked_report, unstoppable
from ._validate import check_callable, check_int, check_seconds, check_timeout, type_name
from .channel import Channel, ChannelClosed
from .context import Context, background
from .job import Job, Outcome, Status
from .ledger import (
    Abandoned,
    Entry,
    JobFuture,
    Ledger,
    PoolClosed,
    ShutdownReport,
    Stats,
    forget_frames,
)
from .trace import Trace
from .waitgroup import WaitGroup
from .worker import Process, _local, call, context_status, current_worker_id

__all__ = ["Abandoned", "JobFuture", "PoolClosed", "ShutdownReport", "Stats", "WorkerPool",
           "current_worker_id"]

log = logging.getLogger("pool")

_BACKGROUND = background()
_QUEUED, _RUNNING = Status.QUEUED, Status.RUNNING
_UNBOUNDED = 2**62  # buffer=None: a capacity no program reaches
T = TypeVar("T")


class WorkerPool:
    """A fixed set of worker threads running ``process(job)`` for each submitted job.

    ``WorkerPool(process, workers=4, *, buffer=100, keep=10_000,
    exit_timeout=5.0, initializer=None, initargs=(), keep_results=True)``
    starts ``workers``
    daemon threads at once, before any job arrives; each first calls
    ``initializer(*initargs)`` if given (if one raises, the pool is broken:
    queued jobs fail and submits raise ``BrokenThreadPool``). ``buffer`` jobs
    may wait (0: every submit waits for a free worker; ``None``: unbounded,
    no backpressure). The pool keeps the last ``keep`` outcomes and a trace
    of about as many jobs; with ``keep_results=False`` the kept outcomes
    drop the jobs' return values (each future still has its own), so big
    or many results are not held. Use it as a context manager, or call
    :meth:`shutdown`; at interpreter exit a pool not shut down is shut down
    with ``timeout=exit_timeout``. Raises ``TypeError``/``ValueError`` for
    bad arguments.
    """

    def __init__(
        self,
        process: Process,
        workers: int = 4,
        *,
        buffer: int | None = 100,
        keep: int = 10_000,
        exit_timeout: float = 5.0,
        initializer: Callable[..., object] | None = None,
        initargs: Iterable[Any] = (),
        keep_results: bool = True,
        _thread_name: Callable[[int], str] | None = None,
    ) -> None:
        self._process = check_callable(process, "process")
        self._workers = check_int(workers, "workers", minimum=1)
        capacity = _UNBOUNDED if buffer is None else check_int(buffer, "buffer", minimum=0)
        check_int(keep, "keep", minimum=0)
        if not isinstance(keep_results, bool):
            raise TypeError(f"keep_results must be a bool, got {type_name(keep_results)}")
        self.exit_timeout = check_seconds(exit_timeout, "exit_timeout")
        """How long interpreter exit waits for this pool if it was not shut down."""
        if initializer is not None:
            check_callable(initializer, "initializer")
        initargs = tuple(initargs)
        self._lock = lock = threading.Lock()
        self._ctx, self._cancel_ctx = _BACKGROUND.with_cancel()
        self._trace = Trace(maxlen=min(4 * keep + 4 * workers + 16, 10_000_000))
        self._ledger = ledger = Ledger(keep=keep, trace=self._trace, lock=lock,
                                       keep_results=keep_results)
        # The channel shares the ledger's lock, so a job enters the channel
        # and the ledger (or leaves both) in one step: one lock per job move.
        self._jobs: Channel[JobFuture] = Channel._sharing(capacity, lock)
        ledger.discard = self._jobs._discard  # future.cancel() frees the job's place
        self._wg = WaitGroup()
        self._forked = False  # set in a child process after os.fork()
        # What shutdown needs, without the pool object: so that a pool dropped
        # unshut can still be shut down at interpreter exit.
        self._parts = _Parts(ledger, self._jobs, self._wg, self._ctx, self._cancel_ctx)
        name = _thread_name or (lambda worker_id: f"pool-worker-{worker_id}")
        self._threads: list[threading.Thread] = []
        for worker_id in range(1, workers + 1):
            # add before start, as in Go: a shutdown must never see a count
            # that misses a worker which has not yet started running.
            self._wg.add(1)
            thread = threading.Thread(
                target=_work, name=name(worker_id), daemon=True,
                args=(worker_id, self._jobs, ledger, self._wg, process, self._ctx,
                      (initializer, initargs)))
            try:
                thread.start()
            except BaseException:
                # Out of threads: nobody will ever shut this pool down, so let
                # the workers already started leave their loop, and re-raise.
                self._wg.done()
                ledger.closed = True
                self._jobs.close()
                raise
            self._threads.append(thread)
        _track(self)

    # -- intake -----------------------------------------------------------

    def submit(self, job: Job, timeout: float | None = None) -> JobFuture:
        """Queue ``job`` and return its future; block while the buffer is full.

        Waits at most ``timeout`` seconds for room. The job runs in a copy of
        the caller's ``contextvars``. Raises ``PoolClosed`` once shutdown has
        begun (also if it begins while this call waits), ``TimeoutError`` if
        no room was made in time (the job is then not in the pool, and not
        counted), ``ValueError`` if a job with the same id is queued or
        running, ``TypeError`` if ``job`` is not a :class:`~pool.Job`. If it
        raises (a ``KeyboardInterrupt`` included), the job was not accepted,
        or it was and will run: the ledger counts it either way correctly.
        """
        if timeout is not None:
            timeout = check_timeout(timeout)
        entry = self._entry(job)
        ledger = self._ledger
        sent = waited = False
        try:
            with self._lock:
                ledger.reserve(entry)
                if self._jobs._offer(entry):
                    ledger.accept(entry)
                    sent = True
                    return entry
                if timeout == 0:
                    raise TimeoutError(f"pool buffer full: job {job.id!r} not queued")
                waited = True
            self._jobs.send(entry, timeout)
            sent = True
            return entry
        except ChannelClosed:
            raise ledger.refusal(job.id) from None
        except TimeoutError:
            raise TimeoutError(f"pool buffer full: job {job.id!r} not queued "
                               f"within {timeout:g} s") from None
        finally:
            # (No call on the next two lines: CPython checks for signals only at
            # calls, function entries and backward jumps, so a real interrupt
            # lands at the earliest inside the try.)
            if waited or not sent:  # the slow path, or an error: settle the entry's fate
                try:
                    self._settle_submit(entry, sent)
                except KeyboardInterrupt:
                    # It stopped the settling itself (only the main thread gets
                    # one): settle again, each step being safe to repeat, then
                    # let it go on.
                    self._settle_submit(entry, sent)
                    raise

    def _settle_submit(self, entry: JobFuture, sent: bool) -> None:
        # A submit that waited for room, or raised, ends here. Each step is
        # safe to repeat, and the job is in the channel only if it was sent:
        # there a worker (or shutdown) accepts it if this does not get to.
        # So an interrupt anywhere in submit leaves the job either accepted
        # (and counted) or withdrawn (never run, not counted).
        with self._lock:
            if sent:
                self._ledger.accept(entry)  # unless a worker took it and accepted it first
            else:
                # Not taken (closed, timed out, interrupted). If an interrupt
                # raced the hand-off, a worker that finds it withdrawn skips it.
                self._ledger.withdraw(entry)

    def try_submit(self, job: Job) -> JobFuture | None:
        """Queue ``job`` only if that needs no waiting; return its future, or ``None``.

        Never blocks. Raises ``PoolClosed``, ``ValueError`` and ``TypeError``
        as :meth:`submit` does.
        """
        entry = self._entry(job)
        ledger = self._ledger
        accepted = False
        try:
            with self._lock:
                ledger.reserve(entry)
                if self._jobs._offer(entry):
                    ledger.accept(entry)
                    accepted = True
                    return entry
                ledger.withdraw(entry)
                return None
        finally:
            if not accepted and entry.status is None:  # raised half-way
                self._settle_submit(entry, False)

    def _entry(self, job: Job) -> JobFuture:
        if self._forked:
            raise PoolClosed("this pool belongs to the parent process (os.fork)")
        if not isinstance(job, Job):
            raise TypeError(f"job must be a pool.Job, got {type_name(job)}")
        return JobFuture(job, self._ledger, contextvars.copy_context())

    # -- shutdown ----------------------------------------------------------

    def cancel(self) -> None:
        """Cancel the pool context: every running job's ``ctx`` is done from now on.

        Queued jobs then end ``CANCELED`` without running. Does not stop
        intake (see :meth:`shutdown`). Idempotent, never blocks.
        """
        self._parts.cancel()

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
        Raises ``RuntimeError`` when called from one of this pool's own
        jobs (it would wait for itself), ``TypeError``/``ValueError`` for
        bad arguments.
        """
        timeout = check_timeout(timeout)
        grace = check_seconds(grace, "grace")
        if not isinstance(drain, bool):
            raise TypeError(f"drain must be a bool, got {type_name(drain)}")
        if self._forked:
            return forked_report()
        if getattr(_local, "ledger", None) is self._ledger:
            raise RuntimeError("shutdown() called from one of the pool's own jobs would wait "
                               "for itself; call cancel(), or shut down from outside the pool")
        if self._ledger.report is not None:
            return self._ledger.report
        return unstoppable(_shut_down, self._parts, time.monotonic(), timeout, drain, grace)

    def _stop_intake(self, drain: bool) -> None:
        # The non-waiting half of shutdown: Executor.shutdown(wait=False).
        if not self._forked:
            unstoppable(_stop_intake, self._parts, drain, time.monotonic(), None)

    # -- reading -----------------------------------------------------------

    @property
    def stats(self) -> Stats:
        """A consistent snapshot of the ledger. Never blocks for long."""
        return FORKED_STATS if self._forked else self._ledger.stats

    @property
    def outcomes(self) -> list[Outcome]:
        """The last ``keep`` outcomes, oldest first."""
        return [] if self._forked else self._ledger.outcomes

    @property
    def errors(self) -> list[Outcome]:
        """The last ``keep`` FAILED outcomes, oldest first."""
        return [] if self._forked else self._ledger.errors

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
        """True once shutdown has begun (or in a forked child): submits raise ``PoolClosed``."""
        return self._forked or self._ledger.closed

    @property
    def report(self) -> ShutdownReport | None:
        """The shutdown report, once a shutdown has completed."""
        return self._ledger.report

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
        state = "closed" if self.closed else "open"
        capacity = self._jobs.capacity
        buffer = "unbounded" if capacity == _UNBOUNDED else capacity
        return f"<WorkerPool {state} workers={self._workers} buffer={buffer}>"


class _Parts:
    """What a pool's shutdown needs, and nothing that holds the pool object."""

    __slots__ = ("cancel_ctx", "ctx", "jobs", "ledger", "wg")

    def __init__(self, ledger: Ledger, jobs: Channel[JobFuture], wg: WaitGroup, ctx: Context,
                 cancel_ctx: Callable[[], None]) -> None:
        self.ledger = ledger
        self.jobs = jobs
        self.wg = wg
        self.ctx = ctx
        self.cancel_ctx = cancel_ctx

    def cancel(self) -> None:
        if not self.ctx.done():
            self.cancel_ctx()
            self.ledger.trace.record(ev.CANCEL)


def _shut_down(parts: _Parts, start: float, timeout: float | None, drain: bool,
               grace: float) -> ShutdownReport:
    """The steps of :meth:`WorkerPool.shutdown`, each safe to repeat.

    A call that follows an interrupted one, or runs beside another, simply
    does them again.
    """
    ledger, trace = parts.ledger, parts.ledger.trace
    _stop_intake(parts, drain, start, timeout)
    clean = parts.wg.wait(timeout)
    if not clean:
        trace.record(ev.SHUTDOWN_DEADLINE)
        parts.cancel()
        parts.wg.wait(grace)
    if ledger.report is not None:  # another thread's call finished first
        return ledger.report
    _accept_sent(parts)
    ledger.end_all(_QUEUED, Status.CANCELED, "shutdown")
    ledger.end_all(_RUNNING, Status.ABANDONED, "shutdown")
    with ledger.lock:
        report = ledger.finish(clean, time.monotonic() - start)
    # Nothing is left to run: release the pool context's children. Not
    # traced as a cancel, since nobody was cancelled.
    parts.cancel_ctx()
    trace.record(ev.SHUTDOWN_DONE)
    for o in report.abandoned:
        log.warning("job %s abandoned on worker %s after %.3f s", o.job_id, o.worker_id,
                    o.ran_for or 0.0, extra={"job_id": o.job_id, "worker_id": o.worker_id})
    return report


def _stop_intake(parts: _Parts, drain: bool, start: float, timeout: float | None) -> None:
    """Stop intake and close the channel; with ``drain=False`` cancel the queued jobs."""
    ledger, trace = parts.ledger, parts.ledger.trace
    with ledger.lock:
        if ledger.close():
            deadline = None if timeout is None else start + timeout - trace.origin
            trace.record(ev.SHUTDOWN_REQUESTED, at=start, detail=deadline)
    # Closing wakes parked submitters: they withdraw and raise PoolClosed.
    with contextlib.suppress(ChannelClosed):
        parts.jobs.close()
    if not drain:
        _accept_sent(parts)
        ledger.end_all(_QUEUED, Status.CANCELED, "shutdown(drain=False)")


def _accept_sent(parts: _Parts) -> None:
    # A job a waiting submitter got into the channel is in the pool, even if
    # that submitter has not yet said so (or never will: interrupted): accept
    # it here, so that a sweep that follows accounts for it.
    with parts.ledger.lock:
        for entry in parts.jobs._buffer:
            parts.ledger.accept(entry)


# -- the worker -------------------------------------------------------------

def _work(worker_id: int, jobs: Channel[JobFuture], ledger: Ledger, wg: WaitGroup,
          process: Process, pool_ctx: Context,
          init: tuple[Callable[..., object] | None, tuple[Any, ...]]) -> None:
    """One worker thread: take a job, run it, record its end; until the channel closes.

    It takes the lock once per job: to record the end of the job it just
    ran and take the next one, in one step. It holds nothing of the pool
    object, and nothing of its last job while it waits for the next one.
    """
    _local.worker_id = worker_id
    _local.ledger = ledger
    _local.pool_ctx = pool_ctx
    start = functools.partial(ledger.start, worker_id)
    done: list[tuple[Any, ...]] = []  # the job just run and how it ended, until recorded
    record = functools.partial(ledger.record_pending, done)
    keep_results = ledger.keep_results
    ledger.trace.record(ev.WORKER_START, worker_id)
    try:
        if _initialized(worker_id, ledger, jobs, init):
            while True:
                entry, ok = jobs._recv_then(start, record)
                if not ok:
                    return  # closed and drained
                if entry is not None:
                    ran = _run(entry, worker_id, process, pool_ctx, keep_results)
                    if ran[1].error is not None:
                        # Now that _run has returned, its frame can be cleared too.
                        forget_frames(ran[1].error)
                    done.append(ran)
                    del ran
                del entry  # an idle worker holds nothing of its last job
    finally:
        if done:  # only if the receive itself failed
            with ledger.lock:
                notify = ledger.record_pending(done)
            if notify is not None:
                notify()
        _local.ledger = _local.pool_ctx = None
        ledger.trace.record(ev.WORKER_EXIT, worker_id)
        wg.done()


def _run(entry: Entry, worker_id: int, process: Process, pool_ctx: Context,
         keep_results: bool) -> tuple[Entry, Outcome, Any]:
    """Run one job, unless its context is already done.

    Returns ``(entry, outcome, result)``, as :meth:`Ledger.record` takes them.
    """
    job = entry.job
    assert job is not None  # a line lets go of its job only when it ends
    err = pool_ctx.err() if job.ctx is _BACKGROUND else (job.ctx.err() or pool_ctx.err())
    if err is not None:  # its deadline passed in the queue, or it was cancelled
        return entry, Outcome(job.id, worker_id, context_status(err), None, err,
                              entry.queued_at, None, time.monotonic()), None
    # The job sees a context that ends when its own or the pool's does.
    release = None
    if job.ctx is _BACKGROUND:
        job = job.with_ctx(pool_ctx)
    elif job.ctx is not pool_ctx:
        ctx, release = Context.merge(job.ctx, pool_ctx)
        job = job.with_ctx(ctx)
    try:  # in a copy of the submitter's contextvars
        status, result, error = entry.context.run(  # type: ignore[union-attr]
            call, job, process, worker_id)
    finally:
        if release is not None:
            release()
    return entry, Outcome(job.id, worker_id, status, result if keep_results else None, error,
                          entry.queued_at, entry.started_at, time.monotonic()), result


def _initialized(worker_id: int, ledger: Ledger, jobs: Channel[JobFuture],
                 init: tuple[Callable[..., object] | None, tuple[Any, ...]]) -> bool:
    """Run the pool's initializer in this worker; on failure break the pool."""
    initializer, initargs = init
    if initializer is None:
        return True
    try:
        initializer(*initargs)
        return True
    except BaseException as exc:
        log.error("worker %d: initializer failed: %r", worker_id, exc, exc_info=exc,
                  extra={"job_id": None, "worker_id": worker_id})
        broken = BrokenThreadPool(f"a worker's initializer failed ({exc!r}): the pool is "
                                  "broken and takes no more jobs")
        with ledger.lock:
            ledger.close(refuse=broken)
        with contextlib.suppress(ChannelClosed):
            jobs.close()
        ledger.end_all(_QUEUED, Status.FAILED, "initializer failed", error=broken)
        return False


# -- pools the process must remember: exit, fork, dropped pools --------------

def _track(pool: WorkerPool) -> None:
    _live.track(pool)  # (at exit, a thread blocked in submit() is released by PoolClosed)
    # Dropped without shutdown: close intake so the workers drain and exit.
    weakref.finalize(pool, _dropped, pool._parts, pool.exit_timeout)


# Dropped pools whose workers may still be draining, with their exit_timeout.
_draining: dict[_Parts, float] = {}


def _dropped(parts: _Parts, exit_timeout: float) -> None:
    # Called by the garbage collector, which may run inside any thread's
    # critical section, even one holding this ledger's lock: so take no lock
    # here, and let a short-lived thread close the intake and see the
    # workers out. Until they are out, interpreter exit shuts the parts down.
    if parts.ledger.report is not None:  # shut down already: every job is accounted for
        return

    def close_and_wait() -> None:
        _stop_intake(parts, True, time.monotonic(), None)
        parts.wg.wait()
        _draining.pop(parts, None)

    _draining[parts] = exit_timeout
    with contextlib.suppress(RuntimeError):  # at interpreter exit: _at_exit sees it
        threading.Thread(target=close_and_wait, name="pool-dropped", daemon=True).start()


def _at_exit() -> None:
    # Every pool gets its exit_timeout counted from the same moment, so
    # several pools do not add up their bounds. A dropped pool is shut down
    # as a live one is: its accepted jobs are not silently lost.
    began = time.monotonic()
    quiet = {"job_id": None, "worker_id": None}
    pending = [(pool._parts, pool.exit_timeout, repr(pool)) for pool in _live.pools()
               if not pool._forked]
    pending += [(parts, t, "a dropped pool") for parts, t in list(_draining.items())]
    for parts, exit_timeout, name in pending:
        if parts.ledger.report is not None:
            continue
        left = max(0.0, exit_timeout - (time.monotonic() - began))
        try:
            report = _shut_down(parts, time.monotonic(), left, True, 0.1)
        except Exception:  # one pool's failure must not cost the others their drain
            log.exception("at exit, shutting down %s failed", name, extra=quiet)
            continue
        if not report.clean:
            log.warning("at exit, %s: %s", name, report, extra=quiet)


def _after_fork_in_child() -> None:
    # The child has one thread: the pool's workers did not survive the
    # fork, and its locks may be held by threads that no longer exist. The
    # child's copy is closed without touching them, and forgotten: its exit
    # waits for none of the parent's pools.
    for pool in _live.forget_after_fork():
        pool._forked = True
    _draining.clear()


_live: LivePools[WorkerPool] = LivePools(_at_exit, _after_fork_in_child)
