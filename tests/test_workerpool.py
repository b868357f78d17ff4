"""WorkerPool, Stats, ShutdownReport and PoolClosed: the contract in DESIGN.md.

Each test builds a small pool with a :class:`poolhelpers.Script` so every job
says what it does (succeed, fail, hang until ``release``, honour its ctx).
The ``make_pool`` fixture shuts every pool down and joins its threads at
teardown, after setting ``release``, so no test leaves a thread behind.
"""

from __future__ import annotations

import math
import os
import re
import sys
import threading
import time
from collections.abc import Callable
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
    join_all,
    parked_submits,
    raises,
    stats_sum_holds,
)

from pool import (
    Job,
    PoolClosed,
    ShutdownReport,
    Stats,
    Status,
    WorkerPool,
    background,
)

pytestmark = pytest.mark.timeout(30)



class FullPool:
    """A pool with every worker hung on ``release`` and every buffer slot taken."""

    def __init__(self, make_pool: MakePool, release: threading.Event,
                 workers: int = 2, buffer: int = 2) -> None:
        self.script = Script()
        self.pool = make_pool(self.script, workers, buffer=buffer)
        self.hangs = [Hang(release) for _ in range(workers)]
        for i, hang in enumerate(self.hangs):
            self.pool.submit(self.script.job(f"hang{i}", hang), timeout=5)
        for hang in self.hangs:
            assert hang.started.wait(5)
        for i in range(buffer):
            assert self.pool.try_submit(self.script.job(f"queued{i}"))
        self.accepted = workers + buffer

    def job(self, job_id: str) -> Job:
        return self.script.job(job_id)


@pytest.fixture
def full(make_pool: MakePool, release: threading.Event) -> FullPool:
    return FullPool(make_pool, release)


def ids(outcomes: Any) -> list[str]:
    return [o.job_id for o in outcomes]


# -- construction -------------------------------------------------------------


def test_workers_are_started_before_any_job_is_submitted(make_pool: MakePool) -> None:
    pool = make_pool(Script(), 3)
    assert pool.workers == 3
    assert len(pool.threads()) == 3
    assert all(t.is_alive() for t in pool.threads())


def test_worker_threads_are_daemon_threads(make_pool: MakePool) -> None:
    pool = make_pool(Script(), 3)
    assert all(t.daemon for t in pool.threads())


@pytest.mark.parametrize(
    ("kwargs", "error", "name"),
    [
        ({"workers": 0}, ValueError, "workers"),
        ({"workers": -1}, ValueError, "workers"),
        ({"workers": "3"}, TypeError, "workers"),
        ({"workers": True}, TypeError, "workers"),
        ({"buffer": -1}, ValueError, "buffer"),
        ({"keep": -1}, ValueError, "keep"),
        ({"process": 42}, TypeError, "process"),
    ],
    ids=["workers-0", "workers-negative", "workers-str", "workers-bool", "buffer-negative",
         "keep-negative", "process-not-callable"],
)
def test_bad_constructor_argument_raises_naming_it(
    kwargs: dict[str, Any], error: type[Exception], name: str
) -> None:
    args: dict[str, Any] = {"process": Script(), **kwargs}
    with pytest.raises(error, match=name):
        WorkerPool(**args)


# -- submit and try_submit ----------------------------------------------------


def test_submit_blocks_while_buffer_is_full_then_raises_timeout_error(full: FullPool) -> None:
    start = time.monotonic()
    with pytest.raises(TimeoutError):
        full.pool.submit(full.job("late"), timeout=0.1)
    elapsed = time.monotonic() - start
    assert 0.09 <= elapsed < 0.5


def test_submit_that_timed_out_leaves_the_job_out_of_the_pool(full: FullPool) -> None:
    with pytest.raises(TimeoutError):
        full.pool.submit(full.job("late"), timeout=0.05)
    stats = full.pool.stats
    assert stats.submitted == full.accepted
    assert stats == Stats(submitted=4, queued=2, running=2, succeeded=0, failed=0,
                          canceled=0, timed_out=0, abandoned=0)
    report = full.pool.shutdown(timeout=0.05, grace=0.05)
    assert "late" not in ids(full.pool.outcomes)
    assert report.stats.submitted == full.accepted


