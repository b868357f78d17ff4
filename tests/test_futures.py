"""JobFuture: the future ``WorkerPool.submit`` returns (DESIGN.md, "Results: futures").

A job's future resolves exactly when its ledger line ends: SUCCEEDED sets the
result; FAILED, TIMED_OUT and a job cancelled while running set the
exception; ABANDONED sets a ``pool.Abandoned``; a job that never ran and
ended CANCELED is a cancelled future. ``future.cancel()`` takes a queued job
out of the pool. ``concurrent.futures.wait``/``as_completed`` work on them,
and done callbacks run once, in the thread that ended the job.

Jobs are scripted per id (:class:`poolhelpers.Script`); a job that must stay
running waits on an Event (a ``gate``), set by the test or at teardown.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import os
import random
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, os.path.dirname(__file__))

from poolhelpers import (
    Hang,
    HonourCtx,
    MakePool,
    Script,
    by_id,
    eventually,
    future_problems,
    join_all,
    ledger_problems,
    parked_submits,
    raises,
)

from pool import (
    Abandoned,
    Canceled,
    DeadlineExceeded,
    Job,
    JobFuture,
    Outcome,
    PoolClosed,
    Status,
    WorkerPool,
    background,
)

pytestmark = pytest.mark.timeout(30)

SLACK = 0.25  # a time bound may overrun by this much on a busy 2-core machine
ROOT = Path(__file__).resolve().parents[1]

Gate = Callable[[], threading.Event]


@pytest.fixture
def gate(make_pool: MakePool) -> Iterator[Gate]:
    """``gate()`` makes an Event for a job to wait on; every one is set at teardown.

    Torn down before ``make_pool`` (it depends on it), so gated jobs end
    before the pools are shut down.
    """
    made: list[threading.Event] = []

    def new() -> threading.Event:
        event = threading.Event()
        made.append(event)
        return event

    yield new
    for event in made:
        event.set()


class Busy:
    """A pool with one worker held by a gated job, so the next jobs stay queued.

    ``ended`` (job id -> action) are run to their end first: futures already
    done when the test begins, in ``self.ended``.
    """

    def __init__(self, make_pool: MakePool, gate: Gate, buffer: int = 10,
                 ended: dict[str, Any] | None = None) -> None:
        self.script = Script()
        self.pool = make_pool(self.script, 1, buffer=buffer)
        self.ended = {job_id: self.pool.submit(self.script.job(job_id, action), timeout=5)
                      for job_id, action in (ended or {}).items()}
        cf.wait(self.ended.values(), timeout=5)
        assert all(f.done() for f in self.ended.values())
        self.gate = gate()
        self.hang = Hang(self.gate)
        self.running = self.pool.submit(self.script.job("running", self.hang))
        assert self.hang.started.wait(5)

    def queue(self, job_id: str, action: Any = None, **kwargs: Any) -> JobFuture:
        future = self.pool.submit(self.script.job(job_id, action, **kwargs), timeout=5)
        assert future.status is Status.QUEUED
        return future

    def free(self) -> None:
        """Let the worker go on to the queued jobs."""
        self.gate.set()


@pytest.fixture
def busy(make_pool: MakePool, gate: Gate) -> Busy:
    return Busy(make_pool, gate)


def outcome_of(pool: WorkerPool, job_id: str) -> Outcome:
    return by_id(pool.outcomes)[job_id]


def succeed_when(event: threading.Event, value: Any = "done") -> Callable[[Job], Any]:
    """A job that waits for ``event`` (bounded) and returns ``value``."""

    def action(job: Job) -> Any:
        assert event.wait(10), "gate never opened"
        return value

    return action


def fail_when(event: threading.Event, error: BaseException) -> Callable[[Job], Any]:
    """A job that waits for ``event`` (bounded) and raises ``error``."""

    def action(job: Job) -> Any:
        assert event.wait(10), "gate never opened"
        raise error

    return action


# -- what submit returns ------------------------------------------------------


def test_submit_returns_a_concurrent_futures_future(make_pool: MakePool) -> None:
    script = Script()
    pool = make_pool(script)
    future = pool.submit(script.job("a"), timeout=5)
    assert isinstance(future, JobFuture)
    assert isinstance(future, cf.Future)


def test_future_carries_the_job_id(make_pool: MakePool) -> None:
    script = Script()
    pool = make_pool(script)
    assert pool.submit(script.job("a"), timeout=5).job_id == "a"


def test_future_outcome_is_none_until_the_job_ends(busy: Busy) -> None:
    queued = busy.queue("queued")
    assert busy.running.outcome is None
    assert queued.outcome is None
    assert not busy.running.done()
    assert not queued.done()


def test_future_outcome_is_the_ledger_outcome_once_done(busy: Busy) -> None:
    queued = busy.queue("queued")
    busy.free()
    assert queued.result(timeout=5) == "queued"
    busy.pool.shutdown(timeout=5)
    assert queued.outcome == outcome_of(busy.pool, "queued")
    assert busy.running.outcome == outcome_of(busy.pool, "running")


def test_try_submit_returns_a_future_when_there_is_room(make_pool: MakePool) -> None:
    script = Script()
    pool = make_pool(script, 1, buffer=1)
    future = pool.try_submit(script.job("a"))
    assert isinstance(future, JobFuture)
    assert future.result(timeout=5) == "a"


def test_try_submit_returns_none_when_the_buffer_is_full(
    make_pool: MakePool, gate: Gate
) -> None:
    busy = Busy(make_pool, gate, buffer=1)
    assert busy.pool.try_submit(busy.script.job("fills")) is not None
    assert busy.pool.try_submit(busy.script.job("late")) is None


# -- each way a job ends, as its future says it --------------------------------


def test_succeeded_job_future_result_is_the_return_value(make_pool: MakePool) -> None:
    script = Script()
    pool = make_pool(script)
    future = pool.submit(script.job("a", lambda job: {"answer": 42}), timeout=5)
    assert future.result(timeout=5) == {"answer": 42}
    assert future.exception(timeout=0) is None
    assert not future.cancelled()
    assert future.outcome is not None and future.outcome.status is Status.SUCCEEDED


@pytest.mark.parametrize("error", [ValueError("bad"), SystemExit(3), KeyboardInterrupt()],
                         ids=["ValueError", "SystemExit", "KeyboardInterrupt"])
def test_failed_job_future_exception_is_the_raised_exception(
    make_pool: MakePool, error: BaseException
) -> None:
    script = Script()
    pool = make_pool(script)

    def action(job: Job) -> Any:
        raise error

    future = pool.submit(script.job("a", action), timeout=5)
    assert future.exception(timeout=5) is error
    assert future.outcome is not None and future.outcome.status is Status.FAILED


def test_failed_job_future_result_reraises_the_exception(make_pool: MakePool) -> None:
    script = Script()
    pool = make_pool(script)
    future = pool.submit(script.job("a", raises(ValueError, "bad")), timeout=5)
    with pytest.raises(ValueError, match="bad"):
        future.result(timeout=5)


def test_job_whose_deadline_passes_while_queued_raises_deadline_exceeded(busy: Busy) -> None:
    ctx, _ = background().with_timeout(0.01)
    queued = busy.queue("late", ctx=ctx)
    assert ctx.wait(5)
    busy.free()
    error = queued.exception(timeout=5)
    assert isinstance(error, DeadlineExceeded)
    assert isinstance(error, TimeoutError)
    assert not queued.cancelled()
    assert queued.outcome is not None
    assert queued.outcome.status is Status.TIMED_OUT
    assert queued.outcome.started_at is None  # it never ran


def test_job_whose_deadline_passes_while_running_raises_deadline_exceeded(
    make_pool: MakePool,
) -> None:
    script = Script()
    pool = make_pool(script, 1)
    honour = HonourCtx()
    ctx, _ = background().with_timeout(0.05)
    future = pool.submit(script.job("a", honour, ctx=ctx), timeout=5)
    with pytest.raises(DeadlineExceeded):
        future.result(timeout=5)
    assert future.outcome is not None and future.outcome.status is Status.TIMED_OUT
    assert future.outcome.started_at is not None


def test_job_cancelled_while_running_raises_canceled(make_pool: MakePool) -> None:
    script = Script()
    pool = make_pool(script, 1)
    honour = HonourCtx()
    future = pool.submit(script.job("a", honour), timeout=5)
    assert honour.started.wait(5)
    pool.cancel()
    assert isinstance(future.exception(timeout=5), Canceled)
    assert not future.cancelled()  # it ran: the job was stopped, not the future
    assert future.outcome is not None and future.outcome.status is Status.CANCELED


def test_job_cancelled_by_shutdown_without_drain_is_a_cancelled_future(
    busy: Busy, spawn: Callable[..., Any]
) -> None:
    queued = busy.queue("queued")
    shutting = spawn(busy.pool.shutdown, timeout=5, drain=False)
    cf.wait([queued], timeout=5)
    assert queued.cancelled()
    with pytest.raises(cf.CancelledError):
        queued.result(timeout=0)
    busy.free()
    shutting.join()
    assert queued.outcome == outcome_of(busy.pool, "queued")
    assert queued.outcome is not None and queued.outcome.status is Status.CANCELED


def test_job_cancelled_by_pool_cancel_before_a_worker_takes_it_is_a_cancelled_future(
    busy: Busy,
) -> None:
    queued = busy.queue("queued")
    busy.pool.cancel()
    busy.free()  # the running job ignores its ctx and returns
    cf.wait([queued], timeout=5)
    assert queued.cancelled()
    with pytest.raises(cf.CancelledError):
        queued.result(timeout=0)
    assert busy.running.result(timeout=5) == "released"


def test_abandoned_job_future_raises_abandoned(make_pool: MakePool, gate: Gate) -> None:
    script = Script()
    pool = make_pool(script, 1)
    hang = Hang(gate())
    future = pool.submit(script.job("stuck", hang), timeout=5)
    assert hang.started.wait(5)
    pool.shutdown(timeout=0.05, grace=0.05)
    error = future.exception(timeout=0)
    assert isinstance(error, Abandoned)
    assert isinstance(error, TimeoutError)
    with pytest.raises(Abandoned):
        future.result(timeout=0)


def test_abandoned_says_which_job_which_worker_and_how_long_it_ran(
    make_pool: MakePool, gate: Gate
) -> None:
    script = Script()
    pool = make_pool(script, 2)
    hang = Hang(gate())
    future = pool.submit(script.job("stuck", hang), timeout=5)
    assert hang.started.wait(5)
    pool.shutdown(timeout=0.05, grace=0.05)
    error = future.exception(timeout=0)
    assert isinstance(error, Abandoned)
    outcome = outcome_of(pool, "stuck")
    assert outcome.status is Status.ABANDONED
    assert error.job_id == "stuck"
    assert error.worker_id == outcome.worker_id
    assert error.worker_id in (1, 2)
    assert error.ran_for == pytest.approx(outcome.ran_for)
    assert 0.1 <= error.ran_for < 0.1 + SLACK
    message = str(error)
    assert "'stuck'" in message
    assert f"worker {error.worker_id}" in message
    assert f"{error.ran_for:.3f} s" in message


def test_abandoned_future_does_not_change_when_the_job_comes_back_late(
    make_pool: MakePool, gate: Gate
) -> None:
    script = Script()
    pool = make_pool(script, 1)
    hang = Hang(gate())
    future = pool.submit(script.job("stuck", hang), timeout=5)
    assert hang.started.wait(5)
    pool.shutdown(timeout=0.05, grace=0.05)
    hang.release.set()
    assert hang.returned.wait(5)
    assert join_all(pool.threads(), timeout=5) == []
    assert isinstance(future.exception(timeout=0), Abandoned)
    assert future.outcome is not None and future.outcome.status is Status.ABANDONED


# -- future.cancel() -----------------------------------------------------------


def test_cancel_of_a_queued_job_returns_true(busy: Busy) -> None:
    queued = busy.queue("queued")
    assert queued.cancel() is True
    assert queued.cancelled()
    assert queued.done()


def test_cancel_of_a_queued_job_means_it_never_runs(busy: Busy) -> None:
    ran = threading.Event()
    queued = busy.queue("queued", lambda job: ran.set())
    assert queued.cancel()
    after = busy.queue("after")  # the worker takes the next job instead
    busy.free()
    assert after.result(timeout=5) == "after"
    busy.pool.shutdown(timeout=5)
    assert not ran.is_set()
    outcome = outcome_of(busy.pool, "queued")
    assert outcome.status is Status.CANCELED
    assert outcome.started_at is None


def test_cancel_of_a_queued_job_is_counted_canceled_at_once(busy: Busy) -> None:
    queued = busy.queue("queued")
    before = busy.pool.stats
    assert queued.cancel()
    stats = busy.pool.stats
    assert (stats.queued, stats.canceled) == (before.queued - 1, before.canceled + 1)
    assert stats.submitted == before.submitted
    assert queued.outcome == outcome_of(busy.pool, "queued")


def test_cancel_of_a_queued_job_frees_its_place_for_a_blocked_submit(
    make_pool: MakePool, gate: Gate, spawn: Callable[..., Any]
) -> None:
    busy = Busy(make_pool, gate, buffer=1)
    queued = busy.queue("queued")
    blocked = spawn(busy.pool.submit, busy.script.job("blocked"), timeout=5)
    assert eventually(lambda: parked_submits(busy.pool) == 1)
    assert queued.cancel()
    landed = blocked.join()  # lands while the worker is still held
    assert landed.job_id == "blocked"
    assert busy.running.running()
    busy.free()
    assert landed.result(timeout=5) == "blocked"


def test_cancel_twice_returns_true_both_times(busy: Busy) -> None:
    # As concurrent.futures.Future: cancelling a cancelled future succeeds.
    queued = busy.queue("queued")
    assert queued.cancel()
    assert queued.cancel()
    assert busy.pool.stats.canceled == 1


def test_cancel_of_a_running_job_returns_false_and_changes_nothing(busy: Busy) -> None:
    assert busy.running.cancel() is False
    assert busy.running.running()
    assert not busy.running.cancelled()
    assert not busy.running.done()
    assert busy.pool.stats.running == 1
    busy.free()
    assert busy.running.result(timeout=5) == "released"


@pytest.mark.parametrize("ending", ["succeeded", "failed"])
def test_cancel_of_an_ended_job_returns_false_and_changes_nothing(
    make_pool: MakePool, ending: str
) -> None:
    script = Script()
    pool = make_pool(script, 1)
    action = raises(ValueError, "bad") if ending == "failed" else None
    future = pool.submit(script.job("a", action), timeout=5)
    cf.wait([future], timeout=5)
    stats = pool.stats
    assert future.cancel() is False
    assert not future.cancelled()
    assert pool.stats == stats
    assert future.outcome is not None and future.outcome.status.value == ending


# -- concurrent.futures.wait and as_completed ------------------------------------


def test_wait_all_completed_returns_futures_done_before_and_during_the_wait(
    make_pool: MakePool, gate: Gate, spawn: Callable[..., Any]
) -> None:
    busy = Busy(make_pool, gate, ended={"ended": raises(ValueError)})
    cancelled = busy.queue("cancelled")
    assert cancelled.cancel()
    queued = busy.queue("queued")
    fs = [busy.ended["ended"], cancelled, busy.running, queued]
    waiting = spawn(cf.wait, fs, timeout=5, return_when=cf.ALL_COMPLETED)
    assert not waiting.finished.wait(0.05)  # running and queued are not done
    busy.free()
    done, not_done = waiting.join()
    assert done == set(fs)
    assert not_done == set()


def test_wait_first_completed_returns_at_once_with_the_futures_already_done(
    busy: Busy,
) -> None:
    cancelled = busy.queue("cancelled")
    assert cancelled.cancel()
    queued = busy.queue("queued")
    start = time.monotonic()
    done, not_done = cf.wait([busy.running, cancelled, queued], timeout=5,
                             return_when=cf.FIRST_COMPLETED)
    assert time.monotonic() - start < SLACK
    assert done == {cancelled}
    assert not_done == {busy.running, queued}


def test_wait_first_completed_returns_when_one_future_resolves(
    make_pool: MakePool, gate: Gate, spawn: Callable[..., Any]
) -> None:
    script = Script()
    pool = make_pool(script, 2)
    first, second = gate(), gate()
    a = pool.submit(script.job("a", succeed_when(first)), timeout=5)
    b = pool.submit(script.job("b", succeed_when(second)), timeout=5)
    waiting = spawn(cf.wait, [a, b], timeout=5, return_when=cf.FIRST_COMPLETED)
    assert not waiting.finished.wait(0.05)
    second.set()
    done, not_done = waiting.join()
    assert done == {b}
    assert not_done == {a}


def test_wait_first_exception_returns_when_a_job_fails(
    make_pool: MakePool, gate: Gate, spawn: Callable[..., Any]
) -> None:
    script = Script()
    pool = make_pool(script, 3)
    fail, never = gate(), gate()
    ok = pool.submit(script.job("ok"), timeout=5)
    failing = pool.submit(script.job("failing", fail_when(fail, ValueError("x"))), timeout=5)
    held = pool.submit(script.job("held", succeed_when(never)), timeout=5)
    cf.wait([ok], timeout=5)
    waiting = spawn(cf.wait, [ok, failing, held], timeout=5, return_when=cf.FIRST_EXCEPTION)
    assert not waiting.finished.wait(0.05)  # a success is not an exception
    fail.set()
    done, not_done = waiting.join()
    assert done == {ok, failing}
    assert not_done == {held}


def test_wait_first_exception_returns_at_once_for_a_job_that_already_failed(
    make_pool: MakePool, gate: Gate
) -> None:
    busy = Busy(make_pool, gate, ended={"failed": raises(ValueError)})
    failed = busy.ended["failed"]
    start = time.monotonic()
    done, not_done = cf.wait([failed, busy.running], timeout=5,
                             return_when=cf.FIRST_EXCEPTION)
    assert time.monotonic() - start < SLACK
    assert done == {failed}
    assert not_done == {busy.running}


def test_wait_first_exception_does_not_count_a_cancelled_future_as_an_exception(
    busy: Busy,
) -> None:
    cancelled = busy.queue("cancelled")
    assert cancelled.cancel()
    start = time.monotonic()
    done, not_done = cf.wait([cancelled, busy.running], timeout=0.1,
                             return_when=cf.FIRST_EXCEPTION)
    assert 0.1 <= time.monotonic() - start < 0.1 + SLACK  # it waited out its timeout
    assert done == {cancelled}
    assert not_done == {busy.running}


def test_wait_returns_the_pending_futures_as_not_done_after_its_timeout(busy: Busy) -> None:
    queued = busy.queue("queued")
    start = time.monotonic()
    done, not_done = cf.wait([busy.running, queued], timeout=0.1)
    assert 0.1 <= time.monotonic() - start < 0.1 + SLACK
    assert done == set()
    assert not_done == {busy.running, queued}


def test_as_completed_yields_each_future_once_as_it_resolves(
    make_pool: MakePool, gate: Gate
) -> None:
    script = Script()
    pool = make_pool(script, 3)
    already = pool.submit(script.job("already"), timeout=5)
    cf.wait([already], timeout=5)
    gates = {"a": gate(), "b": gate(), "c": gate()}
    fs = {job_id: pool.submit(script.job(job_id, succeed_when(g, job_id)), timeout=5)
          for job_id, g in gates.items()}
    order = []
    for future in cf.as_completed([already, *fs.values()], timeout=5):
        order.append(future.job_id)
        if future.job_id == "already":
            gates["c"].set()
        elif future.job_id == "c":
            gates["a"].set()
        elif future.job_id == "a":
            gates["b"].set()
    assert order == ["already", "c", "a", "b"]


def test_as_completed_yields_cancelled_futures(busy: Busy) -> None:
    cancelled = busy.queue("cancelled")
    queued = busy.queue("queued")
    assert cancelled.cancel()
    seen = []
    for future in cf.as_completed([busy.running, cancelled, queued], timeout=5):
        seen.append(future)
        if future is cancelled:
            busy.free()
    assert seen[0] is cancelled
    assert set(seen) == {busy.running, cancelled, queued}
    assert len(seen) == 3


def test_as_completed_raises_timeout_error_while_a_job_runs(
    make_pool: MakePool, gate: Gate
) -> None:
    busy = Busy(make_pool, gate, ended={"failed": raises(ValueError)})
    cancelled = busy.queue("cancelled")
    assert cancelled.cancel()
    fs = [busy.ended["failed"], cancelled, busy.running]
    seen = []
    start = time.monotonic()
    with pytest.raises(TimeoutError):
        for future in cf.as_completed(fs, timeout=0.1):
            seen.append(future)
    assert 0.1 <= time.monotonic() - start < 0.1 + SLACK
    assert set(seen) == {busy.ended["failed"], cancelled}
    assert len(seen) == 2


def test_as_completed_yields_futures_resolved_by_a_shutdown(
    make_pool: MakePool, gate: Gate, spawn: Callable[..., Any]
) -> None:
    script = Script()
    pool = make_pool(script, 1)
    hang = Hang(gate())
    stuck = pool.submit(script.job("stuck", hang), timeout=5)
    assert hang.started.wait(5)
    queued = pool.submit(script.job("queued"), timeout=5)
    shutting = spawn(pool.shutdown, timeout=0.05, drain=False, grace=0.05)
    seen = list(cf.as_completed([stuck, queued], timeout=5))
    shutting.join()
    assert set(seen) == {stuck, queued}
    assert queued.cancelled()
    assert isinstance(stuck.exception(timeout=0), Abandoned)


# -- done callbacks ---------------------------------------------------------------


class Calls:
    """A done callback that records each call: (future, thread), and an Event per call."""

    def __init__(self) -> None:
        self.calls: list[tuple[cf.Future[Any], threading.Thread]] = []
        self.called = threading.Event()
        self._lock = threading.Lock()

    def __call__(self, future: cf.Future[Any]) -> None:
        with self._lock:
            self.calls.append((future, threading.current_thread()))
        self.called.set()


@pytest.mark.parametrize("ending", ["succeeded", "failed", "canceled"])
def test_done_callback_runs_once_in_the_worker_thread_that_ended_the_job(
    make_pool: MakePool, gate: Gate, ending: str
) -> None:
    script = Script()
    pool = make_pool(script, 2)
    go = gate()
    action: Any = {"succeeded": succeed_when(go), "failed": fail_when(go, ValueError("x")),
                   "canceled": HonourCtx()}[ending]
    future = pool.submit(script.job("a", action), timeout=5)
    calls = Calls()
    future.add_done_callback(calls)
    assert not calls.called.is_set()
    if ending == "canceled":
        assert action.started.wait(5)
        pool.cancel()
    else:
        go.set()
    assert calls.called.wait(5)
    pool.shutdown(timeout=5)  # no job left to call back twice
    assert future.outcome is not None and future.outcome.status.value == ending
    worker = pool.threads()[future.outcome.worker_id - 1]  # type: ignore[operator]
    assert calls.calls == [(future, worker)]


def test_every_done_callback_runs_once_in_the_order_added(busy: Busy) -> None:
    order: list[str] = []
    busy.running.add_done_callback(lambda f: order.append("first"))
    busy.running.add_done_callback(lambda f: order.append("second"))
    last = Calls()
    busy.running.add_done_callback(last)
    busy.free()
    assert last.called.wait(5)
    busy.pool.shutdown(timeout=5)
    assert order == ["first", "second"]
    assert len(last.calls) == 1


def test_done_callback_added_after_completion_runs_at_once_in_the_callers_thread(
    make_pool: MakePool,
) -> None:
    script = Script()
    pool = make_pool(script)
    future = pool.submit(script.job("a"), timeout=5)
    cf.wait([future], timeout=5)
    calls = Calls()
    future.add_done_callback(calls)
    assert calls.calls == [(future, threading.current_thread())]


def test_done_callback_of_a_cancelled_future_runs_in_the_cancelling_thread(busy: Busy) -> None:
    queued = busy.queue("queued")
    calls = Calls()
    queued.add_done_callback(calls)
    assert queued.cancel()
    assert calls.calls == [(queued, threading.current_thread())]


def test_done_callback_of_a_job_cancelled_by_shutdown_runs_once(
    busy: Busy, spawn: Callable[..., Any]
) -> None:
    queued = busy.queue("queued")
    calls = Calls()
    queued.add_done_callback(calls)
    shutting = spawn(busy.pool.shutdown, timeout=5, drain=False)
    assert calls.called.wait(5)  # while shutdown waits for the running job
    assert queued.cancelled()
    busy.free()
    shutting.join()
    assert [f for f, _ in calls.calls] == [queued]


def test_done_callback_of_a_job_abandoned_by_shutdown_runs_once_before_shutdown_returns(
    busy: Busy,
) -> None:
    calls = Calls()
    busy.running.add_done_callback(calls)
    busy.pool.shutdown(timeout=0.01, grace=0.01)
    assert [f for f, _ in calls.calls] == [busy.running]
    busy.free()
    assert busy.hang.returned.wait(5)
    assert join_all(busy.pool.threads(), timeout=5) == []
    assert len(calls.calls) == 1  # coming back late does not call back again


@pytest.mark.parametrize("error", [RuntimeError, SystemExit], ids=["RuntimeError", "SystemExit"])
def test_done_callback_that_raises_does_not_stop_the_worker(
    make_pool: MakePool, gate: Gate, error: type[BaseException]
) -> None:
    script = Script()
    pool = make_pool(script, 1)
    go = gate()
    first = pool.submit(script.job("first", succeed_when(go)), timeout=5)
    nxt = pool.submit(script.job("next"), timeout=5)  # queued behind it

    def callback(future: cf.Future[Any]) -> None:
        raise error("callback failed")

    first.add_done_callback(callback)
    go.set()
    assert nxt.result(timeout=5) == "next"
    assert pool.submit(script.job("later"), timeout=5).result(timeout=5) == "later"
    assert pool.threads()[0].is_alive()
    report = pool.shutdown(timeout=5)
    assert report.clean
    assert report.stats.succeeded == 3


def test_done_callback_raising_system_exit_in_a_shutdown_sweep_leaves_no_future_pending(
    busy: Busy, spawn: Callable[..., Any]
) -> None:
    first = busy.queue("first")
    second = busy.queue("second")

    def callback(future: cf.Future[Any]) -> None:
        raise SystemExit("callback failed")

    first.add_done_callback(callback)
    calls = Calls()
    second.add_done_callback(calls)
    shutting = spawn(busy.pool.shutdown, timeout=5, drain=False)
    assert eventually(lambda: busy.pool.stats.canceled == 2)
    busy.free()
    # As with Future.cancel(), a callback's SystemExit may reach the caller.
    with contextlib.suppress(SystemExit):
        shutting.join()
    assert first.cancelled()
    # The ledger ended "second" CANCELED: its future must say so, and call back.
    cf.wait([second], timeout=1)
    assert second.cancelled()
    assert [f for f, _ in calls.calls] == [second]


# -- waiting from several threads at once ----------------------------------------------

OVERLAPPING_WAITS = """
import concurrent.futures as cf
import os
import sys
import threading
import time

