"""Processes: CPU-bound jobs in parallel, hard timeouts that kill, workers that crash.

Threads share one GIL, so CPU-bound jobs on a :class:`~pool.WorkerPool` take
turns; and a thread cannot be killed, so a hung job can only be abandoned.
:class:`ProcessPool` runs each job in a worker *process*: N jobs on N cores
run side by side, and a job past its hard limit is stopped the only way
Python can stop running code, by killing its process.

The shape, in the parent process::

    submit() --> jobs (a bounded Channel) --> supervisor thread --> worker processes
                                                  |  one duplex pipe per worker: a job
                                                  |  out, its result back; one at a time
                                                  |  ledger: start / record / end_all

One supervisor thread does all the process work: it hands one job at a time
to each idle worker, reads results, and waits (``selectors``) on the workers'
pipes, their process sentinels (ready when a process exits) and a wake-up
pipe, with a timeout equal to the earliest hard limit among the running
jobs. So a kill needs no timer thread and no polling: the wait ends at the
limit, the worker is killed (SIGKILL), its job ends TIMED_OUT and a fresh
worker, with a new worker id, takes its place. A worker whose sentinel fires
while it runs a job died on its own (a crash, ``os._exit``, the OOM killer):
the job ends FAILED with :class:`WorkerDied`. Every job's accounting goes
through the shared :class:`~pool.ledger.Ledger`, as in the thread pool.

Inside a worker, ``job.ctx`` is a cooperative :class:`~pool.Context`: done
at the job's hard limit (``CLOCK_MONOTONIC`` is one clock for every process
on the machine, so the parent sends an absolute deadline), or when the pool
is cancelled (a small thread in the worker reads a control pipe and cancels
the context). The same thread ends the worker when the parent dies: the
control pipe reaches end-of-file, so no worker outlives its pool's process.
"""

from __future__ import annotations

import contextlib
import io
import logging
import math
import multiprocessing
import os
import pickle
import pickletools
import selectors
import signal
import struct
import sys
import threading
import time
import traceback
import weakref
from collections import deque
from collections.abc import Callable
from concurrent.futures.process import BrokenProcessPool
from contextvars import Context as VarsContext
from multiprocessing.connection import Connection
from multiprocessing.context import BaseContext
from types import TracebackType
from typing import Any

from . import trace as ev
from ._lifecycle import FORKED_STATS, LivePools, forked_report, unstoppable
from ._validate import check_callable, check_int, check_seconds, check_timeout, type_name
from .channel import Channel, ChannelClosed, _Parked
from .context import Canceled, Context, DeadlineExceeded, background
from .job import Job, Outcome, Status
from .ledger import JobFuture, Ledger, PoolClosed, ShutdownReport, Stats
from .trace import Trace
from .worker import Process, _local, context_status

__all__ = ["ProcessPool", "WorkerDied"]

log = logging.getLogger("pool")

_BACKGROUND = background()
_QUEUED, _RUNNING = Status.QUEUED, Status.RUNNING
_SUCCEEDED, _FAILED = Status.SUCCEEDED, Status.FAILED
_CANCELED, _TIMED_OUT, _ABANDONED = Status.CANCELED, Status.TIMED_OUT, Status.ABANDONED
_UNBOUNDED = 2**62  # buffer=None
_PICKLE = pickle.HIGHEST_PROTOCOL

# How a result travels back: a status as one small int.
_CODES = {_SUCCEEDED: 0, _FAILED: 1, _CANCELED: 2, _TIMED_OUT: 3}
_STATUSES = {code: status for status, code in _CODES.items()}

# A job message: the hard limit (a time.monotonic() value, NaN for none), then
# b"P" + pickle((id, payload)) for a plain Job, or b"S" + pickle(id) + the
# pickled Job subclass (its ctx left out); all but the limit made at submit.
_LIMIT = struct.Struct("!d")

# Messages from a worker: ready, failed to start, a job's result.
_READY, _INIT_FAILED, _RESULT = b"R", b"I", b"J"
_CANCEL = b"C"  # parent -> worker, on the control pipe: cancel the pool context

# A job's ctx in the worker is done at its hard limit; its process is killed
# this long after, so a job that honours its ctx ends by itself, not by a kill
# (which costs a new worker).
_KILL_AFTER = 0.005
_STOP_WAIT = 0.05  # an idle worker told to exit gets this long before SIGTERM
_TERM_WAIT = 0.03  # SIGTERM, then SIGKILL after this long
_LOST_WAIT = 1.0  # a worker whose pipe broke but which lives on is killed after this
_STOP_BOUND = 1.0  # shutdown waits this long for the supervisor to reap every worker


class WorkerDied(Exception):
    """A worker process died while it ran a job (a crash, ``os._exit``, a kill).

    The job ends FAILED with this error. ``job_id``, ``worker_id``, ``pid``
    and ``exitcode`` (negative: the signal that killed it, as in
    ``multiprocessing``) say which and how; the message names the signal.
    """

    def __init__(self, job_id: str, worker_id: int, pid: int | None,
                 exitcode: int | None) -> None:
        super().__init__(f"worker {worker_id} (pid {pid}) died running job {job_id!r}: "
                         f"{describe_exit(exitcode)}")
        self.job_id = job_id
        self.worker_id = worker_id
        self.pid = pid
        self.exitcode = exitcode

    def __reduce__(self) -> tuple[Any, ...]:
        return (WorkerDied, (self.job_id, self.worker_id, self.pid, self.exitcode))


def describe_exit(exitcode: int | None) -> str:
    """``"killed by signal SIGKILL"``, ``"exited with code 3"``, for an exit code."""
    if exitcode is None:
        return "exit status unknown"
    if exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        return f"killed by signal {name}"
    return f"exited with code {exitcode}"


class _RemoteTraceback(Exception):
    """The traceback of an exception raised in a worker process, as text.

    Set as the ``__cause__`` of the error a failed job's future raises, so
    the printed traceback shows where in the worker it failed.
    """

    def __init__(self, tb: str) -> None:
        super().__init__(tb)
        self.tb = tb

    def __str__(self) -> str:
        return f'\n"""\n{self.tb}"""'


class _Submitted(JobFuture):
    """A JobFuture that also holds its job, pickled, until a worker gets it."""

    __slots__ = ("_data",)

    def _settle(self, *args: Any) -> bool:
        self._data: bytes | None = None  # an ended line pins no payload
        return super()._settle(*args)