def test_submit_with_timeout_zero_on_full_buffer_raises_at_once(full: FullPool) -> None:
    start = time.monotonic()
    with pytest.raises(TimeoutError):
        full.pool.submit(full.job("late"), timeout=0)
    assert time.monotonic() - start < 0.05


def test_blocked_submit_lands_once_a_worker_frees_a_slot(
    full: FullPool, spawn: Callable[..., Any], release: threading.Event
) -> None:
    blocked = spawn(full.pool.submit, full.job("waiting"), timeout=5)
    assert not blocked.finished.wait(0.05)  # still blocked: the buffer is full
    release.set()
    future = blocked.join()
    full.pool.shutdown(timeout=5)
    assert by_id(full.pool.outcomes)["waiting"].status is Status.SUCCEEDED
    assert future.outcome == by_id(full.pool.outcomes)["waiting"]


def test_try_submit_returns_false_at_once_when_buffer_is_full(full: FullPool) -> None:
    start = time.monotonic()
    assert full.pool.try_submit(full.job("late")) is None
    assert time.monotonic() - start < 0.05
    assert full.pool.stats.submitted == full.accepted


def test_try_submit_returns_true_when_there_is_room(make_pool: MakePool) -> None:
    script = Script()
    pool = make_pool(script, 1, buffer=1)
    future = pool.try_submit(script.job("a"))
    assert future is not None
    pool.shutdown(timeout=5)
    assert future.result(timeout=0) == "a"
    assert ids(pool.outcomes) == ["a"]


def test_try_submit_with_unbuffered_pool_hands_job_to_an_idle_worker(
    make_pool: MakePool,
) -> None:
    script = Script()
    pool = make_pool(script, 1, buffer=0)
    # The idle worker may not be parked yet right after start-up.
    assert eventually(lambda: pool.try_submit(script.job("a")))
    assert pool.shutdown(timeout=5).stats.succeeded == 1


def test_submit_after_shutdown_raises_pool_closed(make_pool: MakePool) -> None:
    script = Script()
    pool = make_pool(script)
    pool.shutdown(timeout=5)
    with pytest.raises(PoolClosed):
        pool.submit(script.job("a"), timeout=1)


def test_try_submit_after_shutdown_raises_pool_closed(make_pool: MakePool) -> None:
    script = Script()
    pool = make_pool(script)
    pool.shutdown(timeout=5)
    with pytest.raises(PoolClosed):
        pool.try_submit(script.job("a"))


def test_submit_while_shutdown_is_in_progress_raises_pool_closed(
    make_pool: MakePool, release: threading.Event, spawn: Callable[..., Any]
) -> None:
    script = Script()
    pool = make_pool(script, 1)
    hang = Hang(release)
    pool.submit(script.job("h", hang))
    assert hang.started.wait(5)
    shutting = spawn(pool.shutdown, timeout=5)
    assert eventually(lambda: pool.closed)
    with pytest.raises(PoolClosed):
        pool.submit(script.job("a"), timeout=1)
    with pytest.raises(PoolClosed):
        pool.try_submit(script.job("b"))
    release.set()
    assert shutting.join().clean


def test_submit_blocked_when_shutdown_begins_raises_pool_closed(
    full: FullPool, spawn: Callable[..., Any]
) -> None:
    blocked = spawn(full.pool.submit, full.job("blocked"), timeout=5)
    # A blocked submit is not counted: the job is not in the pool yet.
    assert eventually(lambda: parked_submits(full.pool) == 1)
    assert full.pool.stats.submitted == full.accepted
    full.pool.shutdown(timeout=0.05, grace=0.05)
    with pytest.raises(PoolClosed):
        blocked.join()
    assert "blocked" not in ids(full.pool.outcomes)
    assert full.pool.stats.submitted == full.accepted


def test_pool_closed_is_a_runtime_error() -> None:
    assert issubclass(PoolClosed, RuntimeError)


def test_submit_of_id_still_queued_raises_value_error(full: FullPool) -> None:
    with pytest.raises(ValueError, match="queued0"):
        full.pool.submit(full.job("queued0"), timeout=0)


def test_submit_of_id_still_running_raises_value_error(full: FullPool) -> None:
    with pytest.raises(ValueError, match="hang0"):
        full.pool.submit(full.job("hang0"), timeout=0)


def test_try_submit_of_id_still_queued_raises_value_error(full: FullPool) -> None:
    with pytest.raises(ValueError, match="queued0"):
        full.pool.try_submit(full.job("queued0"))