from pool import Job, WorkerPool

release = threading.Event()
pool = WorkerPool(lambda job: release.wait(30) if job.id == "held" else job.id, 2, buffer=None)
before = [pool.submit(Job(f"a{i}")) for i in range(100)]
held = pool.submit(Job("held"))
after = [pool.submit(Job(f"b{i}")) for i in range(100)]
for _ in range(10_000):  # poll the stats: a wait on the futures would change them
    if pool.stats.succeeded == 200:
        break
    time.sleep(0.001)
settled = before + after
low = next(f for f in settled if id(f) < id(held))
high = next(f for f in settled if id(f) > id(held))
sys.setswitchinterval(1e-5)

def waits(fs):
    end = time.monotonic() + 2
    for _ in range(20_000):  # a few thousand suffice to deadlock; 0.3 s when it cannot
        if time.monotonic() > end:
            break
        cf.wait(fs, timeout=0)

threads = [threading.Thread(target=waits, args=([low, held],), daemon=True),
           threading.Thread(target=waits, args=([held, high],), daemon=True)]
for t in threads:
    t.start()
limit = time.monotonic() + 5
for t in threads:
    t.join(max(0.0, limit - time.monotonic()))
print("deadlocked" if any(t.is_alive() for t in threads) else "ok", flush=True)
os._exit(0)  # a deadlocked wait holds its locks forever: no exit hooks
"""


def test_threads_waiting_on_overlapping_futures_never_deadlock() -> None:
    # Two threads in concurrent.futures.wait share a pending future, each with
    # a different finished one. wait() takes the futures' locks in id order;
    # it must never deadlock, whichever futures are finished. In a subprocess,
    # so that a deadlock (locks held forever) cannot reach the other tests.
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    try:
        done = subprocess.run([sys.executable, "-c", OVERLAPPING_WAITS], capture_output=True,
                              text=True, timeout=20, env=env, cwd=ROOT, check=False)
    except subprocess.TimeoutExpired:
        pytest.fail("the waiting program did not end")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


# -- result(timeout) and exception(timeout) ----------------------------------------


def test_result_with_timeout_raises_timeout_error_while_the_job_runs(busy: Busy) -> None:
    start = time.monotonic()
    with pytest.raises(TimeoutError):
        busy.running.result(timeout=0.1)
    assert 0.1 <= time.monotonic() - start < 0.1 + SLACK
    assert busy.running.running()


def test_exception_with_timeout_raises_timeout_error_while_the_job_runs(busy: Busy) -> None:
    start = time.monotonic()
    with pytest.raises(TimeoutError):
        busy.running.exception(timeout=0.1)
    assert 0.1 <= time.monotonic() - start < 0.1 + SLACK


def test_result_with_timeout_zero_raises_at_once_for_a_queued_job(busy: Busy) -> None:
    queued = busy.queue("queued")
    start = time.monotonic()
    with pytest.raises(TimeoutError):
        queued.result(timeout=0)
    assert time.monotonic() - start < SLACK


def test_result_wakes_when_the_job_ends(busy: Busy, spawn: Callable[..., Any]) -> None:
    waiting = spawn(busy.running.result, timeout=5)
    assert not waiting.finished.wait(0.05)
    busy.free()
    assert waiting.join() == "released"


# -- the ledger and the futures under races ----------------------------------------

RACE_ROUNDS = 50
RACE_SUBMITTERS = 3
RACE_JOBS = 12  # per submitter
RACE_KINDS = ("ok", "ok", "fail", "ctx", "stuck")


class Race:
    """One round: submitters, a canceller and a shutdown, all at once."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.stuck = threading.Event()  # set after shutdown: abandoned jobs come back late
        self.pool = WorkerPool(self.process, rng.randint(1, 3), buffer=rng.choice([0, 1, 4, 50]))
        self.lock = threading.Condition()
        self.started = 0
        self.futures: list[JobFuture] = []
        self.rejected: list[str] = []
        self.failures: list[str] = []
        self.callbacks: Counter[str] = Counter()
        self.submitting = threading.Event()
        # Decided up front, from the round's seed.
        self.plans = [[(rng.choice(RACE_KINDS), rng.choice(["try", None, 0.0, 0.002]))
                       for _ in range(RACE_JOBS)] for _ in range(RACE_SUBMITTERS)]
        self.cancel_every = rng.choice([1, 2, 5])

    def process(self, job: Job) -> Any:
        kind = job.payload.decode()
        if kind == "fail":
            raise ValueError(job.id)
        if kind == "ctx" and job.ctx.wait(0.002):
            raise job.ctx.err()  # type: ignore[misc]
        if kind == "stuck":
            self.stuck.wait(5)  # ignores its ctx
        return job.id

    def done(self, future: cf.Future[Any]) -> None:
        with self.lock:
            self.callbacks[future.job_id] += 1  # type: ignore[attr-defined]

    def submitter(self, n: int) -> None:
        for i, (kind, how) in enumerate(self.plans[n]):
            job = Job(f"s{n}-{i}", kind.encode())
            with self.lock:
                self.started += 1
                self.lock.notify_all()
            try:
                future = (self.pool.try_submit(job) if how == "try"
                          else self.pool.submit(job, timeout=how))
            except (PoolClosed, TimeoutError):
                future = None
            except BaseException as exc:
                with self.lock:
                    self.failures.append(f"{job.id}: submit raised {exc!r}")
                continue
            with self.lock:
                if future is None:
                    self.rejected.append(job.id)
                else:
                    self.futures.append(future)
                    self.lock.notify_all()
            if future is not None:
                future.add_done_callback(self.done)

    def canceller(self) -> None:
        """Cancel every ``cancel_every``-th future as soon as it is returned."""
        seen = 0
        while True:
            with self.lock:
                self.lock.wait_for(lambda seen=seen: len(self.futures) > seen
                                   or not self.submitting.is_set(), timeout=1)
                batch = self.futures[seen:]
                if not batch and not self.submitting.is_set():
                    return
            for future in batch[::self.cancel_every]:
                future.cancel()
            seen += len(batch)

    def run(self) -> list[str]:
        threads = [threading.Thread(target=self.submitter, args=(n,), daemon=True)
                   for n in range(RACE_SUBMITTERS)]
        threads.append(threading.Thread(target=self.canceller, daemon=True))
        self.submitting.set()
        for t in threads:
            t.start()
        problems: list[str] = []
        try:
            shut_after = self.rng.randint(0, RACE_SUBMITTERS * RACE_JOBS)
            with self.lock:
                self.lock.wait_for(lambda: self.started >= shut_after, timeout=0.05)
            timeout, grace = self.rng.choice([0.0, 0.005, 0.02]), self.rng.choice([0.0, 0.005])
            start = time.monotonic()
            report = self.pool.shutdown(timeout, drain=self.rng.random() < 0.5, grace=grace)
            if time.monotonic() - start >= timeout + grace + SLACK:
                problems.append(f"shutdown took {time.monotonic() - start:.3f} s")
            alive = join_all(threads[:-1], timeout=5)
            with self.lock:
                self.submitting.clear()
                self.lock.notify_all()
            alive += join_all(threads[-1:], timeout=5)
            if alive:
                problems.append(f"threads still blocked after shutdown: {alive}")
            self.stuck.set()
            alive = join_all(self.pool.threads(), timeout=5)
            if alive:
                problems.append(f"workers still alive: {alive}")
            problems += self.failures
            accepted = [f.job_id for f in self.futures]
            problems += ledger_problems(self.pool, accepted, self.rejected)
            problems += future_problems(self.futures, self.pool.outcomes, self.callbacks)
            if self.pool.stats != report.stats:
                problems.append(f"stats changed after shutdown: {report.stats} -> "
                                f"{self.pool.stats}")
        finally:
            self.stuck.set()
            with self.lock:
                self.submitting.clear()
                self.lock.notify_all()
            join_all(threads, timeout=5)
            self.pool.shutdown(timeout=5)
        return problems


@pytest.mark.timeout(120)
def test_futures_agree_with_the_ledger_when_submits_cancels_and_shutdown_race() -> None:
    seed = random.randrange(2**32)
    rng = random.Random(seed)
    for round_ in range(RACE_ROUNDS):
        problems = Race(rng).run()
        assert problems == [], f"round {round_} of seed {seed}: {problems}"
