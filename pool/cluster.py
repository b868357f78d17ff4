"""Dask distributed: the same jobs, the same ledger, on a cluster of machines.

:class:`DaskPool` runs each job as a task on a ``distributed`` cluster (Dask's
scheduler, workers and nannies). It adds to the shared
:class:`~pool.ledger.Ledger` only how jobs travel and how they are stopped::

    submit() --> outbox --> client.map(batch) --> scheduler --> a worker runs process(job)
       |  ledger: accept   (the client's loop)                        |
       |              worker plugin: "executing", "memory" + the reply --> log_event (batched)
       |  <------- reports (the client's event loop thread): ledger start;
       |           ends --> the pool's result thread: ledger end, JobFuture resolved
       |  <------- Dask future done: only if no report ended the job (a big reply, a
       |           failure on the cluster) --> the result thread: gather, ledger end

Modes. With neither ``client`` nor ``address`` the pool starts an embedded
``LocalCluster`` (``workers`` processes with one thread each, each under a
nanny, no dashboard unless ``dashboard`` asks for one) and closes it at
shutdown. With ``address="tcp://host:8786"`` it connects to a running
scheduler (and closes only its own connection); with ``client=`` it uses
that client and leaves it open. The same code runs on one laptop or many
machines; the workers need ``pool`` installed (they import ``pool.cluster``),
``process`` travels to them by cloudpickle, so a function defined in a
notebook works.

What travels. A task carries the job's id, payload and deadline, never its
:class:`~pool.Context` (which cannot leave its process). ``process`` is sent
once per worker, inside a worker plugin, not once per task. In the worker,
``job.ctx`` is done at the job's deadline or once the pool is cancelled. The
deadline travels as wall-clock time (``time.time()``): ``CLOCK_MONOTONIC`` is
one clock for the processes of one machine only, and the wall clocks of a
cluster's machines agree to within NTP's few milliseconds. A Job subclass
travels pickled without its context and reaches ``process`` as itself.

Sending. ``submit`` puts the job in the pool's outbox and returns; the
client's event loop sends the outbox at its next turn, in one ``client.map``
with the jobs' own task keys: a burst of submits is one graph for the
scheduler to take in, not one per job, and a lone job leaves at once. But
while the cluster already holds at least twice its threads and half the
buffer of the pool's jobs, a submit leaves the outbox be; it goes when the
cluster holds fewer (an end sends it). When the buffer is full, each job
that ends makes room for one submit, and sending those one or two at a time
made the scheduler take in a graph per job or two: 850 ``client.map`` calls
per 2,000 no-op jobs with ``buffer=100``, 40 with the outbox held. A held
job is QUEUED in the ledger, as it would be in the scheduler's queue.

Starts and ends come from the cluster's own record. A job is QUEUED in the
ledger from its submit until the worker's state machine moves its task to
``executing``; a worker plugin of the pool sees that transition, and the
task's move to ``memory`` (finished), and sends both (worker address,
worker wall time; for an end, the task's reply, pickled) to the scheduler,
which pushes them to this client as an event on the pool's topic. The
client's event loop thread moves the job to RUNNING with that time and hands
each end to the pool's result thread, which ends the job in the ledger and
resolves its JobFuture. A busy worker sends the starts and ends of 5 ms in
one event (an idle one at once), so RUNNING and the end may show up to 5 ms
late, with the right times. The task returns how the job ended (the wrapper
never raises) with the worker's start and finish times, and that reply
travels in the event if it pickles to at most 2 KiB. Why: fetching the
results with ``gather``, a round trip through the scheduler to the worker
for every few jobs that finished together, cost more than all the rest of
the pool's overhead, while the event is sent anyway. A bigger reply stays on
the worker and the result thread fetches it with ``gather``; so it does for
a task whose Dask future is done with no report that ends its job within
0.25 s (a worker without the pool's plugin), and for one that failed
(``KilledWorker``) or was cancelled on the cluster. The scheduler keeps the
last 1,000 events of each topic (``distributed.admin.low-level-log-length``),
and with them the replies they carry (a worker sends its event early rather
than put more than 32 KiB of replies in one); anyone who can connect to the
scheduler can read them, as they could fetch the results of its tasks. A
pool's shutdown drops its topic from a cluster that outlives it.

Times from workers are wall clock, mapped onto this process's
``time.monotonic()`` when they arrive (``now_mono - (now_wall - t_wall)``,
clamped so that no job starts before it was queued or ends before it
started). Each Dask worker is a lane of the trace: workers are numbered in
the order the pool first sees them (an embedded cluster's in name order, 1 to
``workers``), and a restarted worker, which has a new address, is a new lane.

Delivery is at least once. When a worker dies while it runs a task (killed,
out of memory, a machine lost), Dask's scheduler runs the task again on
another worker, up to ``distributed.scheduler.allowed-failures`` times (3 by
default), after which the task fails with ``KilledWorker``. So ``process``
may run twice for one job. The ledger still counts each job once: a second
start moves the job to its new worker (the lost attempt stays in the trace,
drawn as a failed bar that ends when the job started again), and only the
future's end is recorded. A job that cannot be run twice must be made
idempotent (an idempotency key, an upsert, a check before the side effect):
notebook 13 is about that.

Backpressure. Dask's own submit is unbounded. Here ``buffer`` bounds the jobs
in flight on the cluster (queued there or running): ``submit`` blocks while
``buffer`` jobs are in flight, ``try_submit`` returns ``None``. Use a buffer
of at least the cluster's thread count, or some workers idle.

Stopping. ``cancel()`` cancels the pool context in every worker (a broadcast
through the scheduler) and the queued jobs' tasks. ``shutdown(timeout,
grace)`` stops intake, waits up to ``timeout`` for the jobs in flight, then
cancels the pool and waits ``grace`` more; then queued tasks are cancelled
(CANCELED), and the workers still running a job have their process killed by
their nanny (SIGKILL; the nanny starts a fresh worker), so a hung job cannot
hold the cluster: those jobs end ABANDONED, and their tasks are cancelled
first, so that Dask does not run them again elsewhere. An embedded cluster is
then closed. A worker with no nanny (``dask worker --no-nanny``) cannot be
killed this way: its job is abandoned and logged, and it runs on. Measured on
a busy 2-core machine, with a hung job among 200 queued: with a cluster of
one's own the kill is one round trip and shutdown returns within ``timeout
+ grace`` plus 30-100 ms; an embedded cluster's nanny is closed instead
(about 0.1 s) and the cluster then closed (0.3-0.6 s), so plus 0.4-0.8 s
in all, up to about 1.3 s when other work competes for the cores.

Differences from the thread pool, all from where the jobs run: cancelling a
job's own context after submit does not reach the cluster (its deadline
does); ``future.cancel()`` of a job whose start is still on its way to this
client (a few ms, up to 5 ms more in a burst) may let the job run, and its
result is then ignored; ``contextvars`` do not cross;
``pool.current_worker_id()`` is ``None`` in a task (use
``distributed.get_worker()``); done callbacks run in the pool's result
thread: keep them short. ``distributed`` is imported by this module
only; ``import pool`` never imports it.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import io
import itertools
import logging
import os
import pickle
import signal
import threading
import time
import traceback
import uuid
import weakref
from collections.abc import Awaitable, Callable
from contextvars import Context as VarsContext
from types import TracebackType
from typing import Any, TypeVar, cast

import cloudpickle  # type: ignore[import-untyped]
import distributed
from dask.sizeof import sizeof
from distributed import Client, LocalCluster, WorkerPlugin
from distributed.utils import sync

from . import trace as ev
from ._validate import check_callable, check_int, check_seconds, check_timeout, type_name
from .context import Canceled, Context, background
from .job import Job, Outcome, Status
from .ledger import JobFuture, Ledger, PoolClosed, ShutdownReport, Stats
from .processes import _portable, _RemoteTraceback
from .trace import Trace
from .worker import Process, context_status, execute

__all__ = ["DaskPool"]

log = logging.getLogger("pool")

T = TypeVar("T")
DaskFuture = distributed.Future[Any]

_BACKGROUND = background()
_QUEUED, _RUNNING = Status.QUEUED, Status.RUNNING
_SUCCEEDED, _FAILED = Status.SUCCEEDED, Status.FAILED
_CANCELED, _ABANDONED = Status.CANCELED, Status.ABANDONED
_LIVE = (_QUEUED, _RUNNING)
_UNBOUNDED = 2**62  # buffer=None
_NO_VARS = VarsContext()  # contextvars do not cross to the cluster

_CODES = {_SUCCEEDED: 0, _FAILED: 1, _CANCELED: 2, Status.TIMED_OUT: 3}
_STATUSES = {code: status for status, code in _CODES.items()}

# How long shutdown waits for the cluster's answer to each of its requests
# (cancel the tasks, kill the busy workers, remove the plugin) before it goes
# on without it; and for the result thread to finish.
_RPC_BOUND = 2.0
_CLOSE_BOUND = 10.0  # closing an embedded cluster (normally 0.5-1 s)
# Registering the plugin fails when a worker dies during it; tries, 0.1 s apart and
# doubling (1.5 s in all), before the constructor gives up.
_REGISTER_TRIES = 5
# A worker reports the starts and ends of its tasks at most once per this many
# seconds (see _PoolPlugin): enough to batch a burst of short jobs, too short to
# matter to a person watching a dashboard or to a shutdown's timeout.
_REPORT_BATCH = 0.005
# A job's reply (pickled) travels inside the worker's report if it is at most
# this big; a bigger one stays on the worker and is fetched with a gather. The
# scheduler keeps the last distributed.admin.low-level-log-length (1,000) events
# of every topic, so the reports it keeps hold at most that many times
# _REPORT_BYTES of replies; a worker sends its report early rather than exceed it.
_INLINE_REPLY = 2048
_REPORT_BYTES = 32 * 1024
# A task reported finished by Dask whose job has not ended by its worker's
# report this long after is ended with a gather (its worker had no plugin, or
# the report was lost with its worker). Only how soon such a job ends depends
# on it: a report that comes later finds the job ended.
_REPORT_WAIT = 0.25


class _Task(JobFuture):
    """A JobFuture that also knows its Dask task: its key and, once sent, its future."""

    __slots__ = ("_dask", "_key")
    _dask: DaskFuture | None  # None until sent, and once ended
    _key: str


# -- in the worker process -------------------------------------------------------------

_ON_WORKER: dict[str, _WorkerSide] = {}  # pool token -> that pool's part in this worker


class _WorkerSide:
    """One pool's part in one worker process: its ``process`` and its pool context."""

    __slots__ = ("cancel", "ctx", "error", "process")

    def __init__(self, process: Process | None, error: str | None) -> None:
        self.process = process
        self.error = error  # why process could not be loaded here
        self.ctx, self.cancel = _BACKGROUND.with_cancel()