def test_duplicate_id_is_rejected_without_touching_the_ledger(full: FullPool) -> None:
    before = full.pool.stats
    with pytest.raises(ValueError):
        full.pool.submit(full.job("queued0"), timeout=0)
    assert full.pool.stats == before


def test_same_id_after_the_job_finished_is_accepted(make_pool: MakePool) -> None:
    script = Script()
    pool = make_pool(script, 1)
    pool.submit(script.job("a"))
    assert eventually(lambda: pool.stats.succeeded == 1)
    pool.submit(script.job("a"), timeout=1)
    report = pool.shutdown(timeout=5)
    assert [o.job_id for o in pool.outcomes] == ["a", "a"]
    assert report.stats.succeeded == 2


@pytest.mark.parametrize("method", ["submit", "try_submit"])
@pytest.mark.parametrize("job", ["a", None, b"a"], ids=["str", "None", "bytes"])
def test_submit_of_non_job_raises_type_error_naming_job(
    make_pool: MakePool, method: str, job: object
) -> None:
    pool = make_pool(Script())
    with pytest.raises(TypeError, match="job"):
        getattr(pool, method)(job)
    assert pool.stats.submitted == 0


@pytest.mark.parametrize(
    ("timeout", "error"),
    [(-1, ValueError), (math.nan, ValueError), ("1", TypeError)],
    ids=["negative", "nan", "str"],
)
def test_submit_with_bad_timeout_raises_naming_timeout(
    make_pool: MakePool, timeout: object, error: type[Exception]
) -> None:
    script = Script()
    pool = make_pool(script)
    with pytest.raises(error, match="timeout"):
        pool.submit(script.job("a"), timeout=timeout)  # type: ignore[arg-type]
    assert pool.stats.submitted == 0


# -- the context a running job sees -------------------------------------------


def test_running_job_ctx_is_done_when_its_own_ctx_is_cancelled(make_pool: MakePool) -> None:
    script = Script()
    pool = make_pool(script, 1)
    honour = HonourCtx()
    ctx, cancel = background().with_cancel()
    pool.submit(script.job("a", honour, ctx=ctx))
    assert honour.started.wait(5)
    assert honour.ctx is not None
    assert not honour.ctx.done()
    cancel()
    assert honour.ctx.wait(5)
    assert not pool.context.done()
    pool.shutdown(timeout=5)
    assert by_id(pool.outcomes)["a"].status is Status.CANCELED


@pytest.mark.parametrize("own_ctx", ["background", "cancellable", "deadline"])
def test_running_job_ctx_is_done_when_the_pool_is_cancelled(
    make_pool: MakePool, own_ctx: str
) -> None:
    script = Script()
    pool = make_pool(script, 1)
    honour = HonourCtx()
    ctx = {"background": None,
           "cancellable": background().with_cancel()[0],
           "deadline": background().with_timeout(60)[0]}[own_ctx]
    pool.submit(script.job("a", honour, ctx=ctx))
    assert honour.started.wait(5)
    assert honour.ctx is not None
    assert not honour.ctx.done()
    pool.cancel()
    assert honour.ctx.wait(5)


def test_running_job_ctx_carries_the_jobs_deadline(make_pool: MakePool) -> None:
    script = Script()
    pool = make_pool(script, 1)
    honour = HonourCtx()
    ctx, _ = background().with_timeout(0.1)
    start = time.monotonic()
    pool.submit(script.job("a", honour, ctx=ctx))
    pool.shutdown(timeout=5)
    elapsed = time.monotonic() - start
    assert by_id(pool.outcomes)["a"].status is Status.TIMED_OUT
    assert 0.09 <= elapsed < 0.5


def test_job_whose_deadline_passes_while_queued_ends_timed_out_unrun(
    make_pool: MakePool, release: threading.Event
) -> None:
    script = Script()
    pool = make_pool(script, 1)
    hang = Hang(release)
    pool.submit(script.job("h", hang))
    assert hang.started.wait(5)
    ctx, _ = background().with_timeout(0.0)
    pool.submit(script.job("expired", ctx=ctx))
    release.set()
    pool.shutdown(timeout=5)
    expired = by_id(pool.outcomes)["expired"]
    assert expired.status is Status.TIMED_OUT
    assert expired.started_at is None