class _Waker:
    """Wakes the supervisor: one byte into its wake-up pipe (at most one pending).

    Used as the ``wake`` of the receiver the supervisor parks in the jobs
    channel, so a submit that hands it a job wakes it from its ``select``.
    Any thread may call :meth:`release`; the supervisor calls :meth:`drained`
    when the pipe is readable, and only then looks at what changed.
    """

    __slots__ = ("fd", "pending")

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.pending = False  # a byte is in the pipe, or about to be: no need for another

    def release(self) -> None:
        if not self.pending:
            self.pending = True
            with contextlib.suppress(OSError):  # full: a wake is pending anyway
                os.write(self.fd, b"w")

    def drained(self, read_fd: int) -> None:
        """Supervisor: empty the pipe, then let the next release write again.

        In this order, never the other: each ``os.read`` lets other threads
        run, so a release that lands once ``pending`` is cleared writes a byte
        that a read still to come would swallow, and ``pending`` would stay
        set over an empty pipe, every later release skipping its write: the
        supervisor would sleep through shutdown until the fallback killed its
        workers. A release that lands before ``pending`` is cleared writes
        nothing, which is safe: its caller changed what it wanted seen before
        it released, and the supervisor looks only after this returns.
        """
        with contextlib.suppress(OSError):  # BlockingIOError: empty
            while os.read(read_fd, 512):
                pass
        self.pending = False


# Worker states, as the supervisor sees them.
_BOOTING, _IDLE, _BUSY, _STOPPING, _DEAD = "booting", "idle", "busy", "stopping", "dead"


class _Worker:
    """The supervisor's view of one worker process."""

    __slots__ = ("cancel_sent", "conn", "ctl", "dying", "entry", "id", "kill_at", "limit",
                 "pid", "process", "state", "term_at", "terminated", "why")

    def __init__(self, worker_id: int, process: multiprocessing.process.BaseProcess,
                 conn: Connection, ctl: Connection) -> None:
        self.id = worker_id
        self.process = process
        self.pid = process.pid
        self.conn: Connection | None = conn  # None once closed
        self.ctl: Connection | None = ctl
        self.state = _BOOTING
        self.entry: _Submitted | None = None  # the job it runs
        self.limit: float | None = None  # the job's hard limit
        self.why = ""  # what the limit is: "deadline" or "job_timeout of 2 s"
        self.term_at: float | None = None  # SIGTERM it then, if still alive
        self.kill_at: float | None = None  # SIGKILL it then, if still alive
        self.terminated = False  # SIGTERM sent
        self.dying = False  # being killed or reaped: hand it no more jobs
        self.cancel_sent = False


