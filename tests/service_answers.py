"""Answers to notebook 10's exercise, right and wrong, as a learner could write them.

The exercise asks for ``handle(pool, job) -> (status, body)`` and
``stop(pool, timeout) -> report`` (see ``pool.checks.check_service``).
``RIGHT`` holds correct answers in different styles; ``WRONG`` holds one
answer per mistake the notebook warns about, and a few more a learner could
well write, each with the scenarios it must fail and a phrase the hint of
the first one must contain (the name of the mistake).
``tests/test_check_service.py`` runs them all through the checker.
"""

from __future__ import annotations

import threading
import time
import weakref
from concurrent import futures
from concurrent.futures import CancelledError
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from pool import Abandoned, Job, PoolClosed, ShutdownReport, Status, WorkerPool

Handle = Any  # (pool, job) -> (status, body)
Stop = Any  # (pool, timeout) -> report

# -- the scenarios, as check_service prints them (after "service ") -------------------------

RESULT = "answers 200 with the job's result"
FULL = "answers 429 at once when the pool is full"
RAISES = "answers 500 when the job raises"
CLOSED = "answers 503 once the pool is shutting down"
INTAKE = "stop() stops intake at once: a request that comes while it drains gets 503"
DRAINS = "stop() drains the accepted jobs"
BOUNDED = "stop() gives up on a hung job after its timeout (0.3 s) and reports it"
NEVER_RAN = "a request whose job never ran (cancelled at shutdown) gets 503"
ABANDONED = "a request whose job was abandoned at shutdown gets 503"
SCENARIOS = (RESULT, FULL, RAISES, CLOSED, INTAKE, DRAINS, BOUNDED, NEVER_RAN, ABANDONED)


# -- building blocks of the answers ---------------------------------------------------------

def good_handle(pool: WorkerPool, job: Job) -> tuple[int, Any]:
    """The plain right handle: try_submit, then the future, every way it can end."""
    try:
        future = pool.try_submit(job)
    except PoolClosed:
        return 503, {"error": "draining"}
    if future is None:
        return 429, {"error": "busy"}
    try:
        return 200, {"result": future.result()}
    except CancelledError:
        return 503, {"error": "never ran"}
    except Abandoned:
        return 503, {"error": "abandoned"}
    except Exception as exc:
        return 500, {"error": repr(exc)}


def good_stop(pool: WorkerPool, timeout: float) -> ShutdownReport:
    return pool.shutdown(timeout=timeout)


# -- right answers, other styles ----------------------------------------------------------

def handle_by_outcome(pool: WorkerPool, job: Job) -> tuple[int, Any]:
    """Waits with concurrent.futures.wait, then reads the ledger's outcome instead of raising."""
    try:
        future = pool.try_submit(job)
    except PoolClosed:
        return HTTPStatus.SERVICE_UNAVAILABLE, "draining"
    if future is None:
        return HTTPStatus.TOO_MANY_REQUESTS, "busy"
    futures.wait([future])
    outcome = future.outcome
    assert outcome is not None
    match outcome.status:
        case Status.SUCCEEDED:
            return HTTPStatus.OK, f"result: {outcome.result}"
        case Status.CANCELED | Status.ABANDONED:
            return HTTPStatus.SERVICE_UNAVAILABLE, "shutting down"
        case Status.TIMED_OUT:
            return HTTPStatus.GATEWAY_TIMEOUT, "deadline passed"
        case _:
            return HTTPStatus.INTERNAL_SERVER_ERROR, f"failed: {outcome.error!r}"


def handle_with_callback(pool: WorkerPool, job: Job) -> tuple[int, Any]:
    """A done callback sets an event; a bounded wait; bytes bodies; 502 for a failed job."""
    try:
        future = pool.try_submit(job)
    except PoolClosed:
        return 503, b"draining"
    if future is None:
        return 429, b"busy"
    ended = threading.Event()
    future.add_done_callback(lambda _: ended.set())
    if not ended.wait(30):
        future.cancel()
        return 504, b"took too long"
    if future.cancelled():
        return 503, b"never ran"
    error = future.exception()
    if isinstance(error, Abandoned):
        return 504, b"abandoned"
    if error is not None:
        return 502, repr(error).encode()
    return 200, str(future.result()).encode()