def test_job_whose_ctx_is_cancelled_while_queued_ends_canceled_unrun(
    make_pool: MakePool, release: threading.Event
) -> None:
    script = Script()
    pool = make_pool(script, 1)
    hang = Hang(release)
    pool.submit(script.job("h", hang))
    assert hang.started.wait(5)
    ctx, cancel = background().with_cancel()
    pool.submit(script.job("a", ctx=ctx))
    cancel()
    release.set()
    pool.shutdown(timeout=5)
    outcome = by_id(pool.outcomes)["a"]
    assert outcome.status is Status.CANCELED
    assert outcome.started_at is None


# -- shutdown -------------------------------------------------------------------


def test_shutdown_with_drain_runs_queued_jobs(
    make_pool: MakePool, release: threading.Event, spawn: Callable[..., Any]
) -> None:
    script = Script()
    pool = make_pool(script, 1)
    hang = Hang(release)
    pool.submit(script.job("h", hang))
    assert hang.started.wait(5)
    for i in range(3):
        pool.submit(script.job(f"q{i}"))
    shutting = spawn(pool.shutdown, timeout=5, drain=True)
    assert eventually(lambda: pool.closed)
    release.set()  # only now can the queued jobs run: after shutdown began
    report = shutting.join()
    drained = by_id(report.drained)
    assert {job_id: o.status for job_id, o in drained.items()} == {
        "h": Status.SUCCEEDED, "q0": Status.SUCCEEDED, "q1": Status.SUCCEEDED,
        "q2": Status.SUCCEEDED}
    assert all(drained[f"q{i}"].result == f"q{i}" for i in range(3))
    assert report.clean


def test_shutdown_without_drain_cancels_queued_jobs_unrun(make_pool: MakePool) -> None:
    script = Script()
    pool = make_pool(script, 1)
    honour = HonourCtx()
    pool.submit(script.job("running", honour))
    assert honour.started.wait(5)
    for i in range(3):
        pool.submit(script.job(f"q{i}"))
    report = pool.shutdown(timeout=0, drain=False, grace=5)
    canceled = by_id(report.canceled)
    for i in range(3):
        assert canceled[f"q{i}"].status is Status.CANCELED
        assert canceled[f"q{i}"].started_at is None


def test_jobs_running_after_timeout_and_grace_are_abandoned_with_worker_ids(
    make_pool: MakePool, release: threading.Event
) -> None:
    script = Script()
    pool = make_pool(script, 2)
    hangs = {f"h{i}": Hang(release) for i in range(2)}
    for job_id, hang in hangs.items():
        pool.submit(script.job(job_id, hang))
    for hang in hangs.values():
        assert hang.started.wait(5)
    report = pool.shutdown(timeout=0.05, grace=0.05)
    abandoned = by_id(report.abandoned)
    assert set(abandoned) == {"h0", "h1"}
    assert all(o.status is Status.ABANDONED for o in abandoned.values())
    assert {o.worker_id for o in abandoned.values()} == {1, 2}
    assert all(o.started_at is not None for o in abandoned.values())
    assert report.stats.abandoned == 2
    assert not report.clean


def test_job_honouring_its_ctx_ends_canceled_during_grace_and_is_not_abandoned(
    make_pool: MakePool,
) -> None:
    script = Script()
    pool = make_pool(script, 1)
    honour = HonourCtx()
    pool.submit(script.job("polite", honour))
    assert honour.started.wait(5)
    start = time.monotonic()
    report = pool.shutdown(timeout=0.05, grace=5)
    assert time.monotonic() - start < 1.0  # it ended well before grace ran out
    assert report.abandoned == ()
    outcome = by_id(report.canceled)["polite"]
    assert outcome.status is Status.CANCELED
    assert outcome.started_at is not None
    assert outcome.worker_id == 1


@pytest.mark.parametrize(("timeout", "grace"), [(0, 0), (0.1, 0), (0, 0.1), (0.2, 0.1)])
def test_shutdown_returns_within_timeout_plus_grace(
    make_pool: MakePool, release: threading.Event, timeout: float, grace: float
) -> None:
    script = Script()
    pool = make_pool(script, 1)
    hang = Hang(release)
    pool.submit(script.job("h", hang))
    assert hang.started.wait(5)
    start = time.monotonic()
    pool.shutdown(timeout=timeout, grace=grace)
    elapsed = time.monotonic() - start
    assert 0.9 * (timeout + grace) <= elapsed < timeout + grace + 0.25