class _PoolPlugin(WorkerPlugin):
    """The pool's plugin on every worker: ``process``, the pool context, reports.

    ``setup`` loads ``process`` once per worker and tells the pool the worker
    is up; ``transition`` reports each of the pool's tasks that starts
    executing and each that finishes (the worker's own state machine, so
    both are the cluster's record), a finished one with its reply;
    ``teardown`` (the plugin removed at shutdown) forgets the pool.

    Reports are batched: a worker that has not reported for
    ``_REPORT_BATCH`` seconds reports at once (an idle cluster loses no
    time); one that has reports the starts and ends of the next
    ``_REPORT_BATCH`` seconds in one event. Each event costs the scheduler
    and the client about as much as a task's own messages, so one per job
    was a third of the pool's overhead on short jobs. The replies travel in
    the report (up to ``_INLINE_REPLY`` bytes each), so the client needs no
    ``gather``, a round trip through the scheduler to the worker, which
    cost more than the rest of the pool's overhead together. The times
    travel with the keys, so batching delays the ledger's RUNNING and a
    job's end by at most ``_REPORT_BATCH``, never the times themselves.
    """

    idempotent = False

    def __init__(self, token: str, process_data: bytes) -> None:
        self.token = token
        self.name = f"pool-{token}"
        self.prefix = f"pool_job-{token}-"
        self.process_data = process_data
        self.worker: Any = None
        # [key, wall time, None] (a start) or [key, 0.0, reply] (an end; reply
        # b"" if it stays on the worker), not yet reported
        self._items: list[list[Any]] = []
        self._bytes = 0  # of the replies in _items
        self._last = 0.0  # monotonic time of the last report
        self._timer: Any = None  # the report scheduled, if any

    def setup(self, worker: Any) -> None:
        self.worker = worker
        process: Process | None = None
        error = None
        try:
            process = pickle.loads(self.process_data)
        except BaseException:
            error = traceback.format_exc()
        _ON_WORKER[self.token] = _WorkerSide(process, error)
        threads = getattr(getattr(worker, "state", None), "nthreads", 1)
        worker.log_event(self.name, ["up", threads, time.time(), worker.address])

    def teardown(self, worker: Any) -> None:
        side = _ON_WORKER.pop(self.token, None)
        if side is not None:
            side.cancel()

    def transition(self, key: Any, start: str, finish: str, **kwargs: Any) -> None:
        # Called by the worker's state machine, on the worker's event loop thread.
        if not (isinstance(key, str) and key.startswith(self.prefix)):
            return
        if finish == "executing":
            self._items.append([key, time.time(), None])
        elif finish == "memory":
            reply = self._packed(key)
            self._items.append([key, 0.0, reply])
            self._bytes += len(reply)
            if self._bytes >= _REPORT_BYTES:
                self._report()
                return
        else:
            return
        if self._timer is not None:
            return  # a report is due: this goes with it
        wait = self._last + _REPORT_BATCH - time.monotonic()
        if wait <= 0:
            self._report()
        else:
            self._timer = self.worker.loop.call_later(wait, self._report)

    def _packed(self, key: str) -> bytes:
        """The task's reply, pickled, if it is small enough to travel in a report; else b""."""
        try:
            reply = self.worker.data[key]
        except Exception:  # spilled, or gone already: the client gathers it
            return b""
        if type(reply) is not _Reply or sizeof(reply) > 4 * _INLINE_REPLY:
            return b""  # (sizeof first: a big result is not pickled only to be dropped)
        try:
            data = pickle.dumps(reply, pickle.HIGHEST_PROTOCOL)
        except Exception:
            data = b"__main__"
        if b"__main__" in data:  # a class made in a notebook, shipped by value: as Dask does
            try:
                data = cloudpickle.dumps(reply, pickle.HIGHEST_PROTOCOL)
            except Exception:
                return b""
        return data if len(data) <= _INLINE_REPLY else b""

    def _report(self) -> None:
        if self._timer is not None:  # (sent early: a full report)
            self.worker.loop.remove_timeout(self._timer)
        self._timer = None
        self._last = time.monotonic()
        items, self._items, self._bytes = self._items, [], 0
        if items:
            self.worker.log_event(self.name, ["jobs", items, 0.0, self.worker.address])