class ProcessPool:
    """Worker processes running ``process(job)`` for each submitted job.

    ``ProcessPool(process, workers=None, *, buffer=100, keep=10_000,
    job_timeout=None, mp_context=None, exit_timeout=5.0)`` starts
    ``workers`` processes (default ``os.cpu_count()``) at once, before any
    job arrives. The surface is :class:`~pool.WorkerPool`'s: ``submit``
    returns a :class:`~pool.JobFuture`, ``try_submit``, ``shutdown``,
    ``cancel``, ``stats``, ``outcomes``, ``errors``, ``trace``, ``report``,
    a context manager, and the ledger rule.

    What differs, because a job runs in another process:

    - ``process``, a Job subclass's fields, results and exceptions travel
      by ``pickle``. ``process`` must be a function defined at the top level
      of a module (not a lambda, not a nested function, not one defined in
      a notebook: the workers import it by name); construction raises a
      ``TypeError`` saying so. A job that does not pickle is a ``TypeError``
      at submit; a result or exception that does not pickle fails that job
      (FAILED, a ``TypeError`` naming it). ``contextvars`` do not cross.
    - ``job.ctx`` in the worker is done at the job's hard limit or when
      the pool is cancelled (cooperative, as with threads). Cancelling the
      job's own context while it runs does not reach the worker; before it
      starts, the job is not run (CANCELED), as with threads.
    - The hard limit, the earlier of ``job_timeout`` (seconds from the
      job's start) and the job's deadline: ``job.ctx`` is done then, and a
      job still running a few milliseconds later (``_KILL_AFTER``: time
      to stop by itself) is killed with its worker (SIGKILL) and ends
      TIMED_OUT; a new worker, with a new worker id (a new lane in the
      trace), takes its place.
    - A worker that dies while it runs a job ends the job FAILED with
      :class:`WorkerDied` and is replaced. A job is run at most once: one
      handed to a worker that dies is not run again.
    - ``shutdown(timeout, grace)``: after ``timeout`` the pool is
      cancelled, after ``grace`` the workers still busy are terminated
      (SIGTERM, then SIGKILL) and their jobs end ABANDONED. Every worker
      process is joined before it returns.
    - Done callbacks run in the pool's supervisor thread: keep them short
      (a slow one delays every other job's result, and hard limits). A
      submit from a callback never waits for room (it cannot wait for
      itself); ``shutdown()`` from one raises ``RuntimeError``.

    ``mp_context`` is a start method name or a ``multiprocessing`` context.
    The default is ``"forkserver"`` where the platform has it, else
    ``"spawn"``, never ``"fork"``: this process has threads (the
    supervisor, the caller's), and ``fork`` copies the whole process but
    only the thread that called it, so a lock another thread held at that
    moment (in ``logging``, in the allocator, in this package) stays
    locked forever in the child, which hangs the first time it takes it.
    ``forkserver`` forks from a small single-threaded server instead, and
    imports this module there once, so a replacement worker is ready in
    milliseconds. As with ``ProcessPoolExecutor``, the workers import the
    program's main module: a script that makes a pool at its top level
    needs the ``if __name__ == "__main__":`` guard.

    At interpreter exit a pool not shut down is shut down with
    ``timeout=exit_timeout``; a worker never outlives this process. Raises
    ``TypeError``/``ValueError`` for bad arguments, naming them.
    """

    def __init__(
        self,
        process: Process,
        workers: int | None = None,
        *,
        buffer: int | None = 100,
        keep: int = 10_000,
        job_timeout: float | None = None,
        mp_context: str | BaseContext | None = None,
        exit_timeout: float = 5.0,
    ) -> None:
        check_callable(process, "process")
        if workers is None:
            workers = os.cpu_count() or 1
        check_int(workers, "workers", minimum=1)
        capacity = _UNBOUNDED if buffer is None else check_int(buffer, "buffer", minimum=0)
        check_int(keep, "keep", minimum=0)
        self._job_timeout = None if job_timeout is None else check_timeout(
            job_timeout, "job_timeout")
        self.exit_timeout = check_seconds(exit_timeout, "exit_timeout")
        """How long interpreter exit waits for this pool if it was not shut down."""
        mp = _resolve_context(mp_context)
        data = _pickle_process(process, mp)
        self._workers = workers
        self._mp = mp
        self._core = _Supervisor(data, workers, capacity, keep, self._job_timeout, mp,
                                 self.exit_timeout)
        _track(self)

    # -- intake -----------------------------------------------------------

    def submit(self, job: Job, timeout: float | None = None) -> JobFuture:
        """Queue ``job`` and return its future; block while the buffer is full.

        Waits at most ``timeout`` seconds for room. Raises ``PoolClosed``
        once shutdown has begun, ``TimeoutError`` if no room was made in
        time (the job is then not in the pool), ``ValueError`` if a job
        with the same id is queued or running, ``TypeError`` if ``job`` is
        not a :class:`~pool.Job` or does not pickle. If it raises, the job
        was not accepted, or it was and will run: the ledger counts it
        either way correctly.
        """
        if timeout is not None:
            timeout = check_timeout(timeout)
        core = self._core
        entry = core.entry(job)
        ledger = core.ledger
        sent = waited = False
        try:
            with core.lock:
                ledger.reserve(entry)
                if core.jobs._offer(entry):
                    ledger.accept(entry)
                    sent = True
                    return entry
                if threading.current_thread() is core.thread:
                    # A done callback: waiting for room would wait for the
                    # supervisor, which is running this. Queue it past the bound.
                    core.jobs._buffer.append(entry)
                    ledger.accept(entry)
                    sent = True
                    return entry
                if timeout == 0:
                    raise TimeoutError(f"pool buffer full: job {job.id!r} not queued")
                waited = True
                core.waiting.add(entry)
            core.jobs.send(entry, timeout)
            sent = True
            return entry
        except ChannelClosed:
            raise PoolClosed(f"pool is shutting down: job {job.id!r} not accepted") from None
        finally:
            if waited or not sent:
                core.settle_submit(entry, sent)

    def try_submit(self, job: Job) -> JobFuture | None:
        """Queue ``job`` only if that needs no waiting; return its future, or ``None``.

        Never blocks. Raises ``PoolClosed``, ``ValueError`` and ``TypeError``
        as :meth:`submit` does.
        """
        core = self._core
        entry = core.entry(job)
        ledger = core.ledger
        accepted = False
        try:
            with core.lock:
                ledger.reserve(entry)
                if core.jobs._offer(entry):
                    ledger.accept(entry)
                    accepted = True
                    return entry
                ledger.withdraw(entry)
                return None
        finally:
            if not accepted and entry.status is None:
                core.settle_submit(entry, False)

    # -- shutdown ----------------------------------------------------------

    def cancel(self) -> None:
        """Cancel the pool context: every running job's ``ctx`` is done from now on.

        Reaches the jobs in the worker processes within a moment; queued
        jobs end ``CANCELED`` without running. Does not stop intake (see
        :meth:`shutdown`). Idempotent, never blocks.
        """
        self._core.cancel()

    def shutdown(
        self, timeout: float | None = None, *, drain: bool = True, grace: float = 0.1
    ) -> ShutdownReport:
        """Stop intake, let the workers finish, account for every job, join every process.

        With ``drain=True`` queued jobs still run; with ``drain=False`` they
        end ``CANCELED`` unrun. Waits up to ``timeout`` seconds (``None``:
        forever) for the jobs; then cancels the pool context and waits up to
        ``grace`` more; then the workers still busy are terminated (SIGTERM,
        SIGKILL a moment later) and their jobs end ``ABANDONED``. Returns
        within ``timeout + grace`` plus a few tens of milliseconds, with no
        worker process left. Idempotent: later calls return the same report.
        Raises ``RuntimeError`` from a done callback of this pool (it would
        wait for itself), ``TypeError``/``ValueError`` for bad arguments.
        """
        timeout = check_timeout(timeout)
        grace = check_seconds(grace, "grace")
        if not isinstance(drain, bool):
            raise TypeError(f"drain must be a bool, got {type_name(drain)}")
        core = self._core
        if core.forked:
            return forked_report()
        if threading.current_thread() is core.thread:
            raise RuntimeError("shutdown() called from a done callback of this pool would wait "
                               "for itself; call cancel(), or shut down from another thread")
        if core.ledger.report is not None:
            return core.ledger.report
        return unstoppable(core.shut_down, time.monotonic(), timeout, drain, grace)

    # -- reading -----------------------------------------------------------

    @property
    def stats(self) -> Stats:
        """A consistent snapshot of the ledger. Never blocks for long."""
        return FORKED_STATS if self._core.forked else self._core.ledger.stats

    @property
    def outcomes(self) -> list[Outcome]:
        """The last ``keep`` outcomes, oldest first."""
        return [] if self._core.forked else self._core.ledger.outcomes

    @property
    def errors(self) -> list[Outcome]:
        """The last ``keep`` FAILED outcomes, oldest first."""
        return [] if self._core.forked else self._core.ledger.errors

    @property
    def trace(self) -> Trace:
        """The pool's event log: one lane per worker process (see :class:`~pool.Trace`)."""
        return self._core.trace

    @property
    def context(self) -> Context:
        """The pool context: done once :meth:`cancel` is called or shutdown times out."""
        return self._core.ctx

    @property
    def workers(self) -> int:
        """How many worker processes the pool keeps running."""
        return self._workers

    @property
    def job_timeout(self) -> float | None:
        """The hard limit on one job's run, in seconds (``None``: only its deadline)."""
        return self._job_timeout

    @property
    def mp_context(self) -> BaseContext:
        """The ``multiprocessing`` context the workers are started with."""
        return self._mp

    @property
    def closed(self) -> bool:
        """True once shutdown has begun (or in a forked child): submits raise ``PoolClosed``."""
        return self._core.forked or self._core.ledger.closed

    @property
    def report(self) -> ShutdownReport | None:
        """The shutdown report, once a shutdown has completed."""
        return self._core.ledger.report

    def pids(self) -> dict[int, int]:
        """Worker id -> process id of each worker process alive now (booting ones too)."""
        return self._core.pids()

    def wait_ready(self, timeout: float | None = None) -> bool:
        """Block until no worker is still starting; return False if ``timeout`` passed first.

        A worker is ready once it has imported ``process`` and waits for a
        job. For measurements that must not count start-up. Raises
        ``TypeError``/``ValueError`` for a bad ``timeout``.
        """
        return self._core.wait_ready(check_timeout(timeout))

    def __enter__(self) -> ProcessPool:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.shutdown(drain=exc_type is None)

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        capacity = self._core.jobs.capacity
        buffer = "unbounded" if capacity == _UNBOUNDED else capacity
        method = self._mp.get_start_method()
        return f"<ProcessPool {state} workers={self._workers} buffer={buffer} {method}>"


# -- construction checks -------------------------------------------------------


def _resolve_context(mp_context: object) -> BaseContext:
    if mp_context is None:
        methods = multiprocessing.get_all_start_methods()
        return multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
    if isinstance(mp_context, str):
        methods = multiprocessing.get_all_start_methods()
        if mp_context not in methods:
            raise ValueError(f"mp_context must be one of {methods} or a multiprocessing "
                             f"context, got {mp_context!r}")
        return multiprocessing.get_context(mp_context)
    if isinstance(mp_context, BaseContext):
        return mp_context
    raise TypeError("mp_context must be a start method name or a multiprocessing context, "
                    f"got {type_name(mp_context)}")


def _pickle_process(process: Process, mp: BaseContext) -> bytes:
    """``process`` pickled for the workers, or a TypeError saying why it cannot be."""
    name = getattr(process, "__qualname__", None) or repr(process)
    try:
        data = pickle.dumps(process, _PICKLE)
    except Exception as exc:
        raise TypeError(
            f"process must pickle, to be sent to the worker processes, and {name} does not "
            f"({type(exc).__name__}: {exc}); use a function defined with def at the top level "
            "of a module (not a lambda or a nested function)") from None
    if mp.get_start_method() != "fork" and _needs_interactive_main(data):
        raise TypeError(
            f"process {name} is defined in the __main__ module of an interactive session "
            "(a notebook, the REPL, python -c), which the worker processes cannot import; "
            "define it in a module (a .py file) and import it from there")
    return data