class DrainingService:
    """A class: its own note of draining pools refuses requests before the pool closes.

    The note is per pool, as the exercise asks (the checker gives each
    scenario a pool of its own).
    """

    def __init__(self) -> None:
        self.draining: weakref.WeakSet[WorkerPool] = weakref.WeakSet()

    def handle(self, pool: WorkerPool, job: Job) -> tuple[int, Any]:
        if pool in self.draining:
            return 503, "draining"
        return good_handle(pool, job)

    def stop(self, pool: WorkerPool, timeout: float) -> ShutdownReport:
        self.draining.add(pool)
        return pool.shutdown(timeout=timeout * 0.8, grace=timeout * 0.2)


def stop_with_long_grace(pool: WorkerPool, timeout: float) -> ShutdownReport:
    return pool.shutdown(timeout, drain=True, grace=0.4)


@dataclass(frozen=True)
class Answer:
    name: str
    handle: Handle
    stop: Stop


def _right() -> list[Answer]:
    service = DrainingService()
    return [
        Answer("plain try/except", good_handle, good_stop),
        Answer("outcome status, HTTPStatus codes, str bodies", handle_by_outcome, good_stop),
        Answer("done callback, bounded wait, bytes bodies", handle_with_callback,
               stop_with_long_grace),
        Answer("a class with its own draining flag", service.handle, service.stop),
    ]


RIGHT = _right()


# -- wrong answers: one per mistake the notebook names, and more --------------------------

def handle_blocking_submit(pool: WorkerPool, job: Job) -> tuple[int, Any]:
    """Waits for room with submit(): a full pool holds the request instead of answering 429."""
    try:
        future = pool.submit(job)
    except PoolClosed:
        return 503, "draining"
    try:
        return 200, future.result()
    except CancelledError:
        return 503, "never ran"
    except Exception as exc:
        return (503 if isinstance(exc, Abandoned) else 500), repr(exc)


def handle_letting_pool_closed_escape(pool: WorkerPool, job: Job) -> tuple[int, Any]:
    """Never expects the pool to close: PoolClosed escapes (the server answers 500 or nothing)."""
    future = pool.try_submit(job)
    if future is None:
        return 429, "busy"
    try:
        return 200, future.result()
    except CancelledError:
        return 503, "never ran"
    except Abandoned:
        return 503, "abandoned"
    except Exception as exc:
        return 500, repr(exc)


def handle_catching_all_as_500(pool: WorkerPool, job: Job) -> tuple[int, Any]:
    """Mistake (c): every exception is a 500, so a job that never ran 'failed on the server'."""
    try:
        future = pool.try_submit(job)
    except PoolClosed:
        return 503, "draining"
    if future is None:
        return 429, "busy"
    try:
        return 200, future.result()
    except Exception as exc:
        return 500, repr(exc)


def handle_forgetting_cancelled(pool: WorkerPool, job: Job) -> tuple[int, Any]:
    """Mistake (c): catches what a job can raise, not CancelledError: the answer is lost."""
    try:
        future = pool.try_submit(job)
    except PoolClosed:
        return 503, "draining"
    if future is None:
        return 429, "busy"
    try:
        return 200, future.result()
    except Abandoned:
        return 503, "abandoned"
    except (ValueError, RuntimeError) as exc:
        return 500, repr(exc)


LOOPS_END = threading.Event()
"""Set by the test once the check is over: ends the loop below, which stands for one that never
would (a test must not leave a thread behind)."""


def handle_waiting_for_start(pool: WorkerPool, job: Job) -> tuple[int, Any]:
    """Mistake (c), hanging: assumes every accepted job starts (to log when), waits for that."""
    try:
        future = pool.try_submit(job)
    except PoolClosed:
        return 503, "draining"
    if future is None:
        return 429, "busy"
    while not future.running() and not LOOPS_END.is_set():
        outcome = future.outcome
        if outcome is not None and outcome.started_at is not None:
            break
        time.sleep(0.005)
    return good_answer(future)


def good_answer(future: Any) -> tuple[int, Any]:
    try:
        return 200, {"result": future.result()}
    except CancelledError:
        return 503, "never ran"
    except Abandoned:
        return 503, "abandoned"
    except Exception as exc:
        return 500, repr(exc)


def handle_returning_the_future(pool: WorkerPool, job: Job) -> tuple[int, Any]:
    """Answers at once with the future in the body: the client never sees the result."""
    try:
        future = pool.try_submit(job)
    except PoolClosed:
        return 503, "draining"
    if future is None:
        return 429, "busy"
    return 200, {"job": job.id, "future": future}