def _cancel_on_worker(token: str) -> None:
    """Run in each worker by ``cancel()``: the pool context is done from now on."""
    side = _ON_WORKER.get(token)
    if side is not None:
        side.cancel()


async def _kill_worker_process(dask_worker: Any = None) -> int | None:
    """Run in a nanny: SIGKILL its worker process (the nanny then starts a new one)."""
    process = getattr(dask_worker, "process", None)
    pid = getattr(process, "pid", None)
    if pid is not None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return cast("int | None", pid)


class _CtxUnpickler(pickle.Unpickler):
    """Unpickles a Job subclass in the worker, giving it the worker's context."""

    def __init__(self, file: io.BytesIO, ctx: Context) -> None:
        super().__init__(file)
        self.ctx = ctx

    def persistent_load(self, pid: Any) -> Context:
        return self.ctx


class _Reply(tuple[Any, ...]):
    """How a job ended, as its task returns it: ``(status code, result, error,
    traceback text, started, finished, ran, worker address)``, times from
    ``time.time()``.

    A subclass, so that the worker's plugin knows a reply of the pool's by
    its type, and because Dask serializes a plain tuple element by element
    (a pickle and a header each) when it is gathered: measured, 120 us for
    the eight fields of a no-op job's reply, against 29 us for this one.
    """

    __slots__ = ()


def _run_job(job_id: str, data: Any, deadline: float | None, *, token: str) -> _Reply:
    """The task: run one job in a worker; return how it ended (a :class:`_Reply`). Never raises.

    ``data`` is the payload (a plain Job) or the pickled Job subclass in a
    1-tuple; ``deadline`` is wall-clock time.
    """
    started = time.time()
    try:
        address: str | None = distributed.get_worker().address
    except ValueError:  # not in a worker (cannot happen in a task)
        address = None
    side = _ON_WORKER.get(token)
    if side is None or side.process is None:
        why = "the pool's plugin is not on this worker" if side is None else side.error
        error: BaseException = RuntimeError(f"job {job_id!r} cannot run on this worker: {why}")
        return _Reply((_CODES[_FAILED], None, error, None, started, time.time(), False, address))
    ctx, release = side.ctx, None
    if deadline is not None:
        ctx, release = side.ctx.with_deadline(time.monotonic() + (deadline - time.time()))
    try:
        try:
            if isinstance(data, bytes):
                job = Job(job_id, data, ctx)
            else:
                job = _CtxUnpickler(io.BytesIO(data[0]), ctx).load()
        except BaseException as exc:
            error = TypeError(f"job {job_id!r} could not be unpickled in the worker: "
                              f"{type(exc).__name__}: {exc}")
            return _Reply((_CODES[_FAILED], None, error, None, started, time.time(), False,
                           address))
        status, result, error_, ran = execute(job, side.process)
        finished = time.time()
        tb = None
        if error_ is not None:
            if status is _FAILED:
                tb = "".join(traceback.format_exception(error_))
            error_ = _portable(job_id, error_)
        return _Reply((_CODES[status], result, error_, tb, started, finished, ran, address))
    finally:
        if release is not None:
            release()


# -- in the pool's process -------------------------------------------------------------


class _JobPickler(cloudpickle.Pickler):  # type: ignore[misc]
    """Pickles a Job subclass without its context (cloudpickle: notebook classes too)."""

    def persistent_id(self, obj: Any) -> str | None:
        return "ctx" if isinstance(obj, Context) else None


def _pickle_job(job: Job) -> bytes:
    buffer = io.BytesIO()
    try:
        _JobPickler(buffer, pickle.HIGHEST_PROTOCOL).dump(job)
    except Exception as exc:
        raise TypeError(f"job {job.id!r} ({type_name(job)}) does not pickle, so it cannot be "
                        f"sent to the cluster: {type(exc).__name__}: {exc}") from None
    return buffer.getvalue()


def _pickle_process(process: Process) -> bytes:
    try:
        return cast(bytes, cloudpickle.dumps(process, pickle.HIGHEST_PROTOCOL))
    except Exception as exc:
        name = getattr(process, "__qualname__", None) or repr(process)
        raise TypeError(f"process must pickle (cloudpickle), to be sent to the cluster's "
                        f"workers, and {name} does not ({type(exc).__name__}: {exc})") from None