def test_report_elapsed_is_the_time_shutdown_took(
    make_pool: MakePool, release: threading.Event
) -> None:
    script = Script()
    pool = make_pool(script, 1)
    hang = Hang(release)
    pool.submit(script.job("h", hang))
    assert hang.started.wait(5)
    start = time.monotonic()
    report = pool.shutdown(timeout=0.1, grace=0.05)
    elapsed = time.monotonic() - start
    assert 0.14 <= report.elapsed <= elapsed


def test_clean_shutdown_reports_clean_with_nothing_cancelled_or_abandoned(
    make_pool: MakePool,
) -> None:
    script = Script()
    pool = make_pool(script, 2)
    for i in range(5):
        pool.submit(script.job(f"j{i}"))
    report = pool.shutdown(timeout=5)
    assert report.clean
    assert report.canceled == ()
    assert report.abandoned == ()
    assert report.stats.succeeded == 5


def test_report_stats_equal_pool_stats_after_shutdown(make_pool: MakePool) -> None:
    script = Script()
    pool = make_pool(script, 2)
    for i in range(5):
        pool.submit(script.job(f"j{i}", raises(ValueError, "bad") if i % 2 else None))
    report = pool.shutdown(timeout=5)
    assert report.stats == pool.stats
    assert pool.report is report


def test_second_shutdown_returns_the_identical_report(make_pool: MakePool) -> None:
    script = Script()
    pool = make_pool(script, 2)
    pool.submit(script.job("a"))
    first = pool.shutdown(timeout=5)
    assert pool.shutdown(timeout=0, drain=False, grace=0) is first


def test_shutdown_waiting_on_another_threads_shutdown_keeps_its_own_timeout(
    make_pool: MakePool, release: threading.Event, spawn: Callable[..., Any]
) -> None:
    # "All blocking calls take timeout" and shutdown "returns within
    # timeout + grace": also when another thread's shutdown (timeout=None)
    # is still waiting on a hung worker.
    script = Script()
    pool = make_pool(script, 1)
    hang = Hang(release)
    pool.submit(script.job("h", hang))
    assert hang.started.wait(5)
    first = spawn(pool.shutdown)  # timeout=None: waits for the hung job
    assert eventually(lambda: pool.closed)
    start = time.monotonic()
    second = spawn(pool.shutdown, timeout=0.05, grace=0.05)
    returned = second.finished.wait(1.0)
    elapsed = time.monotonic() - start
    release.set()
    assert returned, f"shutdown(timeout=0.05, grace=0.05) still blocked after {elapsed:.2f} s"
    assert isinstance(second.join(), ShutdownReport)
    assert first.join() is second.join()


def test_shutdown_report_str_names_each_abandoned_job_and_its_worker(
    make_pool: MakePool, release: threading.Event
) -> None:
    script = Script()
    pool = make_pool(script, 2)
    hang = Hang(release)
    pool.submit(script.job("stuck-job", hang))
    assert hang.started.wait(5)
    report = pool.shutdown(timeout=0.01, grace=0.01)
    worker_id = report.abandoned[0].worker_id
    text = str(report)
    assert "stuck-job" in text
    assert re.search(rf"worker {worker_id}\b", text)


def test_abandoned_job_that_returns_later_is_not_counted_again(
    make_pool: MakePool, release: threading.Event
) -> None:
    script = Script()
    pool = make_pool(script, 1)
    hang = Hang(release)
    pool.submit(script.job("h", hang))
    assert hang.started.wait(5)
    report = pool.shutdown(timeout=0.01, grace=0.01)
    release.set()
    assert not join_all(pool.threads(), timeout=5)  # the worker came back and exited
    assert pool.stats == report.stats
    assert [(o.job_id, o.status) for o in pool.outcomes] == [("h", Status.ABANDONED)]


@pytest.mark.parametrize(
    ("kwargs", "error", "name"),
    [
        ({"timeout": -1}, ValueError, "timeout"),
        ({"timeout": math.nan}, ValueError, "timeout"),
        ({"timeout": "1"}, TypeError, "timeout"),
        ({"grace": -1}, ValueError, "grace"),
        ({"drain": "yes"}, TypeError, "drain"),
    ],
    ids=["timeout-negative", "timeout-nan", "timeout-str", "grace-negative", "drain-str"],
)
def test_shutdown_with_bad_argument_raises_naming_it(
    make_pool: MakePool, kwargs: dict[str, Any], error: type[Exception], name: str
) -> None:
    pool = make_pool(Script())
    with pytest.raises(error, match=name):
        pool.shutdown(**kwargs)


