"""A cheap event log of a pool's life, and the spans a timeline draws.

Recording is one ``deque.append`` of a tuple, safe from any thread without a
lock, so tracing can stay on in production. The log is bounded: the oldest
events fall off once ``maxlen`` is reached.

A pool's trace does not log each job's queued/start/end: its ledger already
holds those times, so the trace reads them from the ledger when asked
(:meth:`Trace.follow`) and a job costs the trace nothing while it runs.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from operator import itemgetter
from typing import NamedTuple

from ._validate import check_int
from .job import Status

__all__ = ["Event", "Span", "Trace"]

# Event kinds.
WORKER_START = "worker_start"
WORKER_EXIT = "worker_exit"
QUEUED = "queued"
WITHDRAWN = "withdrawn"  # (kept for old traces) a job that left the queue unaccounted
START = "start"
END = "end"
LATE = "late"  # an abandoned job that came back after shutdown gave up on it
CANCEL = "cancel"  # the pool context was cancelled
SHUTDOWN_REQUESTED = "shutdown_requested"
SHUTDOWN_DEADLINE = "shutdown_deadline"
SHUTDOWN_DONE = "shutdown_done"


class Event(NamedTuple):
    """One thing that happened, ``t`` seconds after the trace began."""

    t: float
    kind: str
    worker_id: int | None = None
    job_id: str | None = None
    status: Status | None = None
    detail: float | None = None  # SHUTDOWN_REQUESTED: the planned deadline (trace time), if any


JobTimes = tuple[str, int | None, Status, float, float | None, float | None]
"""One job's line as a trace reads it: ``(job_id, worker_id, status, queued_at,
started_at, finished_at)``, times from ``time.monotonic()``, ``None`` where
the job has not got that far."""


@dataclass(frozen=True, slots=True)
class Span:
    """One job on one worker: from ``start`` to ``end`` (``None`` while running).

    ``status`` is ``RUNNING`` for a job still running, and ``ABANDONED``
    for one that shutdown gave up on; an abandoned job that later returned
    has an ``end`` (the moment it came back) and keeps status ``ABANDONED``.
    """

    worker_id: int
    job_id: str
    start: float
    end: float | None
    status: Status

    @property
    def open(self) -> bool:
        """True while the job is still running (a hung job stays open)."""
        return self.end is None


class Trace:
    """A bounded, thread-safe log of :class:`Event` s, timed from its creation.

    ``maxlen`` (default 100,000 events, about 30,000 jobs) bounds memory;
    0 turns recording off. Never blocks.
    """

    __slots__ = ("_events", "_jobs", "origin")

    def __init__(self, maxlen: int = 100_000) -> None:
        check_int(maxlen, "maxlen", minimum=0)
        self.origin = time.monotonic()
        """The ``time.monotonic()`` value that is t = 0."""
        self._events: deque[tuple[float, str, int | None, str | None, Status | None, float | None]]
        self._events = deque(maxlen=maxlen)
        self._jobs: Callable[[], Iterable[JobTimes]] | None = None

    def follow(self, jobs: Callable[[], Iterable[JobTimes]]) -> None:
        """Read each job's queued/start/end events from ``jobs()`` instead of the log.

        A pool calls this once with its ledger's reader, so that the times
        the ledger keeps anyway are not logged twice. Never blocks.
        """
        self._jobs = jobs

    def now(self) -> float:
        """Seconds since the trace began."""
        return time.monotonic() - self.origin

    def record(
        self,
        kind: str,
        worker_id: int | None = None,
        job_id: str | None = None,
        status: Status | None = None,
        *,
        at: float | None = None,
        detail: float | None = None,
    ) -> None:
        """Append an event; ``at`` is a ``time.monotonic()`` value (default: now)."""
        t = (time.monotonic() if at is None else at) - self.origin
        self._events.append((t, kind, worker_id, job_id, status, detail))

    def events(self) -> list[Event]:
        """A snapshot of the events.

        For a trace that follows a pool's ledger, in time order, the jobs'
        events included. For a plain trace, in the order they were
        recorded: threads take their timestamps a moment before they
        record, so neighbouring events from different threads may be a few
        microseconds out of time order; sort by ``t`` if that matters.
        """
        rows = list(self._events)
        if self._jobs is not None:
            origin = self.origin
            for job_id, worker_id, status, queued_at, started_at, finished_at in self._jobs():
                rows.append((queued_at - origin, QUEUED, None, job_id, None, None))
                if started_at is not None:
                    rows.append((started_at - origin, START, worker_id, job_id, None, None))
                if finished_at is not None:
                    rows.append((finished_at - origin, END, worker_id, job_id, status, None))
            rows.sort(key=itemgetter(0))  # stable: a job's start stays before its end
        return list(map(Event._make, rows))

    def __len__(self) -> int:
        return len(self.events()) if self._jobs is not None else len(self._events)

    def first(self, kind: str) -> Event | None:
        """The earliest event of ``kind`` still in the trace, or ``None``."""
        for e in self.events():
            if e.kind == kind:
                return e
        return None

    def spans(self) -> list[Span]:
        """Every job that started, as a :class:`Span`, in start order."""
        return spans_from_events(self.events())

    def queue_depth(self) -> list[tuple[float, int]]:
        """``(t, jobs waiting)`` after each change in the number of queued jobs."""
        waiting: set[str] = set()
        points: list[tuple[float, int]] = []
        for e in self.events():
            if e.job_id is None:
                continue
            if e.kind == QUEUED:
                waiting.add(e.job_id)
            elif e.kind in (START, END, WITHDRAWN) and e.job_id in waiting:
                waiting.discard(e.job_id)
            else:
                continue
            points.append((e.t, len(waiting)))
        return points

    def __repr__(self) -> str:
        return f"<Trace {len(self._events)} events>"


def spans_from_events(events: Iterable[Event]) -> list[Span]:
    """Pair START with END/LATE events into spans (see :class:`Span`)."""
    spans: list[Span] = []
    running: dict[str, int] = {}  # job id -> index in spans, while the span is open
    for e in events:
        if e.job_id is None:
            continue
        if e.kind == START and e.worker_id is not None:
            running[e.job_id] = len(spans)
            spans.append(Span(e.worker_id, e.job_id, e.t, None, Status.RUNNING))
        elif e.kind == END and e.job_id in running:
            i = running[e.job_id]
            s = spans[i]
            if e.status is Status.ABANDONED:  # still running: stays open until LATE
                spans[i] = Span(s.worker_id, s.job_id, s.start, None, Status.ABANDONED)
            else:
                spans[i] = Span(s.worker_id, s.job_id, s.start, e.t, e.status or s.status)
                del running[e.job_id]
        elif e.kind == LATE and e.job_id in running:
            i = running.pop(e.job_id)
            s = spans[i]
            spans[i] = Span(s.worker_id, s.job_id, s.start, e.t, Status.ABANDONED)
    return spans