def _needs_interactive_main(data: bytes) -> bool:
    """True if pickled ``data`` names ``__main__`` and ``__main__`` has no file to import."""
    main = sys.modules.get("__main__")
    if getattr(main, "__file__", None):
        return False  # a script: the workers import it as __mp_main__
    with contextlib.suppress(Exception):
        for op, arg, _ in pickletools.genops(data):
            if op.name == "GLOBAL" and isinstance(arg, str) and arg.split(" ")[0] == "__main__":
                return True
            if arg == "__main__" and "UNICODE" in op.name:
                return True
    return False


# -- the supervisor: everything the pool does, without the pool object ----------


class _Supervisor:
    """The pool's state and its supervisor thread.

    Holds nothing of the :class:`ProcessPool` object, so a pool dropped
    without ``shutdown()`` is collected, and its finalizer shuts this down.
    Only the supervisor thread starts, signals and joins worker processes
    and writes to their pipes (the constructor starts the first ones before
    the thread runs).
    """

    def __init__(self, process_data: bytes, workers: int, capacity: int, keep: int,
                 job_timeout: float | None, mp: BaseContext, exit_timeout: float) -> None:
        self.process_data = process_data
        self.mp = mp
        self.job_timeout = job_timeout
        self.exit_timeout = exit_timeout
        self.lock = lock = threading.Lock()
        self.changed = threading.Condition(lock)  # parked submitters leaving; workers ready
        self.ctx, self._cancel_ctx = _BACKGROUND.with_cancel()
        self.trace = Trace(maxlen=min(4 * keep + 8 * workers + 16, 10_000_000))
        self.ledger = Ledger(keep=keep, trace=self.trace, lock=lock)
        self.jobs: Channel[_Submitted] = Channel._sharing(capacity, lock)
        self.ledger.discard = self._discard
        self.waiting: set[_Submitted] = set()  # submits parked for room
        self.forked = False
        self.thread: threading.Thread | None = None
        self.drained = threading.Event()  # closed, and every accepted job has ended
        self.finished = threading.Event()  # the supervisor is done: every worker joined
        self._stop = False  # shutdown gave up: terminate every worker
        self._broken: BaseException | None = None
        self._workers: dict[int, _Worker] = {}
        self._booting = 0
        self._next_id = 1
        self._held: deque[_Submitted] = deque()  # handed to the parked receiver, not yet run
        self._parked: _Parked[_Submitted] | None = None
        self._cancelled = False  # the cancel has been passed on (supervisor only)
        self._wake_r, wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(wake_w, False)
        self._waker = _Waker(wake_w)
        # Closed only once nothing can write to them any more (any thread may
        # wake the supervisor, even after it has finished), or in a forked child.
        self._fds = [self._wake_r, wake_w]
        weakref.finalize(self, _close_fds, self._fds)
        self._sel = selectors.DefaultSelector()
        self._sel.register(self._wake_r, selectors.EVENT_READ, None)
        _cores.add(self)
        _preload_in_forkserver(mp)
        try:
            for _ in range(workers):
                self._spawn()
        except BaseException:
            self._abort_start()
            raise
        self.thread = threading.Thread(target=self._supervise, name="pool-supervisor",
                                       daemon=True)
        self.thread.start()

    # -- intake (called by the pool, in the submitting threads) -------------

    def entry(self, job: Job) -> _Submitted:
        if self.forked:
            raise PoolClosed("this pool belongs to the parent process (os.fork)")
        if not isinstance(job, Job):
            raise TypeError(f"job must be a pool.Job, got {type_name(job)}")
        if type(job) is Job:
            data = b"P" + pickle.dumps((job.id, job.payload), _PICKLE)
        else:
            data = b"S" + _pickle_job(job)
        entry = _Submitted(job, self.ledger, _NO_VARS)
        entry._data = data
        return entry

    def settle_submit(self, entry: _Submitted, sent: bool) -> None:
        # As WorkerPool's: each step safe to repeat, so an interrupt anywhere
        # in submit leaves the job accepted (and counted) or withdrawn.
        with self.lock:
            self.waiting.discard(entry)
            if sent:
                self.ledger.accept(entry)
            else:
                self.ledger.withdraw(entry)
            if self.ledger.closed and not self.waiting:
                self.changed.notify_all()

    def _discard(self, entry: Any) -> None:
        # Lock held: future.cancel() takes a queued job out of the queue.
        if not self.jobs._discard(entry):
            with contextlib.suppress(ValueError):
                self._held.remove(entry)
        self._waker.release()  # a shutdown may be waiting for the last job

    # -- control (any thread) ------------------------------------------------

    def cancel(self) -> None:
        if self.forked:
            return
        if not self.ctx.done():
            self._cancel_ctx()
            self.trace.record(ev.CANCEL)
        self._waker.release()

    def shut_down(self, start: float, timeout: float | None, drain: bool,
                  grace: float) -> ShutdownReport:
        # Every step is safe to repeat and to run beside another call's.
        ledger, trace = self.ledger, self.trace
        self._stop_intake(drain, start, timeout)
        clean = self.drained.wait(timeout)
        if not clean:
            trace.record(ev.SHUTDOWN_DEADLINE)
            self.cancel()
            self.drained.wait(grace)
        ledger.end_all(_QUEUED, _CANCELED, "shutdown")
        ledger.end_all(_RUNNING, _ABANDONED, "shutdown")
        if not clean:
            self._stop = True  # terminate every worker now; start no more
        self._waker.release()
        if not self.finished.wait(_STOP_BOUND):
            # The supervisor is stuck (in a slow done callback?). Kill the workers from
            # here, but only signal them: their pipes and joins stay the supervisor's, for
            # closing them from two threads could close a descriptor number that a new
            # pool has reused meanwhile. The supervisor reaps them once it runs again.
            log.error("pool supervisor did not stop its workers within %.1f s; killing them",
                      _STOP_BOUND, extra={"job_id": None, "worker_id": None})
            for w in list(self._workers.values()):
                self._signal(w, signal.SIGKILL)
            self.finished.wait(_STOP_BOUND)
        if ledger.report is not None:  # another call finished first
            return ledger.report
        with self.lock:
            report = ledger.finish(clean, time.monotonic() - start)
        self._cancel_ctx()
        trace.record(ev.SHUTDOWN_DONE)
        for o in report.abandoned:
            log.warning("job %s abandoned on worker %s after %.3f s: its process was killed",
                        o.job_id, o.worker_id, o.ran_for or 0.0,
                        extra={"job_id": o.job_id, "worker_id": o.worker_id})
        return report

    def _stop_intake(self, drain: bool, start: float, timeout: float | None) -> None:
        with self.lock:
            if self.ledger.close():
                deadline = None if timeout is None else start + timeout - self.trace.origin
                self.trace.record(ev.SHUTDOWN_REQUESTED, at=start, detail=deadline)
        with contextlib.suppress(ChannelClosed):
            self.jobs.close()  # wakes parked submitters (and the supervisor)
        with self.lock:
            while self.waiting:
                self.changed.wait()
        if not drain:
            self.ledger.end_all(_QUEUED, _CANCELED, "shutdown(drain=False)")
        self._waker.release()

    def wait_ready(self, timeout: float | None) -> bool:
        with self.lock:
            return self.changed.wait_for(lambda: self._booting == 0, timeout)

    def pids(self) -> dict[int, int]:
        with self.lock:
            return {w.id: w.pid for w in self._workers.values()
                    if w.state is not _DEAD and w.pid is not None}

    # -- the supervisor thread ---------------------------------------------------

    def _supervise(self) -> None:
        try:
            while self._step():
                pass
        except BaseException as exc:  # a bug: never leave jobs or processes behind
            log.critical("pool supervisor failed: %r", exc, exc_info=exc,
                         extra={"job_id": None, "worker_id": None})
            self._crashed(exc)
        finally:
            self._sel.close()
            with self.lock:
                self._booting = 0  # (after a failure: wait_ready must not wait for them)
                self.changed.notify_all()
            self.drained.set()
            self.finished.set()

    def _step(self) -> bool:
        """One turn: wait, read, reap, kill what is overdue, hand out jobs. False: done."""
        exited: list[_Worker] = []
        for key, _ in self._sel.select(self._next_timer()):
            if key.data is None:
                self._waker.drained(self._wake_r)
            else:
                kind, worker = key.data
                if kind == "conn":
                    self._read(worker)
                else:
                    exited.append(worker)
        for worker in exited:
            self._exited(worker)
        self._timers(time.monotonic())
        if self.ctx.done() and not self._cancelled:
            self._pass_on_cancel()
        self._dispatch()
        return self._carry_on()

    def _next_timer(self) -> float | None:
        times = []
        for w in self._workers.values():
            if w.limit is not None and w.state is _BUSY:
                times.append(w.limit + _KILL_AFTER)
            for t in (w.term_at, w.kill_at):
                if t is not None:
                    times.append(t)
        if not times:
            return None
        return max(0.0, min(times) - time.monotonic())

    # -- messages from workers --

    def _read(self, w: _Worker) -> None:
        conn = w.conn
        if conn is None:
            return
        try:
            msg = conn.recv_bytes()
        except (EOFError, OSError):
            self._lost(w)
            return
        tag = msg[:1]
        if tag == _RESULT and w.state is _BUSY:
            self._result(w, msg)
        elif tag == _READY and w.state is _BOOTING:
            with self.lock:
                w.state = _IDLE
                self._booting -= 1
                self.changed.notify_all()
            self.trace.record(ev.WORKER_START, w.id)
        elif tag == _INIT_FAILED:
            text = msg[1:].decode(errors="replace")
            self._break(BrokenProcessPool(
                f"worker {w.id} could not load the pool's process function, so the pool is "
                f"broken and takes no more jobs; in the worker:\n{text}"), w)
        else:
            log.error("worker %d sent %r while %s: killing it", w.id, msg[:20], w.state,
                      extra={"job_id": None, "worker_id": w.id})
            self._lost(w)

    def _result(self, w: _Worker, msg: bytes) -> None:
        entry = w.entry
        assert entry is not None
        try:
            code, value, error, tb, finished = pickle.loads(memoryview(msg)[1:])
        except BaseException as exc:
            code, value, tb, finished = _CODES[_FAILED], None, None, time.monotonic()
            error = TypeError(f"the result of job {entry.job_id!r} could not be unpickled in "
                              f"the pool: {type(exc).__name__}: {exc}")
        status = _STATUSES[code]
        if tb is not None and isinstance(error, BaseException):
            error.__cause__ = _RemoteTraceback(tb)
        started = entry.started_at
        if started is not None and finished < started:
            finished = started
        w.entry, w.limit = None, None
        w.state = _IDLE
        _log_end(entry.job_id, w.id, status, error)
        # Record this job and take the worker's next one under one lock.
        woken: list[Callable[[], None]] = []
        sends: list[tuple[_Worker, _Submitted]] = []
        with self.lock:
            notify = self.ledger.record(entry, status, value, error, started, finished)
            if notify is not None:
                woken.append(notify)
            if not self.ctx.done() and not w.dying:
                nxt = self._take(w, time.monotonic(), woken)
                if nxt is not None:
                    sends.append((w, nxt))
        del entry, value, error
        self._send_jobs(sends)
        for notify in woken:
            notify()

    def _lost(self, w: _Worker) -> None:
        """Its pipe broke: it is exiting. Its sentinel says how; kill it if it lingers."""
        self._close_conn(w)
        if w.state is not _DEAD and w.kill_at is None:
            w.kill_at = time.monotonic() + _LOST_WAIT

    def _drain(self, w: _Worker) -> None:
        """Read every message already waiting in ``w``'s pipe."""
        while w.conn is not None:
            try:
                if not w.conn.poll(0):
                    return
            except (EOFError, OSError):
                self._lost(w)
                return
            self._read(w)

    # -- processes ending --

    def _exited(self, w: _Worker) -> None:
        """``w``'s sentinel fired: it has exited. Reap it; account for its job; replace it."""
        w.dying = True
        self._drain(w)  # a result it sent just before it went
        code = self._reap(w)
        now = time.monotonic()
        entry, state = w.entry, w.state
        w.entry = None
        if state is not _DEAD:
            self.trace.record(ev.WORKER_EXIT, w.id, at=now)
        self._forget(w)
        if state is _BOOTING and not self._stop and self._broken is None:
            self._break(BrokenProcessPool(
                f"worker {w.id} (pid {w.pid}) {describe_exit(code)} before it was ready, so "
                "the pool is broken and takes no more jobs (see the worker's stderr)"), None)
        elif state in (_IDLE, _BUSY):
            self._replace()  # first, so that it is starting when the job's future resolves
        if entry is not None and state is _BUSY:
            error = WorkerDied(entry.job_id, w.id, w.pid, code)
            log.error("job %s failed: %s", entry.job_id, error,
                      extra={"job_id": entry.job_id, "worker_id": w.id})
            self.ledger.end(entry, _FAILED, None, error, entry.started_at, now)
        elif entry is not None:  # abandoned by shutdown, then terminated: its bar ends here
            self.trace.record(ev.LATE, w.id, entry.job_id, _ABANDONED, at=now)

    def _reap(self, w: _Worker) -> int | None:
        process = w.process
        process.join(0)
        if process.exitcode is None:  # its pipes closed a moment before it became a zombie
            process.join(0.1)
        if process.exitcode is None:
            with contextlib.suppress(OSError):
                process.kill()
            process.join(1.0)
        return process.exitcode

    def _forget(self, w: _Worker) -> None:
        self._close_conn(w)
        if w.ctl is not None:
            with contextlib.suppress(OSError):
                w.ctl.close()
            w.ctl = None
        with contextlib.suppress(KeyError, ValueError):
            self._sel.unregister(w.process.sentinel)
        with self.lock:
            if w.state is _BOOTING:
                self._booting -= 1
                self.changed.notify_all()
            w.state = _DEAD
            self._workers.pop(w.id, None)
        if w.process.exitcode is not None:
            with contextlib.suppress(ValueError):
                w.process.close()

    def _close_conn(self, w: _Worker) -> None:
        conn, w.conn = w.conn, None
        if conn is not None:
            with contextlib.suppress(KeyError, ValueError, OSError):
                self._sel.unregister(conn.fileno())
            with contextlib.suppress(OSError):
                conn.close()

    def _kill(self, w: _Worker, now: float) -> None:
        """SIGKILL ``w`` at once; its lane ends now. Reaped when its sentinel fires."""
        self._signal(w, signal.SIGKILL)
        self._close_conn(w)
        self.trace.record(ev.WORKER_EXIT, w.id, at=now)
        with self.lock:
            w.state = _DEAD
        w.term_at = w.kill_at = None

    def _signal(self, w: _Worker, sig: int) -> None:
        if w.process.exitcode is None:  # (exitcode polls: never signal a reaped pid)
            with contextlib.suppress(OSError):
                os.kill(w.process.pid, sig)  # type: ignore[arg-type]

    def _timers(self, now: float) -> None:
        for w in list(self._workers.values()):
            if w.state is _BUSY and w.limit is not None and w.limit + _KILL_AFTER <= now:
                self._overdue(w)
            if w.term_at is not None and w.term_at <= now:
                self._terminate(w, now)
            if w.kill_at is not None and w.kill_at <= now:
                w.kill_at = None
                self._signal(w, signal.SIGKILL)

    def _overdue(self, w: _Worker) -> None:
        """``w``'s job passed its hard limit: kill the worker, end the job, replace it."""
        entry = w.entry
        self._drain(w)  # it may have finished on the very edge (and taken its next job)
        if w.state is not _BUSY or w.entry is not entry or entry is None:
            return
        w.dying = True
        now = time.monotonic()
        self._kill(w, now)
        w.entry, w.limit = None, None
        error = DeadlineExceeded(f"job {entry.job_id!r} was still running at its {w.why}: "
                                 f"worker {w.id} (pid {w.pid}) killed")
        log.warning("job %s timed out: %s", entry.job_id, error,
                    extra={"job_id": entry.job_id, "worker_id": w.id})
        self._replace()  # first, so that it is starting when the job's future resolves
        self.ledger.end(entry, _TIMED_OUT, None, error, entry.started_at, now)

    # -- processes starting --

    def _replace(self) -> None:
        if self._stop or self._broken is not None or self.forked:
            return
        with self.lock:
            idle_intake = self.ledger.closed and self.ledger.snapshot().queued == 0
        if idle_intake:
            return  # nothing left to run: no replacement needed
        try:
            self._spawn()
        except Exception as exc:
            self._break(BrokenProcessPool(f"could not start a replacement worker: {exc!r}; "
                                          "the pool is broken and takes no more jobs"), None)

    def _spawn(self) -> None:
        worker_id = self._next_id
        self._next_id += 1
        conn, child_conn = self.mp.Pipe(duplex=True)
        ctl_r, ctl_w = self.mp.Pipe(duplex=False)
        process = self.mp.Process(  # type: ignore[attr-defined]
            target=_worker_main, name=f"pool-worker-{worker_id}",
            args=(worker_id, self.process_data, child_conn, ctl_r))
        _spawning.update((conn, ctl_w))  # a fork-started worker closes its copies
        try:
            process.start()
        except BaseException:
            for c in (conn, ctl_w):
                c.close()
            raise
        finally:
            _spawning.difference_update((conn, ctl_w))
            child_conn.close()
            ctl_r.close()
        w = _Worker(worker_id, process, conn, ctl_w)
        self._sel.register(conn.fileno(), selectors.EVENT_READ, ("conn", w))
        self._sel.register(process.sentinel, selectors.EVENT_READ, ("exit", w))
        with self.lock:
            self._workers[worker_id] = w
            self._booting += 1
        if self._cancelled:
            self._send_cancel(w)

    def _abort_start(self) -> None:
        # The constructor failed half-way: leave no process behind.
        for w in list(self._workers.values()):
            self._signal(w, signal.SIGKILL)
            w.process.join(5.0)
            self._forget(w)
        self._sel.close()
        _close_fds(self._fds)

    # -- handing out jobs --

    def _dispatch(self) -> None:
        now = time.monotonic()
        woken: list[Callable[[], None]] = []
        sends: list[tuple[_Worker, _Submitted]] = []
        with self.lock:
            parked = self._parked
            if parked is not None and (parked.matched or self.jobs._closed):
                if parked.matched:
                    self._held.append(parked.item)  # type: ignore[arg-type]
                self._parked = None
            hungry = self.ctx.done()
            if hungry:  # cancelled: queued jobs end unrun, and so will later ones
                self._cancel_queued(now, woken)
            else:
                for w in self._workers.values():
                    if w.state is _IDLE:
                        entry = self._take(w, now, woken)
                        if entry is None:
                            hungry = True
                            break
                        sends.append((w, entry))
            if hungry and self._parked is None and not self.jobs._closed:
                # Nothing to take: park a receiver, so the next submit hands
                # its job straight here and wakes this thread.
                receiver: _Parked[_Submitted] = _Parked(None)
                receiver.wake = self._waker  # type: ignore[assignment]
                self.jobs._receivers.append(receiver)
                self._parked = receiver
        self._send_jobs(sends)
        for notify in woken:
            notify()

    def _next_queued(self) -> _Submitted | None:
        # Lock held.
        if self._held:
            return self._held.popleft()
        jobs = self.jobs
        if jobs._buffer or jobs._senders:
            return jobs._take()
        return None

    def _take(self, w: _Worker, now: float, woken: list[Callable[[], None]]
              ) -> _Submitted | None:
        """Lock held: the next job ``w`` is to run (now RUNNING on it), or ``None``.

        Jobs that must not run (their context is done, or their hard limit
        passed while they waited) end on the way, unrun.
        """
        ledger = self.ledger
        while True:
            entry = self._next_queued()
            if entry is None:
                return None
            if ledger.start(w.id, entry) is None:
                continue  # ended while it waited (cancelled, swept)
            job = entry.job
            assert job is not None
            ctx = job.ctx
            err = None if ctx is _BACKGROUND else ctx.err()
            limit, why = self._limit(ctx, entry.started_at)  # (set by start: now)
            if err is None and limit is not None and limit <= now:
                err = DeadlineExceeded(f"job {entry.job_id!r} reached its {why} before it "
                                       "could start")
            if err is not None:
                notify = ledger.record(entry, context_status(err), None, err, None, now)
                if notify is not None:
                    woken.append(notify)
                continue
            w.entry, w.limit, w.why = entry, limit, why
            w.state = _BUSY
            return entry

    def _limit(self, ctx: Context, started: float | None) -> tuple[float | None, str]:
        assert started is not None
        deadline = ctx.deadline()
        if self.job_timeout is None:
            return deadline, "deadline"
        limit = started + self.job_timeout
        if deadline is not None and deadline <= limit:
            return deadline, "deadline"
        return limit, f"job_timeout of {self.job_timeout:g} s"

    def _send_jobs(self, sends: list[tuple[_Worker, _Submitted]]) -> None:
        for w, entry in sends:
            data, entry._data = entry._data, None
            limit = math.nan if w.limit is None else w.limit
            conn = w.conn
            if conn is None or data is None:
                continue  # its pipe broke: its sentinel will end the job
            try:
                conn.send_bytes(_LIMIT.pack(limit) + data)
            except OSError:
                self._lost(w)  # it died: the job ends when its sentinel fires
        # (A worker whose send failed stays BUSY with the job, so the job ends
        # FAILED with WorkerDied: it is never handed to a second worker.)

    def _cancel_queued(self, now: float, woken: list[Callable[[], None]]) -> None:
        # Lock held: the pool is cancelled; queued jobs end CANCELED, unrun.
        ledger = self.ledger
        while (entry := self._next_queued()) is not None:
            if entry.status is None:
                ledger.accept(entry)
            if entry.status is _QUEUED:
                notify = ledger.record(entry, _CANCELED, None,
                                       Canceled("pool cancelled: job never ran"), None, now)
                if notify is not None:
                    woken.append(notify)

    def _pass_on_cancel(self) -> None:
        self._cancelled = True
        for w in list(self._workers.values()):
            self._send_cancel(w)

    def _send_cancel(self, w: _Worker) -> None:
        if w.ctl is not None and not w.cancel_sent:
            w.cancel_sent = True
            with contextlib.suppress(OSError):
                w.ctl.send_bytes(_CANCEL)

    # -- closing --

    def _carry_on(self) -> bool:
        """Stop workers once nothing is left for them; False once every one is joined."""
        if not (self.ledger.closed or self._stop):
            return True
        with self.lock:
            stats = self.ledger.snapshot()
            intake_done = self.jobs._closed and stats.queued == 0
            if intake_done and stats.running == 0:
                self.drained.set()
        if not (intake_done or self._stop):
            return True
        now = time.monotonic()
        for w in list(self._workers.values()):
            if w.state is _DEAD or w.terminated:
                continue  # killed or terminated already: its sentinel will fire
            if self._stop:
                # Shutdown gave up: its jobs are ABANDONED, and every worker
                # still here is terminated now, busy or not.
                self._terminate(w, now)
            elif w.state is _IDLE:
                # No more jobs: end-of-file on its pipe, and it exits by itself.
                with self.lock:
                    w.state = _STOPPING
                self._close_conn(w)
                w.term_at = now + _STOP_WAIT
            elif w.state is _BOOTING:
                self._terminate(w, now)
        return bool(self._workers)

    def _terminate(self, w: _Worker, now: float) -> None:
        """SIGTERM ``w`` now, SIGKILL it in ``_TERM_WAIT`` if it is still there."""
        notify = None
        with self.lock:
            if w.state is _BOOTING:
                self._booting -= 1
                self.changed.notify_all()
            entry = w.entry
            if w.state is _BUSY and entry is not None and entry.status is _RUNNING:
                # Not swept by shutdown (only a failed supervisor gets here).
                notify = self.ledger.record(entry, _FAILED, None, BrokenProcessPool(
                    "the pool stopped while the job ran"), entry.started_at, now)
            w.state = _STOPPING
        if notify is not None:
            notify()
        self._close_conn(w)
        self._signal(w, signal.SIGTERM)
        w.terminated = w.dying = True
        w.term_at = w.limit = None
        w.kill_at = now + _TERM_WAIT

    def _break(self, error: BaseException, w: _Worker | None) -> None:
        """The pool cannot run jobs: refuse new ones, fail the queued ones."""
        if self._broken is None:
            self._broken = error
            log.error("%s", error, extra={"job_id": None, "worker_id": None if w is None
                                          else w.id})
        with self.lock:
            self.ledger.close(refuse=error)
        with contextlib.suppress(ChannelClosed):
            self.jobs.close()
        self.ledger.end_all(_QUEUED, _FAILED, "pool broken", error=error)

    def _crashed(self, exc: BaseException) -> None:
        error = BrokenProcessPool(f"the pool's supervisor failed: {exc!r}")
        with contextlib.suppress(BaseException):
            self._broken = error
            with self.lock:
                self.ledger.close(refuse=error)
            with contextlib.suppress(ChannelClosed):
                self.jobs.close()
            self.ledger.end_all(_QUEUED, _FAILED, "supervisor failed", error=error)
            now = time.monotonic()
            for w in list(self._workers.values()):
                entry = w.entry
                if entry is not None:
                    self.ledger.end(entry, _FAILED, None, error, entry.started_at, now)
        self._kill_all()

    def _kill_all(self) -> None:
        for w in list(self._workers.values()):
            with contextlib.suppress(Exception):
                self._signal(w, signal.SIGKILL)
                w.process.join(1.0)
                self._close_conn(w)
                if w.ctl is not None:
                    w.ctl.close()
                    w.ctl = None

    def close_in_forked_child(self) -> None:
        """After ``os.fork()``, in the child: drop this copy's ends of every pipe."""
        self.forked = True
        for w in list(self._workers.values()):
            for conn in (w.conn, w.ctl):
                if conn is not None:
                    with contextlib.suppress(OSError):
                        conn.close()
            w.conn = w.ctl = None
        with contextlib.suppress(Exception):
            self._sel.close()
        self._waker.fd = -1
        _close_fds(self._fds)


