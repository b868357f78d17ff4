"""Contract of stage 4: shutdown(jobs, wg, timeout=None) -> bool, and the timeout tip."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator

import pytest
from poolhelpers import BAD_TIMEOUTS

from pool import Channel, ChannelClosed, Job, Outcome, WaitGroup, shutdown, start_workers

SHORT = 0.1
EARLIEST = 0.09
LATEST = 0.5



class Workers:
    """Workers started for one test, whose jobs block until ``release`` is set."""

    def __init__(self, num_workers: int, release: threading.Event, *, buffer: int = 100):
        self.release = release
        self.running = threading.Event()  # set when any job starts
        self.outcomes: list[Outcome] = []
        self._lock = threading.Lock()
        self.jobs, self.wg = start_workers(num_workers, self._process, buffer=buffer,
                                           record=self._record)

    def _process(self, job: Job) -> str:
        self.running.set()
        if job.id.startswith("hang"):
            assert self.release.wait(30), "a hung job was never released"
        return job.id

    def _record(self, outcome: Outcome) -> None:
        with self._lock:
            self.outcomes.append(outcome)

    def ids(self) -> list[str]:
        with self._lock:
            return sorted(o.job_id for o in self.outcomes)


@pytest.fixture
def workers(release: threading.Event) -> Iterator[list[Workers]]:
    """A list to add Workers to; at teardown their hung jobs are released and joined."""
    started: list[Workers] = []
    yield started
    release.set()
    for w in started:
        with contextlib.suppress(ChannelClosed):
            w.jobs.close()
        assert w.wg.wait(5), "workers still running at teardown"


def make(workers: list[Workers], release: threading.Event, n: int, **kwargs: int) -> Workers:
    w = Workers(n, release, **kwargs)
    workers.append(w)
    return w


# -- clean shutdown ---------------------------------------------------------------------


def test_shutdown_closes_the_channel(workers, release) -> None:
    w = make(workers, release, 2)
    assert shutdown(w.jobs, w.wg, timeout=5) is True
    assert w.jobs.closed is True


def test_shutdown_returns_true_when_every_worker_finished(workers, release) -> None:
    w = make(workers, release, 3)
    assert shutdown(w.jobs, w.wg, timeout=5) is True
    assert w.wg.count == 0


def test_shutdown_without_timeout_waits_for_every_worker(workers, release) -> None:
    w = make(workers, release, 3)
    assert shutdown(w.jobs, w.wg) is True
    assert w.wg.wait(0) is True


@pytest.mark.timeout(10)
def test_shutdown_lets_every_queued_job_finish_first(workers, release) -> None:
    w = make(workers, release, 2, buffer=20)
    for i in range(20):
        w.jobs.send(Job(f"j{i:02d}"), timeout=5)
    assert shutdown(w.jobs, w.wg, timeout=5) is True
    assert w.ids() == [f"j{i:02d}" for i in range(20)]


@pytest.mark.timeout(10)
def test_shutdown_waits_for_an_in_flight_job(workers, release, spawn) -> None:
    w = make(workers, release, 1)
    w.jobs.send(Job("hang"), timeout=5)
    assert w.running.wait(5)
    stopping = spawn(shutdown, w.jobs, w.wg, timeout=10)
    assert not stopping.finished.wait(0.05), "shutdown returned while a job was running"
    release.set()
    assert stopping.join(5) is True
    assert w.ids() == ["hang"]


def test_send_after_shutdown_raises_channel_closed(workers, release) -> None:
    w = make(workers, release, 1)
    assert shutdown(w.jobs, w.wg, timeout=5) is True
    with pytest.raises(ChannelClosed):
        w.jobs.send(Job("late"), timeout=0)


# -- the timeout tip ------------------------------------------------------------------------


@pytest.mark.timeout(10)
def test_shutdown_returns_false_at_the_timeout_when_a_worker_hangs(workers, release) -> None:
    w = make(workers, release, 2)
    w.jobs.send(Job("hang"), timeout=5)
    assert w.running.wait(5)
    start = time.monotonic()
    assert shutdown(w.jobs, w.wg, timeout=SHORT) is False
    assert EARLIEST <= time.monotonic() - start < LATEST
    assert w.wg.wait(0) is False  # the hung worker is still running


@pytest.mark.timeout(10)
def test_shutdown_zero_timeout_with_a_hung_worker_returns_false_at_once(workers, release) -> None:
    w = make(workers, release, 1)
    w.jobs.send(Job("hang"), timeout=5)
    assert w.running.wait(5)
    start = time.monotonic()
    assert shutdown(w.jobs, w.wg, timeout=0) is False
    assert time.monotonic() - start < LATEST


# -- calling it twice --------------------------------------------------------------------


def test_shutdown_twice_is_fine(workers, release) -> None:
    w = make(workers, release, 2)
    assert shutdown(w.jobs, w.wg, timeout=5) is True
    assert shutdown(w.jobs, w.wg, timeout=5) is True


@pytest.mark.timeout(10)
def test_shutdown_again_after_a_timeout_waits_again(workers, release) -> None:
    w = make(workers, release, 1)
    w.jobs.send(Job("hang"), timeout=5)
    assert w.running.wait(5)
    assert shutdown(w.jobs, w.wg, timeout=SHORT) is False
    release.set()
    assert shutdown(w.jobs, w.wg, timeout=5) is True
    assert w.ids() == ["hang"]


def test_shutdown_of_a_channel_someone_else_closed_just_waits(workers, release) -> None:
    w = make(workers, release, 2)
    w.jobs.close()
    assert shutdown(w.jobs, w.wg, timeout=5) is True


def test_shutdown_from_several_threads_at_once_all_return_true(workers, release, spawn) -> None:
    w = make(workers, release, 2)
    ready = threading.Barrier(3, timeout=5)

    def stop() -> bool:
        ready.wait()
        return shutdown(w.jobs, w.wg, timeout=5)

    callers = [spawn(stop) for _ in range(3)]
    assert [c.join(10) for c in callers] == [True] * 3


# -- bad input ----------------------------------------------------------------------------


@pytest.mark.parametrize(("timeout", "error"), BAD_TIMEOUTS)
def test_bad_timeout_is_rejected_naming_it_and_the_channel_stays_open(
    workers, release, timeout: object, error: type[Exception]
) -> None:
    w = make(workers, release, 1)
    with pytest.raises(error, match="timeout"):
        shutdown(w.jobs, w.wg, timeout=timeout)  # type: ignore[arg-type]
    assert w.jobs.closed is False


def test_jobs_that_is_not_a_channel_is_rejected_naming_it() -> None:
    with pytest.raises(TypeError, match="jobs"):
        shutdown([], WaitGroup(), timeout=1)  # type: ignore[arg-type]


def test_wg_that_is_not_a_waitgroup_is_rejected_naming_it() -> None:
    ch: Channel[Job] = Channel(1)
    with pytest.raises(TypeError, match="wg"):
        shutdown(ch, object(), timeout=1)  # type: ignore[arg-type]
    assert ch.closed is False
