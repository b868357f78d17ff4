"""AsyncPool, the asyncio engine: one behaviour per test.

Every test runs its own event loop (``aiohelpers.run``: ``asyncio.run``
bounded in time). Where a time is the point (a deadline, a shutdown
timeout) the test asserts a window with slack for a loaded machine.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import logging
import math
import os
import sys
import threading
import time
import warnings
from dataclasses import dataclass
from typing import Any

import pytest

sys.path.insert(0, os.path.dirname(__file__))

from aiohelpers import Script, future_problems, job, run

from pool import Abandoned, Canceled, DeadlineExceeded, Job, PoolClosed, Status, background
from pool.aio import AsyncJobFuture, AsyncPool, BlockedLoopWarning, current_worker_id

SLACK = 0.5  # a loaded 2-core machine may be this late with a timer


async def ok(job: Job) -> str:
    return job.id


# -- construction and bad input ------------------------------------------------

def test_made_without_a_running_loop_it_raises_runtime_error_naming_the_fix() -> None:
    with pytest.raises(RuntimeError, match=r"running event loop.*async def"):
        AsyncPool(ok)


def test_worker_tasks_are_started_at_construction_before_any_job() -> None:
    async def main() -> None:
        pool = AsyncPool(ok, 3)
        tasks = pool.tasks()
        assert len(tasks) == 3 and not any(t.done() for t in tasks)
        await asyncio.sleep(0)  # their first step: each one is now an idle worker
        assert len(pool._idle) == 3
        await pool.shutdown()
    run(main)


@pytest.mark.parametrize(("kwargs", "error", "name"), [
    ({"workers": 0}, ValueError, "workers"),
    ({"workers": "3"}, TypeError, "workers"),
    ({"workers": True}, TypeError, "workers"),
    ({"buffer": -1}, ValueError, "buffer"),
    ({"buffer": 1.5}, TypeError, "buffer"),
    ({"keep": -1}, ValueError, "keep"),
    ({"slow_job": -0.1}, ValueError, "slow_job"),
    ({"slow_job": "1"}, TypeError, "slow_job"),
])
def test_bad_constructor_arguments_raise_errors_naming_them(kwargs: dict[str, Any],
                                                            error: type[Exception],
                                                            name: str) -> None:
    async def main() -> None:
        with pytest.raises(error, match=name):
            AsyncPool(ok, **kwargs)
    run(main)


def test_a_process_that_is_not_callable_is_a_type_error() -> None:
    async def main() -> None:
        with pytest.raises(TypeError, match="process must be callable"):
            AsyncPool(42)  # type: ignore[arg-type]
    run(main)


def test_a_process_that_is_a_plain_function_is_a_type_error_naming_async_def() -> None:
    def plain(job: Job) -> str:
        return job.id

    async def main() -> None:
        with pytest.raises(TypeError, match="process must be an async def"):
            AsyncPool(plain)  # type: ignore[arg-type]
    run(main)


def test_a_partial_of_an_async_def_and_an_object_with_async_call_are_accepted() -> None:
    async def two(tag: str, job: Job) -> str:
        return tag + job.id

    class Caller:
        async def __call__(self, job: Job) -> str:
            return "c" + job.id

    async def main() -> None:
        for process, expect in ((functools.partial(two, "p"), "px"), (Caller(), "cx")):
            pool = AsyncPool(process, 1)
            assert await (await pool.submit(Job("x"))) == expect
            await pool.shutdown()
    run(main)


def test_submitting_a_non_job_is_a_type_error_naming_job() -> None:
    async def main() -> None:
        pool = AsyncPool(ok)
        with pytest.raises(TypeError, match=r"job must be a pool\.Job"):
            await pool.submit("x")  # type: ignore[arg-type]
        with pytest.raises(TypeError, match=r"job must be a pool\.Job"):
            pool.try_submit(b"x")  # type: ignore[arg-type]
        assert pool.stats.submitted == 0
        await pool.shutdown()
    run(main)


@pytest.mark.parametrize("bad", [-1, -0.5, math.nan])
def test_negative_or_nan_times_are_value_errors_naming_the_argument(bad: float) -> None:
    async def main() -> None:
        pool = AsyncPool(ok)
        with pytest.raises(ValueError, match="timeout"):
            await pool.submit(Job("a"), timeout=bad)
        with pytest.raises(ValueError, match="timeout"):
            await pool.shutdown(timeout=bad)
        with pytest.raises(ValueError, match="grace"):
            await pool.shutdown(grace=bad)
        with pytest.raises(ValueError, match="timeout"):
            pool.submit_threadsafe(Job("a"), timeout=bad)
        assert pool.stats.submitted == 0
        await pool.shutdown()
    run(main)


def test_drain_must_be_a_bool() -> None:
    async def main() -> None:
        pool = AsyncPool(ok)
        with pytest.raises(TypeError, match="drain"):
            await pool.shutdown(drain=1)  # type: ignore[arg-type]
        await pool.shutdown()
    run(main)


# -- running jobs -----------------------------------------------------------------

def test_submit_returns_an_asyncio_future_with_job_id_and_outcome() -> None:
    async def main() -> None:
        pool = AsyncPool(ok)
        future = await pool.submit(Job("a"))
        assert isinstance(future, asyncio.Future) and isinstance(future, AsyncJobFuture)
        assert future.job_id == "a" and future.outcome is None
        assert await future == "a"
        assert future.outcome is not None and future.outcome.status is Status.SUCCEEDED
        assert future.outcome.result == "a" and future.outcome.worker_id in (1, 2, 3, 4)
        await pool.shutdown()
    run(main)


def test_a_future_outcome_is_the_one_the_pool_keeps() -> None:
    async def main() -> None:
        pool = AsyncPool(ok)
        futures = [await pool.submit(Job(f"j{i}")) for i in range(3)]
        await asyncio.gather(*futures)
        assert [f.outcome for f in futures] == pool.outcomes
        assert all(f.outcome is f.outcome for f in futures)  # made once
        await pool.shutdown()
    run(main)


def test_jobs_run_concurrently_one_per_worker_task() -> None:
    async def main() -> None:
        script = Script()
        pool = AsyncPool(script, 3)
        futures = [await pool.submit(job(f"g{i}", "gate")) for i in range(3)]
        await script.wait_started("g0", "g1", "g2")  # all three wait on the gate at once
        assert pool.stats.running == 3
        script.gate.set()
        await asyncio.gather(*futures)
        assert {f.outcome.worker_id for f in futures} == {1, 2, 3}
        await pool.shutdown()
    run(main)


def test_a_failing_job_is_failed_logged_with_its_id_and_the_workers_go_on(
        caplog: pytest.LogCaptureFixture) -> None:
    async def main() -> None:
        pool = AsyncPool(Script(), 2)
        with caplog.at_level(logging.ERROR, logger="pool"):
            bad = await pool.submit(job("bad", "fail"))
            with pytest.raises(ValueError, match="boom bad"):
                await bad
        assert [r.job_id for r in caplog.records] == ["bad"]
        goods = [await pool.submit(job(f"ok{i}")) for i in range(6)]
        assert await asyncio.gather(*goods) == [f"ok{i}" for i in range(6)]
        assert [o.job_id for o in pool.errors] == ["bad"]
        assert pool.errors[0].status is Status.FAILED
        assert not any(t.done() for t in pool.tasks())
        await pool.shutdown()
    run(main)


def test_a_job_that_raises_system_exit_is_failed_and_its_worker_goes_on() -> None:
    async def main() -> None:
        pool = AsyncPool(Script(), 1)
        bye = await pool.submit(job("bye", "exit"))
        with pytest.raises(SystemExit):
            await bye
        assert await (await pool.submit(job("next"))) == "next"
        assert bye.outcome.status is Status.FAILED
        await pool.shutdown()
    run(main)


def test_current_worker_id_names_the_worker_task_running_the_job() -> None:
    async def whoami(job: Job) -> int | None:
        return current_worker_id()

    async def main() -> None:
        pool = AsyncPool(whoami, 2)
        future = await pool.submit(Job("a"))
        assert await future == future.outcome.worker_id
        assert current_worker_id() is None  # outside the pool
        await pool.shutdown()
    run(main)


def test_a_job_id_still_queued_or_running_is_a_value_error() -> None:
    async def main() -> None:
        script = Script()
        pool = AsyncPool(script, 1)
        running = await pool.submit(job("a", "gate"))
        await script.wait_started("a")
        with pytest.raises(ValueError, match="'a' is already queued or running"):
            await pool.submit(job("a"))
        queued = await pool.submit(job("b"))
        with pytest.raises(ValueError, match="'b'"):
            pool.try_submit(job("b"))
        script.gate.set()
        await asyncio.gather(running, queued)
        assert await (await pool.submit(job("a"))) == "a"  # ended: the id is free again
        await pool.shutdown()
    run(main)


def test_a_job_subclass_reaches_process_as_itself() -> None:
    @dataclass(frozen=True, slots=True)
    class Priced(Job):
        price: int = 0

    async def price(job: Job) -> int:
        assert isinstance(job, Priced)
        return job.price

    async def main() -> None:
        pool = AsyncPool(price, 1)
        assert await (await pool.submit(Priced("p", price=7))) == 7
        await pool.shutdown()
    run(main)


# -- backpressure -------------------------------------------------------------------

def test_submit_waits_while_the_buffer_is_full_and_lands_once_there_is_room() -> None:
    async def main() -> None:
        script = Script()
        pool = AsyncPool(script, 1, buffer=1)
        await pool.submit(job("run", "gate"))
        await script.wait_started("run")
        await pool.submit(job("queued"))
        waiting = asyncio.ensure_future(pool.submit(job("late")))
        await asyncio.sleep(0.02)
        assert not waiting.done() and pool.stats.submitted == 2
        script.gate.set()
        late = await waiting
        assert await late == "late" and pool.stats.submitted == 3
        await pool.shutdown()
    run(main)


def test_submit_that_times_out_raises_timeout_error_and_the_job_is_not_counted() -> None:
    async def main() -> None:
        script = Script()
        pool = AsyncPool(script, 1, buffer=0)
        await pool.submit(job("run", "gate"))
        await script.wait_started("run")
        began = time.monotonic()
        with pytest.raises(TimeoutError, match=r"'late' not queued within 0\.05 s"):
            await pool.submit(job("late"), timeout=0.05)
        assert 0.04 <= time.monotonic() - began < 0.05 + SLACK
        with pytest.raises(TimeoutError):
            await pool.submit(job("now"), timeout=0)
        assert pool.stats.submitted == 1
        script.gate.set()
        await pool.shutdown()
        assert {o.job_id for o in pool.outcomes} == {"run"}
    run(main)


def test_try_submit_returns_none_when_there_is_no_room() -> None:
    async def main() -> None:
        script = Script()
        pool = AsyncPool(script, 1, buffer=1)
        await asyncio.sleep(0)  # the worker's first step: it is idle now
        assert pool.try_submit(job("a", "gate")) is not None  # handed to the idle worker
        assert pool.try_submit(job("b")) is not None  # the buffer's one place
        assert pool.try_submit(job("c")) is None
        assert pool.stats.submitted == 2
        script.gate.set()
        await pool.shutdown()
    run(main)


def test_with_buffer_zero_a_submit_waits_for_an_idle_worker() -> None:
    async def main() -> None:
        script = Script()
        pool = AsyncPool(script, 1, buffer=0)
        await asyncio.sleep(0)  # the worker is idle
        assert pool.try_submit(job("a", "gate")) is not None
        await script.wait_started("a")
        assert pool.try_submit(job("b")) is None
        waiting = asyncio.ensure_future(pool.submit(job("b")))
        await asyncio.sleep(0.02)
        assert not waiting.done()
        script.gate.set()
        assert await (await waiting) == "b"
        await pool.shutdown()
    run(main)


def test_a_waiting_submit_raises_pool_closed_when_shutdown_begins() -> None:
    async def main() -> None:
        script = Script()
        pool = AsyncPool(script, 1, buffer=0)
        await pool.submit(job("run", "gate"))
        await script.wait_started("run")
        waiting = asyncio.ensure_future(pool.submit(job("late")))
        await asyncio.sleep(0)
        closing = asyncio.ensure_future(pool.shutdown())
        with pytest.raises(PoolClosed):
            await waiting
        script.gate.set()
        report = await closing
        assert report.stats.submitted == 1
    run(main)


def test_submit_after_shutdown_raises_pool_closed() -> None:
    async def main() -> None:
        pool = AsyncPool(ok)
        await pool.shutdown()
        with pytest.raises(PoolClosed):
            await pool.submit(Job("a"))
        with pytest.raises(PoolClosed):
            pool.try_submit(Job("a"))
        assert pool.closed
    run(main)


def test_a_cancelled_waiting_submit_leaves_no_trace_in_the_ledger() -> None:
    async def main() -> None:
        script = Script()
        pool = AsyncPool(script, 1, buffer=0)
        await pool.submit(job("run", "gate"))
        await script.wait_started("run")
        waiting = asyncio.ensure_future(pool.submit(job("late")))
        await asyncio.sleep(0.01)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        assert pool.stats.submitted == 1
        script.gate.set()
        assert await (await pool.submit(job("late"))) == "late"  # the id was released
        await pool.shutdown()
    run(main)


def test_using_the_pool_from_another_thread_is_a_runtime_error_naming_submit_threadsafe(
) -> None:
    async def main() -> None:
        pool = AsyncPool(ok)
        error: list[BaseException] = []

        def other() -> None:
            try:
                pool.try_submit(Job("a"))
            except BaseException as exc:
                error.append(exc)

        await asyncio.to_thread(other)
        assert isinstance(error[0], RuntimeError) and "submit_threadsafe" in str(error[0])
        await pool.shutdown()
    run(main)


# -- futures --------------------------------------------------------------------------

def test_cancelling_the_future_of_a_queued_job_ends_it_canceled_unrun() -> None:
    async def main() -> None:
        script = Script()
        pool = AsyncPool(script, 1)
        await pool.submit(job("run", "gate"))
        await script.wait_started("run")
        queued = await pool.submit(job("q"))
        assert queued.cancel() is True
        assert queued.cancelled() and queued.outcome.status is Status.CANCELED
        assert queued.outcome.started_at is None and "q" not in script.seen
        assert pool.stats.canceled == 1 and pool.stats.queued == 0
        script.gate.set()
        await pool.shutdown()
        assert "q" not in script.seen
    run(main)


def test_cancelling_the_future_of_a_running_job_cancels_the_job_for_real() -> None:
    async def main() -> None:
        script = Script()
        pool = AsyncPool(script, 1)
        hung = await pool.submit(job("h", "hang"))
        await script.wait_started("h")
        assert hung.cancel() is True
        with pytest.raises(asyncio.CancelledError):
            await hung
        assert hung.outcome.status is Status.CANCELED and hung.outcome.started_at is not None
        assert await (await pool.submit(job("next"))) == "next"  # the worker goes on
        assert pool.tasks()[0].cancelling() == 0
        await pool.shutdown()
    run(main)


def test_wait_for_on_a_future_stops_the_running_job_not_only_the_wait() -> None:
    async def main() -> None:
        script = Script()
        pool = AsyncPool(script, 1)
        hung = await pool.submit(job("h", "hang"))
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(hung, 0.05)
        assert hung.outcome is not None and hung.outcome.status is Status.CANCELED
        assert pool.stats.running == 0
        await pool.shutdown()
    run(main)


def test_an_unawaited_failed_future_does_not_log_exception_never_retrieved(
        caplog: pytest.LogCaptureFixture) -> None:
    async def main() -> None:
        pool = AsyncPool(Script(), 1)
        await pool.submit(job("bad", "fail"))
        await pool.shutdown()

    with caplog.at_level(logging.ERROR, logger="asyncio"):
        run(main)
        gc.collect()
    assert not [r for r in caplog.records if r.name == "asyncio"]


def test_done_callbacks_run_once_in_the_loop() -> None:
    async def main() -> None:
        pool = AsyncPool(Script(), 2)
        calls: list[str] = []
        futures = [await pool.submit(job(f"j{i}", "fail" if i % 2 else "ok")) for i in range(6)]
        for f in futures:
            f.add_done_callback(lambda f: calls.append(f.job_id))
        await pool.shutdown()
        await asyncio.sleep(0)  # callbacks are scheduled with call_soon
        assert sorted(calls) == sorted(f.job_id for f in futures)
        assert future_problems(futures, pool.outcomes) == []
    run(main)


# -- deadlines and cancellation -----------------------------------------------------------

def test_a_job_past_its_deadline_is_stopped_by_asyncio_timeout_and_timed_out() -> None:
    async def main() -> None:
        pool = AsyncPool(Script(), 1)
        ctx, cancel = background().with_timeout(0.05)
        began = time.monotonic()
        hung = await pool.submit(job("h", "hang", ctx=ctx))
        with pytest.raises(DeadlineExceeded):
            await hung
        assert 0.04 <= time.monotonic() - began < 0.05 + SLACK
        assert hung.outcome.status is Status.TIMED_OUT
        assert await (await pool.submit(job("next"))) == "next"
        cancel()
        await pool.shutdown()
    run(main)


def test_a_job_whose_deadline_passed_while_queued_does_not_run() -> None:
    async def main() -> None:
        script = Script()
        pool = AsyncPool(script, 1)
        await pool.submit(job("run", "gate"))
        ctx, _ = background().with_timeout(0.01)
        late = await pool.submit(job("late", ctx=ctx))
        await asyncio.sleep(0.03)
        script.gate.set()
        with pytest.raises(DeadlineExceeded):
            await late
        assert late.outcome.status is Status.TIMED_OUT and late.outcome.started_at is None
        assert "late" not in script.seen
        await pool.shutdown()
    run(main)


def test_cancel_cancels_the_running_jobs_which_end_canceled() -> None:
    async def main() -> None:
        script = Script()
        pool = AsyncPool(script, 2)
        futures = [await pool.submit(job(f"h{i}", "hang")) for i in range(2)]
        await script.wait_started("h0", "h1")
        pool.cancel()
        for f in futures:
            with pytest.raises(Canceled):
                await f
            assert f.outcome.status is Status.CANCELED
        await pool.shutdown()
    run(main)


def test_await_cancel_returns_as_soon_as_the_cancelled_jobs_have_ended() -> None:
    async def main() -> None:
        script = Script()
        pool = AsyncPool(script, 3)
        futures = [await pool.submit(job(f"h{i}", "hang")) for i in range(3)]
        await script.wait_started("h0", "h1", "h2")
        began = time.monotonic()
        await pool.cancel()
        assert time.monotonic() - began < 0.1
        assert all(f.done() for f in futures) and pool.stats.canceled == 3
        await pool.shutdown()
    run(main)


def test_after_cancel_queued_jobs_end_canceled_without_running() -> None:
    async def main() -> None:
        script = Script()
        pool = AsyncPool(script, 1)
        await pool.submit(job("h", "hang"))
        queued = await pool.submit(job("q"))
        await script.wait_started("h")
        pool.cancel()
        with pytest.raises(asyncio.CancelledError):  # never ran: a cancelled future
            await queued
        assert queued.outcome.status is Status.CANCELED
        assert queued.outcome.started_at is None and "q" not in script.seen
        await pool.shutdown()
    run(main)


def test_cancel_from_another_thread_cancels_the_running_jobs() -> None:
    async def main() -> None:
        script = Script()
        pool = AsyncPool(script, 1)
        hung = await pool.submit(job("h", "hang"))
        await script.wait_started("h")
        await asyncio.to_thread(pool.cancel)
        with pytest.raises(Canceled):
            await hung
        await pool.shutdown()
    run(main)


def test_the_job_ctx_is_done_once_the_pool_is_cancelled() -> None:
    async def main() -> None:
        script = Script()
        pool = AsyncPool(script, 1)
        await pool.submit(job("h", "hang"))
        await script.wait_started("h")
        seen_ctx = script.seen["h"].ctx
        assert not seen_ctx.done()
        await pool.cancel()
        assert isinstance(seen_ctx.err(), Canceled)
        await pool.shutdown()
    run(main)


def test_a_job_context_cancelled_from_another_thread_cancels_its_task() -> None:
    async def main() -> None:
        script = Script()
        pool = AsyncPool(script, 1)
        ctx, cancel = background().with_cancel()
        hung = await pool.submit(job("h", "hang", ctx=ctx))
        await script.wait_started("h")
        await asyncio.to_thread(cancel)
        with pytest.raises(Canceled):
            await hung
        assert hung.outcome.status is Status.CANCELED
        assert script.seen["h"].ctx.done()
        await pool.shutdown()
    run(main)


def test_a_cancelled_task_ends_its_job_ctx_for_code_in_other_threads() -> None:
    async def main() -> None:
        script = Script()
        pool = AsyncPool(script, 1)
        hung = await pool.submit(job("h", "hang"))
        await script.wait_started("h")
        ctx = script.seen["h"].ctx
        waiter = asyncio.ensure_future(asyncio.to_thread(ctx.wait, 5.0))  # a thread's view
        hung.cancel()
        assert await waiter is True
        assert isinstance(ctx.err(), Canceled)
        await pool.shutdown()
    run(main)


def test_a_passed_deadline_is_the_cause_even_if_the_pool_cancels_too() -> None:
    async def main() -> None:
        pool = AsyncPool(Script(), 1)
        ctx, _ = background().with_timeout(0.02)
        # It blocks past its deadline, then awaits: the pool's cancel lands first.
        blocked = await pool.submit(job("b", "blockhang 0.05", ctx=ctx))
        await asyncio.sleep(0)
        pool.cancel()
        with pytest.raises(DeadlineExceeded):
            await blocked
        assert blocked.outcome.status is Status.TIMED_OUT
        await pool.shutdown()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", BlockedLoopWarning)
        run(main)


def test_a_job_that_swallows_the_cancel_and_returns_ends_with_its_result() -> None:
    async def main() -> None:
        script = Script()
        pool = AsyncPool(script, 1)
        stubborn = await pool.submit(job("s", "swallow"))
        await script.wait_started("s")
        assert stubborn.cancel() is True
        await asyncio.sleep(0.01)
        script.release.set()
        assert await stubborn == "swallowed"
        assert stubborn.outcome.status is Status.SUCCEEDED
        assert await (await pool.submit(job("next"))) == "next"
        assert pool.tasks()[0].cancelling() == 0  # the pool took its cancel back
        assert not pool._cancel_asked  # nor does it keep the request
        await pool.shutdown()
    run(main)


# -- shutdown ------------------------------------------------------------------------

def test_shutdown_drains_the_queued_jobs_by_default() -> None:
    async def main() -> None:
        pool = AsyncPool(Script(), 2)
        futures = [await pool.submit(job(f"j{i}", "sleep 0.005")) for i in range(10)]
        report = await pool.shutdown()
        assert report.clean and report.stats.succeeded == 10
        assert len(report.drained) == 10 and all(f.done() for f in futures)
        assert all(t.done() for t in pool.tasks())
    run(main)


def test_shutdown_without_drain_cancels_the_queued_jobs_unrun() -> None:
    async def main() -> None:
        script = Script()
        pool = AsyncPool(script, 1)
        await pool.submit(job("run", "sleep 0.02"))
        queued = [await pool.submit(job(f"q{i}")) for i in range(5)]
        await script.wait_started("run")
        report = await pool.shutdown(drain=False)
        assert report.clean and len(report.canceled) == 5 and report.stats.succeeded == 1
        assert all(f.cancelled() for f in queued)
        assert not any(f"q{i}" in script.seen for i in range(5))
    run(main)


def test_shutdown_past_its_timeout_cancels_the_running_jobs_and_returns_once_they_end(
) -> None:
    async def main() -> None:
        script = Script()
        pool = AsyncPool(script, 3)
        futures = [await pool.submit(job(f"h{i}", "hang")) for i in range(3)]
        await script.wait_started("h0", "h1", "h2")
        began = time.monotonic()
        report = await pool.shutdown(0.05, grace=5.0)
        elapsed = time.monotonic() - began
        assert 0.04 <= elapsed < 0.05 + SLACK  # not 5 s: it returned once they had ended
        assert not report.clean and len(report.canceled) == 3 and not report.abandoned
        for f in futures:
            assert isinstance(f.exception(), Canceled)
    run(main)


def test_a_job_that_swallows_cancellation_past_grace_is_abandoned_and_reported(
        caplog: pytest.LogCaptureFixture) -> None:
    async def main() -> None:
        script = Script()
        pool = AsyncPool(script, 2)
        stubborn = await pool.submit(job("s", "swallow"))
        await script.wait_started("s")
        began = time.monotonic()
        with caplog.at_level(logging.WARNING, logger="pool"):
            report = await pool.shutdown(0.02, grace=0.05)
        assert 0.06 <= time.monotonic() - began < 0.07 + SLACK
        assert [o.job_id for o in report.abandoned] == ["s"]
        assert report.abandoned[0].worker_id == stubborn.outcome.worker_id
        assert isinstance(stubborn.exception(), Abandoned)
        assert "abandoned: job 's'" in str(report)
        assert any(getattr(r, "job_id", None) == "s" and "abandoned" in r.getMessage()
                   for r in caplog.records)
        script.release.set()  # it returns now: traced as late, not counted again
        await asyncio.wait(pool.tasks(), timeout=5)
        assert pool.stats == report.stats
    run(main)


def test_shutdown_is_idempotent() -> None:
    async def main() -> None:
        pool = AsyncPool(ok)
        await pool.submit(Job("a"))
        first = await pool.shutdown()
        assert await pool.shutdown(0) is first and pool.report is first
    run(main)


def test_a_shutdown_with_nothing_to_stop_is_clean_even_with_timeout_zero() -> None:
    async def main() -> None:
        pool = AsyncPool(ok, 2)
        await asyncio.gather(*[await pool.submit(Job(f"j{i}")) for i in range(4)])
        report = await pool.shutdown(0)
        assert report.clean and report.stats.succeeded == 4
    run(main)


def test_shutdown_from_inside_one_of_the_pools_jobs_raises_runtime_error() -> None:
    holder: list[AsyncPool] = []

    async def selfish(job: Job) -> None:
        await holder[0].shutdown()

    async def main() -> None:
        pool = AsyncPool(selfish, 1)
        holder.append(pool)
        future = await pool.submit(Job("a"))
        with pytest.raises(RuntimeError, match="wait for itself"):
            await future
        await pool.shutdown()
    run(main)


def test_async_with_shuts_down_draining_the_queued_jobs() -> None:
    async def main() -> None:
        async with AsyncPool(Script(), 1) as pool:
            futures = [await pool.submit(job(f"j{i}", "sleep 0.002")) for i in range(5)]
        assert pool.report is not None and pool.report.clean
        assert [await f for f in futures] == [f"j{i}" for i in range(5)]
    run(main)


def test_an_error_in_the_async_with_block_drops_the_queued_jobs() -> None:
    async def main() -> None:
        script = Script()
        with pytest.raises(KeyError):
            async with AsyncPool(script, 1) as pool:
                await pool.submit(job("run", "sleep 0.02"))
                queued = await pool.submit(job("q"))
                await script.wait_started("run")
                raise KeyError("oops")
        assert queued.cancelled() and pool.stats.succeeded == 1
    run(main)


def test_a_loop_that_ends_without_shutdown_cancels_the_jobs_and_keeps_the_ledger() -> None:
    holder: list[AsyncPool] = []

    async def main() -> None:
        script = Script()
        pool = AsyncPool(script, 1)
        holder.append(pool)
        await pool.submit(job("h", "hang"))
        await pool.submit(job("q"))
        await script.wait_started("h")
        # returns without shutdown: asyncio.run cancels the worker tasks

    run(main)
    pool = holder[0]
    s = pool.stats
    assert s.submitted == 2 and s.canceled == 2 and s.queued == s.running == 0
    assert pool.closed


# -- the blocked loop ----------------------------------------------------------------

def test_a_job_that_blocks_the_loop_is_named_in_a_warning_with_how_long() -> None:
    async def main() -> None:
        pool = AsyncPool(Script(), 2, slow_job=0.05)
        with pytest.warns(BlockedLoopWarning, match=r"job 'b' on worker \d blocked the event "
                                                     r"loop for \d+ ms") as record:
            await (await pool.submit(job("b", "block 0.1")))
        warning = record[0].message
        assert isinstance(warning, BlockedLoopWarning)
        assert warning.job_id == "b" and 0.1 <= warning.blocked < 0.1 + SLACK
        await pool.shutdown()
    run(main)


def test_blocking_in_a_middle_step_of_a_job_is_detected() -> None:
    async def stepwise(job: Job) -> None:
        await asyncio.sleep(0)
        time.sleep(0.1)  # blocks between two awaits
        await asyncio.sleep(0.01)

    async def main() -> None:
        pool = AsyncPool(stepwise, 1, slow_job=0.05)
        with pytest.warns(BlockedLoopWarning, match="job 'm'") as record:
            future = await pool.submit(Job("m"))
            await asyncio.sleep(0.05)  # the warning comes when it gives the loop back
            assert not future.done()
        assert len(record) == 1
        await future
        await pool.shutdown()
    run(main)


def test_jobs_that_await_raise_no_blocked_loop_warning() -> None:
    async def main() -> None:
        pool = AsyncPool(Script(), 2, slow_job=0.05)
        with warnings.catch_warnings():
            warnings.simplefilter("error", BlockedLoopWarning)
            futures = [await pool.submit(job(f"s{i}", "sleep 0.08")) for i in range(4)]
            await asyncio.gather(*futures)
        await pool.shutdown()
    run(main)


def test_slow_job_none_turns_the_blocked_loop_check_off() -> None:
    async def main() -> None:
        pool = AsyncPool(Script(), 1, slow_job=None)
        with warnings.catch_warnings():
            warnings.simplefilter("error", BlockedLoopWarning)
            await (await pool.submit(job("b", "block 0.12")))
        await pool.shutdown()
    run(main)


def test_warnings_made_errors_do_not_stop_a_worker(caplog: pytest.LogCaptureFixture) -> None:
    async def main() -> None:
        pool = AsyncPool(Script(), 1, slow_job=0.02)
        with warnings.catch_warnings(), caplog.at_level(logging.WARNING, logger="pool"):
            warnings.simplefilter("error", BlockedLoopWarning)
            assert await (await pool.submit(job("b", "block 0.05"))) == "b"
        assert any("blocked the event loop" in r.getMessage() for r in caplog.records)
        assert await (await pool.submit(job("next"))) == "next"
        await pool.shutdown()
    run(main)


# -- threads ---------------------------------------------------------------------------

def test_a_thread_submits_with_submit_threadsafe_and_gets_a_concurrent_future() -> None:
    async def main() -> None:
        pool = AsyncPool(Script(), 2)

        def from_thread() -> list[Any]:
            futures = [pool.submit_threadsafe(job(f"t{i}")) for i in range(5)]
            futures.append(pool.submit_threadsafe(job("bad", "fail")))
            assert all(f.job_id for f in futures)
            results: list[Any] = [f.result(timeout=5) for f in futures[:5]]
            results.append(futures[5].exception(timeout=5))
            return results

        results = await asyncio.to_thread(from_thread)
        assert results[:5] == [f"t{i}" for i in range(5)]
        assert isinstance(results[5], ValueError)
        await pool.shutdown()
    run(main)


def test_submit_threadsafe_from_the_loops_own_thread_is_a_runtime_error() -> None:
    async def main() -> None:
        pool = AsyncPool(ok)
        with pytest.raises(RuntimeError, match=r"await pool\.submit"):
            pool.submit_threadsafe(Job("a"))
        await pool.shutdown()
    run(main)


def test_submit_threadsafe_after_shutdown_holds_pool_closed() -> None:
    async def main() -> None:
        pool = AsyncPool(ok)
        await pool.shutdown()
        future = await asyncio.to_thread(pool.submit_threadsafe, Job("a"))
        assert isinstance(await asyncio.to_thread(future.exception, 5), PoolClosed)
        assert future.outcome is None
    run(main)


def test_cancelling_a_threadsafe_future_cancels_the_running_job() -> None:
    async def main() -> None:
        script = Script()
        pool = AsyncPool(script, 1)
        future = await asyncio.to_thread(pool.submit_threadsafe, job("h", "hang"))
        await script.wait_started("h")
        assert await asyncio.to_thread(future.cancel) is True
        await pool.cancel()  # (nothing else runs: returns at once)
        report = await pool.shutdown(timeout=5)
        assert report.clean and report.stats.canceled == 1
        assert pool.outcomes[0].started_at is not None
    run(main)


# -- reading: stats, trace, timeline ------------------------------------------------

def test_stats_add_up_and_the_trace_has_one_lane_per_worker_task() -> None:
    async def main() -> None:
        pool = AsyncPool(Script(), 3)
        for i in range(9):
            await pool.submit(job(f"j{i}", "fail" if i == 4 else "sleep 0.005"))
        report = await pool.shutdown()
        s = report.stats
        assert s.submitted == 9 == s.succeeded + s.failed and s.failed == 1
        spans = pool.trace.spans()
        assert len(spans) == 9 and {sp.worker_id for sp in spans} <= {1, 2, 3}
        kinds = [e.kind for e in pool.trace.events()]
        assert kinds.count("worker_start") == 3 and kinds.count("worker_exit") == 3
        assert "shutdown_requested" in kinds and "shutdown_done" in kinds
    run(main)


def test_plot_timeline_draws_an_async_pool() -> None:
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    from pool.timeline import plot_timeline, snapshot

    async def main() -> AsyncPool:
        script = Script()
        pool = AsyncPool(script, 2)
        await pool.submit(job("a", "sleep 0.01"))
        await pool.submit(job("s", "swallow"))
        await script.wait_started("s")
        await pool.shutdown(0.02, grace=0.01)
        script.release.set()
        return pool

    pool = run(main)
    picture = snapshot(pool)
    assert picture.lanes == (1, 2)
    assert {s.job_id: s.status for s in picture.spans} == {"a": Status.SUCCEEDED,
                                                           "s": Status.ABANDONED}
    ax = plot_timeline(pool)
    assert ax.get_title() or ax.get_legend() is not None
    import matplotlib.pyplot as plt
    plt.close("all")


def test_repr_says_open_or_closed() -> None:
    async def main() -> None:
        pool = AsyncPool(ok, 2, buffer=None)
        assert repr(pool) == "<AsyncPool open workers=2 buffer=unbounded>"
        await pool.shutdown()
        assert repr(pool).startswith("<AsyncPool closed")
    run(main)


# -- the notebook ---------------------------------------------------------------------

NOTEBOOK_CELLS = [
    "import asyncio\nfrom pool import Job\nfrom pool.aio import AsyncPool\n"
    "async def process(job):\n    await asyncio.sleep(0.01)\n    return job.id.upper()",
    # made in one cell, in the kernel's running loop: workers start here
    "pool = AsyncPool(process, 2)\nfuture = await pool.submit(Job('a'))",
    "print(await future)",  # top-level await, in a later cell
    "report = await pool.shutdown()\nprint(report.clean, report.stats.succeeded)",
    "async with AsyncPool(process, 2) as p2:\n"
    "    futures = [await p2.submit(Job(f'j{i}')) for i in range(3)]\n"
    "print([f.result() for f in futures], p2.report.clean)",
]


@pytest.mark.needs_notebook_deps
@pytest.mark.timeout(120)
def test_it_works_with_top_level_await_in_a_notebooks_running_loop(tmp_path: Any) -> None:
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) for src in NOTEBOOK_CELLS]
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    client = nbclient.NotebookClient(nb, timeout=60, kernel_name="python3",
                                     resources={"metadata": {"path": root}})
    client.execute()
    texts = ["".join(o.get("text", "") for o in cell.outputs) for cell in nb.cells]
    assert texts[2] == "A\n"
    assert texts[3] == "True 1\n"
    assert texts[4] == "['J0', 'J1', 'J2'] True\n"


def test_the_loop_thread_is_the_one_the_pool_was_made_in() -> None:
    async def main() -> None:
        pool = AsyncPool(ok)
        assert pool.loop is asyncio.get_running_loop()
        assert pool._thread == threading.get_ident()
        await pool.shutdown()
    run(main)