class DaskPool:
    """Jobs run as tasks on a Dask ``distributed`` cluster, with the pool's ledger.

    ``DaskPool(process, *, client=None, address=None, workers=3, buffer=100,
    keep=10_000, dashboard=False, exit_timeout=5.0)``. With neither
    ``client`` nor ``address``, starts an embedded ``LocalCluster`` of
    ``workers`` worker processes (one thread each, under nannies) and closes
    it at shutdown; ``address`` connects to a running scheduler; ``client``
    uses a ``distributed.Client`` you made (left open at shutdown).
    ``dashboard=True`` gives the embedded cluster a dashboard on a free port
    (:attr:`dashboard_link`). The constructor blocks until the cluster is
    up (an embedded one takes 1-3 s) and the pool's plugin is on every
    worker.

    The surface is :class:`~pool.WorkerPool`'s: ``submit`` returns a
    :class:`~pool.JobFuture`, ``try_submit``, ``shutdown(timeout, drain,
    grace)``, ``cancel``, ``stats``, ``outcomes``, ``errors``, ``trace``,
    ``report``, a context manager, and the ledger rule. ``buffer`` bounds
    the jobs in flight on the cluster. See the module's documentation for
    what travels, at-least-once delivery and how a hung job is stopped.

    Raises ``TypeError``/``ValueError`` for bad arguments (both ``client``
    and ``address``, a ``process`` that does not pickle), and what
    ``distributed`` raises if the cluster cannot be reached (``OSError``,
    ``TimeoutError``).
    """

    def __init__(
        self,
        process: Process,
        *,
        client: Client | None = None,
        address: str | None = None,
        workers: int = 3,
        buffer: int | None = 100,
        keep: int = 10_000,
        dashboard: bool = False,
        exit_timeout: float = 5.0,
    ) -> None:
        check_callable(process, "process")
        if client is not None and address is not None:
            raise ValueError("give client or address, not both")
        if client is not None and not isinstance(client, Client):
            raise TypeError(f"client must be a distributed.Client, got {type_name(client)}")
        if address is not None and not isinstance(address, str):
            raise TypeError(f"address must be a str like 'tcp://host:8786', "
                            f"got {type_name(address)}")
        check_int(workers, "workers", minimum=1)
        capacity = _UNBOUNDED if buffer is None else check_int(buffer, "buffer", minimum=1)
        check_int(keep, "keep", minimum=0)
        if not isinstance(dashboard, bool):
            raise TypeError(f"dashboard must be a bool, got {type_name(dashboard)}")
        self.exit_timeout = check_seconds(exit_timeout, "exit_timeout")
        """How long interpreter exit waits for this pool if it was not shut down."""
        data = _pickle_process(process)
        self._core = _Core(data, client, address, workers, capacity, keep, dashboard,
                           self.exit_timeout)
        _track(self)

    # -- intake -----------------------------------------------------------

    def submit(self, job: Job, timeout: float | None = None) -> JobFuture:
        """Send ``job`` to the cluster and return its future; block while ``buffer`` are in flight.

        Waits at most ``timeout`` seconds for room. Raises ``PoolClosed``
        once shutdown has begun (also if it begins while this waits),
        ``TimeoutError`` if no room was made in time (the job is then not
        in the pool), ``ValueError`` if a job with the same id is queued or
        running, ``TypeError`` if ``job`` is not a :class:`~pool.Job` or
        does not pickle.
        """
        if timeout is not None:
            timeout = check_timeout(timeout)
        return cast(JobFuture, self._core.submit(job, timeout, wait=True))

    def try_submit(self, job: Job) -> JobFuture | None:
        """Send ``job`` only if that needs no waiting; return its future, or ``None``.

        Never blocks for room. Raises as :meth:`submit` does.
        """
        return self._core.submit(job, 0.0, wait=False)

    # -- stopping ----------------------------------------------------------

    def cancel(self) -> None:
        """Cancel the pool context: every running job's ``ctx`` is done from now on.

        The cancel reaches the workers through the scheduler within a
        moment; queued jobs end ``CANCELED`` (their tasks are cancelled).
        Does not stop intake. Idempotent, never blocks.
        """
        self._core.cancel()

    def shutdown(
        self, timeout: float | None = None, *, drain: bool = True, grace: float = 0.1
    ) -> ShutdownReport:
        """Stop intake, let the jobs in flight finish, stop the hung ones, account for all.

        With ``drain=False`` queued jobs end ``CANCELED`` unrun. Waits up to
        ``timeout`` seconds (``None``: forever); then cancels the pool and
        waits ``grace`` more; then the tasks still queued are cancelled and
        the workers still running a job are killed by their nannies (and
        restarted by them); those jobs end ``ABANDONED``. An embedded cluster
        is closed, with every process it started. Returns within ``timeout
        + grace`` plus tens of milliseconds, plus the cluster's close (about
        1 s) for an embedded one. Idempotent: later calls return the same
        report. Raises ``RuntimeError`` from a done callback of this pool
        (it would wait for itself), ``TypeError``/``ValueError`` for bad
        arguments.
        """
        timeout = check_timeout(timeout)
        grace = check_seconds(grace, "grace")
        if not isinstance(drain, bool):
            raise TypeError(f"drain must be a bool, got {type_name(drain)}")
        core = self._core
        if threading.current_thread() is core.results:
            raise RuntimeError("shutdown() called from a done callback of this pool would wait "
                               "for itself; call cancel(), or shut down from another thread")
        if core.ledger.report is not None:
            return core.ledger.report
        return core.shut_down(time.monotonic(), timeout, drain, grace)

    # -- reading -----------------------------------------------------------

    @property
    def stats(self) -> Stats:
        """A consistent snapshot of the ledger. Never blocks for long."""
        return self._core.ledger.stats

    @property
    def outcomes(self) -> list[Outcome]:
        """The last ``keep`` outcomes, oldest first."""
        return self._core.ledger.outcomes

    @property
    def errors(self) -> list[Outcome]:
        """The last ``keep`` FAILED outcomes, oldest first."""
        return self._core.ledger.errors

    @property
    def trace(self) -> Trace:
        """The pool's event log: one lane per Dask worker (see :class:`~pool.Trace`)."""
        return self._core.trace

    @property
    def context(self) -> Context:
        """The pool context (in this process): done once :meth:`cancel` is called."""
        return self._core.ctx

    @property
    def workers(self) -> int:
        """How many workers the cluster had when the pool started (the first lanes)."""
        return self._core.first_workers

    @property
    def client(self) -> Client:
        """The ``distributed.Client`` the pool submits through."""
        return cast(Client, self._core.client)

    @property
    def cluster(self) -> LocalCluster | None:
        """The embedded ``LocalCluster``, or ``None`` with ``client``/``address``."""
        return self._core.cluster

    @property
    def dashboard_link(self) -> str | None:
        """The Dask dashboard's address, if the cluster has one."""
        with contextlib.suppress(Exception):
            link = self._core.client.dashboard_link
            return link if isinstance(link, str) and self._core.has_dashboard else None
        return None

    @property
    def closed(self) -> bool:
        """True once shutdown has begun: submits raise ``PoolClosed``."""
        return self._core.ledger.closed

    @property
    def report(self) -> ShutdownReport | None:
        """The shutdown report, once a shutdown has completed."""
        return self._core.ledger.report

    def worker_addresses(self) -> dict[int, str]:
        """Worker id (the trace's lane) -> Dask worker address, for every worker seen."""
        with self._core.lock:
            return {wid: addr for addr, wid in self._core.lanes.items()}

    def __enter__(self) -> DaskPool:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.shutdown(drain=exc_type is None)

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        capacity = self._core.capacity
        buffer = "unbounded" if capacity == _UNBOUNDED else capacity
        mode = "embedded" if self._core.cluster is not None else "external"
        return f"<DaskPool {state} {mode} workers={self.workers} buffer={buffer}>"


