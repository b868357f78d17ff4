"""asyncio: workers as tasks, real cancellation, and the loop you must not block.

A thread cannot be stopped from outside; an asyncio task can: ``task.cancel()``
raises ``CancelledError`` at the job's next ``await``. :class:`AsyncPool` is
the production pool on that footing. It keeps the same ledger as the thread
and process pools (``pool.ledger``: every accepted job ends exactly once, the
same ``Stats``, ``ShutdownReport`` and ``Trace``) and adds only how jobs run
in an event loop and how they are stopped.

The shape, all in the loop's thread::

    await submit(job) --> buffer (a deque, bounded) --> N worker tasks --> await process(job)
                    \\___ hand-off straight to an idle worker (its own future)

Decisions, and why:

- **Where the pool lives.** A pool belongs to the event loop that is running
  when it is made, and its worker tasks are created right there, before any
  job arrives (they first run at the loop's next turn). Made with no running
  loop, the constructor raises ``RuntimeError`` naming the fix (make it in an
  ``async def``; in Jupyter a cell already runs in the kernel's loop, so
  ``pool = AsyncPool(...)`` and top-level ``await pool.submit(...)`` work
  there). Every ledger move happens in that loop's thread, so the ledger's
  lock is never contended and futures are resolved where they live; it is
  still taken, so that readers in other threads see consistent counts, but
  only twice a job: a submit reserves and accepts in one step, and a worker
  records a job's end in the same hold that starts its next job. Other
  threads use :meth:`AsyncPool.submit_threadsafe` and :meth:`AsyncPool.cancel`;
  the readers (``stats``, ``outcomes``, ``errors``, ``trace``, ``report``)
  are safe from any thread.
- **A job runs inline in its worker's task**, not in a task of its own: a
  task per job costs a loop turn per job, about the whole budget of the
  hand-written idiom. To cancel a running job the pool cancels its worker's
  task, marks why, and the worker catches the ``CancelledError``, ends the
  job CANCELED, calls ``task.uncancel()`` and takes the next job. A
  ``CancelledError`` the pool did not ask for (the loop is closing, an
  enclosing ``TaskGroup``) ends the job CANCELED and the worker with it; when
  the last worker is gone that way the pool closes and its queued jobs end
  CANCELED, so the ledger still adds up.
- **Futures.** :class:`AsyncJobFuture` is an ``asyncio.Future`` subclass and
  is also the job's ledger line (the attributes of :class:`~pool.ledger.Entry`),
  so a job costs one object: it resolves exactly as a :class:`~pool.JobFuture`
  does (SUCCEEDED: the result; FAILED, TIMED_OUT, cancelled by the pool: the
  exception; ABANDONED: :class:`~pool.Abandoned`; never ran and CANCELED: a
  cancelled future). ``future.cancel()`` takes a queued job out of the buffer
  (CANCELED, never run) and, asyncio-style, cancels a *running* job for real
  (its future then ends cancelled): so ``asyncio.wait_for(future, 1)`` and
  ``asyncio.timeout`` around ``await future`` stop the job, not only the
  wait. A failed job's exception is logged by the pool, so an unawaited
  future does not log "exception was never retrieved" as well.
  :meth:`AsyncJobFuture._settle` resolves the future (it runs in the loop's
  thread; resolving only schedules callbacks). A job's end is recorded with
  ``Ledger.record_end``, which keeps the future itself and makes the job's
  :class:`~pool.Outcome` only when someone reads it: no second object per
  job for the garbage collector to walk.
- **Deadlines** are enforced with ``asyncio.timeout_at`` at the job's
  context deadline (the loop's clock is ``time.monotonic``, like
  ``Context``'s): the job ends TIMED_OUT with ``DeadlineExceeded``. A
  deadline that has passed is the cause, even if a cancel came too.
- **Context bridges.** ``job.ctx`` inside ``process`` is a per-job
  :class:`~pool.Context`: done when the job's own context is done, when the
  pool is cancelled, and when the job's task is cancelled for any reason
  (the job ends; so does its context, for code it handed the context to,
  such as a thread from ``asyncio.to_thread``). The other way: a job's own
  context cancelled from any thread cancels the task (the context's waker
  calls ``loop.call_soon_threadsafe``), and the job ends CANCELED. A job
  with the default ``background()`` context gets a light context (no link
  into the context tree: the pool ends it itself), so it costs a fraction
  of a microsecond.
- **Swallowed cancellation.** A job that catches ``CancelledError`` and goes
  on is not cancelled again: after ``grace`` shutdown ends it ABANDONED, as
  threads do, and returns; its worker task runs on until the job returns
  (then its end is traced as late). A job that swallows it and returns ends
  with its own result.
- **A blocked loop** (``time.sleep`` in an ``async def``) freezes every
  other job, timers and I/O included. Each worker task's coroutine is
  wrapped so that every step the task runs is timed (two clock reads a
  step, not a job); a job that held the loop longer than ``slow_job``
  seconds (default 0.1, asyncio debug mode's own limit is 0.1 s too) gets a
  :class:`BlockedLoopWarning` naming the job id, the worker and how long it
  blocked, at the moment it gives the loop back. Route warnings to logging
  with ``logging.captureWarnings(True)``.
- **Shutdown** (``await shutdown(timeout, drain, grace)``): stop intake
  (waiting submitters raise ``PoolClosed``), wait up to ``timeout`` for the
  workers, then cancel the pool (running jobs' tasks are cancelled, queued
  jobs end CANCELED unrun) and return as soon as every worker has ended, at
  most ``grace`` later; jobs still running then are ABANDONED. ``clean`` is
  True when no job had to be cancelled.
- **cancel()** works from any thread and never blocks; in the loop, ``await
  pool.cancel()`` also waits until the jobs it cancelled have ended.
- Not here, unlike the thread pool: no interpreter-exit hook (a pool lives
  and dies with its loop: ``asyncio.run`` cancels the workers at its end,
  see above), no fork handling, no contextvars per submit (a job runs in its
  worker task's context, a copy of the creator's, as tasks in a
  ``TaskGroup`` do). :func:`current_worker_id` works inside jobs.
"""

from __future__ import annotations

