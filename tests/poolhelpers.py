"""Job factories and checks shared by the WorkerPool tests.

A :class:`Script` is a ``process`` function whose behaviour is chosen per job
id, so one pool can run jobs that succeed, fail, hang or honour their context::

    script = Script()
    pool = WorkerPool(script, workers=2)
    hang = Hang(release)                  # release: an Event the test sets at teardown
    pool.submit(script.job("h", hang))
    assert hang.started.wait(5)

Every blocking helper has a bound (BOUND seconds at most), so a test that
forgets to release a job cannot hang the run; tests still release them.
"""

from __future__ import annotations

import math
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future
from typing import Any

import pytest

from pool import Abandoned, Context, Job, JobFuture, Outcome, Status, WorkerPool

BOUND = 10.0
"""The longest any helper job or wait blocks."""

Action = Callable[[Job], Any]

TERMINAL = frozenset(s for s in Status if s.terminal)


class Script:
    """A ``process`` function that runs the action registered for each job id."""

    def __init__(self) -> None:
        self._actions: dict[str, Action] = {}
        self._lock = threading.Lock()

    def job(self, job_id: str, action: Action | None = None, *, ctx: Context | None = None,
            payload: bytes = b"") -> Job:
        """Register ``action`` (default: return the job id) and return the Job to submit."""
        with self._lock:
            self._actions[job_id] = action if action is not None else returns(job_id)
        return Job(job_id, payload) if ctx is None else Job(job_id, payload, ctx)

    def __call__(self, job: Job) -> Any:
        with self._lock:
            action = self._actions[job.id]
        return action(job)


def returns(value: Any) -> Action:
    """A job that returns ``value`` at once."""
    return lambda job: value


def raises(exc_type: type[BaseException], *args: Any) -> Action:
    """A job that raises a fresh ``exc_type(*args)`` at once."""

    def action(job: Job) -> Any:
        raise exc_type(*args)

    return action


class Hang:
    """A job that blocks until ``release`` is set, ignoring its context.

    ``started`` is set when it begins, ``returned`` just before it returns.
    """

    def __init__(self, release: threading.Event, bound: float = BOUND) -> None:
        self.release = release
        self.bound = bound
        self.started = threading.Event()
        self.returned = threading.Event()

    def __call__(self, job: Job) -> str:
        self.started.set()
        try:
            self.release.wait(self.bound)
            return "released"
        finally:
            self.returned.set()


class HonourCtx:
    """A job that waits on its context (at most ``bound`` s) and raises ``ctx.err()``.

    ``started`` is set when it begins; ``ctx`` is the context it saw and
    ``saw_done`` whether that context was done when the wait ended.
    """

    def __init__(self, bound: float = BOUND) -> None:
        self.bound = bound
        self.started = threading.Event()
        self.ctx: Context | None = None
        self.saw_done: bool | None = None

    def __call__(self, job: Job) -> str:
        self.ctx = job.ctx
        self.started.set()
        self.saw_done = job.ctx.wait(self.bound)
        err = job.ctx.err()
        if err is not None:
            raise err
        return "context never ended"


