"""Trace and Span: the pool's event log and the spans a timeline draws (DESIGN.md)."""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

sys.path.insert(0, os.path.dirname(__file__))

from poolhelpers import Hang, HonourCtx, MakePool, Script, join_all, raises

from pool import Event, Span, Status, Trace, WorkerPool, background
from pool import trace as tr

pytestmark = pytest.mark.timeout(30)



def kinds_for(trace: Trace, job_id: str) -> list[str]:
    return [e.kind for e in trace.events() if e.job_id == job_id]


def only(trace: Trace, kind: str) -> list[Event]:
    return [e for e in trace.events() if e.kind == kind]


# -- what the pool records ------------------------------------------------------


def test_trace_records_start_and_exit_of_every_worker(make_pool: MakePool) -> None:
    pool = make_pool(Script(), 3)
    pool.shutdown(timeout=5)
    assert sorted(e.worker_id for e in only(pool.trace, tr.WORKER_START)) == [1, 2, 3]
    assert sorted(e.worker_id for e in only(pool.trace, tr.WORKER_EXIT)) == [1, 2, 3]


def test_trace_records_queued_start_and_end_of_a_job_in_order(make_pool: MakePool) -> None:
    script = Script()
    pool = make_pool(script, 1)
    pool.submit(script.job("a"))
    pool.shutdown(timeout=5)
    events = [e for e in pool.trace.events() if e.job_id == "a"]
    assert [e.kind for e in events] == [tr.QUEUED, tr.START, tr.END]
    assert [e.worker_id for e in events] == [None, 1, 1]
    assert events[-1].status is Status.SUCCEEDED
    assert events[0].t <= events[1].t <= events[2].t


def test_trace_times_are_seconds_since_the_pool_started(make_pool: MakePool) -> None:
    script = Script()
    before = time.monotonic()
    pool = make_pool(script, 2)
    after = time.monotonic()
    pool.submit(script.job("a"))
    pool.shutdown(timeout=5)
    assert before <= pool.trace.origin <= after
    end = pool.trace.now()
    assert all(0 <= e.t <= end for e in pool.trace.events())


def test_trace_has_shutdown_requested_and_done_markers_in_order(make_pool: MakePool) -> None:
    pool = make_pool(Script())
    pool.shutdown(timeout=5)
    requested = pool.trace.first(tr.SHUTDOWN_REQUESTED)
    done = pool.trace.first(tr.SHUTDOWN_DONE)
    assert requested is not None
    assert done is not None
    assert requested.t <= done.t


def test_clean_shutdown_has_no_deadline_marker(make_pool: MakePool) -> None:
    pool = make_pool(Script())
    pool.shutdown(timeout=5)
    assert pool.trace.first(tr.SHUTDOWN_DEADLINE) is None


def test_shutdown_deadline_marker_is_recorded_when_the_timeout_passes(
    make_pool: MakePool, release: threading.Event
) -> None:
    script = Script()
    pool = make_pool(script, 1)
    hang = Hang(release)
    pool.submit(script.job("h", hang))
    assert hang.started.wait(5)
    pool.shutdown(timeout=0.1, grace=0.01)
    requested = pool.trace.first(tr.SHUTDOWN_REQUESTED)
    deadline = pool.trace.first(tr.SHUTDOWN_DEADLINE)
    done = pool.trace.first(tr.SHUTDOWN_DONE)
    assert requested is not None
    assert deadline is not None
    assert done is not None
    assert requested.t + 0.09 <= deadline.t < requested.t + 0.35
    assert deadline.t <= done.t


def test_shutdown_requested_marker_carries_the_planned_deadline(make_pool: MakePool) -> None:
    pool = make_pool(Script())
    pool.shutdown(timeout=2.5)
    requested = pool.trace.first(tr.SHUTDOWN_REQUESTED)
    assert requested is not None
    assert requested.detail == pytest.approx(requested.t + 2.5, abs=1e-6)


def test_shutdown_requested_marker_without_timeout_has_no_deadline(make_pool: MakePool) -> None:
    pool = make_pool(Script())
    pool.shutdown()
    requested = pool.trace.first(tr.SHUTDOWN_REQUESTED)
    assert requested is not None
    assert requested.detail is None


