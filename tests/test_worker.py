"""Contract of stage 2: worker(worker_id, jobs, wg, process, *, record=None)."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from pool import (
    Canceled,
    Channel,
    DeadlineExceeded,
    Job,
    Outcome,
    Status,
    WaitGroup,
    background,
    worker,
)


class CountingWaitGroup(WaitGroup):
    """A WaitGroup that counts done() calls."""

    def __init__(self) -> None:
        super().__init__()
        self.done_calls = 0

    def done(self) -> None:
        self.done_calls += 1
        super().done()


def closed_channel(items: list[Any]) -> Channel[Any]:
    """A channel holding ``items`` and already closed, so worker() returns when drained."""
    ch: Channel[Any] = Channel(max(len(items), 1))
    for item in items:
        ch.send(item, timeout=0)
    ch.close()
    return ch


def run_worker(
    items: list[Any],
    process: Callable[[Job], Any] = lambda job: None,
    *,
    worker_id: int = 1,
    record: Callable[[Outcome], None] | None = None,
) -> tuple[list[Outcome], CountingWaitGroup]:
    """Run worker() in this thread over ``items``; return the recorded outcomes and the wg."""
    outcomes: list[Outcome] = []
    wg = CountingWaitGroup()
    wg.add(1)
    worker(worker_id, closed_channel(items), wg, process,
           record=outcomes.append if record is None else record)
    return outcomes, wg


def raise_(exc: BaseException) -> Callable[[Job], Any]:
    def process(job: Job) -> Any:
        raise exc

    return process


def pool_errors(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "pool" and r.levelno >= logging.ERROR]


# -- running jobs ---------------------------------------------------------------------


def test_worker_runs_every_job_in_the_order_received() -> None:
    ran: list[str] = []
    run_worker([Job(f"j{i}") for i in range(5)], lambda job: ran.append(job.id))
    assert ran == ["j0", "j1", "j2", "j3", "j4"]


def test_process_receives_the_job_itself() -> None:
    job = Job("a", b"payload")
    seen: list[Job] = []
    run_worker([job], seen.append)
    assert seen == [job]
    assert seen[0].payload == b"payload"


def test_return_value_is_the_outcome_result() -> None:
    (outcome,), _ = run_worker([Job("a", b"abc")], lambda job: job.payload.upper())
    assert outcome.status is Status.SUCCEEDED
    assert outcome.result == b"ABC"
    assert outcome.error is None


def test_outcome_names_the_job_and_the_worker() -> None:
    (outcome,), _ = run_worker([Job("the-job")], worker_id=7)
    assert outcome.job_id == "the-job"
    assert outcome.worker_id == 7


def test_outcome_times_are_in_order_for_a_job_that_ran() -> None:
    (outcome,), _ = run_worker([Job("a")])
    assert outcome.started_at is not None
    assert outcome.queued_at <= outcome.started_at <= outcome.finished_at


def test_worker_works_without_record() -> None:
    ran: list[str] = []
    wg = CountingWaitGroup()
    wg.add(1)
    worker(1, closed_channel([Job("a"), Job("b")]), wg, lambda job: ran.append(job.id))
    assert ran == ["a", "b"]
    assert wg.done_calls == 1


@pytest.mark.timeout(10)
def test_worker_takes_jobs_until_the_channel_is_closed(spawn) -> None:
    ch: Channel[Job] = Channel(0)
    wg = CountingWaitGroup()
    wg.add(1)
    outcomes: list[Outcome] = []
    running = spawn(worker, 1, ch, wg, lambda job: job.id, record=outcomes.append)
    for i in range(3):
        ch.send(Job(f"j{i}"), timeout=5)
    assert not running.finished.is_set()
    ch.close()
    running.join(5)
    assert [o.result for o in outcomes] == ["j0", "j1", "j2"]
    assert wg.wait(0) is True


# -- failures -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "exc",
    [ValueError("bad"), RuntimeError("boom"), TimeoutError("plain timeout"),
     SystemExit(3), KeyboardInterrupt(), GeneratorExit()],
    ids=lambda e: type(e).__name__,
)
def test_exception_from_process_ends_the_job_failed(exc: BaseException) -> None:
    (outcome,), _ = run_worker([Job("a")], raise_(exc))
    assert outcome.status is Status.FAILED
    assert outcome.error is exc
    assert outcome.result is None
    assert outcome.started_at is not None


@pytest.mark.parametrize(
    "exc", [ValueError("bad"), SystemExit(3), KeyboardInterrupt()],
    ids=lambda e: type(e).__name__,
)
def test_failed_job_is_logged_on_the_pool_logger_with_its_id(
    caplog: pytest.LogCaptureFixture, exc: BaseException
) -> None:
    with caplog.at_level(logging.ERROR, logger="pool"):
        run_worker([Job("job-that-fails")], raise_(exc))
    errors = pool_errors(caplog)
    assert len(errors) == 1
    assert "job-that-fails" in errors[0].getMessage()
    assert errors[0].exc_info is not None
    assert errors[0].exc_info[1] is exc


@pytest.mark.parametrize(
    "exc", [ValueError("bad"), SystemExit(3), KeyboardInterrupt()],
    ids=lambda e: type(e).__name__,
)
def test_worker_goes_on_after_a_failed_job(exc: BaseException) -> None:
    def process(job: Job) -> str:
        if job.id == "bad":
            raise exc
        return job.id

    outcomes, wg = run_worker([Job("ok1"), Job("bad"), Job("ok2")], process)
    assert [(o.job_id, o.status) for o in outcomes] == [
        ("ok1", Status.SUCCEEDED), ("bad", Status.FAILED), ("ok2", Status.SUCCEEDED)]
    assert wg.done_calls == 1


def test_deadline_exceeded_from_process_ends_the_job_timed_out() -> None:
    exc = DeadlineExceeded("late")
    (outcome,), _ = run_worker([Job("a")], raise_(exc))
    assert outcome.status is Status.TIMED_OUT
    assert outcome.error is exc
    assert outcome.started_at is not None


def test_canceled_from_process_ends_the_job_canceled() -> None:
    exc = Canceled("stop")
    (outcome,), _ = run_worker([Job("a")], raise_(exc))
    assert outcome.status is Status.CANCELED
    assert outcome.error is exc
    assert outcome.started_at is not None


@pytest.mark.timeout(10)
def test_job_whose_deadline_passes_while_running_ends_timed_out() -> None:
    ctx, cancel = background().with_timeout(0.05)
    (outcome,), _ = run_worker([Job("a", ctx=ctx)], lambda job: job.ctx.sleep(10))
    assert outcome.status is Status.TIMED_OUT
    assert isinstance(outcome.error, DeadlineExceeded)
    cancel()


# -- jobs whose context is already done ------------------------------------------------------


def test_job_with_a_cancelled_ctx_is_not_run_and_ends_canceled() -> None:
    ctx, cancel = background().with_cancel()
    cancel()
    ran: list[str] = []
    (outcome,), _ = run_worker([Job("a", ctx=ctx)], lambda job: ran.append(job.id))
    assert ran == []
    assert outcome.status is Status.CANCELED
    assert isinstance(outcome.error, Canceled)
    assert outcome.started_at is None
    assert outcome.queued_at <= outcome.finished_at


def test_job_with_an_expired_ctx_is_not_run_and_ends_timed_out() -> None:
    ctx, _ = background().with_timeout(0)
    ran: list[str] = []
    (outcome,), _ = run_worker([Job("a", ctx=ctx)], lambda job: ran.append(job.id))
    assert ran == []
    assert outcome.status is Status.TIMED_OUT
    assert isinstance(outcome.error, DeadlineExceeded)
    assert outcome.started_at is None


def test_worker_goes_on_after_a_job_whose_ctx_is_done() -> None:
    ctx, cancel = background().with_cancel()
    cancel()
    outcomes, _ = run_worker([Job("dead", ctx=ctx), Job("live")], lambda job: job.id)
    assert [(o.job_id, o.status) for o in outcomes] == [
        ("dead", Status.CANCELED), ("live", Status.SUCCEEDED)]


# -- record ----------------------------------------------------------------------------


def test_record_is_called_once_per_job_whatever_its_end() -> None:
    cancelled, cancel = background().with_cancel()
    cancel()
    jobs = [Job("ok"), Job("fails"), Job("unrun", ctx=cancelled), Job("ok2")]

    def process(job: Job) -> None:
        if job.id == "fails":
            raise ValueError(job.id)

    outcomes, _ = run_worker(jobs, process)
    assert Counter(o.job_id for o in outcomes) == {"ok": 1, "fails": 1, "unrun": 1, "ok2": 1}


def test_exception_from_record_is_logged_and_the_worker_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    seen: list[str] = []

    def record(outcome: Outcome) -> None:
        seen.append(outcome.job_id)
        raise RuntimeError("record broke")

    with caplog.at_level(logging.ERROR, logger="pool"):
        _, wg = run_worker([Job("job-alpha"), Job("job-beta")], record=record)
    assert seen == ["job-alpha", "job-beta"]
    assert wg.done_calls == 1
    messages = [r.getMessage() for r in pool_errors(caplog)]
    assert any("job-alpha" in m for m in messages)
    assert any("job-beta" in m for m in messages)


# -- wg.done() exactly once ------------------------------------------------------------------


def test_wg_done_is_called_once_after_the_channel_is_drained() -> None:
    _, wg = run_worker([Job("a"), Job("b"), Job("c")])
    assert wg.done_calls == 1
    assert wg.wait(0) is True


def test_wg_done_is_called_once_for_an_empty_closed_channel() -> None:
    _, wg = run_worker([])
    assert wg.done_calls == 1


@pytest.mark.parametrize(
    "exc", [SystemExit(1), KeyboardInterrupt(), ValueError("x")], ids=lambda e: type(e).__name__
)
def test_wg_done_is_called_once_when_process_raises(exc: BaseException) -> None:
    _, wg = run_worker([Job("a"), Job("b")], raise_(exc))
    assert wg.done_calls == 1


@pytest.mark.parametrize(
    "exc", [RuntimeError("x"), KeyboardInterrupt(), SystemExit(1)],
    ids=lambda e: type(e).__name__,
)
def test_wg_done_is_called_once_when_record_raises(exc: BaseException) -> None:
    def record(outcome: Outcome) -> None:
        raise exc

    wg = CountingWaitGroup()
    wg.add(1)
    try:
        worker(1, closed_channel([Job("a"), Job("b")]), wg, lambda job: None, record=record)
    except BaseException as raised:  # whether it propagates is not the point here
        assert raised is exc
    assert wg.done_calls == 1


def test_wg_done_is_called_once_when_the_jobs_iterable_raises() -> None:
    def jobs() -> Iterator[Job]:
        yield Job("a")
        raise RuntimeError("channel broke")

    wg = CountingWaitGroup()
    wg.add(1)
    with pytest.raises(RuntimeError, match="channel broke"):
        worker(1, jobs(), wg, lambda job: None)
    assert wg.done_calls == 1


# -- non-Job items ------------------------------------------------------------------------


def test_non_job_item_ends_failed_with_type_error_and_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.ERROR, logger="pool"):
        (outcome,), wg = run_worker(["not a job"])
    assert outcome.status is Status.FAILED
    assert isinstance(outcome.error, TypeError)
    assert outcome.started_at is None
    assert outcome.worker_id == 1
    assert pool_errors(caplog)
    assert wg.done_calls == 1


def test_worker_goes_on_after_a_non_job_item() -> None:
    outcomes, _ = run_worker([42, None, Job("real")], lambda job: job.id)
    assert [o.status for o in outcomes] == [Status.FAILED, Status.FAILED, Status.SUCCEEDED]
    assert outcomes[-1].result == "real"


# -- bad arguments -----------------------------------------------------------------------------


def test_non_callable_process_is_a_type_error_naming_it_after_wg_done() -> None:
    wg = CountingWaitGroup()
    wg.add(1)
    with pytest.raises(TypeError, match="process"):
        worker(1, closed_channel([]), wg, "not callable")  # type: ignore[arg-type]
    assert wg.done_calls == 1


def test_non_callable_record_is_a_type_error_naming_it_after_wg_done() -> None:
    wg = CountingWaitGroup()
    wg.add(1)
    with pytest.raises(TypeError, match="record"):
        worker(1, closed_channel([]), wg, lambda job: None, record=5)  # type: ignore[arg-type]
    assert wg.done_calls == 1


@pytest.mark.parametrize("worker_id", ["1", True, 1.0], ids=["str", "bool", "float"])
def test_bad_worker_id_is_a_type_error_naming_it_after_wg_done(worker_id: object) -> None:
    wg = CountingWaitGroup()
    wg.add(1)
    with pytest.raises(TypeError, match="worker_id"):
        worker(worker_id, closed_channel([]), wg, lambda job: None)  # type: ignore[arg-type]
    assert wg.done_calls == 1


def test_wg_without_done_is_a_type_error_naming_it() -> None:
    with pytest.raises(TypeError, match="wg"):
        worker(1, closed_channel([]), object(), lambda job: None)  # type: ignore[arg-type]