def eventually(predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
    """Poll ``predicate`` every millisecond for at most ``timeout`` s; return its last value.

    Only for states the pool announces with no Event (a ledger entry, ``closed``).
    """
    limit = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() >= limit:
            return predicate()
        time.sleep(0.001)
    return True


def by_id(outcomes: Iterable[Outcome]) -> dict[str, Outcome]:
    """Outcomes keyed by job id (ids must be unique)."""
    result: dict[str, Outcome] = {}
    for o in outcomes:
        assert o.job_id not in result, f"two outcomes for job {o.job_id!r}"
        result[o.job_id] = o
    return result


def parked_submits(pool: WorkerPool) -> int:
    """How many submits wait for room in ``pool`` (not yet accepted, so not in its stats)."""
    return len(pool._jobs._senders)


def stats_sum_holds(pool: WorkerPool) -> bool:
    """True when ``submitted`` equals the sum of the other seven counters."""
    s = pool.stats
    return s.submitted == (s.queued + s.running + s.succeeded + s.failed + s.canceled
                           + s.timed_out + s.abandoned)


def ledger_problems(pool: WorkerPool, accepted: Iterable[str],
                    rejected: Iterable[str] = ()) -> list[str]:
    """Check the ledger rule after shutdown; return what is wrong (empty: all good).

    Every accepted id has exactly one terminal outcome, no rejected id has
    one, no outcome belongs to an unknown id, the stats add up, nothing is
    queued or running, and the stats' terminal counts match the outcomes.
    Needs a pool whose ``keep`` exceeds the number of jobs.
    """
    accepted = set(accepted)
    rejected = set(rejected)
    problems: list[str] = []
    outcomes = pool.outcomes
    counts = Counter(o.job_id for o in outcomes)
    for job_id in sorted(accepted):
        if counts[job_id] != 1:
            problems.append(f"accepted job {job_id!r} has {counts[job_id]} outcomes")
    for job_id in sorted(rejected & set(counts)):
        problems.append(f"rejected job {job_id!r} has an outcome")
    for job_id in sorted(set(counts) - accepted - rejected):
        problems.append(f"outcome for a job never submitted: {job_id!r}")
    for o in outcomes:
        if o.status not in TERMINAL:
            problems.append(f"job {o.job_id!r} has non-terminal outcome {o.status}")
    s = pool.stats
    total = s.queued + s.running + s.succeeded + s.failed + s.canceled + s.timed_out + s.abandoned
    if s.submitted != total:
        problems.append(f"stats do not add up: {s}")
    if s.queued or s.running:
        problems.append(f"jobs still queued or running after shutdown: {s}")
    if s.submitted != len(accepted):
        problems.append(f"stats.submitted={s.submitted}, accepted {len(accepted)}")
    by_status = Counter(o.status for o in outcomes)
    for status, field in ((Status.SUCCEEDED, "succeeded"), (Status.FAILED, "failed"),
                          (Status.CANCELED, "canceled"), (Status.TIMED_OUT, "timed_out"),
                          (Status.ABANDONED, "abandoned")):
        if getattr(s, field) != by_status[status]:
            problems.append(f"stats.{field}={getattr(s, field)}, outcomes {by_status[status]}")
    return problems


def future_problems(futures: Iterable[JobFuture], outcomes: Iterable[Outcome],
                    callbacks: Mapping[str, int] | None = None) -> list[str]:
    """Check that each job's future agrees with its outcome; return what is wrong.

    Every future is done, its ``outcome`` is the job's outcome, and its state
    says the same as the outcome's status: SUCCEEDED sets the result; a job
    that never ran and ended CANCELED is a cancelled future; ABANDONED is an
    :class:`~pool.Abandoned` naming the job and worker; any other end sets
    the outcome's error as the exception. With ``callbacks`` (job id -> how
    many times its done callback ran), each must have run exactly once.
    Call it once every job has ended (after shutdown, workers joined).
    """
    ended = by_id(outcomes)
    problems: list[str] = []
    for future in futures:
        job_id = future.job_id
        if not future.done():
            problems.append(f"future of job {job_id!r} is not done")
            continue
        outcome = ended.get(job_id)
        if outcome is None:
            problems.append(f"future of job {job_id!r} is done but the job has no outcome")
            continue
        if future.outcome != outcome:
            problems.append(f"future of job {job_id!r} has outcome {future.outcome}, "
                            f"the ledger {outcome}")
        problems += _state_problems(future, outcome)
        if callbacks is not None and callbacks.get(job_id, 0) != 1:
            problems.append(f"done callback of job {job_id!r} ran "
                            f"{callbacks.get(job_id, 0)} times")
    return problems


def _state_problems(future: Future[Any], outcome: Outcome) -> list[str]:
    job_id, status = outcome.job_id, outcome.status
    if status is Status.CANCELED and outcome.started_at is None:
        return [] if future.cancelled() else [f"job {job_id!r} never ran and ended CANCELED, "
                                              "but its future is not cancelled"]
    if future.cancelled():
        return [f"job {job_id!r} ended {status.name} but its future is cancelled"]
    error = future.exception(timeout=0)
    if status is Status.SUCCEEDED:
        if error is not None:
            return [f"job {job_id!r} SUCCEEDED but its future raised {error!r}"]
        if future.result(timeout=0) != outcome.result:
            return [f"job {job_id!r}: future result {future.result(timeout=0)!r}, "
                    f"outcome {outcome.result!r}"]
        return []
    if status is Status.ABANDONED:
        if not (isinstance(error, Abandoned) and error.job_id == job_id
                and error.worker_id == outcome.worker_id):
            return [f"job {job_id!r} ABANDONED on worker {outcome.worker_id}, "
                    f"but its future raised {error!r}"]
        return []
    if error is None or error is not outcome.error:
        return [f"job {job_id!r} ended {status.name} with {outcome.error!r}, "
                f"but its future raised {error!r}"]
    return []


def join_all(threads: Iterable[threading.Thread], timeout: float = BOUND) -> list[str]:
    """Join ``threads`` within ``timeout`` s in total; return the names still alive."""
    limit = time.monotonic() + timeout
    alive = []
    for t in threads:
        t.join(max(0.0, limit - time.monotonic()))
        if t.is_alive():
            alive.append(t.name)
    return alive


BAD_TIMEOUTS = [
    pytest.param(-1, ValueError, id="negative"),
    pytest.param(math.nan, ValueError, id="nan"),
    pytest.param("1", TypeError, id="str"),
    pytest.param(True, TypeError, id="bool"),
]
"""Timeouts every blocking call must reject, with the error it must raise."""

MakePool = Callable[..., WorkerPool]
"""The ``make_pool`` fixture: ``make_pool(process, workers, **kwargs)``."""


class Pools:
    """A pool factory for a fixture: ``pools(process, workers, **kwargs)``.

    ``close()`` sets ``release`` (so every Hang returns), shuts every pool
    down with a bound, joins its threads and returns the names still alive.
    """

    def __init__(self, release: threading.Event) -> None:
        self.release = release
        self.made: list[WorkerPool] = []

    def __call__(self, process: Any, workers: int = 2, **kwargs: Any) -> WorkerPool:
        pool = WorkerPool(process, workers, **kwargs)
        self.made.append(pool)
        return pool

    def close(self) -> list[str]:
        self.release.set()
        for pool in self.made:
            pool.shutdown(timeout=5.0, grace=0.5)
        return join_all([t for pool in self.made for t in pool.threads()], timeout=5.0)