_NO_VARS = VarsContext()  # contextvars do not cross to a worker process


def _close_fds(fds: list[int]) -> None:
    while fds:
        with contextlib.suppress(OSError):
            os.close(fds.pop())


def _log_end(job_id: str, worker_id: int, status: Status, error: BaseException | None) -> None:
    extra = {"job_id": job_id, "worker_id": worker_id}
    if status is _FAILED:
        log.error("job %s failed: %r", job_id, error, exc_info=error, extra=extra)
    elif status is not _SUCCEEDED:
        log.info("job %s stopped: %s", job_id, error, extra=extra)


class _JobPickler(pickle.Pickler):
    """Pickles a Job subclass without its context, which stays in this process."""

    def persistent_id(self, obj: Any) -> str | None:
        return "ctx" if isinstance(obj, Context) else None


class _JobUnpickler(pickle.Unpickler):
    """Unpickles a Job subclass in the worker, giving it the worker's context."""

    def __init__(self, file: io.BytesIO, ctx: Context) -> None:
        super().__init__(file)
        self.ctx = ctx

    def persistent_load(self, pid: Any) -> Context:
        return self.ctx


def _pickle_job(job: Job) -> bytes:
    """The job's id, pickled, then the job without its context, pickled."""
    buffer = io.BytesIO()
    pickle.dump(job.id, buffer, _PICKLE)  # first: named even if the job cannot be rebuilt
    try:
        _JobPickler(buffer, _PICKLE).dump(job)
    except Exception as exc:
        raise TypeError(f"job {job.id!r} ({type_name(job)}) does not pickle, so it cannot be "
                        f"sent to a worker process: {type(exc).__name__}: {exc}") from None
    return buffer.getvalue()


