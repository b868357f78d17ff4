"""Contract of stage 3: start_workers(num_workers, process, *, buffer, record, daemon)."""

from __future__ import annotations

import threading
import types
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import pool.dispatcher
from pool import Channel, Job, Outcome, Status, WaitGroup, shutdown, start_workers


class Started:
    """What one start_workers() call returned, plus the threads it started."""

    def __init__(self, jobs: Channel[Job], wg: WaitGroup, threads: list[threading.Thread]):
        self.jobs = jobs
        self.wg = wg
        self.threads = threads


@pytest.fixture
def start(release: threading.Event) -> Iterator[Callable[..., Started]]:
    """Call start_workers(); at teardown release blocked jobs, shut down and join every thread."""
    started: list[Started] = []

    def call(*args: Any, **kwargs: Any) -> Started:
        before = set(threading.enumerate())
        jobs, wg = start_workers(*args, **kwargs)
        threads = [t for t in threading.enumerate() if t not in before]
        started.append(Started(jobs, wg, threads))
        return started[-1]

    yield call
    release.set()
    for s in started:
        assert shutdown(s.jobs, s.wg, timeout=5), "workers did not finish at teardown"
        for t in s.threads:
            t.join(5)
            assert not t.is_alive()


def pool_worker_threads(s: Started) -> list[threading.Thread]:
    return [t for t in s.threads if t.name.startswith("pool-worker-")]


# -- what it returns --------------------------------------------------------------------


def test_returns_a_channel_and_a_waitgroup(start) -> None:
    s = start(2, lambda job: None)
    assert isinstance(s.jobs, Channel)
    assert isinstance(s.wg, WaitGroup)


def test_buffer_defaults_to_100(start) -> None:
    assert start(1, lambda job: None).jobs.capacity == 100


@pytest.mark.parametrize("buffer", [0, 1, 7])
def test_channel_capacity_is_the_buffer(start, buffer: int) -> None:
    assert start(1, lambda job: None, buffer=buffer).jobs.capacity == buffer


def test_waitgroup_counts_every_worker_on_return(start) -> None:
    assert start(3, lambda job: None).wg.count == 3


def test_returns_without_waiting_for_any_job(start) -> None:
    s = start(2, lambda job: None)
    assert s.jobs.closed is False
    assert len(s.jobs) == 0


# -- threads ---------------------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 3, 8])
def test_starts_num_workers_threads_named_pool_worker_n(start, n: int) -> None:
    s = start(n, lambda job: None)
    assert sorted(t.name for t in s.threads) == sorted(f"pool-worker-{i}" for i in range(1, n + 1))
    assert all(t.is_alive() for t in s.threads)


def test_threads_are_daemon_by_default(start) -> None:
    s = start(2, lambda job: None)
    assert [t.daemon for t in pool_worker_threads(s)] == [True, True]


def test_daemon_false_starts_non_daemon_threads(start) -> None:
    s = start(2, lambda job: None, daemon=False)
    assert [t.daemon for t in pool_worker_threads(s)] == [False, False]


@pytest.mark.timeout(10)
def test_worker_ids_run_from_1_to_num_workers(start) -> None:
    n = 4
    all_busy = threading.Barrier(n, timeout=5)  # each worker holds one job until all have one
    outcomes: list[Outcome] = []
    lock = threading.Lock()

    def record(outcome: Outcome) -> None:
        with lock:
            outcomes.append(outcome)

    def process(job: Job) -> str:
        all_busy.wait()
        return threading.current_thread().name

    s = start(n, process, record=record)
    for i in range(n):
        s.jobs.send(Job(f"j{i}"), timeout=5)
    assert shutdown(s.jobs, s.wg, timeout=5)
    assert sorted(o.worker_id for o in outcomes) == list(range(1, n + 1))
    assert all(o.result == f"pool-worker-{o.worker_id}" for o in outcomes)


def test_waitgroup_add_happens_before_each_thread_starts(
    start, monkeypatch: pytest.MonkeyPatch
) -> None:
    counts_at_start: list[int] = []

    class RecordingThread(threading.Thread):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.wg: WaitGroup = kwargs["args"][2]

        def start(self) -> None:
            counts_at_start.append(self.wg.count)
            super().start()

    monkeypatch.setattr(pool.dispatcher, "threading",
                        types.SimpleNamespace(Thread=RecordingThread))
    start(3, lambda job: None)
    # Workers cannot finish while the channel is open, so the count only grows.
    assert counts_at_start == [1, 2, 3]