def test_shutdown_with_bad_argument_leaves_the_pool_open(make_pool: MakePool) -> None:
    script = Script()
    pool = make_pool(script)
    with pytest.raises(ValueError):
        pool.shutdown(timeout=-1)
    assert not pool.closed
    pool.submit(script.job("a"), timeout=1)


# -- cancel -------------------------------------------------------------------


def test_cancel_makes_queued_jobs_end_canceled_unrun(
    make_pool: MakePool, release: threading.Event
) -> None:
    script = Script()
    pool = make_pool(script, 1)
    hang = Hang(release)
    pool.submit(script.job("h", hang))
    assert hang.started.wait(5)
    pool.submit(script.job("q"))
    pool.cancel()
    release.set()
    report = pool.shutdown(timeout=5)
    queued = by_id(pool.outcomes)["q"]
    assert queued.status is Status.CANCELED
    assert queued.started_at is None
    assert report.stats.canceled == 1


def test_cancel_before_any_job_keeps_the_pool_open(make_pool: MakePool) -> None:
    script = Script()
    pool = make_pool(script, 1)
    pool.cancel()
    assert pool.context.done()
    assert not pool.closed
    pool.submit(script.job("a"), timeout=1)
    pool.shutdown(timeout=5)
    outcome = by_id(pool.outcomes)["a"]
    assert (outcome.status, outcome.started_at) == (Status.CANCELED, None)


def test_cancel_during_shutdown_ends_jobs_that_honour_their_ctx(
    make_pool: MakePool, spawn: Callable[..., Any]
) -> None:
    script = Script()
    pool = make_pool(script, 1)
    honour = HonourCtx()
    pool.submit(script.job("a", honour))
    assert honour.started.wait(5)
    shutting = spawn(pool.shutdown, timeout=5)
    assert eventually(lambda: pool.closed)
    pool.cancel()
    report = shutting.join()
    assert by_id(report.canceled)["a"].started_at is not None
    assert report.abandoned == ()


def test_cancel_after_shutdown_is_harmless(make_pool: MakePool) -> None:
    script = Script()
    pool = make_pool(script)
    pool.submit(script.job("a"))
    report = pool.shutdown(timeout=5)
    pool.cancel()
    assert pool.stats == report.stats


def test_cancel_twice_is_harmless(make_pool: MakePool) -> None:
    pool = make_pool(Script())
    pool.cancel()
    pool.cancel()
    assert pool.context.done()


# -- context manager ------------------------------------------------------------


def test_context_manager_returns_the_pool(make_pool: MakePool) -> None:
    pool = make_pool(Script())
    with pool as entered:
        assert entered is pool


def test_context_manager_drains_and_shuts_down_on_exit(make_pool: MakePool) -> None:
    script = Script()
    with make_pool(script, 2) as pool:
        for i in range(5):
            pool.submit(script.job(f"j{i}"))
    assert pool.closed
    assert pool.report is not None
    assert pool.report.stats.succeeded == 5


def test_context_manager_cancels_queued_jobs_when_the_block_raises(
    make_pool: MakePool, release: threading.Event, spawn: Callable[..., Any]
) -> None:
    script = Script()
    pool = make_pool(script, 1)
    hang = Hang(release)

    def body() -> None:
        with pool:
            pool.submit(script.job("h", hang))
            assert hang.started.wait(5)
            pool.submit(script.job("q0"))
            pool.submit(script.job("q1"))
            raise RuntimeError("boom")

    block = spawn(body)
    # __exit__'s shutdown ends the queued jobs, then waits for the running one.
    assert eventually(lambda: pool.stats.canceled == 2)
    release.set()
    with pytest.raises(RuntimeError, match="boom"):
        block.join()
    outcomes = by_id(pool.outcomes)
    assert outcomes["h"].status is Status.SUCCEEDED
    assert outcomes["q0"].started_at is None
    assert outcomes["q1"].started_at is None


# -- outcomes and errors --------------------------------------------------------