def _preload_in_forkserver(mp: BaseContext) -> None:
    """Have the forkserver import this module once, before it forks any worker.

    A worker forked from it then has the package in memory already, and is
    ready in milliseconds instead of tens of them. Only takes effect if
    the forkserver is not yet running; the modules already listed stay.
    """
    if mp.get_start_method() != "forkserver":
        return
    from multiprocessing import forkserver

    server = forkserver._forkserver
    modules = list(getattr(server, "_preload_modules", None) or ["__main__"])
    if __name__ not in modules and getattr(server, "_forkserver_pid", None) is None:
        mp.set_forkserver_preload([*modules, __name__])


# -- in the worker process ----------------------------------------------------------


def _worker_main(worker_id: int, process_data: bytes, conn: Connection,
                 ctl: Connection) -> None:
    """A worker process: run one job at a time from ``conn`` until end-of-file."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    _local.worker_id = worker_id
    pool_ctx, cancel = _BACKGROUND.with_cancel()
    threading.Thread(target=_watch_parent, args=(ctl, cancel), name="pool-worker-control",
                     daemon=True).start()
    try:
        process = pickle.loads(process_data)
    except BaseException:
        with contextlib.suppress(OSError):
            conn.send_bytes(_INIT_FAILED + traceback.format_exc().encode())
        return
    try:
        conn.send_bytes(_READY)
        while True:
            msg = conn.recv_bytes()
            reply = _run(msg, process, pool_ctx, worker_id)
            del msg
            conn.send_bytes(reply)
            del reply  # an idle worker holds nothing of its last job
    except (EOFError, OSError):
        return  # the pool closed the pipe (no more jobs), or is gone


def _watch_parent(ctl: Connection, cancel: Callable[[], None]) -> None:
    """In the worker: cancel the pool context on request; exit when the parent is gone."""
    while True:
        try:
            msg = ctl.recv_bytes()
        except (EOFError, OSError):
            os._exit(1)  # the pool's process has exited: never outlive it
        if msg == _CANCEL:
            cancel()


def _run(msg: bytes, process: Process, pool_ctx: Context, worker_id: int) -> bytes:
    """Run one job message; return the reply. Never raises."""
    (limit,) = _LIMIT.unpack_from(msg)
    kind, data = msg[8:9], memoryview(msg)[9:]
    release = None
    ctx = pool_ctx
    if not math.isnan(limit):
        ctx, release = pool_ctx.with_deadline(limit)
    job_id = "?"
    try:
        try:
            if kind == b"P":
                job_id, payload = pickle.loads(data)
                job = Job(job_id, payload, ctx)
            else:
                stream = io.BytesIO(data)
                job_id = pickle.load(stream)
                job = _JobUnpickler(stream, ctx).load()
        except BaseException as exc:
            error: BaseException = TypeError(
                f"job {job_id!r} could not be unpickled in worker {worker_id}: "
                f"{type(exc).__name__}: {exc}")
            return _reply(job_id, _FAILED, None, error, time.monotonic())
        del data
        error_: BaseException | None
        try:
            status, result, error_ = _SUCCEEDED, process(job), None
        except (Canceled, DeadlineExceeded) as exc:
            status, result, error_ = context_status(exc), None, exc
        except BaseException as exc:  # even SystemExit: the worker goes on
            status, result, error_ = _FAILED, None, exc
        return _reply(job_id, status, result, error_, time.monotonic())
    finally:
        if release is not None:
            release()


def _reply(job_id: str, status: Status, result: Any, error: BaseException | None,
           finished: float) -> bytes:
    tb = None
    if error is not None:
        if status is _FAILED:
            tb = "".join(traceback.format_exception(error))
        error = _portable(job_id, error)
    try:
        return _RESULT + pickle.dumps((_CODES[status], result, error, tb, finished), _PICKLE)
    except BaseException as exc:
        bad = TypeError(f"job {job_id!r} returned a {type_name(result)} that does not pickle, "
                        f"so it cannot be sent back to the pool: {type(exc).__name__}: {exc}")
        return _RESULT + pickle.dumps((_CODES[_FAILED], None, bad, None, finished), _PICKLE)


def _portable(job_id: str, error: BaseException) -> BaseException:
    """``error`` if it survives a pickle round trip, else a TypeError that names it."""
    try:
        pickle.loads(pickle.dumps(error, _PICKLE))
        return error
    except BaseException as exc:
        try:
            what = f"{type(error).__name__}: {error}"
        except BaseException:
            what = type(error).__name__
        return TypeError(f"job {job_id!r} raised {what}, an exception that does not pickle, "
                         f"so it cannot be sent back to the pool ({type(exc).__name__}: {exc})")


# -- pools the process must remember: exit, fork, dropped pools -----------------------

_cores: weakref.WeakSet[_Supervisor] = weakref.WeakSet()
_draining: set[_Supervisor] = set()  # dropped pools still finishing their jobs
_spawning: set[Connection] = set()  # parent ends of the pipes of a worker being started


def _track(pool: ProcessPool) -> None:
    _live.track(pool)
    weakref.finalize(pool, _dropped, pool._core)


def _dropped(core: _Supervisor) -> None:
    # Called by the garbage collector, maybe inside a critical section that
    # holds this pool's lock: take no lock here; a thread drains the pool.
    if core.ledger.report is not None or core.forked:
        return

    def drain() -> None:
        try:
            core.shut_down(time.monotonic(), None, True, 0.1)
        finally:
            _draining.discard(core)

    _draining.add(core)
    try:
        threading.Thread(target=drain, name="pool-dropped", daemon=True).start()
    except RuntimeError:  # interpreter shutdown: _at_exit has run already
        _draining.discard(core)


def _at_exit() -> None:
    # Every pool gets its exit_timeout counted from the same moment.
    began = time.monotonic()
    quiet = {"job_id": None, "worker_id": None}
    for pool in _live.pools():
        if pool.report is not None or pool._core.forked:
            continue
        left = max(0.0, pool.exit_timeout - (time.monotonic() - began))
        try:
            report = pool.shutdown(timeout=left)
        except Exception:
            log.exception("at exit, shutting down %r failed", pool, extra=quiet)
            continue
        if not report.clean:
            log.warning("at exit, %r: %s", pool, report, extra=quiet)
    for core in list(_draining):
        left = max(0.0, core.exit_timeout - (time.monotonic() - began))
        report = core.shut_down(time.monotonic(), left, True, 0.1)
        if not report.clean:
            log.warning("at exit, a dropped ProcessPool: %s", report, extra=quiet)


def _after_fork_in_child() -> None:
    # The child's copies of the pools are closed, and so are its copies of
    # their pipes: a worker must see end-of-file when the real pool's
    # process exits, which it would not while a forked copy held them open.
    _live.forget_after_fork()
    for core in list(_cores):
        core.close_in_forked_child()
    for conn in list(_spawning):
        with contextlib.suppress(OSError):
            conn.close()
    _spawning.clear()
    _cores.clear()
    _draining.clear()


_live: LivePools[ProcessPool] = LivePools(_at_exit, _after_fork_in_child)
