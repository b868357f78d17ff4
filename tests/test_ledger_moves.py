"""The ledger's record_end move: a job's end kept as its line, the outcome made when read.

AsyncPool records every job's end this way (one object a job fewer for the
garbage collector); these tests hold the move to what ``record`` promises:
the same outcome, the same counts, and a late end that changes nothing.
"""

from __future__ import annotations

import contextvars

from pool import Job, Outcome, Status
from pool import trace as ev
from pool.ledger import JobFuture, Ledger
from pool.trace import Trace


def running(ledger: Ledger, job_id: str = "a", worker_id: int = 1) -> JobFuture:
    """A job accepted and started by worker ``worker_id``."""
    entry = JobFuture(Job(job_id), ledger, contextvars.copy_context())
    with ledger.lock:
        ledger.admit(entry)
        assert ledger.start(worker_id, entry) is entry
    return entry


def end(ledger: Ledger, entry: JobFuture, status: Status, result: object = None,
        error: BaseException | None = None, after: float = 1.0) -> None:
    assert entry.started_at is not None
    with ledger.lock:
        notify = ledger.record_end(entry, status, result, error, entry.started_at + after)
    if notify is not None:
        notify()


def test_record_end_makes_the_outcome_record_would_have_made() -> None:
    ledger = Ledger(keep=10, trace=Trace())
    entry = running(ledger)
    assert entry.started_at is not None
    end(ledger, entry, Status.SUCCEEDED, 42)
    assert entry.outcome == Outcome("a", 1, Status.SUCCEEDED, 42, None, entry.queued_at,
                                    entry.started_at, entry.started_at + 1.0)


def test_record_end_makes_the_outcome_only_when_read_and_only_once() -> None:
    ledger = Ledger(keep=10, trace=Trace())
    entry = running(ledger)
    end(ledger, entry, Status.SUCCEEDED, 42)
    assert entry._outcome is None
    first = entry.outcome
    assert first is not None and entry.outcome is first
    assert ledger.outcomes == [first]


def test_record_end_resolves_the_future_and_counts_the_job() -> None:
    ledger = Ledger(keep=10, trace=Trace())
    entry = running(ledger)
    end(ledger, entry, Status.SUCCEEDED, "done")
    assert entry.result(timeout=0) == "done"
    assert ledger.stats.succeeded == 1 and ledger.stats.running == 0
    assert entry.job is None and entry.context is None  # the line pins no payload


def test_record_end_of_a_failed_job_keeps_it_in_errors_with_its_error() -> None:
    ledger = Ledger(keep=10, trace=Trace())
    entry = running(ledger)
    boom = ValueError("boom")
    end(ledger, entry, Status.FAILED, None, boom)
    [failed] = ledger.errors
    assert failed.status is Status.FAILED and failed.error is boom and failed.result is None
    assert entry.exception(timeout=0) is boom


def test_record_end_without_keeping_results_makes_the_outcome_at_once_without_the_result() -> None:
    ledger = Ledger(keep=10, trace=Trace(), keep_results=False)
    entry = running(ledger)
    end(ledger, entry, Status.SUCCEEDED, b"x" * 1000)
    assert entry._outcome is not None and entry._outcome.result is None
    assert ledger.outcomes[0].result is None
    assert entry.result(timeout=0) == b"x" * 1000  # the future still has it


def test_record_end_after_shutdown_abandoned_the_job_is_traced_late_and_changes_nothing() -> None:
    trace = Trace()
    ledger = Ledger(keep=10, trace=trace)
    entry = running(ledger)
    assert ledger.end_all(Status.RUNNING, Status.ABANDONED, "shutdown") == 1
    abandoned = entry.outcome
    end(ledger, entry, Status.SUCCEEDED, 42)
    assert entry.outcome is abandoned and entry.status is Status.ABANDONED
    assert ledger.stats.abandoned == 1 and ledger.stats.succeeded == 0
    assert [e.kind for e in trace.events()].count(ev.LATE) == 1


def test_a_line_ended_during_shutdown_is_reported_as_drained() -> None:
    ledger = Ledger(keep=10, trace=Trace())
    entry = running(ledger)
    with ledger.lock:
        ledger.close()
    end(ledger, entry, Status.SUCCEEDED, 42)
    with ledger.lock:
        report = ledger.finish(clean=True, elapsed=0.0)
    assert report.drained == (entry.outcome,)


def test_job_times_read_a_kept_line_without_making_its_outcome() -> None:
    ledger = Ledger(keep=10, trace=Trace())
    entry = running(ledger)
    end(ledger, entry, Status.SUCCEEDED, 42)
    [times] = ledger.job_times()
    assert times == ("a", 1, Status.SUCCEEDED, entry.queued_at, entry.started_at,
                     entry.finished_at)
    assert entry._outcome is None


def test_kept_lines_and_kept_outcomes_mix_in_order() -> None:
    ledger = Ledger(keep=10, trace=Trace())
    lazy, eager = running(ledger, "lazy"), running(ledger, "eager", worker_id=2)
    end(ledger, lazy, Status.SUCCEEDED, 1)
    assert eager.started_at is not None
    ledger.end(eager, Status.SUCCEEDED, 2, None, eager.started_at, eager.started_at + 1)
    assert [(o.job_id, o.result) for o in ledger.outcomes] == [("lazy", 1), ("eager", 2)]