def test_failure_to_start_a_thread_leaves_no_worker_running(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    started: list[threading.Thread] = []

    class FailingThread(threading.Thread):
        def start(self) -> None:
            if self.name == "pool-worker-3":
                raise RuntimeError("can't start new thread")
            started.append(self)
            super().start()

    monkeypatch.setattr(pool.dispatcher, "threading", types.SimpleNamespace(Thread=FailingThread))
    with pytest.raises(RuntimeError, match="can't start new thread"):
        start_workers(4, lambda job: None)
    for t in started:
        t.join(5)
    assert [t.name for t in started] == ["pool-worker-1", "pool-worker-2"]
    assert not [t.name for t in started if t.is_alive()], "started workers were left running"


# -- running jobs ---------------------------------------------------------------------------


@pytest.mark.timeout(20)
def test_workers_run_every_job_sent(start) -> None:
    outcomes: list[Outcome] = []
    lock = threading.Lock()

    def record(outcome: Outcome) -> None:
        with lock:
            outcomes.append(outcome)

    s = start(3, lambda job: job.payload * 2, record=record)
    for i in range(50):
        s.jobs.send(Job(f"j{i}", bytes([i])), timeout=5)
    assert shutdown(s.jobs, s.wg, timeout=5)
    assert sorted(o.job_id for o in outcomes) == sorted(f"j{i}" for i in range(50))
    assert all(o.status is Status.SUCCEEDED for o in outcomes)
    assert all(o.result == bytes([int(o.job_id[1:])]) * 2 for o in outcomes)


@pytest.mark.timeout(10)
def test_buffer_holds_that_many_jobs_while_every_worker_is_busy(start, release) -> None:
    busy = threading.Event()

    def process(job: Job) -> None:
        busy.set()
        assert release.wait(10)

    s = start(1, process, buffer=3)
    s.jobs.send(Job("in-flight"), timeout=5)
    assert busy.wait(5)  # the worker has taken it, the buffer is empty again
    assert [s.jobs.try_send(Job(f"q{i}")) for i in range(3)] == [True] * 3
    assert s.jobs.try_send(Job("one-too-many")) is False
    assert len(s.jobs) == 3


@pytest.mark.timeout(10)
def test_unbuffered_dispatcher_accepts_a_job_only_into_a_free_worker(start, release) -> None:
    busy = threading.Event()

    def process(job: Job) -> None:
        busy.set()
        assert release.wait(10)

    s = start(1, process, buffer=0)
    s.jobs.send(Job("in-flight"), timeout=5)
    assert busy.wait(5)
    with pytest.raises(TimeoutError):
        s.jobs.send(Job("waits"), timeout=0.05)


# -- bad input ----------------------------------------------------------------------------


def _no_new_threads(call: Callable[[], Any]) -> None:
    before = set(threading.enumerate())
    try:
        call()
    finally:
        assert not [t for t in threading.enumerate() if t not in before and t.is_alive()]


@pytest.mark.parametrize(
    ("num_workers", "error"),
    [
        pytest.param(0, ValueError, id="zero"),
        pytest.param(-1, ValueError, id="negative"),
        pytest.param("3", TypeError, id="str"),
        pytest.param(True, TypeError, id="bool"),
        pytest.param(2.0, TypeError, id="float"),
    ],
)
def test_bad_num_workers_is_rejected_naming_it(num_workers: object,
                                               error: type[Exception]) -> None:
    with pytest.raises(error, match="num_workers"):
        _no_new_threads(lambda: start_workers(num_workers, lambda job: None))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("buffer", "error"),
    [
        pytest.param(-1, ValueError, id="negative"),
        pytest.param("1", TypeError, id="str"),
        pytest.param(True, TypeError, id="bool"),
    ],
)
def test_bad_buffer_is_rejected_naming_it(buffer: object, error: type[Exception]) -> None:
    with pytest.raises(error, match="buffer"):
        _no_new_threads(lambda: start_workers(1, lambda job: None, buffer=buffer))  # type: ignore[arg-type]


@pytest.mark.parametrize("process", [None, "process", 3], ids=["none", "str", "int"])
def test_non_callable_process_is_rejected_naming_it(process: object) -> None:
    with pytest.raises(TypeError, match="process"):
        _no_new_threads(lambda: start_workers(1, process))  # type: ignore[arg-type]


def test_non_callable_record_is_rejected_naming_it() -> None:
    with pytest.raises(TypeError, match="record"):
        _no_new_threads(lambda: start_workers(1, lambda job: None, record=5))  # type: ignore[arg-type]


def test_non_bool_daemon_is_rejected_naming_it() -> None:
    with pytest.raises(TypeError, match="daemon"):
        _no_new_threads(lambda: start_workers(1, lambda job: None, daemon=1))  # type: ignore[arg-type]