# -- spans ----------------------------------------------------------------------


def test_running_job_is_an_open_span(make_pool: MakePool, release: threading.Event) -> None:
    script = Script()
    pool = make_pool(script, 1)
    hang = Hang(release)
    pool.submit(script.job("h", hang))
    assert hang.started.wait(5)
    (span,) = pool.trace.spans()
    assert (span.worker_id, span.job_id, span.end, span.status) == (1, "h", None, Status.RUNNING)
    assert span.open
    assert 0 <= span.start <= pool.trace.now()


def test_hung_job_abandoned_by_shutdown_stays_an_open_abandoned_span(
    make_pool: MakePool, release: threading.Event
) -> None:
    script = Script()
    pool = make_pool(script, 1)
    hang = Hang(release)
    pool.submit(script.job("h", hang))
    assert hang.started.wait(5)
    pool.shutdown(timeout=0.01, grace=0.01)
    (span,) = pool.trace.spans()
    assert (span.job_id, span.end, span.status) == ("h", None, Status.ABANDONED)
    assert span.open


def test_abandoned_job_that_returns_later_is_traced_late(
    make_pool: MakePool, release: threading.Event
) -> None:
    script = Script()
    pool = make_pool(script, 1)
    hang = Hang(release)
    pool.submit(script.job("h", hang))
    assert hang.started.wait(5)
    pool.shutdown(timeout=0.01, grace=0.01)
    release.set()
    assert not join_all(pool.threads(), timeout=5)  # the worker came back and exited
    (late,) = only(pool.trace, tr.LATE)
    assert (late.job_id, late.worker_id, late.status) == ("h", 1, Status.SUCCEEDED)
    assert kinds_for(pool.trace, "h") == [tr.QUEUED, tr.START, tr.END, tr.LATE]


def test_abandoned_job_that_returns_later_closes_its_span_as_abandoned(
    make_pool: MakePool, release: threading.Event
) -> None:
    script = Script()
    pool = make_pool(script, 1)
    hang = Hang(release)
    pool.submit(script.job("h", hang))
    assert hang.started.wait(5)
    pool.shutdown(timeout=0.01, grace=0.01)
    release.set()
    assert not join_all(pool.threads(), timeout=5)
    (span,) = pool.trace.spans()
    assert span.status is Status.ABANDONED
    assert span.end is not None
    assert span.start <= span.end


def _succeeds(script: Script, pool: WorkerPool) -> None:
    pool.submit(script.job("j"))


def _fails(script: Script, pool: WorkerPool) -> None:
    pool.submit(script.job("j", raises(ValueError, "bad")))


def _times_out(script: Script, pool: WorkerPool) -> None:
    ctx, _ = background().with_timeout(0.05)
    honour = HonourCtx()
    pool.submit(script.job("j", honour, ctx=ctx))
    assert honour.started.wait(5)


def _is_canceled(script: Script, pool: WorkerPool) -> None:
    ctx, cancel = background().with_cancel()
    honour = HonourCtx()
    pool.submit(script.job("j", honour, ctx=ctx))
    assert honour.started.wait(5)
    cancel()


@pytest.mark.parametrize(
    ("run", "status"),
    [(_succeeds, Status.SUCCEEDED), (_fails, Status.FAILED),
     (_times_out, Status.TIMED_OUT), (_is_canceled, Status.CANCELED)],
    ids=["succeeded", "failed", "timed_out", "canceled"],
)
def test_finished_job_span_is_closed_with_the_jobs_status(
    make_pool: MakePool, run: Callable[[Script, WorkerPool], None], status: Status
) -> None:
    script = Script()
    pool = make_pool(script, 1)
    run(script, pool)
    pool.shutdown(timeout=5)
    (span,) = pool.trace.spans()
    assert (span.worker_id, span.job_id, span.status) == (1, "j", status)
    assert span.end is not None
    assert span.start <= span.end
    assert not span.open