class _Core:
    """The pool's state, holding nothing of the :class:`DaskPool` object.

    So a pool dropped without shutdown is collected and its finalizer can
    shut this down. Threads: submitters; the client's event loop thread
    (sends, the workers' reports, Dask's futures); the pool's result thread
    (ends jobs, gathers the replies that did not come with a report); Dask's
    callback thread only if a job was sent without the client's loop.
    """

    def __init__(self, process_data: bytes, client: Client | None, address: str | None,
                 workers: int, capacity: int, keep: int, dashboard: bool,
                 exit_timeout: float) -> None:
        self.capacity = capacity
        self.exit_timeout = exit_timeout
        self.lock = lock = threading.Lock()
        self.room = threading.Condition(lock)  # submitters waiting for room
        self.idle = threading.Condition(lock)  # shutdown waiting for the jobs in flight
        self.ctx, self._cancel_ctx = _BACKGROUND.with_cancel()
        self.trace = Trace(maxlen=min(4 * keep + 8 * workers + 64, 10_000_000))
        self.ledger = Ledger(keep=keep, trace=self.trace, lock=lock)
        self.ledger.discard = self._discard
        self.token = uuid.uuid4().hex[:12]
        self.topic = f"pool-{self.token}"
        self.prefix = f"pool_job-{self.token}-"
        self._seq = itertools.count()
        self.inflight: dict[str, _Task] = {}  # task key -> line, from accept to end
        self.lanes: dict[str, int] = {}  # worker address -> worker id (lane)
        self.parked = 0  # submitters waiting for room
        self.pid = os.getpid()
        self.own_client = client is None
        self.has_dashboard = dashboard or client is not None or address is not None
        self.cluster: LocalCluster | None = None
        self._finished: list[tuple[_Task, Any]] = []  # (entry, future or send error)
        self._outbox: list[tuple[_Task, Any, float | None]] = []  # (entry, data, deadline)
        self._sending = False  # _send is scheduled on the client's loop
        self._to_release: list[DaskFuture] = []  # of jobs ended, for _drop_released
        self._releasing = False  # _drop_released is scheduled on the client's loop
        # worker address -> its threads, for every worker seen (those gone too: the
        # pool then holds back fewer jobs, never too many)
        self.threads: dict[str, int] = {}
        self.total_threads = 0
        self._watchers: set[asyncio.Future[None]] = set()
        # On the client's loop only: jobs whose Dask task finished, waiting for their
        # worker's report ((due, entry), in due order); whether _sweep_overdue is
        # scheduled; the keys whose report said "gather the reply".
        self._overdue: collections.deque[tuple[float, _Task]] = collections.deque()
        self._sweeping = False
        self._fetch_keys: set[str] = set()
        self._results_cond = threading.Condition()
        self._stopping = False
        self._stopped_all = False
        self._plugged = False
        try:
            if client is None and address is None:
                self.cluster = cast(Any, LocalCluster)(
                    n_workers=workers, threads_per_worker=1, processes=True,
                    host="127.0.0.1", dashboard_address=":0" if dashboard else None,
                    # The scheduler serves its HTTP routes (/health, ...) even without a
                    # dashboard, on port 8787 unless told otherwise: a free port instead,
                    # so two pools (or a pool and a notebook's cluster) never collide.
                    scheduler_kwargs=None if dashboard else {"dashboard_address": "127.0.0.1:0"},
                    silence_logs=logging.ERROR)
                client = cast(Any, Client)(self.cluster, set_as_default=False)
            elif client is None:
                client = cast(Any, Client)(address, set_as_default=False)
            # distributed's Client is mostly untyped: the pool calls it as Any.
            self.client: Any = client
            info = client.scheduler_info(n_workers=-1)["workers"]
            for addr, w in sorted(info.items(), key=lambda kv: (str(kv[1].get("name")), kv[0])):
                self._lane(addr, time.monotonic())
                self.threads[addr] = int(w.get("nthreads") or 1)
            self.total_threads = sum(self.threads.values())
            self.first_workers = max(len(self.lanes), 1 if self.cluster is None else workers)
            self.client.subscribe_topic(self.topic, self._on_event)
            self._register(_PoolPlugin(self.token, process_data))
            self._plugged = True
        except BaseException:
            self._close_cluster()
            raise
        self.results = threading.Thread(target=self._collect, name="pool-dask-results",
                                        daemon=True)
        self.results.start()

    def _register(self, plugin: _PoolPlugin) -> None:
        """Put the pool's plugin on every worker, now and to come.

        The scheduler keeps the plugin (a worker that joins later gets it),
        then sends it to every worker it knows. A worker that died a moment
        ago (killed by another pool's shutdown, and restarting under its
        nanny) fails that broadcast, and the call raises although the plugin
        is in place on the scheduler and on the live workers. Registering
        again (the same name) replaces it, so try again, with backoff: the
        scheduler drops the dead worker within a moment. Nothing tells this
        process when it has, hence the sleeps.
        """
        delay = 0.1
        for attempt in itertools.count(1):
            try:
                self.client.register_plugin(plugin, name=self.topic)
                return
            except OSError as exc:  # CommClosedError: a worker went away meanwhile
                if attempt >= _REGISTER_TRIES:
                    raise
                log.info("registering the pool's plugin failed (%r); trying again", exc,
                         extra={"job_id": None, "worker_id": None})
                time.sleep(delay)
                delay *= 2

    # -- intake ---------------------------------------------------------------

    def submit(self, job: Job, timeout: float | None, *, wait: bool) -> _Task | None:
        if os.getpid() != self.pid:
            raise PoolClosed("this pool belongs to the parent process (os.fork)")
        if not isinstance(job, Job):
            raise TypeError(f"job must be a pool.Job, got {type_name(job)}")
        data: Any = job.payload if type(job) is Job else (_pickle_job(job),)
        deadline = job.ctx.deadline()
        wall = None if deadline is None else time.time() + (deadline - time.monotonic())
        key = f"{self.prefix}{next(self._seq)}"
        entry = _Task(job, self.ledger, _NO_VARS)
        entry._key = key
        entry._dask = None
        ledger = self.ledger
        with self.lock:
            ledger.reserve(entry)
            try:
                if len(self.inflight) >= self.capacity and \
                        threading.current_thread() is not self.results:
                    # (A done callback never waits: it would wait for itself.)
                    if not wait:
                        ledger.withdraw(entry)
                        return None
                    self._wait_for_room(job.id, timeout)
                ledger.accept(entry)
                self.inflight[key] = entry
            except BaseException:
                ledger.withdraw(entry)
                raise
        err = job.ctx.err()
        if err is not None:  # done already: not sent, as a worker would not run it
            self._end(entry, context_status(err), None, err, False, time.monotonic())
            return entry
        # Sent by _send on the client's event loop: the jobs submitted while the
        # loop is busy go together, in one client.map (one graph for the
        # scheduler to take in, instead of one per job); a lone job goes at
        # the loop's next turn. While the cluster holds plenty of the pool's
        # jobs, the outbox waits until it holds fewer (_forget sends it): under
        # backpressure each job that ends makes room for one submit, and a
        # client.map each made the scheduler take in a graph per job or two.
        with self.lock:
            self._outbox.append((entry, data, wall))
            wake = not self._sending and self._may_send()
            if wake:
                self._sending = True
        if wake:
            try:
                self.client.loop.add_callback(self._send)
            except Exception:  # the client's loop is gone: send here (and fail)
                self._send()
        return entry

    def _send(self) -> None:
        """Send the jobs in the outbox to the cluster (on the client's event loop).

        A job that ended meanwhile (cancelled, swept by shutdown) is not sent;
        one that ends while it is sent has its task cancelled. If the cluster
        refuses them, the jobs end FAILED, in the result thread (their done
        callbacks must not run on the client's loop).
        """
        with self.lock:
            batch, self._outbox, self._sending = self._outbox, [], False
            batch = [item for item in batch if item[0].status in _LIVE]
        if not batch:
            return
        entries = [item[0] for item in batch]
        try:
            futures = self.client.map(
                _run_job, [e.job_id for e in entries], [item[1] for item in batch],
                [item[2] for item in batch], key=[e._key for e in entries], pure=False,
                token=self.token)
            gone, sent = [], []
            with self.lock:
                for entry, future in zip(entries, futures, strict=True):
                    if entry.status in _LIVE:
                        entry._dask = future
                        sent.append((entry, future))
                    else:  # cancelled or swept while it was sent
                        gone.append(future)
            self._cancel_tasks(gone)
            try:
                asyncio.get_running_loop()
                on_loop = True
            except RuntimeError:  # sent from a submitter: the client's loop is gone
                on_loop = False
            for entry, future in sent:
                self._watch(entry, future, on_loop)
        except Exception as exc:  # never raise into the client's loop; never lose a job
            with self._results_cond:
                self._finished.extend((e, exc) for e in entries if e._dask is None)
                self._results_cond.notify()

    def _watch(self, entry: _Task, future: DaskFuture, on_loop: bool) -> None:
        """Once ``future`` is done, see that its job ends, if no report has ended it.

        Finished: its worker's report is on its way (``_await_report``); failed,
        cancelled, or its reply too big for a report: the result thread ends
        it. On the client's loop, what Dask's ``add_done_callback`` does,
        without its detour through a callback thread (a thread switch per job,
        which under the GIL costs more than the rest of the hand-over); off
        it, that detour, and the result thread gathers a finished one at once.
        """
        state = getattr(future, "_state", None)
        if not on_loop or state is None or not hasattr(state, "wait"):  # the public way
            cast(Any, future).add_done_callback(lambda f, e=entry: self._done(e, f))
            return

        async def watch() -> None:
            while state.status in ("pending", "lost"):  # lost: Dask computes it again
                await state.wait()
            fetch = entry._key in self._fetch_keys
            self._fetch_keys.discard(entry._key)
            if entry.status not in _LIVE:
                return  # ended by its worker's report (the usual way), or cancelled
            if state.status == "finished" and not fetch:
                self._await_report(entry)  # the report is on its way, behind Dask's own
            else:
                self._done(entry, future)

        task = asyncio.ensure_future(watch())
        self._watchers.add(task)  # the loop holds tasks weakly
        task.add_done_callback(self._watchers.discard)

    def _await_report(self, entry: _Task) -> None:
        """On the client's loop: end ``entry`` with a gather if no report ends it soon.

        Its worker reports the end up to ``_REPORT_BATCH`` after Dask's own
        message that the task finished, which is why the job is still live.
        """
        self._overdue.append((time.monotonic() + _REPORT_WAIT, entry))
        if not self._sweeping:
            self._sweeping = True
            asyncio.get_running_loop().call_later(_REPORT_WAIT, self._sweep_overdue)

    def _sweep_overdue(self) -> None:
        """On the client's loop: hand the jobs whose report has not come to the result thread."""
        now = time.monotonic()
        overdue = self._overdue
        while overdue and overdue[0][0] <= now:
            entry = overdue.popleft()[1]
            future = entry._dask
            if entry.status not in _LIVE or future is None:
                continue
            if future.status in ("pending", "lost"):  # its worker was lost: run again
                self._watch(entry, future, True)
            else:
                self._done(entry, future)
        if overdue:
            asyncio.get_running_loop().call_later(overdue[0][0] - now, self._sweep_overdue)
        else:
            self._sweeping = False

    def _wait_for_room(self, job_id: str, timeout: float | None) -> None:
        """Lock held: wait until fewer than ``capacity`` jobs are in flight."""
        limit = None if timeout is None else time.monotonic() + timeout
        self.parked += 1
        try:
            while len(self.inflight) >= self.capacity:
                if self.ledger.closed:
                    raise self.ledger.refusal(job_id)
                left = None if limit is None else limit - time.monotonic()
                if left is not None and left <= 0:
                    raise TimeoutError(f"pool buffer full: job {job_id!r} not sent within "
                                       f"{timeout:g} s")
                self.room.wait(left)
            if self.ledger.closed:
                raise self.ledger.refusal(job_id)
        finally:
            self.parked -= 1
            if self.ledger.closed and not self.parked:
                self.idle.notify_all()

    def _discard(self, entry: Any) -> None:
        # Lock held: future.cancel() of a queued job: cancel its task too.
        self._forget(entry)
        if entry._dask is not None:
            self._cancel_tasks([entry._dask])

    def _forget(self, entry: _Task) -> None:
        """Lock held: the job is no longer in flight."""
        if self.inflight.pop(entry._key, None) is not None:
            self.room.notify()
            if not self.inflight:
                self.idle.notify_all()
            if self._outbox and not self._sending and self._may_send():
                self._sending = True
                self._in_loop_call(self._send)

    def _may_send(self) -> bool:
        """Lock held: whether the outbox may go now, or the cluster holds plenty to run.

        Plenty: at least twice its threads (so no thread idles while the rest
        goes, a round trip later) and half the buffer (so it goes in batches
        of half the buffer, not one by one as room is made).
        """
        on_cluster = len(self.inflight) - len(self._outbox)
        return on_cluster < max(2 * self.total_threads, self.capacity // 2)

    # -- events from the cluster (the client's event loop thread) -------------

    def _lane(self, address: str, now: float) -> int:
        """Lock held (or before any thread runs): the worker id of ``address``."""
        wid = self.lanes.get(address)
        if wid is None:
            wid = self.lanes[address] = len(self.lanes) + 1
            self.trace.record(ev.WORKER_START, wid, at=now)
        return wid

    def _on_event(self, event: tuple[float, Any]) -> None:
        try:
            kind, key, wall, address = event[1]
            now = time.monotonic()
            at = min(now, now - (time.time() - wall))
            ended = []
            with self.lock:
                if kind == "up":  # key: the worker's threads
                    self._lane(address, at)
                    self.threads[address] = int(key)
                    self.total_threads = sum(self.threads.values())
                elif kind == "jobs":  # key: [[task key, wall time, reply or None], ...]
                    wall_now = time.time()
                    for task_key, started, reply in key:
                        if reply is None:
                            at = min(now, now - (wall_now - started))
                            self._started(task_key, self._lane(address, at), at)
                        else:
                            entry = self.inflight.get(task_key)
                            if entry is None:
                                continue
                            future = entry._dask
                            if reply:
                                ended.append((entry, reply))
                            elif future is not None and future.status == "finished":
                                ended.append((entry, future))
                            else:  # the reply stays on the worker: its watcher gathers it
                                self._fetch_keys.add(task_key)
            if ended:  # ended in the result thread: done callbacks never run on this loop
                with self._results_cond:
                    self._finished.extend(ended)
                    self._results_cond.notify()
        except Exception:  # an event is never worth the client's loop
            log.exception("bad event on %s: %r", self.topic, event,
                          extra={"job_id": None, "worker_id": None})

    def _started(self, key: str, wid: int, at: float) -> None:
        """Lock held: the job's task started executing on worker ``wid`` at ``at``."""
        entry = self.inflight.get(key)
        if entry is None:
            return  # ended already (cancelled while its start was on the way)
        at = max(at, entry.queued_at)
        if entry.status is _QUEUED:
            self.ledger.start(wid, entry)
            entry.started_at = at
        elif entry.status is _RUNNING and entry.worker_id != wid:
            # Dask runs it again (its worker died): the lost attempt stays in the
            # trace as a failed bar; the job now runs here.
            lost = entry.worker_id
            self.trace.record(ev.START, lost, entry.job_id, at=entry.started_at)
            self.trace.record(ev.END, lost, entry.job_id, _FAILED, at=at)
            log.warning("job %s runs again on worker %s: its worker %s was lost",
                        entry.job_id, wid, lost,
                        extra={"job_id": entry.job_id, "worker_id": wid})
            entry.worker_id = wid
            entry.started_at = at

    # -- results (Dask's callback thread, then the pool's result thread) ------

    def _done(self, entry: _Task, future: DaskFuture) -> None:
        # On the client's loop (or Dask's callback thread): keep it short.
        with self._results_cond:
            self._finished.append((entry, future))
            self._results_cond.notify()

    def _collect(self) -> None:
        """The result thread: end the jobs whose Dask futures are done, a batch at a time."""
        while True:
            with self._results_cond:
                while not self._finished and not self._stopping:
                    self._results_cond.wait()
                batch, self._finished = self._finished, []
                if not batch and self._stopping:
                    return
            try:
                self._settle(batch)
            except BaseException as exc:  # a bug: never leave a job unended
                log.critical("pool result thread failed: %r", exc, exc_info=exc,
                             extra={"job_id": None, "worker_id": None})
                for entry, _ in batch:
                    self._end(entry, _FAILED, None, exc, entry.status is _RUNNING,
                              time.monotonic())
            del batch

    def _settle(self, batch: list[tuple[_Task, Any]]) -> None:
        """End the jobs of ``batch``: (entry, its reply pickled by its worker, its done
        Dask future, or the error that kept it from being sent)."""
        futures = []
        for entry, item in batch:
            if entry.status not in _LIVE:
                continue  # ended meanwhile (a report and a gather, a cancel, a sweep)
            if isinstance(item, BaseException):  # the cluster refused it (_send)
                self._end(entry, _FAILED, None, item, False, time.monotonic())
            elif isinstance(item, bytes):
                self._reply(entry, self._unpacked(entry, item))
            elif item.status in ("pending", "lost"):  # run again after a lost worker
                self._in_loop_call(self._watch, entry, item, True)
            else:
                futures.append((entry, item))
        done = [(e, f) for e, f in futures if f.status == "finished"]
        values: list[Any] = []
        if done:
            try:
                values = self.client.gather([f for _, f in done])
            except BaseException:  # one of them: fetch them one by one
                values = [self._fetch(e, f) for e, f in done]
        for (entry, _), reply in zip(done, values, strict=True):
            self._reply(entry, reply)
        for entry, future in futures:
            status = future.status
            if status == "finished" or entry.status not in _LIVE:
                continue
            now = time.monotonic()
            ran = entry.status is _RUNNING
            if status == "cancelled":  # by someone else (client.cancel, restart)
                self._end(entry, _CANCELED, None, Canceled("its task was cancelled on the "
                                                           "cluster"), ran, now)
            else:  # erred: KilledWorker, a task that could not be sent...
                error = _exception_of(future)
                log.error("job %s failed on the cluster: %r", entry.job_id, error,
                          extra={"job_id": entry.job_id, "worker_id": entry.worker_id})
                self._end(entry, _FAILED, None, error, ran, now)

    @staticmethod
    def _unreachable(entry: _Task, exc: BaseException) -> tuple[Any, ...]:
        error = TypeError(f"the result of job {entry.job_id!r} could not be brought back "
                          f"from the cluster: {type(exc).__name__}: {exc}")
        return (_CODES[_FAILED], None, error, None, None, None, False, None)

    def _unpacked(self, entry: _Task, data: bytes) -> tuple[Any, ...]:
        try:
            return cast(tuple[Any, ...], pickle.loads(data))
        except BaseException as exc:  # as gather would fail: a class this process lacks
            return self._unreachable(entry, exc)

    def _fetch(self, entry: _Task, future: DaskFuture) -> Any:
        try:
            return future.result(timeout=_RPC_BOUND)
        except BaseException as exc:
            return self._unreachable(entry, exc)

    def _reply(self, entry: _Task, reply: tuple[Any, ...]) -> None:
        code, value, error, tb, started, finished, ran, address = reply
        status = _STATUSES[code]
        if tb is not None and isinstance(error, BaseException):
            error.__cause__ = _RemoteTraceback(tb)
        now = time.monotonic()
        wall_now = time.time()
        end = now if finished is None else min(now, now - (wall_now - finished))
        begin = None if started is None else min(end, now - (wall_now - started))
        if status is _FAILED:
            log.error("job %s failed: %r", entry.job_id, error, exc_info=error,
                      extra={"job_id": entry.job_id, "worker_id": entry.worker_id})
        self._end(entry, status, value, error, ran, end, begin, address)

    def _end(self, entry: _Task, status: Status, value: Any, error: BaseException | None,
             ran: bool, finished: float, began: float | None = None,
             address: str | None = None) -> None:
        """End the job in the ledger (once), free its place, wake its future.

        ``ran``: ``process`` was called. ``began`` and ``address`` (from the
        task's reply) start the job if its start event has not arrived.
        """
        with self.lock:
            if entry.status not in _LIVE:
                return  # cancelled or swept meanwhile: its end is already recorded
            if entry.status is _QUEUED and began is not None and address is not None:
                self.ledger.start(self._lane(address, began), entry)
                entry.started_at = max(began, entry.queued_at)
            started = entry.started_at if ran else None
            finished = max(finished, started or entry.queued_at)
            notify = self.ledger.record(entry, status, value, error, started, finished)
            self._forget(entry)
            if entry._dask is not None:  # Dask forgets the task (and its result on the worker)
                self._release(entry._dask)
                entry._dask = None
        if notify is not None:
            notify()

    def _release(self, future: DaskFuture) -> None:
        """Lock held: let go of ``future`` on the client's loop, with the others of its batch.

        A Dask future dropped off the loop wakes the loop to release its key
        (a write to the loop's self-pipe and a turn of the loop per job);
        dropped on the loop, a batch of them costs one wake-up.
        """
        self._to_release.append(future)
        if not self._releasing:
            self._releasing = True
            self._in_loop_call(self._drop_released)

    def _drop_released(self) -> None:
        with self.lock:
            futures, self._to_release, self._releasing = self._to_release, [], False
        del futures  # (here, on the loop: each releases its key without a wake-up)

    # -- stopping ----------------------------------------------------------------

    def _in_loop(self, make: Callable[[], Awaitable[Any]]) -> None:
        """Run ``make()`` on the client's event loop, without waiting for it."""

        async def run() -> None:
            with contextlib.suppress(Exception):
                await make()

        with contextlib.suppress(Exception):
            self.client.loop.add_callback(run)

    def _in_loop_call(self, fn: Callable[..., Any], *args: Any) -> None:
        """Call ``fn(*args)`` on the client's event loop, without waiting for it."""
        with contextlib.suppress(Exception):
            self.client.loop.add_callback(fn, *args)

    def _bounded(self, make: Callable[[], Awaitable[T]], bound: float) -> T:
        """Run ``make()`` on the client's event loop and wait at most ``bound`` seconds."""
        return sync(self.client.loop, make, callback_timeout=bound)

    def _cancel_tasks(self, futures: list[DaskFuture]) -> None:
        if futures:
            client = self.client
            self._in_loop(lambda: cast(Awaitable[Any], client.cancel(
                futures, asynchronous=True, force=True)))

    def cancel(self) -> None:
        if os.getpid() != self.pid or self.ctx.done():
            return
        self._cancel_ctx()
        self.trace.record(ev.CANCEL)
        client, token = self.client, self.token
        self._in_loop(lambda: cast(Awaitable[Any], client.run(
            _cancel_on_worker, token, on_error="ignore", asynchronous=True)))
        self._sweep_queued("pool cancelled")

    def _sweep_queued(self, why: str) -> None:
        """End every queued job CANCELED and cancel its task."""
        with self.lock:
            queued = [e for e in self.inflight.values() if e.status is _QUEUED]
        self.ledger.end_all(_QUEUED, _CANCELED, why)
        self._reap(queued)

    def _reap(self, entries: list[_Task]) -> list[DaskFuture]:
        """Forget the ended ones of ``entries``; cancel their tasks; return those."""
        futures = []
        with self.lock:
            for entry in entries:
                if entry.status not in _LIVE:
                    self._forget(entry)
                    if entry._dask is not None:
                        futures.append(entry._dask)
                        entry._dask = None
        self._cancel_tasks(futures)
        return futures

    def shut_down(self, start: float, timeout: float | None, drain: bool,
                  grace: float) -> ShutdownReport:
        ledger, trace = self.ledger, self.trace
        with self.lock:
            if ledger.close():
                deadline = None if timeout is None else start + timeout - trace.origin
                trace.record(ev.SHUTDOWN_REQUESTED, at=start, detail=deadline)
            self.room.notify_all()  # parked submitters raise PoolClosed
        if not drain:
            self._sweep_queued("shutdown(drain=False)")
        with self.lock:
            clean = self.idle.wait_for(lambda: not self.inflight and not self.parked, timeout)
        if not clean:
            trace.record(ev.SHUTDOWN_DEADLINE)
            self.cancel()
            with self.lock:
                self.idle.wait_for(lambda: not self.inflight and not self.parked, grace)
        with self.lock:
            left = list(self.inflight.values())
            busy = {e.worker_id for e in left if e.status is _RUNNING}
            addresses = [addr for addr, wid in self.lanes.items() if wid in busy]
        ledger.end_all(_QUEUED, _CANCELED, "shutdown")
        ledger.end_all(_RUNNING, _ABANDONED, "shutdown")
        if ledger.report is not None:  # another call finished first
            return ledger.report
        # Cancel their tasks first, so that Dask does not run them again
        # elsewhere when their workers go; then kill the workers that run them.
        futures = []
        with self.lock:
            for entry in left:
                self._forget(entry)
                if entry._dask is not None:
                    futures.append(entry._dask)
                    entry._dask = None
        if futures:
            client = self.client
            self._quietly("cancel the tasks", lambda: cast(Awaitable[Any], client.cancel(
                futures, asynchronous=True, force=True)))
        if addresses:
            # The plugin goes first: its removal is a broadcast to every worker, and
            # one to a worker just killed can hang until the RPC bound (seen: 2 s).
            self._unplug()
            self._stop_workers(addresses, [e for e in left if e.status is _ABANDONED])
        self._stop_all()
        with self.lock:
            report = ledger.finish(clean, time.monotonic() - start)
        self._cancel_ctx()
        trace.record(ev.SHUTDOWN_DONE)
        for o in report.abandoned:
            log.warning("job %s abandoned on worker %s after %.3f s: its worker was killed",
                        o.job_id, o.worker_id, o.ran_for or 0.0,
                        extra={"job_id": o.job_id, "worker_id": o.worker_id})
        return report

    def _quietly(self, what: str, make: Callable[[], Awaitable[Any]]) -> Any:
        try:
            return self._bounded(make, _RPC_BOUND)
        except Exception as exc:
            log.warning("shutdown could not %s: %r", what, exc,
                        extra={"job_id": None, "worker_id": None})
            return None

    def _stop_workers(self, addresses: list[str], abandoned: list[_Task]) -> None:
        """Kill the worker processes of ``addresses`` through their nannies."""
        client = self.client
        if self.cluster is not None:
            # Embedded: its nannies live in this process. Closing one kills its
            # worker (SIGKILL after 80 ms) and does not start a new one, which
            # the cluster's close would only have to wait for.
            nannies = [n for n in self.cluster.workers.values()
                       if getattr(n, "worker_address", None) in addresses]

            async def close_nannies() -> dict[str, int | None]:
                pids = {n.worker_address: n.pid for n in nannies}
                await asyncio.gather(*(n.close(timeout=0.1, reason="pool-shutdown")
                                       for n in nannies), return_exceptions=True)
                return pids

            result = self._quietly("kill the busy workers", close_nannies)
        else:
            result = self._quietly("kill the busy workers", lambda: cast(
                Awaitable[Any], client.run(_kill_worker_process, workers=addresses, nanny=True,
                                           on_error="return", asynchronous=True)))
        now = time.monotonic()
        killed = set()
        for addr in addresses:
            pid = None if not isinstance(result, dict) else result.get(addr)
            wid = self.lanes.get(addr)
            if isinstance(pid, int):
                killed.add(wid)
                self.trace.record(ev.WORKER_EXIT, wid, at=now)
            else:
                log.warning("worker %s (%s) could not be killed (no nanny?): its job runs on",
                            wid, addr, extra={"job_id": None, "worker_id": wid})
        for entry in abandoned:
            if entry.worker_id in killed:  # its bar ends here
                self.trace.record(ev.LATE, entry.worker_id, entry.job_id, _ABANDONED, at=now)

    def _unplug(self) -> None:
        """Remove the pool's plugin from a cluster of someone else's (once)."""
        with self.lock:
            plugged, self._plugged = self._plugged, False
        if plugged and self.cluster is None:  # an embedded cluster goes whole
            client, name = self.client, self.topic
            # (The public method has no asynchronous form, and so no bound.)
            self._quietly("remove its worker plugin", lambda: cast(
                Awaitable[Any], client._unregister_worker_plugin(name=name, nanny=False)))

    def _stop_all(self) -> None:
        """Leave the cluster: the plugin, the topic, our client, an embedded cluster."""
        with self.lock:
            if self._stopped_all:
                return
            self._stopped_all = True
        client = self.client
        self._unplug()
        with contextlib.suppress(Exception):
            client.unsubscribe_topic(self.topic)
        if self.cluster is None:  # a cluster that outlives the pool: take our reports back
            # The workers' reports carry the jobs' replies, and the scheduler
            # keeps a topic's last 1,000 events for its lifetime: a long-lived
            # cluster would keep that many of every pool that ever used it.
            # There is no public call to drop a topic; the event log is the
            # scheduler's _broker (distributed 2024 and later; if it is not
            # there, nothing is dropped). Nested, so that it travels by value:
            # the scheduler need not have this package installed.
            def forget_topic(topic: str, dask_scheduler: Any = None) -> None:
                topics = getattr(getattr(dask_scheduler, "_broker", None), "_topics", None)
                if isinstance(topics, dict):
                    topics.pop(topic, None)

            topic = self.topic
            self._quietly("drop its reports from the scheduler's event log", lambda: cast(
                Awaitable[Any], client.run_on_scheduler(forget_topic, topic, asynchronous=True)))
        with self._results_cond:
            self._stopping = True
            self._results_cond.notify_all()
        if threading.current_thread() is not self.results:
            self.results.join(_RPC_BOUND)
        with self.lock:  # (normally none left: for a client whose loop is gone)
            unreleased, self._to_release = self._to_release, []
        del unreleased
        self._close_cluster()

    def _close_cluster(self) -> None:
        client = getattr(self, "client", None)
        if self.own_client and client is not None:
            with contextlib.suppress(Exception):
                client.close(timeout=_RPC_BOUND)
        if self.cluster is not None:
            try:
                self.cluster.close(timeout=_CLOSE_BOUND)
            except Exception as exc:
                log.warning("closing the embedded cluster failed: %r", exc,
                            extra={"job_id": None, "worker_id": None})


def _exception_of(future: DaskFuture) -> BaseException:
    try:
        error = cast(Any, future).exception(timeout=_RPC_BOUND)
    except BaseException as exc:
        return exc
    return error if isinstance(error, BaseException) else RuntimeError(
        f"task {future.key} failed on the cluster")


# -- pools the process must remember: interpreter exit, dropped pools ------------------

_live: weakref.WeakSet[DaskPool] = weakref.WeakSet()
_hooks_installed = False
_hooks_lock = threading.Lock()


def _track(pool: DaskPool) -> None:
    global _hooks_installed
    with _hooks_lock:
        if not _hooks_installed:
            _hooks_installed = True
            # Before distributed's own atexit (which closes clusters and clients).
            with contextlib.suppress(RuntimeError, AttributeError):
                threading._register_atexit(_at_exit)  # type: ignore[attr-defined]
        _live.add(pool)
    weakref.finalize(pool, _dropped, pool._core)


def _dropped(core: _Core) -> None:
    # Called by the garbage collector: take no lock here; a thread drains the pool.
    if core.ledger.report is not None or os.getpid() != core.pid:
        return
    with contextlib.suppress(RuntimeError):  # interpreter shutdown: _at_exit has run
        threading.Thread(target=core.shut_down, args=(time.monotonic(), core.exit_timeout,
                                                      True, 0.1),
                         name="pool-dropped", daemon=True).start()


def _at_exit() -> None:
    began = time.monotonic()
    quiet = {"job_id": None, "worker_id": None}
    for pool in list(_live):
        if pool.report is not None or os.getpid() != pool._core.pid:
            continue
        left = max(0.0, pool.exit_timeout - (time.monotonic() - began))
        try:
            report = pool.shutdown(timeout=left)
        except Exception:
            log.exception("at exit, shutting down %r failed", pool, extra=quiet)
            continue
        if not report.clean:
            log.warning("at exit, %r: %s", pool, report, extra=quiet)