def stop_waiting_for_idle_first(pool: WorkerPool, timeout: float) -> ShutdownReport:
    """Mistake (a): 'finish the work, then close': new requests keep coming in meanwhile."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        stats = pool.stats
        if stats.queued + stats.running == 0:
            break
        time.sleep(0.01)
    return pool.shutdown(timeout=max(0.0, deadline - time.monotonic()))


def stop_without_bound(pool: WorkerPool, timeout: float) -> ShutdownReport:
    """Mistake (b): the drain waits as long as it takes: one hung job holds it forever."""
    return pool.shutdown()


def stop_joining_threads(pool: WorkerPool, timeout: float) -> ShutdownReport:
    """Mistake (b), subtler: a bounded shutdown, then an unbounded join of the workers."""
    report = pool.shutdown(timeout=timeout)
    for thread in pool.threads():
        thread.join()
    return report


def stop_dropping_queued_jobs(pool: WorkerPool, timeout: float) -> ShutdownReport:
    """Cancels what is queued: accepted requests get 503 although there was time to run them."""
    return pool.shutdown(timeout=timeout, drain=False)


def stop_cancelling_first(pool: WorkerPool, timeout: float) -> ShutdownReport:
    """Cancels the pool before draining it: queued jobs end CANCELED unrun."""
    pool.cancel()
    return pool.shutdown(timeout=timeout)


def stop_in_background(pool: WorkerPool, timeout: float) -> None:
    """Starts the shutdown and returns at once: the process would exit mid-drain."""
    threading.Thread(target=pool.shutdown, kwargs={"timeout": timeout}, daemon=True).start()


def stop_returning_clean_flag(pool: WorkerPool, timeout: float) -> bool:
    """Returns report.clean: the service can no longer say which job it abandoned."""
    return pool.shutdown(timeout=timeout).clean


@dataclass(frozen=True)
class Wrong:
    name: str
    handle: Handle
    stop: Stop
    fails: frozenset[str]  # exactly these scenarios fail
    hint: str  # ... and the first one's hint contains this


def _wrong(name: str, handle: Handle, stop: Stop, fails: set[str], hint: str) -> Wrong:
    return Wrong(name, handle, stop, frozenset(fails), hint)


WRONG = [
    # (a) intake that never stops
    _wrong("stop that drains before it closes intake", good_handle, stop_waiting_for_idle_first,
           {INTAKE}, "did not stop intake"),
    _wrong("handle that lets PoolClosed escape", handle_letting_pool_closed_escape, good_stop,
           {CLOSED, INTAKE}, "PoolClosed"),
    # (b) a drain with no bound
    _wrong("stop with no bound", good_handle, stop_without_bound, {BOUNDED}, "no bound"),
    _wrong("stop that joins the workers without a bound", good_handle, stop_joining_threads,
           {BOUNDED}, "no bound"),
    # (c) the answer lost for a job that never ran
    _wrong("handle that answers every exception with 500", handle_catching_all_as_500,
           good_stop, {NEVER_RAN, ABANDONED}, "never ran"),
    _wrong("handle that forgets CancelledError", handle_forgetting_cancelled, good_stop,
           {NEVER_RAN}, "never ran"),
    _wrong("handle that waits for its job to start", handle_waiting_for_start, good_stop,
           {NEVER_RAN}, "the answer was lost"),
    # more a learner could write
    _wrong("handle that waits for room with submit()", handle_blocking_submit, good_stop,
           {FULL}, "429 at once"),
    _wrong("handle that returns the future, not its result", handle_returning_the_future,
           good_stop, {RESULT, RAISES, NEVER_RAN, ABANDONED}, "does not hold the job's result"),
    _wrong("stop that drops the queued jobs", good_handle, stop_dropping_queued_jobs,
           {DRAINS}, "cancelled accepted jobs"),
    _wrong("stop that cancels the pool first", good_handle, stop_cancelling_first,
           {DRAINS}, "cancelled accepted jobs"),
    _wrong("stop that returns at once", good_handle, stop_in_background,
           {DRAINS, BOUNDED}, "returned while accepted jobs still waited or ran"),
    _wrong("stop that returns report.clean", good_handle, stop_returning_clean_flag,
           {BOUNDED}, "return the pool's ShutdownReport"),
]
