"""One scenario, four engines: the dashboard's jobs on threads, processes, asyncio or Dask.

The dashboard (:mod:`pool.widgets`) runs the same :class:`Scenario` (workers,
jobs, duration, failure rate, a hung job, the shutdown's timeout and drain)
on whichever engine is chosen, through one small surface: :func:`start`
returns a :class:`Run` with the blocking ``submit``/``shutdown`` that
:func:`pool.widgets.drive` calls from its helper thread, and the ``trace``
the picture reads. What differs is how each engine stops the hung job, and
the report says which:

- **threads** (:class:`~pool.WorkerPool`): the hung job waits on the run's
  ``release`` Event and ignores its context. A thread cannot be stopped:
  shutdown abandons the job and the thread runs on until released.
- **processes** (:class:`~pool.ProcessPool`): the hung job sleeps in its
  worker process. Past ``timeout + grace`` the process is killed (SIGTERM,
  then SIGKILL); the job ends ABANDONED.
- **asyncio** (:class:`~pool.AsyncPool`): the hung job awaits a long sleep.
  Past the timeout its task is cancelled for real; it ends CANCELED.
- **dask** (:class:`~pool.DaskPool`, an embedded ``LocalCluster`` per run):
  the hung job sleeps on a Dask worker. Past ``timeout + grace`` the nanny
  restarts that worker; the job ends ABANDONED.

The job functions for processes and Dask are module-level (they are sent by
name or pickled), so what a job does travels in its payload
(:func:`payload`), not in a closure. An asyncio pool lives in an event loop
of its own, in a thread of its own (:class:`_LoopThread`): the notebook's
thread stays free to draw, as with the other engines.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import math
import random
import threading
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from ._validate import check_int, check_probability, check_seconds, type_name
from .job import Job, Outcome, Status
from .ledger import ShutdownReport, Stats
from .trace import Trace

__all__ = [
    "ENGINES",
    "HANG_JOB",
    "Run",
    "Scenario",
    "describe",
    "payload",
    "scenario_job",
    "scenario_job_async",
    "start",
]

ENGINES = ("threads", "processes", "asyncio", "dask")
"""The engine names :func:`start` takes, in the order the dashboard shows them."""

ENGINE_POOLS = {"threads": "WorkerPool", "processes": "ProcessPool", "asyncio": "AsyncPool",
                "dask": "DaskPool"}
"""The pool class each engine runs on."""

HANG_JOB = "1"
"""With ``hang`` set, the job that hangs: the first."""

_HANG_SECONDS = 3600.0  # "forever" for a hung job that nothing releases (it is stopped)


# -- the scenario --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Scenario:
    """What a dashboard run does: ``jobs`` jobs named ``"1"``.. on ``workers`` workers.

    Each job sleeps ``duration`` seconds on its context (so a cancelled pool
    stops it at once), then fails with probability ``failure_rate``: which
    jobs fail is drawn from ``random.Random(seed)``, so a scenario fails the
    same jobs every run. With ``hang`` job ``"1"`` hangs and ignores its
    context. The pool shuts down right after the last submit, with
    ``shutdown_timeout``, ``drain`` and ``grace`` (see
    :meth:`WorkerPool.shutdown`). Raises ``TypeError``/``ValueError`` for a
    bad field, naming it.
    """

    workers: int = 3
    jobs: int = 8
    duration: float = 0.3
    failure_rate: float = 0.0
    hang: bool = False
    shutdown_timeout: float = 1.0
    drain: bool = True
    seed: int = 0
    grace: float = 0.1

    def __post_init__(self) -> None:
        check_int(self.workers, "workers", minimum=1)
        check_int(self.jobs, "jobs", minimum=1)
        for name in ("duration", "shutdown_timeout", "grace"):
            value = check_seconds(getattr(self, name), name)
            if math.isinf(value):
                raise ValueError(f"{name} must be a finite number of seconds, got {value}")
            object.__setattr__(self, name, value)
        object.__setattr__(self, "failure_rate",
                           check_probability(self.failure_rate, "failure_rate"))
        for name in ("hang", "drain"):
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"{name} must be a bool, got {type_name(getattr(self, name))}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise TypeError(f"seed must be an int, got {type_name(self.seed)}")

    def job_ids(self) -> list[str]:
        """``"1"``, ``"2"``, ... ``str(jobs)``."""
        return [str(n) for n in range(1, self.jobs + 1)]

    def failing(self) -> frozenset[str]:
        """The ids of the jobs that fail: the same for the same ``seed`` and ``failure_rate``.

        One draw per job, in id order, so raising ``failure_rate`` only adds
        failures. The hung job (with ``hang``) hangs instead.
        """
        rng = random.Random(self.seed)
        draws = [(job_id, rng.random()) for job_id in self.job_ids()]
        return frozenset(job_id for job_id, draw in draws
                         if draw < self.failure_rate and not (self.hang and job_id == HANG_JOB))

    def horizon(self) -> float:
        """About how long the run takes, in seconds (the live view's first x range)."""
        bound = self.shutdown_timeout + self.grace
        if self.hang:
            return bound  # shutdown waits out the timeout, cancels, then gives up
        rounds = math.ceil(self.jobs / self.workers) if self.drain else 1
        return min(rounds * self.duration, bound)

    def jobs_to_submit(self) -> list[Job]:
        """The scenario's jobs, each carrying what it does in its :func:`payload`."""
        failing = self.failing()
        return [Job(job_id, payload(self.duration, fail=job_id in failing,
                                    hang=self.hang and job_id == HANG_JOB))
                for job_id in self.job_ids()]


def payload(duration: float, *, fail: bool = False, hang: bool = False) -> bytes:
    """What a scenario job does, as its payload: ``b"<duration> <fail> <hang>"``."""
    return f"{duration!r} {int(fail)} {int(hang)}".encode()


def _parse(job: Job) -> tuple[float, bool, bool]:
    duration, fail, hang = job.payload.split()
    return float(duration), fail == b"1", hang == b"1"


def scenario_job(job: Job) -> None:
    """A scenario job on a worker thread or process: sleep on the context, maybe fail.

    The hung job sleeps for an hour and ignores its context: only killing
    its process stops it (a thread pool uses :func:`_thread_job` instead, so
    that the dashboard can release it).
    """
    duration, fail, hang = _parse(job)
    if hang:
        time.sleep(_HANG_SECONDS)  # ignores job.ctx on purpose
        return
    job.ctx.sleep(duration)  # raises Canceled at once if the pool is cancelled
    if fail:
        raise RuntimeError(f"simulated failure of job {job.id}")


async def scenario_job_async(job: Job) -> None:
    """A scenario job on an asyncio pool: the hung job awaits a sleep it never finishes.

    It does not look at its context either; cancelling its task stops it.
    """
    duration, fail, hang = _parse(job)
    await asyncio.sleep(_HANG_SECONDS if hang else duration)
    if fail:
        raise RuntimeError(f"simulated failure of job {job.id}")


def _thread_job(release: threading.Event) -> Callable[[Job], None]:
    def process(job: Job) -> None:
        duration, fail, hang = _parse(job)
        if hang:
            release.wait()  # ignores job.ctx: shutdown can cancel it, but must abandon it
            return
        job.ctx.sleep(duration)
        if fail:
            raise RuntimeError(f"simulated failure of job {job.id}")

    return process


# -- a run ---------------------------------------------------------------------


class _Pool(Protocol):
    @property
    def trace(self) -> Trace: ...
    @property
    def stats(self) -> Stats: ...
    @property
    def outcomes(self) -> list[Outcome]: ...


class Run:
    """One scenario on one engine: what :func:`pool.widgets.drive` and the picture use.

    ``submit(job)`` blocks while the pool's buffer is full; ``shutdown(timeout,
    drain=, grace=)`` returns the report; ``trace`` is the pool's. ``pool``
    is the engine's own pool object (for an asyncio run, its
    :class:`~pool.AsyncPool`, which lives in another thread's loop).
    ``close()`` ends whatever the run still holds: the hung thread's wait, an
    asyncio run's loop thread. Made by :func:`start`.
    """

    def __init__(self, engine: str, pool: _Pool, submit: Callable[[Job], object],
                 shutdown: Callable[[float | None, bool, float], ShutdownReport],
                 close: Callable[[], None]) -> None:
        self.engine = engine
        self.pool: Any = pool  # WorkerPool | ProcessPool | AsyncPool | DaskPool
        self._submit = submit
        self._shutdown = shutdown
        self._close = close

    @property
    def trace(self) -> Trace:
        """The pool's trace (safe to read from any thread)."""
        trace: Trace = self.pool.trace
        return trace

    @property
    def stats(self) -> Stats:
        """The pool's ledger counts."""
        stats: Stats = self.pool.stats
        return stats

    def submit(self, job: Job) -> object:
        """Submit ``job``; block while the buffer is full. Raises as the engine's submit."""
        return self._submit(job)

    def shutdown(self, timeout: float | None = None, *, drain: bool = True,
                 grace: float = 0.1) -> ShutdownReport:
        """Shut the pool down as its ``shutdown`` does; return the report."""
        return self._shutdown(timeout, drain, grace)

    def close(self) -> None:
        """Let go of what the run still holds. Safe to call more than once."""
        self._close()


def start(engine: str, scenario: Scenario, release: threading.Event) -> Run:
    """Start a pool for ``scenario`` on ``engine`` (one of :data:`ENGINES`); return the run.

    Blocks until the pool is ready for jobs: a process pool's workers are
    up, a Dask cluster is started (1-3 s). ``release`` is the Event a
    thread pool's hung job waits on. Raises ``ValueError`` for an unknown
    engine, ``ImportError`` for ``"dask"`` without ``distributed``.
    """
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    buffer = scenario.jobs  # every job is queued at once: the picture shows the queue
    workers = scenario.workers
    if engine == "threads":
        from .workerpool import WorkerPool

        tp = WorkerPool(_thread_job(release), workers, buffer=buffer)
        return Run(engine, tp, tp.submit, lambda t, d, g: tp.shutdown(t, drain=d, grace=g),
                   release.set)
    if engine == "processes":
        from .processes import ProcessPool

        pp = ProcessPool(scenario_job, workers, buffer=buffer)
        pp.wait_ready(30)
        return Run(engine, pp, pp.submit, lambda t, d, g: pp.shutdown(t, drain=d, grace=g),
                   lambda: None)
    if engine == "asyncio":
        return _start_asyncio(workers, buffer)
    from .cluster import DaskPool

    dp = DaskPool(scenario_job, workers=workers, buffer=buffer)
    return Run(engine, dp, dp.submit, lambda t, d, g: dp.shutdown(t, drain=d, grace=g),
               lambda: None)


T = TypeVar("T")


class _LoopThread:
    """An event loop running in a daemon thread of its own, until :meth:`stop`."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="pool-engine-loop",
                                       daemon=True)
        self.thread.start()

    def call(self, make: Callable[[], Coroutine[Any, Any, T]]) -> T:
        """Run the coroutine ``make()`` in the loop; block for its result."""
        async def run() -> T:
            return await make()
        return asyncio.run_coroutine_threadsafe(run(), self.loop).result()

    def stop(self) -> None:
        if self.loop.is_closed():
            return
        if self.thread.is_alive():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(5.0)
        if not self.thread.is_alive():
            self.loop.close()


def _start_asyncio(workers: int, buffer: int) -> Run:
    from .aio import AsyncPool

    runner = _LoopThread()

    async def make() -> AsyncPool:
        return AsyncPool(scenario_job_async, workers, buffer=buffer)

    try:
        ap = runner.call(make)
    except BaseException:
        runner.stop()
        raise

    def submit(job: Job) -> concurrent.futures.Future[Any]:
        return ap.submit_threadsafe(job)

    def shutdown(timeout: float | None, drain: bool, grace: float) -> ShutdownReport:
        try:
            return runner.call(lambda: ap.shutdown(timeout, drain=drain, grace=grace))
        finally:
            runner.stop()

    return Run("asyncio", ap, submit, shutdown, runner.stop)


# -- the report ------------------------------------------------------------------


def describe(report: ShutdownReport, run: Run, shutdown_timeout: float | None = None) -> str:
    """The dashboard's report: how shutdown went, counts by status, what became of a hung job.

    For each job shutdown gave up on (ABANDONED) or cancelled while it ran:
    its worker, how long it had run, and what the engine did to it: a
    thread still alive or ended (a thread cannot be killed), a worker
    process killed, a task cancelled, a Dask worker restarted.
    """
    if report.clean:
        head = f"clean shutdown in {report.elapsed:.2f} s"
        if shutdown_timeout is not None:
            head += f" (timeout {shutdown_timeout:g} s)"
    else:
        head = f"shutdown timed out: gave up after {report.elapsed:.2f} s"
        if shutdown_timeout is not None:
            head += f" (timeout {shutdown_timeout:g} s, then the pool was cancelled)"
    s = report.stats
    lines = [
        head,
        f"{s.submitted} jobs: {s.succeeded} succeeded, {s.failed} failed, "
        f"{s.timed_out} timed out, {s.canceled} canceled, {s.abandoned} abandoned",
    ]
    if run.engine == "threads":
        threads = {t.name: t for t in run.pool.threads()}
        for o in report.abandoned:
            name = f"pool-worker-{o.worker_id}"
            thread = threads.get(name)
            alive = "is still alive" if thread is not None and thread.is_alive() else "has ended"
            lines.append(f"abandoned: job {o.job_id} on worker {o.worker_id} after running "
                         f"{o.ran_for or 0.0:.2f} s; thread {name} {alive}")
        return "\n".join(lines)
    stopped = list(report.abandoned)
    if run.engine == "asyncio":
        stopped = [o for o in run.pool.outcomes if o.status is Status.CANCELED
                   and o.started_at is not None and not report.clean]
    for o in stopped:
        lines.append(f"{o.status.name.lower()}: job {o.job_id} on worker {o.worker_id} after "
                     f"running {o.ran_for or 0.0:.2f} s; {_FATE[run.engine]}")
    return "\n".join(lines)


_FATE = {
    "processes": "its worker process was killed (SIGTERM, then SIGKILL)",
    "asyncio": "its task was cancelled for real, and has ended",
    "dask": "its Dask worker process was killed through its nanny",
}