def test_outcome_holds_result_worker_and_times(make_pool: MakePool) -> None:
    script = Script()
    pool = make_pool(script, 1)
    before = time.monotonic()
    pool.submit(script.job("a", lambda job: 42))
    pool.shutdown(timeout=5)
    (outcome,) = pool.outcomes
    assert (outcome.job_id, outcome.worker_id, outcome.status, outcome.result,
            outcome.error) == ("a", 1, Status.SUCCEEDED, 42, None)
    assert outcome.started_at is not None
    assert before <= outcome.queued_at <= outcome.started_at <= outcome.finished_at


def test_keep_bounds_outcomes_to_the_most_recent(make_pool: MakePool) -> None:
    script = Script()
    pool = make_pool(script, 1, keep=3)
    for i in range(10):
        pool.submit(script.job(f"j{i}"))
    report = pool.shutdown(timeout=5)
    assert ids(pool.outcomes) == ["j7", "j8", "j9"]
    assert report.stats.succeeded == 10


def test_keep_bounds_errors_to_the_most_recent(make_pool: MakePool) -> None:
    script = Script()
    pool = make_pool(script, 1, keep=2)
    for i in range(5):
        pool.submit(script.job(f"j{i}", raises(ValueError, i)))
    pool.shutdown(timeout=5)
    assert ids(pool.errors) == ["j3", "j4"]


def test_errors_lists_only_the_failed_outcomes(make_pool: MakePool) -> None:
    script = Script()
    pool = make_pool(script, 1)
    ctx, cancel = background().with_cancel()
    cancel()
    pool.submit(script.job("ok"))
    pool.submit(script.job("bad", raises(ValueError, "bad")))
    pool.submit(script.job("canceled", ctx=ctx))
    pool.submit(script.job("exit", raises(SystemExit, 3)))
    pool.shutdown(timeout=5)
    errors = pool.errors
    assert ids(errors) == ["bad", "exit"]
    assert all(o.status is Status.FAILED for o in errors)
    assert isinstance(errors[0].error, ValueError)
    assert isinstance(errors[1].error, SystemExit)


def test_failing_job_does_not_stop_its_worker(make_pool: MakePool) -> None:
    script = Script()
    pool = make_pool(script, 1)
    pool.submit(script.job("exit", raises(SystemExit, 1)))
    pool.submit(script.job("interrupt", raises(KeyboardInterrupt)))
    pool.submit(script.job("after"))
    report = pool.shutdown(timeout=5)
    assert by_id(pool.outcomes)["after"].status is Status.SUCCEEDED
    assert report.clean


# -- stats ------------------------------------------------------------------------


def test_stats_count_each_state_while_jobs_run(
    make_pool: MakePool, release: threading.Event
) -> None:
    script = Script()
    pool = make_pool(script, 1)
    pool.submit(script.job("done"))
    assert eventually(lambda: pool.stats.succeeded == 1)
    hang = Hang(release)
    pool.submit(script.job("h", hang))
    assert hang.started.wait(5)
    pool.submit(script.job("q0"))
    pool.submit(script.job("q1"))
    assert pool.stats == Stats(submitted=4, queued=2, running=1, succeeded=1, failed=0,
                               canceled=0, timed_out=0, abandoned=0)


def test_stats_submitted_is_the_sum_of_the_other_counters_in_every_snapshot(
    make_pool: MakePool, spawn: Callable[..., Any]
) -> None:
    script = Script()
    pool = make_pool(script, 2, buffer=5)

    def feed() -> None:
        for i in range(300):
            pool.submit(script.job(f"j{i}", raises(ValueError) if i % 3 == 0 else None),
                        timeout=5)

    feeder = spawn(feed)
    snapshots = 0
    while not feeder.finished.is_set() and snapshots < 100_000:
        assert stats_sum_holds(pool)
        snapshots += 1
    feeder.join()
    pool.shutdown(timeout=5)
    assert stats_sum_holds(pool)
    assert snapshots > 0


def test_stats_after_shutdown_have_nothing_queued_or_running(
    make_pool: MakePool, release: threading.Event
) -> None:
    script = Script()
    pool = make_pool(script, 1)
    hang = Hang(release)
    pool.submit(script.job("h", hang))
    assert hang.started.wait(5)
    pool.submit(script.job("q"))
    stats = pool.shutdown(timeout=0.01, grace=0.01).stats
    assert (stats.queued, stats.running) == (0, 0)
    assert (stats.submitted, stats.canceled, stats.abandoned) == (2, 1, 1)