import asyncio
import collections.abc
import concurrent.futures
import contextlib
import contextvars
import inspect
import logging
import math
import threading
import time
import warnings
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Generator
from types import TracebackType
from typing import Any

from . import context as _context
from . import trace as ev
from ._validate import check_callable, check_int, check_seconds, check_timeout, type_name
from .context import Canceled, Context, DeadlineExceeded, background
from .job import Job, Outcome, Status, _copy_with_ctx
from .ledger import (
    Ledger,
    PoolClosed,
    ShutdownReport,
    Stats,
    abandoned_error,
    forget_frames,
    lazy_outcome,
    never_ran,
)
from .trace import Trace
from .worker import context_status

__all__ = ["AsyncJobFuture", "AsyncPool", "BlockedLoopWarning", "ThreadsafeFuture",
           "current_worker_id"]

log = logging.getLogger("pool")

_BACKGROUND = background()
_QUEUED, _RUNNING = Status.QUEUED, Status.RUNNING
_SUCCEEDED, _FAILED = Status.SUCCEEDED, Status.FAILED
_CANCELED, _TIMED_OUT, _ABANDONED = Status.CANCELED, Status.TIMED_OUT, Status.ABANDONED
_UNBOUNDED = 2**62  # buffer=None
_monotonic = time.monotonic
_CancelledError = asyncio.CancelledError
_future_cancel = asyncio.Future.cancel

_worker_id: contextvars.ContextVar[int | None] = contextvars.ContextVar(
    "pool_aio_worker_id", default=None)


def current_worker_id() -> int | None:
    """The id of the :class:`AsyncPool` worker task running the caller, or ``None``.

    Call it inside ``process(job)`` (each worker task has its own value).
    Never blocks.
    """
    return _worker_id.get()


class BlockedLoopWarning(RuntimeWarning):
    """A job held the event loop (ran without awaiting) longer than the pool's ``slow_job``.

    While it did, no other job, timer or I/O callback could run. ``job_id``,
    ``worker_id`` and ``blocked`` (seconds) say which and how long.
    """

    def __init__(self, job_id: str, worker_id: int, blocked: float, limit: float) -> None:
        super().__init__(
            f"job {job_id!r} on worker {worker_id} blocked the event loop for "
            f"{blocked * 1000:.0f} ms (slow_job={limit * 1000:.0f} ms): every other job "
            "waited meanwhile. Await instead of blocking (asyncio.sleep, not time.sleep), "
            "or run blocking code with asyncio.to_thread")
        self.job_id = job_id
        self.worker_id = worker_id
        self.blocked = blocked


# -- the job's context --------------------------------------------------------

def _light_context() -> Context:
    """A context for a job with the default context: no parents, no deadline.

    Made the way context.py makes the background context (no link into the
    tree, so no lock): about 0.2 us instead of 0.8. The pool ends it itself
    when it cancels the job or the pool. (The worker inlines this: one per job.)
    """
    ctx = Context.__new__(Context)
    ctx._parents = ()
    ctx._deadline = None
    ctx._err = None
    ctx._event = None
    ctx._children = None
    return ctx


def _end_context(ctx: Context) -> None:
    """End ``ctx`` (Canceled, or DeadlineExceeded if past its deadline) and unlink it.

    What ``cancel()`` of ``with_cancel``/``merge`` does, for contexts the
    pool made without keeping their cancel function.
    """
    with _context._tree:
        if ctx._err is None:
            ctx._end(Canceled)
        else:
            ctx._detach()


class _Waker:
    """Stands in for a job context's ``threading.Event``: its ``set()`` also wakes the loop.

    ``Context._end`` calls ``set()`` on a context's event (with the context
    tree's lock held) the moment the context ends, in whatever thread ended
    it; that is the one hook a Context offers, and it costs nothing until it
    fires. ``wait()`` makes a real Event the first time a thread waits.
    """

    __slots__ = ("_event", "_fire", "_set")

    def __init__(self, fire: Callable[[], object]) -> None:
        self._fire: Callable[[], object] | None = fire
        self._event: threading.Event | None = None
        self._set = False

    def set(self) -> None:  # called with context._tree held
        self._set = True
        fire, self._fire = self._fire, None
        if self._event is not None:
            self._event.set()
        if fire is not None:
            with contextlib.suppress(RuntimeError):  # the loop is closed: nobody to cancel
                fire()

    def is_set(self) -> bool:
        return self._set

    def wait(self, timeout: float | None = None) -> bool:
        event = self._event
        if event is None:
            with _context._tree:  # set() runs under this lock: no wake-up is lost
                event = self._event
                if event is None:
                    event = self._event = threading.Event()
                    if self._set:
                        event.set()
        return event.wait(timeout)


# -- futures -----------------------------------------------------------------