def test_job_that_never_ran_has_no_span(make_pool: MakePool) -> None:
    script = Script()
    pool = make_pool(script, 1)
    honour = HonourCtx()
    pool.submit(script.job("running", honour))
    assert honour.started.wait(5)
    pool.submit(script.job("never"))
    pool.shutdown(timeout=0, drain=False, grace=5)
    assert [s.job_id for s in pool.trace.spans()] == ["running"]


def test_spans_are_in_start_order(make_pool: MakePool) -> None:
    script = Script()
    pool = make_pool(script, 1)
    for i in range(5):
        pool.submit(script.job(f"j{i}"))
    pool.shutdown(timeout=5)
    spans = pool.trace.spans()
    assert [s.job_id for s in spans] == [f"j{i}" for i in range(5)]
    assert [s.start for s in spans] == sorted(s.start for s in spans)


def test_reading_the_trace_while_workers_record_never_fails(
    make_pool: MakePool, spawn: Callable[..., Any]
) -> None:
    script = Script()
    pool = make_pool(script, 2, buffer=10)

    def feed() -> None:
        for i in range(2000):
            pool.submit(script.job(f"j{i}"), timeout=5)

    feeder = spawn(feed)
    reads = 0
    while not feeder.finished.is_set() and reads < 10_000:
        pool.trace.events()
        pool.trace.spans()
        reads += 1
    feeder.join()
    pool.shutdown(timeout=5)
    assert len(pool.trace.spans()) == 2000


# -- the Trace itself -----------------------------------------------------------


def test_trace_keeps_only_the_newest_maxlen_events() -> None:
    trace = Trace(maxlen=3)
    for i in range(5):
        trace.record(tr.QUEUED, None, f"j{i}")
    assert len(trace) == 3
    assert [e.job_id for e in trace.events()] == ["j2", "j3", "j4"]


def test_trace_with_maxlen_zero_records_nothing() -> None:
    trace = Trace(maxlen=0)
    trace.record(tr.QUEUED, None, "a")
    assert trace.events() == []


@pytest.mark.parametrize(
    ("maxlen", "error"), [(-1, ValueError), ("3", TypeError), (True, TypeError)],
    ids=["negative", "str", "bool"],
)
def test_trace_with_bad_maxlen_raises_naming_it(maxlen: object, error: type[Exception]) -> None:
    with pytest.raises(error, match="maxlen"):
        Trace(maxlen=maxlen)  # type: ignore[arg-type]


def test_pool_trace_is_bounded_by_keep(make_pool: MakePool) -> None:
    script = Script()
    pool = make_pool(script, 1, keep=5)
    for i in range(500):
        pool.submit(script.job(f"j{i}"), timeout=5)
    pool.shutdown(timeout=5)
    assert len(pool.trace) <= 100  # a few events for each of about `keep` jobs
    last = pool.trace.spans()[-1]
    assert (last.job_id, last.status) == ("j499", Status.SUCCEEDED)


def test_first_returns_the_earliest_event_of_a_kind_or_none() -> None:
    trace = Trace()
    trace.record(tr.START, 1, "a")
    trace.record(tr.START, 2, "b")
    first = trace.first(tr.START)
    assert first is not None
    assert first.job_id == "a"
    assert trace.first(tr.END) is None


def test_record_at_a_monotonic_time_is_stored_relative_to_origin() -> None:
    trace = Trace()
    trace.record(tr.QUEUED, None, "a", at=trace.origin + 1.5)
    (event,) = trace.events()
    assert event.t == pytest.approx(1.5)


def test_spans_pair_start_and_end_events() -> None:
    trace = Trace()
    o = trace.origin
    trace.record(tr.START, 1, "a", at=o + 1.0)
    trace.record(tr.START, 2, "b", at=o + 1.5)
    trace.record(tr.END, 1, "a", Status.FAILED, at=o + 2.0)
    assert trace.spans() == [Span(1, "a", pytest.approx(1.0), pytest.approx(2.0), Status.FAILED),
                             Span(2, "b", pytest.approx(1.5), None, Status.RUNNING)]


def test_span_is_open_only_while_it_has_no_end() -> None:
    assert Span(1, "a", 0.0, None, Status.RUNNING).open
    assert not Span(1, "a", 0.0, 1.0, Status.SUCCEEDED).open