class AsyncJobFuture(asyncio.Future[Any]):
    """The ``asyncio.Future`` of one job accepted by an :class:`AsyncPool`, and its ledger line.

    ``await`` it for the job's result. ``job_id`` names the job; ``outcome``
    is its :class:`~pool.Outcome` once done. It resolves exactly when the
    job's ledger line ends: SUCCEEDED sets the result; FAILED, TIMED_OUT (a
    ``DeadlineExceeded``) and a job the pool cancelled while it ran (a
    ``Canceled``) set the exception; ABANDONED sets a :class:`~pool.Abandoned`;
    a job that never ran and ended CANCELED is a cancelled future.

    :meth:`cancel` takes a queued job out of the pool, and cancels a running
    one for real. Use it in the pool's loop only (as any asyncio future).
    The pool resolves it: do not call ``set_result``.

    It has the attributes of a :class:`~pool.ledger.Entry` (``job``,
    ``status``, ``queued_at``...) and is passed to the ledger as one (an
    Entry's slots and a C future's layout cannot share a class, hence the
    ``type: ignore[arg-type]`` where the ledger takes it).
    """

    # As few slots as will do: the garbage collector walks every slot of every
    # kept future at each collection. (``ledger`` is the pool's; ``context`` is
    # always None here: jobs run in their worker task's contextvars.)
    __slots__ = ("_outcome", "_pool", "error", "finished_at", "job", "job_id", "queued_at",
                 "started_at", "status", "worker_id")

    context = None
    _pool: AsyncPool
    job: Job | None
    job_id: str
    status: Status | None
    queued_at: float
    started_at: float | None
    worker_id: int | None
    _outcome: Outcome | None
    error: BaseException | None
    finished_at: float | None

    # No __init__ of its own: the pool makes one per job with the C Future's
    # (in the loop's thread, so it belongs to the running loop) and sets the
    # line's fields itself (AsyncPool.submit).

    @property
    def ledger(self) -> Ledger:
        """The pool's ledger, where this is the job's line."""
        return self._pool._ledger

    @property
    def outcome(self) -> Outcome | None:
        """How the job ended (an :class:`~pool.Outcome`), ``None`` until it has."""
        return self._outcome or lazy_outcome(self)

    def cancel(self, msg: Any | None = None) -> bool:
        """Cancel the job: a queued one ends CANCELED unrun, a running one is cancelled.

        Queued: taken out of the buffer, the future is cancelled at once,
        returns True. Running: its task gets ``CancelledError`` at the
        job's next ``await``; returns True and the future ends cancelled
        when the job has ended (CANCELED; a job that swallows the
        cancellation ends with its own result, as a Task does). Ended:
        returns False. Also called by ``asyncio`` when a task awaiting this
        future is cancelled (``wait_for``, ``timeout``). Never blocks.
        """
        if self.done():
            return False
        status = self.status
        if status is _QUEUED:
            return self.ledger.cancel_queued(self)  # type: ignore[arg-type]
        if status is _RUNNING:
            return self._pool._cancel_running(self)
        return False

    def _settle(self, status: Status, result: Any, error: BaseException | None) -> bool:
        # The terminal move, in the loop's thread: resolve now (this only
        # schedules the callbacks), nothing to do after the lock.
        asked = self._pool._cancel_asked  # (a job the pool was asked to cancel ends cancelled)
        cancel_asked = asked.pop(self, False) if asked else False
        if status is _SUCCEEDED:
            self.set_result(result)
        elif status is _CANCELED and (cancel_asked or never_ran(self)):
            _future_cancel(self)
        else:
            if status is _ABANDONED:
                error = abandoned_error(self)
            # A cancelled error would be "exception was never retrieved" noise:
            # the pool has logged the job's failure already.
            self.set_exception(error if error is not None else RuntimeError(status.value))
            self._log_traceback = False
        return False

    def _notify(self) -> None:  # pragma: no cover - _settle never asks for it
        pass

    def _value(self) -> Any:
        return self.result()

    def __repr__(self) -> str:
        status = self.status.value if self.status is not None else "submitting"
        return f"<AsyncJobFuture job={self.job_id!r} {status}>"


class ThreadsafeFuture(concurrent.futures.Future[Any]):
    """What :meth:`AsyncPool.submit_threadsafe` returns: a ``concurrent.futures.Future``.

    ``job_id`` names the job; ``outcome`` is its :class:`~pool.Outcome`
    once the job has ended (``None`` if the submit itself failed). It
    resolves as the job's :class:`AsyncJobFuture` does; if the submit
    fails (``PoolClosed``, ``TimeoutError``, a duplicate id) it holds that
    error. ``cancel()`` from any thread cancels the job (queued or
    running) and returns True unless the job has ended.
    """

    def __init__(self, job_id: str) -> None:
        super().__init__()
        self.job_id = job_id
        self.outcome: Outcome | None = None


# -- the per-worker state ----------------------------------------------------

class _Worker:
    """One worker task and what it is doing, as the pool sees it."""

    __slots__ = ("ctx", "entry", "id", "seg", "task", "why")

    def __init__(self, worker_id: int) -> None:
        self.id = worker_id
        self.task: asyncio.Task[None] | None = None
        self.entry: AsyncJobFuture | None = None  # the job it runs now
        self.ctx: Context | None = None  # that job's context
        self.why: BaseException | None = None  # set when the pool cancelled the job
        self.seg = 0.0  # when the job last got the loop (for the blocked-loop check)


_FUTURE_CANCEL = Canceled("future cancelled while the job ran")  # marks why= for that case


class _Timed(Coroutine[Any, Any, None]):
    """A worker task's coroutine, with each step it runs timed.

    The task calls ``send``/``throw`` once per step (from one ``await`` that
    suspends to the next). A job that was running at the end of a step, or
    ended within it, held the loop from the later of the step's start and
    its own start: more than ``limit`` is a :class:`BlockedLoopWarning`.
    """

    __slots__ = ("_coro", "_limit", "_w")

    def __init__(self, coro: Coroutine[Any, Any, None], w: _Worker, limit: float) -> None:
        self._coro = coro
        self._w = w
        self._limit = limit

    def send(self, value: Any) -> Any:
        w = self._w
        w.seg = _monotonic()
        try:
            return self._coro.send(value)
        finally:
            entry = w.entry
            if entry is not None and _monotonic() - w.seg > self._limit:
                _blocked(entry.job_id, w.id, _monotonic() - w.seg, self._limit)

    def throw(self, typ: Any, val: Any = None, tb: Any = None) -> Any:
        w = self._w
        w.seg = _monotonic()
        try:
            if val is None and tb is None:
                return self._coro.throw(typ)
            return self._coro.throw(typ, val, tb)  # pragma: no cover - old-style call
        finally:
            entry = w.entry
            if entry is not None and _monotonic() - w.seg > self._limit:
                _blocked(entry.job_id, w.id, _monotonic() - w.seg, self._limit)

    def close(self) -> None:
        self._coro.close()

    def __await__(self) -> Generator[Any, None, None]:  # pragma: no cover - tasks use send
        return self._coro.__await__()

    # What asyncio's task introspection (repr, print_stack) reads.
    @property
    def cr_frame(self) -> Any:
        return getattr(self._coro, "cr_frame", None)

    @property
    def cr_await(self) -> Any:
        return getattr(self._coro, "cr_await", None)

    @property
    def cr_running(self) -> bool:
        return bool(getattr(self._coro, "cr_running", False))



def _blocked(job_id: str, worker_id: int, blocked: float, limit: float) -> None:
    warning = BlockedLoopWarning(job_id, worker_id, blocked, limit)
    try:
        warnings.warn(warning, stacklevel=2)
    except Exception:  # warnings made errors: say it, but never let it stop a worker
        log.warning("%s", warning, extra={"job_id": job_id, "worker_id": worker_id})


class _CancelWait:
    """What :meth:`AsyncPool.cancel` returns: await it (in the loop) to wait for the jobs."""

    __slots__ = ("futures",)

    def __init__(self) -> None:
        self.futures: list[AsyncJobFuture] = []

    def __await__(self) -> Generator[Any, None, None]:
        pending = [f for f in self.futures if not f.done()]
        if pending:
            yield from asyncio.wait(pending).__await__()


# -- the pool ----------------------------------------------------------------

class AsyncPool:
    """Worker tasks running ``await process(job)`` for each submitted job, in one event loop.

    ``AsyncPool(process, workers=4, *, buffer=100, keep=10_000, slow_job=0.1)``
    must be made inside a running event loop (an ``async def``, or a
    Jupyter cell); it creates ``workers`` worker tasks at once, before any
    job arrives, and belongs to that loop. ``process`` is an ``async def``
    taking a :class:`~pool.Job`; its return value is the job's result.
    ``buffer`` jobs may wait (0: a submit waits for an idle worker;
    ``None``: unbounded). The pool keeps the last ``keep`` outcomes and a
    trace of about as many jobs. ``slow_job`` (seconds, ``None``: off) is
    how long a job may hold the loop before a :class:`BlockedLoopWarning`.

    The surface is the other engines': ``await submit(job)``,
    ``try_submit(job)``, ``await shutdown(timeout, drain=, grace=)``,
    ``cancel()``, ``async with``, ``stats``, ``outcomes``, ``errors``,
    ``trace``, ``report``, and the ledger rule; plus
    :meth:`submit_threadsafe` for other threads. See the module docstring
    for the design. Raises ``RuntimeError`` with no running loop,
    ``TypeError``/``ValueError`` for bad arguments, naming them.
    """

    def __init__(
        self,
        process: Callable[[Job], Awaitable[Any]],
        workers: int = 4,
        *,
        buffer: int | None = 100,
        keep: int = 10_000,
        slow_job: float | None = 0.1,
    ) -> None:
        check_callable(process, "process")
        if not _is_async_callable(process):
            raise TypeError(f"process must be an async def (a coroutine function), got "
                            f"{_describe(process)}; for blocking code use WorkerPool, or "
                            "await asyncio.to_thread(...) inside an async def")
        check_int(workers, "workers", minimum=1)
        capacity = _UNBOUNDED if buffer is None else check_int(buffer, "buffer", minimum=0)
        check_int(keep, "keep", minimum=0)
        limit = math.inf if slow_job is None else check_seconds(slow_job, "slow_job")
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            raise RuntimeError(
                "AsyncPool needs a running event loop: create it inside an async def "
                "(async with AsyncPool(process) as pool: ...), run with asyncio.run(main()); "
                "in a Jupyter notebook a cell already runs in the kernel's loop") from None
        self._loop = loop
        self._thread = threading.get_ident()  # the loop's thread
        self._process = process
        self._workers = workers
        self._capacity = capacity
        self._slow_job = limit
        self._lock = threading.Lock()
        self._trace = Trace(maxlen=min(4 * keep + 4 * workers + 16, 10_000_000))
        self._ledger = ledger = Ledger(keep=keep, trace=self._trace, lock=self._lock)
        ledger.discard = self._discard
        self._ctx, self._cancel_ctx = _BACKGROUND.with_cancel()
        # The loop's clock, against the one Context deadlines use.
        self._clock = loop.time() - _monotonic()
        self._buffer: deque[AsyncJobFuture] = deque()
        self._idle: deque[asyncio.Future[AsyncJobFuture | None]] = deque()  # idle workers
        self._putters: deque[asyncio.Future[None]] = deque()  # submits waiting for room
        self._stopping = False  # intake closed: workers leave once the buffer is empty
        self._broken: str | None = None  # why the workers are gone (cancelled by others)
        self._alive = workers
        self._exited: asyncio.Future[None] = loop.create_future()
        self._worker_tasks: set[asyncio.Task[None]] = set()
        self._w: list[_Worker] = []
        # The running jobs whose future.cancel() asked to cancel them.
        self._cancel_asked: dict[AsyncJobFuture, bool] = {}
        for worker_id in range(1, workers + 1):
            w = _Worker(worker_id)
            coro: Coroutine[Any, Any, None] = self._work(w)
            if limit != math.inf:
                coro = _Timed(coro, w, limit)
            w.task = loop.create_task(coro, name=f"pool-worker-{worker_id}")
            self._w.append(w)
            self._worker_tasks.add(w.task)

    # -- intake -----------------------------------------------------------

    async def submit(self, job: Job, timeout: float | None = None) -> AsyncJobFuture:
        """Queue ``job`` and return its future; wait while the buffer is full.

        Waits at most ``timeout`` seconds for room. Raises ``PoolClosed``
        once shutdown has begun (also if it begins while this waits),
        ``TimeoutError`` if no room was made in time (the job is then not in
        the pool, and not counted), ``ValueError`` if a job with the same id
        is queued, running or being submitted, ``TypeError`` if ``job`` is
        not a :class:`~pool.Job`, ``RuntimeError`` outside the pool's loop.
        If the awaiting task is cancelled, the job was not accepted.
        """
        if timeout is not None:
            timeout = check_timeout(timeout)
        if type(job) is not Job or _get_ident() != self._thread:
            self._check(job)
        entry = self._line(job)
        lock = self._lock
        lock.acquire()  # (not "with": half the cost, once per job)
        try:
            if not self._idle and len(self._buffer) < self._capacity:
                # Room in the buffer and no idle worker to hand it to (the common
                # case under load): reserve and accept in one ledger step.
                self._ledger.admit(entry)  # type: ignore[arg-type]
                self._buffer.append(entry)
                return entry
            self._ledger.reserve(entry)  # type: ignore[arg-type]
            if self._offer(entry):
                return entry
        finally:
            lock.release()
        if timeout == 0:
            self._withdraw(entry)
            raise TimeoutError(f"pool buffer full: job {job.id!r} not queued")
        return await self._wait_for_room(entry, timeout)

    async def _wait_for_room(self, entry: AsyncJobFuture, timeout: float | None) -> AsyncJobFuture:
        loop = self._loop
        putter: asyncio.Future[None] | None = None
        try:
            async with asyncio.timeout(timeout):
                while True:
                    putter = loop.create_future()
                    self._putters.append(putter)
                    await putter
                    putter = None
                    with self._lock:
                        if self._ledger.closed:
                            raise self._ledger.refusal(entry.job_id)
                        if self._offer(entry):
                            return entry
        except TimeoutError:
            raise TimeoutError(f"pool buffer full: job {entry.job_id!r} not queued "
                               f"within {timeout:g} s") from None
        finally:
            if entry.status is None:
                self._withdraw(entry)
                if putter is not None and putter.done() and not putter.cancelled():
                    self._wake_putter()  # woken, but leaving: pass the turn on
            if putter is not None and not putter.done():
                putter.cancel()  # (a cancelled putter is skipped by _wake_putter)

    def try_submit(self, job: Job) -> AsyncJobFuture | None:
        """Queue ``job`` only if that needs no waiting; return its future, or ``None``.

        Never blocks. Raises ``PoolClosed``, ``ValueError``, ``TypeError``
        and ``RuntimeError`` as :meth:`submit` does.
        """
        entry = self._entry(job)
        with self._lock:
            self._ledger.reserve(entry)  # type: ignore[arg-type]
            if self._offer(entry):
                return entry
            self._ledger.withdraw(entry)  # type: ignore[arg-type]
        return None

    def submit_threadsafe(self, job: Job, timeout: float | None = None) -> ThreadsafeFuture:
        """Submit ``job`` from another thread; return a ``concurrent.futures.Future``.

        Returns at once; the submit runs in the pool's loop (waiting up to
        ``timeout`` for room). The future resolves with the job's result,
        or holds the submit's error (``PoolClosed``, ``TimeoutError``,
        ``ValueError``). Raises ``TypeError``/``ValueError`` for bad
        arguments, ``PoolClosed`` if the loop is closed, ``RuntimeError``
        from the loop's own thread (``await pool.submit(job)`` there: a
        blocking ``result()`` would wait for itself).
        """
        if timeout is not None:
            timeout = check_timeout(timeout)
        if not isinstance(job, Job):
            raise TypeError(f"job must be a pool.Job, got {type_name(job)}")
        if _running_loop() is self._loop:
            raise RuntimeError("submit_threadsafe() called in the pool's own event loop: "
                               "use await pool.submit(job) there")
        cf = ThreadsafeFuture(job.id)
        try:
            self._loop.call_soon_threadsafe(self._start_threadsafe, job, timeout, cf)
        except RuntimeError:  # the loop is closed
            raise PoolClosed(f"the pool's event loop is closed: job {job.id!r} not accepted"
                             ) from None
        return cf

    def _start_threadsafe(self, job: Job, timeout: float | None, cf: ThreadsafeFuture) -> None:
        # In the loop: submit, then mirror the job's future into cf, both ways.
        if cf.cancelled():
            return
        task = self._loop.create_task(self._submit_for(job, timeout, cf))

        def on_cf_done(_: concurrent.futures.Future[Any]) -> None:
            if cf.cancelled():
                self._loop.call_soon_threadsafe(task.cancel)  # cancels the submit or the job

        cf.add_done_callback(on_cf_done)

    async def _submit_for(self, job: Job, timeout: float | None, cf: ThreadsafeFuture) -> None:
        try:
            fut = await self.submit(job, timeout)
        except _CancelledError:
            return  # cf was cancelled while the submit waited: nothing was accepted
        except Exception as exc:
            _resolve(cf, None, exc, cancelled=False)
            return
        try:
            await asyncio.shield(fut)
        except _CancelledError:
            if not fut.done():  # cf was cancelled: so is the job
                fut.cancel()
                await asyncio.wait([fut])
        except BaseException:  # the job's error: read from fut below
            pass
        cf.outcome = fut.outcome
        if fut.cancelled():
            _resolve(cf, None, None, cancelled=True)
        else:
            _resolve(cf, None if fut.exception() is not None else fut.result(),
                     fut.exception(), cancelled=False)

    def _check(self, job: Job) -> None:
        if not isinstance(job, Job):
            raise TypeError(f"job must be a pool.Job, got {type_name(job)}")
        if _get_ident() != self._thread:  # (cheaper than asking for the running loop)
            raise RuntimeError("an AsyncPool is used only in the event loop it was made in; "
                               "from another thread use pool.submit_threadsafe(job)")

    def _entry(self, job: Job) -> AsyncJobFuture:
        """A new line for ``job``, after checking it (see :meth:`submit`)."""
        self._check(job)
        return self._line(job)

    def _line(self, job: Job) -> AsyncJobFuture:
        """The job's line and future (one object), in the loop's thread: not yet reserved."""
        entry = AsyncJobFuture()
        entry._pool = self
        entry.job = job
        entry.job_id = job.id
        entry.status = entry.started_at = entry.worker_id = None
        entry._outcome = entry.error = entry.finished_at = None
        entry.queued_at = 0.0
        return entry

    def _offer(self, entry: AsyncJobFuture) -> bool:
        """Lock held: hand the job to an idle worker or into the buffer; False if no room."""
        idle = self._idle
        while idle:
            waiter = idle.popleft()
            if not waiter.done():
                self._ledger.accept(entry)  # type: ignore[arg-type]
                waiter.set_result(entry)
                return True
        if len(self._buffer) < self._capacity:
            self._ledger.accept(entry)  # type: ignore[arg-type]
            self._buffer.append(entry)
            return True
        return False

    def _withdraw(self, entry: AsyncJobFuture) -> None:
        with self._lock:
            self._ledger.withdraw(entry)  # type: ignore[arg-type]

    def _wake_putter(self) -> None:
        putters = self._putters
        while putters:
            putter = putters.popleft()
            if not putter.done():
                putter.set_result(None)
                return

    def _discard(self, entry: Any) -> None:
        # Lock held: future.cancel() of a queued job frees its place.
        try:
            self._buffer.remove(entry)
        except ValueError:
            return  # handed to an idle worker: it finds the job ended and skips it
        if self._putters:
            self._wake_putter()

    # -- the worker ---------------------------------------------------------

    async def _work(self, w: _Worker) -> None:
        """One worker task: take a job, run it, record its end; until intake stops."""
        _worker_id.set(w.id)
        ledger, lock, buffer, idle = self._ledger, self._lock, self._buffer, self._idle
        acquire, release = lock.acquire, lock.release
        loop, process, pool_ctx = self._loop, self._process, self._ctx
        start, record_outcome, record_end = ledger.start, ledger.record_outcome, ledger.record_end
        limit = self._slow_job
        clock = self._clock
        trace = self._trace
        trace.record(ev.WORKER_START, w.id)
        entry: AsyncJobFuture | None = None
        copy: Job | None = None  # the job as process() gets it: with its per-job ctx
        # The job this worker just ran (its line, outcome and result) until its end
        # is recorded: in the same lock hold that starts the next job when the
        # buffer has one (one lock hold per job, as the thread pool's
        # record_pending), at once otherwise. Never kept across an await: nothing
        # else runs in this thread meanwhile, so no task can see the difference.
        # (Separate names, not a tuple: no allocation per job.)
        pend: AsyncJobFuture | None = None
        pend_status: Status = _SUCCEEDED
        pend_result: Any = None
        pend_error: BaseException | None = None
        pend_finished = 0.0
        try:
            while True:
                if buffer:
                    entry = buffer.popleft()
                    if self._putters:
                        self._wake_putter()
                else:
                    if pend is not None:
                        with lock:
                            record_end(pend, pend_status, pend_result, pend_error,  # type: ignore[arg-type]
                                       pend_finished)
                        pend = pend_result = pend_error = None
                    if self._stopping:
                        return
                    if self._putters:
                        self._wake_putter()  # an idle worker is room for a buffer=0 submit
                    waiter: asyncio.Future[AsyncJobFuture | None] = loop.create_future()
                    idle.append(waiter)
                    try:
                        entry = await waiter
                    except _CancelledError:
                        if waiter.done() and not waiter.cancelled():
                            handed = waiter.result()
                            if handed is not None:  # a job was handed over: give it back
                                buffer.appendleft(handed)
                        raise
                    if entry is None:
                        return  # intake stopped
                acquire()  # (not "with": half the cost, once per job)
                try:
                    if pend is not None:
                        record_end(pend, pend_status, pend_result, pend_error,  # type: ignore[arg-type]
                                   pend_finished)
                        pend = pend_result = pend_error = None
                    taken = start(w.id, entry)  # type: ignore[arg-type]
                finally:
                    release()
                if taken is None:
                    entry = None
                    continue  # cancelled or swept while it waited
                job = entry.job
                assert job is not None
                # -- run it (inline: see the module docstring) --
                own = job.ctx
                deadline = None
                if own is _BACKGROUND:
                    err = pool_ctx.err() if pool_ctx._err is not None else None
                    if err is None:  # _light_context(), inlined: once per job
                        ctx = _new(Context)
                        ctx._parents = ()
                        ctx._deadline = ctx._err = ctx._event = ctx._children = None
                else:
                    err = own.err() or pool_ctx.err()
                    deadline = own._deadline
                    if err is None:
                        ctx = self._merged(own, w, entry)
                if err is not None:  # its deadline passed in the queue, or it was cancelled
                    outcome = _tuple_new(Outcome, (entry.job_id, w.id, context_status(err), None,
                                                   err, entry.queued_at, None, _monotonic()))
                    with lock:
                        record_outcome(entry, outcome)  # type: ignore[arg-type]
                    entry = None
                    continue
                w.ctx = ctx
                w.entry = entry
                started = entry.started_at
                assert started is not None
                if started > w.seg:
                    w.seg = started
                result = error = copy = None
                try:
                    # job.with_ctx(ctx) without its check of ctx; in the try, as a
                    # subclass's copy may fail: that fails the job, not the worker.
                    copy = _copy_with_ctx(job, ctx)
                    if deadline is None:
                        result = await process(copy)
                    else:
                        async with asyncio.timeout_at(deadline + clock):
                            result = await process(copy)
                    status = _SUCCEEDED
                except _CancelledError as exc:
                    why = w.why
                    if why is None:  # not the pool's: the worker itself is being cancelled
                        self._ended(w, entry, _CANCELED, None, Canceled(
                            "the pool's worker task was cancelled (is the event loop "
                            "closing?)"), started)
                        entry = None
                        raise
                    status, error = _why_status(why, deadline)
                    del exc
                except (Canceled, DeadlineExceeded) as exc:  # (before TimeoutError: a subclass)
                    status, error = context_status(exc), exc
                except TimeoutError as exc:
                    if deadline is not None and _monotonic() >= deadline:  # asyncio.timeout_at
                        status, error = _TIMED_OUT, DeadlineExceeded("context deadline exceeded")
                        error.__cause__ = exc
                    else:
                        status, error = _FAILED, exc
                except BaseException as exc:
                    # SystemExit and KeyboardInterrupt too: one job must not end the worker.
                    status, error = _FAILED, exc
                finishing = _monotonic()
                w.entry = None
                if finishing - w.seg > limit:
                    _blocked(entry.job_id, w.id, finishing - w.seg, limit)
                if own is not _BACKGROUND:
                    _end_context(ctx)  # a merged context: unlink it from the job's own
                w.ctx = None
                if status is not _SUCCEEDED:
                    _log_end(entry.job_id, w.id, status, error)
                    if error is not None:
                        forget_frames(error)
                pend, pend_status, pend_result, pend_error, pend_finished = (
                    entry, status, result, error, finishing)
                entry = job = copy = result = error = None  # an idle worker holds no job
                if w.why is not None:  # the pool cancelled that job: take the cancel back
                    with lock:
                        record_end(pend, pend_status, pend_result, pend_error,  # type: ignore[arg-type]
                                   pend_finished)
                    pend = pend_result = pend_error = None
                    await self._absorb(w)
        except _CancelledError:
            if entry is not None and entry.status is _QUEUED:
                with lock:  # taken off the buffer, not started: put it back for the others
                    buffer.appendleft(entry)
            raise
        finally:
            if pend is not None:  # (only if something raised between a job's end and the next)
                with lock:
                    record_end(pend, pend_status, pend_result, pend_error,  # type: ignore[arg-type]
                               pend_finished)
            w.entry = None
            trace.record(ev.WORKER_EXIT, w.id)
            self._worker_exited(w)

    def _merged(self, own: Context, w: _Worker, entry: AsyncJobFuture) -> Context:
        """The context of a job that has its own: done with it or the pool; wakes the task."""
        ctx, _ = Context.merge(own, self._ctx)
        loop = self._loop

        def fire() -> None:  # any thread, context tree lock held
            loop.call_soon_threadsafe(self._context_ended, w, entry)

        with _context._tree:
            if ctx._err is None:
                ctx._event = _Waker(fire)  # type: ignore[assignment]
        return ctx

    def _context_ended(self, w: _Worker, entry: AsyncJobFuture) -> None:
        # In the loop: a running job's own context ended (cancelled, maybe from
        # another thread). Cancel its task if it still runs that job.
        if w.entry is entry and w.why is None and w.ctx is not None:
            err = w.ctx.err()
            self._cancel_job(w, err if err is not None else Canceled("context canceled"))

    def _cancel_job(self, w: _Worker, why: BaseException) -> bool:
        """In the loop: cancel the job ``w`` runs now (once); end its context."""
        if w.entry is None or w.why is not None or w.task is None or w.task.done():
            return False
        w.why = why
        if w.ctx is not None:
            _end_context(w.ctx)
        w.task.cancel()
        return True

    def _cancel_running(self, entry: AsyncJobFuture) -> bool:
        # future.cancel() of a running job.
        for w in self._w:
            if w.entry is entry:
                if w.why is None:
                    self._cancel_asked[entry] = True
                    return self._cancel_job(w, _FUTURE_CANCEL)
                return True  # being cancelled already
        return False

    async def _absorb(self, w: _Worker) -> None:
        # The pool cancelled this worker's job and the job is over. If the
        # CancelledError never reached it (it ended first, or swallowed it),
        # the cancel may still be pending: let it land here, then take the
        # pool's cancel back, so the next job starts with a clean task.
        task = w.task
        assert task is not None
        w.why = None
        try:
            if task.cancelling() > 0:
                await asyncio.sleep(0)
        except _CancelledError:
            pass
        if task.uncancel() > 0:  # someone else cancelled the worker too
            raise _CancelledError

    def _ended(self, w: _Worker, entry: AsyncJobFuture, status: Status, result: Any,
               error: BaseException | None, started: float | None) -> None:
        w.entry = None
        if w.ctx is not None:
            _end_context(w.ctx)
            w.ctx = None
        self._ledger.end(entry, status, result, error, started, _monotonic())  # type: ignore[arg-type]

    def _worker_exited(self, w: _Worker) -> None:
        self._alive -= 1
        if self._alive == 0:
            if not self._stopping:
                # Every worker was cancelled by someone else (the loop is
                # closing): nobody will run the queued jobs, so end them.
                self._broken = "the pool's worker tasks were cancelled"
                self._close_intake()
                self._ledger.end_all(_QUEUED, _CANCELED, self._broken)
                self._buffer.clear()
            if not self._exited.done():
                self._exited.set_result(None)

    # -- shutdown ----------------------------------------------------------

    def cancel(self) -> _CancelWait:
        """Cancel the pool: running jobs' tasks are cancelled, queued jobs end CANCELED unrun.

        Every running job's ``ctx`` is done from now on, and its task gets
        ``CancelledError`` at its next ``await``; it ends CANCELED (TIMED_OUT
        if its deadline has passed). Does not stop intake (see
        :meth:`shutdown`); jobs submitted later end CANCELED unrun.
        Idempotent; never blocks; safe from any thread. In the pool's loop,
        ``await pool.cancel()`` also waits until the jobs it cancelled have
        ended (a job that swallows the cancellation keeps it waiting: bound
        it with ``asyncio.timeout``).
        """
        handle = _CancelWait()
        if _running_loop() is self._loop:
            self._cancel_now(handle)
        else:
            with contextlib.suppress(RuntimeError):  # the loop is closed: nothing runs
                self._loop.call_soon_threadsafe(self._cancel_now, handle)
        return handle

    def _cancel_now(self, handle: _CancelWait | None = None) -> None:
        if not self._ctx.done():
            self._cancel_ctx()
            self._trace.record(ev.CANCEL)
        why = Canceled("pool cancelled")
        for w in self._w:
            entry = w.entry
            if entry is not None:
                self._cancel_job(w, why)
                if handle is not None:
                    handle.futures.append(entry)

    async def shutdown(self, timeout: float | None = None, *, drain: bool = True,
                       grace: float = 0.1) -> ShutdownReport:
        """Stop intake, let the workers finish, and account for every job.

        With ``drain=True`` queued jobs still run; with ``drain=False`` they
        end ``CANCELED`` unrun. Waits up to ``timeout`` seconds (``None``:
        forever) for the workers; if jobs are still running, cancels the
        pool (their tasks get ``CancelledError``; see :meth:`cancel`) and
        returns as soon as every worker has ended, at most ``grace`` later;
        jobs still running then (they swallowed the cancellation) are
        ``ABANDONED``. Returns within ``timeout + grace`` plus a few
        milliseconds. Idempotent: once a report exists, every call returns
        it. If the awaiting task is cancelled, intake stays closed and a
        later call finishes the job. Raises ``RuntimeError`` from one of the
        pool's own jobs (it would wait for itself) or outside its loop,
        ``TypeError``/``ValueError`` for bad arguments.
        """
        timeout = check_timeout(timeout)
        grace = check_seconds(grace, "grace")
        if not isinstance(drain, bool):
            raise TypeError(f"drain must be a bool, got {type_name(drain)}")
        if _running_loop() is not self._loop:
            raise RuntimeError("an AsyncPool is shut down in the event loop it was made in")
        if asyncio.current_task() in self._worker_tasks:
            raise RuntimeError("shutdown() called from one of the pool's own jobs would wait "
                               "for itself; call cancel(), or shut down from outside the pool")
        ledger, trace = self._ledger, self._trace
        if ledger.report is not None:
            return ledger.report
        start = _monotonic()
        with self._lock:
            first = not ledger.closed
        self._close_intake()
        if first:
            deadline = None if timeout is None else start + timeout - trace.origin
            trace.record(ev.SHUTDOWN_REQUESTED, at=start, detail=deadline)
        if not drain:
            ledger.end_all(_QUEUED, _CANCELED, "shutdown(drain=False)")
            self._buffer.clear()
        clean = await self._wait_exited(timeout)
        if not clean and not self._busy():
            clean = True  # nothing left to stop: the workers leave at the loop's next turn
            await self._wait_exited(None)
        if not clean:
            trace.record(ev.SHUTDOWN_DEADLINE)
            self._cancel_now()
            await self._wait_exited(grace)
        if ledger.report is not None:  # another call finished first
            return ledger.report
        ledger.end_all(_QUEUED, _CANCELED, "shutdown")
        ledger.end_all(_RUNNING, _ABANDONED, "shutdown")
        self._buffer.clear()
        with self._lock:
            report = ledger.finish(clean and self._broken is None, _monotonic() - start)
        self._cancel_ctx()  # nothing is left to run: release the pool context's children
        trace.record(ev.SHUTDOWN_DONE)
        for o in report.abandoned:
            log.warning("job %s abandoned on worker %s after %.3f s (it swallowed the "
                        "cancellation)", o.job_id, o.worker_id, o.ran_for or 0.0,
                        extra={"job_id": o.job_id, "worker_id": o.worker_id})
        return report

    def _close_intake(self) -> None:
        with self._lock:
            self._ledger.close()
        self._stopping = True
        # Parked submitters wake, find intake closed, withdraw and raise PoolClosed.
        while self._putters:
            self._wake_putter()
        while self._idle:  # idle workers leave
            waiter = self._idle.popleft()
            if not waiter.done():
                waiter.set_result(None)

    def _busy(self) -> bool:
        # Jobs queued (in the buffer, or handed to a worker that has not run
        # yet) or running: only then is there anything to cancel.
        with self._lock:
            s = self._ledger.snapshot()
        return s.queued + s.running > 0

    async def _wait_exited(self, timeout: float | None) -> bool:
        exited = self._exited
        if not exited.done():
            if timeout is None:
                await asyncio.shield(exited)
            else:
                await asyncio.wait([exited], timeout=timeout)
        return exited.done()

    # -- reading -----------------------------------------------------------

    @property
    def stats(self) -> Stats:
        """A consistent snapshot of the ledger. Safe from any thread; never blocks for long."""
        return self._ledger.stats

    @property
    def outcomes(self) -> list[Outcome]:
        """The last ``keep`` outcomes, oldest first."""
        return self._ledger.outcomes

    @property
    def errors(self) -> list[Outcome]:
        """The last ``keep`` FAILED outcomes, oldest first."""
        return self._ledger.errors

    @property
    def trace(self) -> Trace:
        """The pool's event log (see :class:`~pool.Trace`): one lane per worker task."""
        return self._trace

    @property
    def report(self) -> ShutdownReport | None:
        """The shutdown report, once a shutdown has completed."""
        return self._ledger.report

    @property
    def context(self) -> Context:
        """The pool context: done once :meth:`cancel` is called or shutdown times out."""
        return self._ctx

    @property
    def workers(self) -> int:
        """How many worker tasks the pool started."""
        return self._workers

    @property
    def closed(self) -> bool:
        """True once shutdown has begun: submits raise ``PoolClosed``."""
        return self._ledger.closed

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The event loop the pool belongs to."""
        return self._loop

    def tasks(self) -> list[asyncio.Task[None]]:
        """The worker tasks in worker-id order (``tasks()[0]`` is worker 1)."""
        return [w.task for w in self._w if w.task is not None]

    async def __aenter__(self) -> AsyncPool:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        # On an error in the block, queued work is dropped (CANCELED);
        # running jobs still finish. Without one, everything drains.
        await self.shutdown(drain=exc_type is None)

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        buffer = "unbounded" if self._capacity == _UNBOUNDED else self._capacity
        return f"<AsyncPool {state} workers={self._workers} buffer={buffer}>"


# -- helpers -------------------------------------------------------------------

_running_loop = asyncio._get_running_loop  # no exception when there is none
_get_ident = threading.get_ident
_new = object.__new__
_tuple_new = tuple.__new__


def _why_status(why: BaseException, deadline: float | None) -> tuple[Status, BaseException]:
    """How a job the pool cancelled ends: a deadline that has passed is the cause."""
    if deadline is not None and _monotonic() >= deadline:
        return _TIMED_OUT, DeadlineExceeded("context deadline exceeded")
    if why is _FUTURE_CANCEL:
        return _CANCELED, Canceled("future cancelled while the job ran")
    return context_status(why), type(why)(*why.args)


def _log_end(job_id: str, worker_id: int, status: Status, error: BaseException | None) -> None:
    extra = {"job_id": job_id, "worker_id": worker_id}
    if status is _FAILED:
        log.error("job %s failed: %r", job_id, error, exc_info=error, extra=extra)
    else:
        log.info("job %s stopped: %s", job_id, status.value, extra=extra)


def _resolve(cf: ThreadsafeFuture, result: Any, error: BaseException | None, *,
             cancelled: bool) -> None:
    try:
        if cancelled:
            cf.cancel()
        elif error is not None:
            cf.set_exception(error)
        else:
            cf.set_result(result)
    except concurrent.futures.InvalidStateError:
        pass  # cancelled from its thread meanwhile


def _is_async_callable(fn: Any) -> bool:
    # An async def, a functools.partial of one, or an object with an async __call__.
    while hasattr(fn, "func") and callable(fn.func):  # functools.partial
        fn = fn.func
    call = None if inspect.isroutine(fn) or not callable(fn) else type(fn).__call__
    return inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(call)


def _describe(fn: Any) -> str:
    name = getattr(fn, "__qualname__", None) or type_name(fn)
    return f"a plain function {name}" if inspect.isfunction(fn) else type_name(fn)


# collections.abc.Coroutine is what asyncio checks before making a task of it.
assert issubclass(_Timed, collections.abc.Coroutine)
