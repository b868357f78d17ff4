"""pool.Executor, a drop-in for ThreadPoolExecutor (DESIGN.md, "Results: futures and the Executor").

CPython's own tests of ``ThreadPoolExecutor`` are the reference: the tests
marked ``[CPython: ...]`` port one of them (Lib/test/test_concurrent_futures/,
3.13) to ``pool.Executor``, written again rather than imported. Where the
Executor differs on purpose (workers start at construction, a bounded
buffer, an initializer failure breaks it at once), a test says so and names
the CPython test it departs from. The rest is what the Executor adds:
``shutdown(timeout=, grace=)``, ``current_job_context()``, ``.pool``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures as cf
import contextvars
import gc
import itertools
import logging
import math
import os
import re
import subprocess
import sys
import textwrap
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from concurrent.futures.thread import BrokenThreadPool
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, os.path.dirname(__file__))

from poolhelpers import BAD_TIMEOUTS, eventually, join_all, parked_submits

from pool import Abandoned, Canceled, Executor, JobFuture, Status, current_job_context

pytestmark = pytest.mark.timeout(30)

SLACK = 0.25  # a time bound may overrun by this much on a busy 2-core machine
BOUND = 10.0  # the longest any helper call blocks
ROOT = Path(__file__).resolve().parents[1]

MakeExecutor = Callable[..., Executor]


@pytest.fixture
def make_executor(release: threading.Event) -> Iterator[MakeExecutor]:
    """``make_executor(*args, **kwargs)``; each is shut down (bounded) and joined at teardown."""
    made: list[Executor] = []

    def make(*args: Any, **kwargs: Any) -> Executor:
        executor = Executor(*args, **kwargs)
        made.append(executor)
        return executor

    yield make
    release.set()
    for executor in made:
        executor.shutdown(timeout=5, grace=0.5)
    alive = join_all([t for e in made for t in e.pool.threads()], timeout=5)
    assert not alive, f"worker threads still alive at teardown: {alive}"


class Held:
    """A call that blocks until ``release`` is set (bounded), ignoring its context.

    ``started`` is set when the call begins. Returns its argument.
    """

    def __init__(self, release: threading.Event) -> None:
        self.release = release
        self.started = threading.Event()

    def __call__(self, value: Any = None) -> Any:
        self.started.set()
        self.release.wait(BOUND)
        return value


def mul(x: int, y: int) -> int:
    return x * y


def capture(*args: Any, **kwargs: Any) -> tuple[tuple[Any, ...], dict[str, Any]]:
    return args, kwargs


def sleep_and_raise(event: threading.Event) -> None:
    event.wait(BOUND)
    raise Exception("this is an exception")


def done_future(result: Any = 42) -> cf.Future[Any]:
    f: cf.Future[Any] = cf.Future()
    f.set_result(result)
    return f


def failed_future() -> cf.Future[Any]:
    f: cf.Future[Any] = cf.Future()
    f.set_exception(OSError())
    return f


def cancelled_future(notified: bool) -> cf.Future[Any]:
    """A cancelled plain Future: CANCELLED, or CANCELLED_AND_NOTIFIED once an executor saw it."""
    f: cf.Future[Any] = cf.Future()
    f.cancel()
    if notified:
        f.set_running_or_notify_cancel()
    return f


def held_executor(make_executor: MakeExecutor, release: threading.Event,
                  workers: int = 1, **kwargs: Any) -> tuple[Executor, list[JobFuture]]:
    """An executor whose every worker runs a Held call; returns it and their futures."""
    executor = make_executor(workers, **kwargs)
    held = [Held(release) for _ in range(workers)]
    futures = [executor.submit(h, i) for i, h in enumerate(held)]
    for h in held:
        assert h.started.wait(5)
    return executor, futures


# -- construction ----------------------------------------------------------------


def test_max_workers_defaults_to_cpu_count_plus_four_at_most_32(
    make_executor: MakeExecutor,
) -> None:
    # [CPython: test_thread_pool.test_default_workers]
    cpu_count = getattr(os, "process_cpu_count", os.cpu_count)
    executor = make_executor()
    assert executor.pool.workers == min(32, (cpu_count() or 1) + 4)


def test_max_workers_is_the_number_of_worker_threads(make_executor: MakeExecutor) -> None:
    executor = make_executor(3)
    assert executor.pool.workers == 3
    assert len(executor.pool.threads()) == 3


def test_workers_start_at_construction_before_any_call(make_executor: MakeExecutor) -> None:
    # Departs from [CPython: test_thread_pool.test_idle_thread_reuse] (one thread
    # for calls made one at a time) and test_saturation (threads made per
    # submit): every worker starts now, as the Go dispatcher's workers do.
    executor = make_executor(4)
    assert len(executor.pool.threads()) == 4
    assert all(t.is_alive() for t in executor.pool.threads())


def test_one_call_at_a_time_still_uses_every_worker_thread(make_executor: MakeExecutor) -> None:
    # Departs from [CPython: test_thread_pool.test_idle_thread_reuse]: the pool
    # does not grow, so the thread count stays max_workers whatever is submitted.
    executor = make_executor(3)
    for x in (21, 6, 3):
        assert executor.submit(mul, x, 2).result(timeout=5) == 2 * x
    assert len(executor.pool.threads()) == 3


def test_worker_threads_are_daemon_threads(make_executor: MakeExecutor) -> None:
    # Departs from ThreadPoolExecutor (non-daemon workers joined at exit): an
    # abandoned call must not keep the interpreter alive (DESIGN.md, WorkerPool).
    executor = make_executor(2)
    assert all(t.daemon for t in executor.pool.threads())


def test_thread_names_are_the_prefix_and_a_zero_based_index(make_executor: MakeExecutor) -> None:
    # [CPython: test_shutdown.test_thread_names_assigned]
    executor = make_executor(5, thread_name_prefix="SpecialPool")
    names = [t.name for t in executor.pool.threads()]
    assert names == [f"SpecialPool_{i}" for i in range(5)]


def test_default_thread_names_are_unique_to_each_executor(make_executor: MakeExecutor) -> None:
    # [CPython: test_shutdown.test_thread_names_default], with this class's name
    first, second = make_executor(2), make_executor(2)
    names = [t.name for e in (first, second) for t in e.pool.threads()]
    assert all(re.fullmatch(r"pool\.Executor-\d+_[01]", name) for name in names), names
    assert len(set(names)) == 4


# -- initializer -----------------------------------------------------------------


class Init:
    """An initializer that marks its thread initialized with its argument."""

    def __init__(self) -> None:
        self.local = threading.local()
        self.threads: set[str] = set()
        self._lock = threading.Lock()

    def __call__(self, status: str) -> None:
        self.local.status = status
        with self._lock:
            self.threads.add(threading.current_thread().name)

    def status(self) -> str:
        return getattr(self.local, "status", "uninitialized")


def test_initializer_runs_in_each_worker_before_any_call(make_executor: MakeExecutor) -> None:
    # [CPython: test_init.InitializerMixin.test_initializer]
    init = Init()
    executor = make_executor(2, initializer=init, initargs=("initialized",))
    futures = [executor.submit(init.status) for _ in range(20)]
    assert [f.result(timeout=5) for f in futures] == ["initialized"] * 20
    assert eventually(lambda: init.threads == {t.name for t in executor.pool.threads()})


def test_initializer_runs_at_construction_without_any_submit(
    make_executor: MakeExecutor,
) -> None:
    # Departs from ThreadPoolExecutor, whose initializer runs when a submit
    # starts a thread: here the workers, and so the initializer, start now.
    ran = threading.Barrier(3)
    make_executor(2, initializer=ran.wait, initargs=(5,))
    ran.wait(5)  # both workers ran it, and nothing was submitted


def init_fail(gate: threading.Event | None = None) -> None:
    if gate is not None:
        gate.wait(BOUND)
    raise ValueError("error in initializer")


def test_failing_initializer_breaks_the_executor_at_once(
    make_executor: MakeExecutor, caplog: pytest.LogCaptureFixture
) -> None:
    # Departs from [CPython: test_init.FailingInitializerMixin.test_initializer],
    # where the executor breaks once a submit has started a worker: here no
    # submit is needed, the executor is broken as soon as a worker starts.
    caplog.set_level(logging.ERROR, logger="pool")
    executor = make_executor(2, initializer=init_fail)
    assert eventually(lambda: executor.pool.closed)
    with pytest.raises(BrokenThreadPool):
        executor.submit(int)
    assert any("initializer failed" in r.getMessage() and "error in initializer" in r.getMessage()
               for r in caplog.records)


def test_call_submitted_before_the_initializer_fails_raises_broken_thread_pool(
    make_executor: MakeExecutor, release: threading.Event
) -> None:
    # [CPython: test_init.FailingInitializerMixin.test_initializer]
    executor = make_executor(2, initializer=init_fail, initargs=(release,))
    future = executor.submit(int)
    release.set()
    assert isinstance(future.exception(timeout=5), BrokenThreadPool)
    with pytest.raises(BrokenThreadPool):
        executor.submit(int)


def test_submit_blocked_on_a_full_buffer_raises_broken_thread_pool_if_the_initializer_fails(
    make_executor: MakeExecutor, release: threading.Event, spawn: Callable[..., Any]
) -> None:
    # A broken executor says so to every submit, also one that was waiting
    # for room when it broke (not a PoolClosed "shutting down").
    executor = make_executor(1, initializer=init_fail, initargs=(release,), buffer=0)
    blocked = spawn(executor.submit, int)
    assert eventually(lambda: parked_submits(executor.pool) == 1)
    release.set()
    with pytest.raises(BrokenThreadPool):
        blocked.join()


# -- submit ------------------------------------------------------------------------


def test_submit_returns_a_job_future_with_the_calls_result(make_executor: MakeExecutor) -> None:
    # [CPython: executor.ExecutorTest.test_submit]
    future = make_executor(2).submit(pow, 2, 8)
    assert isinstance(future, JobFuture)
    assert future.result(timeout=5) == 256


def test_submit_passes_positional_and_keyword_arguments(make_executor: MakeExecutor) -> None:
    # [CPython: executor.ExecutorTest.test_submit_keyword]
    assert make_executor(2).submit(mul, 2, y=8).result(timeout=5) == 16


def test_submit_passes_keywords_named_self_and_fn_to_the_call(
    make_executor: MakeExecutor,
) -> None:
    # [CPython: executor.ExecutorTest.test_submit_keyword]
    future = make_executor(2).submit(capture, 1, self=2, fn=3)
    assert future.result(timeout=5) == ((1,), {"self": 2, "fn": 3})


def test_submit_takes_fn_positionally_only(make_executor: MakeExecutor) -> None:
    # [CPython: executor.ExecutorTest.test_submit_keyword]
    executor = make_executor(2)
    with pytest.raises(TypeError):
        executor.submit(fn=capture, arg=1)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        executor.submit(arg=1)  # type: ignore[call-arg]


class MyObject:
    def my_method(self) -> None:
        pass


def test_executor_keeps_no_reference_to_a_call_once_it_has_run(
    make_executor: MakeExecutor,
) -> None:
    # [CPython: executor.ExecutorTest.test_no_stale_references]
    executor = make_executor(2)
    my_object = MyObject()
    collected = threading.Event()
    ref = weakref.ref(my_object, lambda r: collected.set())
    executor.submit(my_object.my_method)  # the future is discarded
    del my_object
    assert collected.wait(5), "stale reference not collected"
    assert ref() is None


# -- map ---------------------------------------------------------------------------


def test_map_returns_the_results_in_argument_order(make_executor: MakeExecutor) -> None:
    # [CPython: executor.ExecutorTest.test_map]
    executor = make_executor(5)
    expected = list(map(pow, range(10), range(10)))
    assert list(executor.map(pow, range(10), range(10))) == expected
    assert list(executor.map(pow, range(10), range(10), chunksize=3)) == expected


def test_map_yields_in_argument_order_when_calls_finish_out_of_order(
    make_executor: MakeExecutor,
) -> None:
    executor = make_executor(2)
    second_done = threading.Event()

    def call(i: int) -> int:
        if i == 0:
            assert second_done.wait(BOUND)  # the first call ends last
        else:
            second_done.set()
        return i

    assert list(executor.map(call, [0, 1], timeout=5)) == [0, 1]


def test_map_reraises_a_calls_exception_at_its_position(make_executor: MakeExecutor) -> None:
    # [CPython: executor.ExecutorTest.test_map_exception]
    results = make_executor(5).map(divmod, [1, 1, 1, 1], [2, 3, 0, 5])
    assert next(results) == (0, 1)
    assert next(results) == (0, 1)
    with pytest.raises(ZeroDivisionError):
        next(results)


def test_map_raises_timeout_error_when_the_results_are_late(
    make_executor: MakeExecutor, release: threading.Event
) -> None:
    # [CPython: executor.ExecutorTest.test_map_timeout], with an Event, not a 6 s sleep
    held = Held(release)
    executor = make_executor(5)
    results: list[Any] = []
    start = time.monotonic()
    with pytest.raises(TimeoutError):
        for r in executor.map(lambda x: held(x) if x == "held" else x, [0, 0, "held"],
                              timeout=0.2):
            results.append(r)
    assert 0.2 <= time.monotonic() - start < 0.2 + SLACK
    assert results == [0, 0]


def test_map_timeout_cancels_the_calls_not_yet_started(make_executor: MakeExecutor) -> None:
    # [CPython: test_thread_pool.test_executor_map_current_future_cancel]
    stop = threading.Event()
    log: list[str] = []

    def log_n_wait(ident: str) -> None:
        log.append(f"{ident=} started")
        try:
            stop.wait(BOUND)
        finally:
            log.append(f"{ident=} stopped")

    executor = make_executor(1)
    first = executor.submit(log_n_wait, ident="first")
    try:
        results = executor.map(log_n_wait, ["second", "third"], timeout=0)
        with pytest.raises(TimeoutError):
            next(results)
    finally:
        stop.set()
    first.result(timeout=5)
    executor.shutdown(timeout=5)
    # 'second' was cancelled by the timeout, 'third' because it was never reached
    assert log == ["ident='first' started", "ident='first' stopped"]


def test_leaving_map_early_cancels_the_calls_not_yet_started(
    make_executor: MakeExecutor, release: threading.Event
) -> None:
    executor = make_executor(1)
    held = Held(release)
    ran: list[int] = []

    def call(i: int) -> int:
        ran.append(i)
        if i == 1:
            held()
        return i

    results = executor.map(call, range(5))
    assert next(results) == 0
    results.close()  # calls 2, 3, 4 (and 1, unless it started) are cancelled
    release.set()
    executor.shutdown(timeout=5)
    assert ran in ([0], [0, 1])
    assert executor.pool.stats.canceled == 5 - len(ran)


def test_map_submits_every_call_before_iteration(make_executor: MakeExecutor) -> None:
    # [CPython: test_thread_pool.test_map_submits_without_iteration]
    finished: list[int] = []
    executor = make_executor(5)
    executor.map(finished.append, range(10))
    executor.shutdown(wait=True)
    assert sorted(finished) == list(range(10))


class Dummy:
    pass


def make_dummy(_: int) -> Dummy:
    return Dummy()


def test_map_keeps_no_reference_to_a_result_once_yielded(make_executor: MakeExecutor) -> None:
    # [CPython: executor.ExecutorTest.test_free_reference]
    executor = make_executor(5)
    for obj in executor.map(make_dummy, range(10)):
        ref = weakref.ref(obj)
        del obj
        gc.collect()
        assert ref() is None, "a result is still referenced after map yielded it"


def test_map_timeout_also_bounds_waiting_for_room_in_the_buffer(
    make_executor: MakeExecutor, release: threading.Event, spawn: Callable[..., Any]
) -> None:
    # ThreadPoolExecutor.map never blocks before it returns the iterator, so
    # its timeout bounds the whole call. With a bounded buffer, map must not
    # wait for room longer than its timeout either.
    executor, _ = held_executor(make_executor, release, buffer=1)
    start = time.monotonic()
    mapping = spawn(lambda: list(executor.map(str, range(5), timeout=0.2)))
    with pytest.raises(TimeoutError):
        mapping.join(timeout=0.2 + SLACK + 1.0)
    assert time.monotonic() - start < 0.2 + SLACK + 1.0


# -- wait and as_completed on the executor's futures (test_wait.py, test_as_completed.py)


def test_wait_on_a_future_given_twice_returns_it_once(
    make_executor: MakeExecutor, release: threading.Event
) -> None:
    # [CPython: test_wait.test_20369]
    executor = make_executor(2)
    future = executor.submit(Held(release))
    release.set()
    done, not_done = cf.wait([future, future], timeout=5, return_when=cf.ALL_COMPLETED)
    assert done == {future}
    assert not_done == set()


def test_wait_first_completed_ignores_a_cancelled_but_unnotified_future(
    make_executor: MakeExecutor, release: threading.Event
) -> None:
    # [CPython: test_wait.test_first_completed]
    executor = make_executor(2)
    cancelled = cancelled_future(notified=False)
    future1 = executor.submit(mul, 21, 2)
    future2 = executor.submit(Held(release))
    done, not_done = cf.wait([cancelled, future1, future2], timeout=5,
                             return_when=cf.FIRST_COMPLETED)
    assert done == {future1}
    assert not_done == {cancelled, future2}


def test_wait_first_completed_returns_the_futures_already_done(
    make_executor: MakeExecutor, release: threading.Event
) -> None:
    # [CPython: test_wait.test_first_completed_some_already_completed]
    executor = make_executor(2)
    cancelled, succeeded = cancelled_future(notified=True), done_future()
    future1 = executor.submit(Held(release))
    done, not_done = cf.wait([cancelled, succeeded, future1], timeout=5,
                             return_when=cf.FIRST_COMPLETED)
    assert done == {cancelled, succeeded}
    assert not_done == {future1}


def test_wait_first_exception_returns_at_the_first_failed_call(
    make_executor: MakeExecutor, release: threading.Event, spawn: Callable[..., Any]
) -> None:
    # [CPython: test_wait.test_first_exception], with Events instead of 1.5 s and 3 s sleeps
    executor = make_executor(3)
    fail = threading.Event()
    future1 = executor.submit(mul, 2, 21)
    future2 = executor.submit(sleep_and_raise, fail)
    future3 = executor.submit(Held(release))
    future1.result(timeout=5)
    waiting = spawn(cf.wait, [future1, future2, future3], timeout=5,
                    return_when=cf.FIRST_EXCEPTION)
    assert not waiting.finished.wait(0.05)
    fail.set()
    done, not_done = waiting.join()
    assert done == {future1, future2}
    assert not_done == {future3}


def test_wait_first_exception_with_some_futures_already_complete(
    make_executor: MakeExecutor, release: threading.Event
) -> None:
    # [CPython: test_wait.test_first_exception_some_already_complete]
    executor = make_executor(2)
    succeeded = done_future()
    cancelled, notified = cancelled_future(notified=False), cancelled_future(notified=True)
    future1 = executor.submit(divmod, 21, 0)
    future2 = executor.submit(Held(release))
    done, not_done = cf.wait([succeeded, cancelled, notified, future1, future2], timeout=5,
                             return_when=cf.FIRST_EXCEPTION)
    assert done == {succeeded, notified, future1}
    assert not_done == {cancelled, future2}


def test_wait_first_exception_with_one_future_already_failed(
    make_executor: MakeExecutor, release: threading.Event
) -> None:
    # [CPython: test_wait.test_first_exception_one_already_failed]
    executor = make_executor(2)
    failed = failed_future()
    future1 = executor.submit(Held(release))
    done, not_done = cf.wait([failed, future1], timeout=5, return_when=cf.FIRST_EXCEPTION)
    assert done == {failed}
    assert not_done == {future1}


def test_wait_all_completed_returns_every_future(make_executor: MakeExecutor) -> None:
    # [CPython: test_wait.test_all_completed]
    executor = make_executor(2)
    others = [done_future(), cancelled_future(notified=True), failed_future()]
    future1 = executor.submit(divmod, 2, 0)
    future2 = executor.submit(mul, 2, 21)
    done, not_done = cf.wait([*others, future1, future2], timeout=5,
                             return_when=cf.ALL_COMPLETED)
    assert done == {*others, future1, future2}
    assert not_done == set()


def test_wait_timeout_leaves_the_running_call_not_done(
    make_executor: MakeExecutor, release: threading.Event
) -> None:
    # [CPython: test_wait.test_timeout]
    executor = make_executor(2)
    others = [cancelled_future(notified=True), failed_future(), done_future()]
    future = executor.submit(Held(release))
    start = time.monotonic()
    done, not_done = cf.wait([*others, future], timeout=0.05, return_when=cf.ALL_COMPLETED)
    assert 0.05 <= time.monotonic() - start < 0.05 + SLACK
    assert done == set(others)
    assert not_done == {future}


def test_wait_all_completed_when_many_calls_end_at_once(make_executor: MakeExecutor) -> None:
    # [CPython: test_wait.ThreadPoolWaitTests.test_pending_calls_race]
    executor = make_executor(5, buffer=None)
    event = threading.Event()
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        fs = {executor.submit(event.wait, BOUND) for _ in range(100)}
        event.set()
        done, not_done = cf.wait(fs, timeout=10, return_when=cf.ALL_COMPLETED)
    finally:
        sys.setswitchinterval(old)
    assert done == fs
    assert not_done == set()


def test_as_completed_yields_every_future(make_executor: MakeExecutor) -> None:
    # [CPython: test_as_completed.test_no_timeout]
    executor = make_executor(2)
    others = {cancelled_future(notified=True), failed_future(), done_future()}
    future1, future2 = executor.submit(mul, 2, 21), executor.submit(mul, 7, 6)
    completed = set(cf.as_completed([*others, future1, future2], timeout=5))
    assert completed == {*others, future1, future2}


@pytest.mark.parametrize("timeout", [0, 0.1])
def test_as_completed_timeout_leaves_the_running_call_out(
    make_executor: MakeExecutor, release: threading.Event, timeout: float
) -> None:
    # [CPython: test_as_completed.test_future_times_out]
    executor = make_executor(2)
    already = {cancelled_future(notified=True), failed_future(), done_future()}
    future = executor.submit(Held(release))
    completed = set()
    with pytest.raises(TimeoutError):
        for f in cf.as_completed(already | {future}, timeout):
            completed.add(f)
    assert completed == already


def test_as_completed_yields_a_future_given_three_times_once(
    make_executor: MakeExecutor, release: threading.Event
) -> None:
    # [CPython: test_as_completed.test_duplicate_futures]
    executor = make_executor(2)
    future = executor.submit(Held(release))
    release.set()
    assert list(cf.as_completed(itertools.repeat(future, 3), timeout=5)) == [future]


def test_as_completed_keeps_no_reference_to_a_yielded_future(make_executor: MakeExecutor) -> None:
    # [CPython: test_as_completed.test_free_reference_yielded_future], on the
    # executor's futures. A worker lets go of a job's future just after
    # resolving it, so the reference goes within moments, not at once.
    executor = make_executor(2)
    fs = [executor.submit(mul, i, 2) for i in range(8)]
    for future in cf.as_completed(fs, timeout=5):
        fs.remove(future)
        ref = weakref.ref(future)
        del future
        assert eventually(lambda ref=ref: gc.collect() >= 0 and ref() is None, timeout=2)


def test_as_completed_timeout_message_counts_the_unfinished(
    make_executor: MakeExecutor, release: threading.Event
) -> None:
    # [CPython: test_as_completed.test_correct_timeout_exception_msg]
    executor, running = held_executor(make_executor, release)
    queued = executor.submit(int)
    fs = [cancelled_future(notified=True), queued, running[0], done_future()]
    with pytest.raises(TimeoutError) as raised:
        list(cf.as_completed(fs, timeout=0))
    assert str(raised.value) == "2 (of 4) futures unfinished"


# -- shutdown ----------------------------------------------------------------------


def test_submit_after_shutdown_raises_runtime_error(make_executor: MakeExecutor) -> None:
    # [CPython: test_shutdown.test_run_after_shutdown]
    executor = make_executor(2)
    executor.shutdown()
    with pytest.raises(RuntimeError):
        executor.submit(pow, 2, 5)


def test_map_after_shutdown_raises_runtime_error(make_executor: MakeExecutor) -> None:
    executor = make_executor(2)
    executor.shutdown()
    with pytest.raises(RuntimeError):
        executor.map(abs, [1])


def test_with_block_waits_for_the_calls_and_ends_the_threads(make_executor: MakeExecutor) -> None:
    # [CPython: test_shutdown.ThreadPoolShutdownTest.test_context_manager_shutdown]
    with make_executor(5) as executor:
        assert list(executor.map(abs, range(-5, 5), timeout=5)) == [5, 4, 3, 2, 1, 0, 1, 2, 3, 4]
    assert join_all(executor.pool.threads(), timeout=5) == []
    assert executor.pool.report is not None and executor.pool.report.clean


def test_shutdown_waits_for_every_submitted_call(make_executor: MakeExecutor) -> None:
    # [CPython: test_shutdown.test_hang_issue12364], with 10 ms calls
    executor = make_executor(5)
    fs = [executor.submit(time.sleep, 0.01) for _ in range(50)]
    executor.shutdown()
    assert all(f.done() for f in fs)
    for f in fs:
        assert f.result(timeout=0) is None


def test_shutdown_right_after_map_with_more_calls_than_workers(
    make_executor: MakeExecutor,
) -> None:
    # [CPython: executor.ExecutorTest.test_shutdown_race_issue12456]
    executor = make_executor(5)
    results = executor.map(str, [2] * 6)
    executor.shutdown()
    assert list(results) == ["2"] * 6


def test_threads_exit_after_shutdown(make_executor: MakeExecutor) -> None:
    # [CPython: test_shutdown.ThreadPoolShutdownTest.test_threads_terminate]
    executor = make_executor(3)
    sem = threading.Semaphore(0)
    for _ in range(3):
        executor.submit(sem.acquire, timeout=BOUND)
    assert len(executor.pool.threads()) == 3
    for _ in range(3):
        sem.release()
    executor.shutdown()
    assert join_all(executor.pool.threads(), timeout=5) == []


def test_shutdown_cancel_futures_cancels_the_calls_not_started(
    make_executor: MakeExecutor, release: threading.Event, spawn: Callable[..., Any]
) -> None:
    # [CPython: test_shutdown.test_cancel_futures]. CPython counts on its workers
    # having started some calls by the time shutdown() runs; here a call handed
    # to a worker that has not yet woken is still cancellable, so the test
    # makes sure the first calls run before it shuts down.
    executor, running = held_executor(make_executor, release, workers=3)
    queued = [executor.submit(time.sleep, 0.01) for _ in range(20)]
    shutting = spawn(executor.shutdown, cancel_futures=True)
    assert eventually(lambda: all(f.cancelled() for f in queued))
    release.set()
    shutting.join()
    assert [f.result(timeout=0) for f in running] == [0, 1, 2]
    assert executor.pool.stats.canceled == 20


def test_shutdown_after_a_cancelled_submit_returns(make_executor: MakeExecutor) -> None:
    # [CPython: test_shutdown.test_hang_gh94440]
    executor = make_executor(1)
    executor.submit(int).result(timeout=5)
    executor.submit(int).cancel()
    executor.shutdown(wait=True, timeout=5)
    assert executor.pool.report is not None and executor.pool.report.clean


def test_shutdown_without_wait_returns_at_once_and_the_calls_still_run(
    make_executor: MakeExecutor, release: threading.Event
) -> None:
    # [CPython: test_shutdown.ThreadPoolShutdownTest.test_shutdown_no_wait]
    executor, running = held_executor(make_executor, release, workers=2)
    results = executor.map(abs, range(-5, 5))
    start = time.monotonic()
    executor.shutdown(wait=False)
    assert time.monotonic() - start < SLACK
    assert not running[0].done()
    with pytest.raises(RuntimeError):
        executor.submit(int)
    release.set()
    assert list(results) == [5, 4, 3, 2, 1, 0, 1, 2, 3, 4]
    assert [f.result(timeout=5) for f in running] == [0, 1]
    assert join_all(executor.pool.threads(), timeout=5) == []


def test_shutdown_without_wait_with_cancel_futures_cancels_the_queued_calls(
    make_executor: MakeExecutor, release: threading.Event
) -> None:
    # [CPython: test_shutdown.ThreadPoolShutdownTest.test_cancel_futures_wait_false]
    executor, running = held_executor(make_executor, release)
    queued = [executor.submit(int) for _ in range(3)]
    executor.shutdown(wait=False, cancel_futures=True)
    assert all(f.cancelled() for f in queued)
    assert not running[0].done()
    release.set()
    assert running[0].result(timeout=5) == 0


def test_shutdown_twice_is_harmless(make_executor: MakeExecutor) -> None:
    executor = make_executor(2)
    executor.submit(int)
    executor.shutdown()
    executor.shutdown()
    executor.shutdown(wait=False)
    assert executor.pool.report is not None and executor.pool.report.stats.succeeded == 1


def test_dropped_executor_finishes_its_calls_and_its_threads_exit() -> None:
    # [CPython: test_shutdown.ThreadPoolShutdownTest.test_del_shutdown]
    executor = Executor(max_workers=5)
    results = executor.map(abs, range(-5, 5))
    threads = executor.pool.threads()
    del executor
    gc.collect()
    assert join_all(threads, timeout=5) == []
    assert list(results) == [5, 4, 3, 2, 1, 0, 1, 2, 3, 4]


def test_shutdown_timeout_returns_within_timeout_plus_grace_with_a_hung_call(
    make_executor: MakeExecutor, release: threading.Event
) -> None:
    executor, _ = held_executor(make_executor, release)
    start = time.monotonic()
    executor.shutdown(timeout=0.1, grace=0.1)
    assert 0.2 <= time.monotonic() - start < 0.2 + SLACK


def test_hung_call_future_raises_abandoned_after_shutdown_timeout(
    make_executor: MakeExecutor, release: threading.Event
) -> None:
    executor, running = held_executor(make_executor, release)
    executor.shutdown(timeout=0.05, grace=0.05)
    error = running[0].exception(timeout=0)
    assert isinstance(error, Abandoned)
    assert isinstance(error, TimeoutError)
    assert error.job_id == running[0].job_id
    report = executor.pool.report
    assert report is not None and not report.clean
    assert [o.job_id for o in report.abandoned] == [running[0].job_id]


def test_call_watching_its_context_ends_canceled_when_shutdown_times_out(
    make_executor: MakeExecutor,
) -> None:
    started = threading.Event()

    def watch() -> None:
        ctx = current_job_context()
        assert ctx is not None
        started.set()
        ctx.sleep(BOUND)  # raises Canceled once the executor gives up waiting

    executor = make_executor(1)
    future = executor.submit(watch)
    assert started.wait(5)
    executor.shutdown(timeout=0.05, grace=5)
    assert isinstance(future.exception(timeout=0), Canceled)
    report = executor.pool.report
    assert report is not None and report.abandoned == ()


def test_current_job_context_is_done_after_the_executor_is_cancelled(
    make_executor: MakeExecutor,
) -> None:
    started = threading.Event()

    def watch() -> bool:
        ctx = current_job_context()
        assert ctx is not None
        started.set()
        return ctx.wait(BOUND)

    executor = make_executor(1)
    future = executor.submit(watch)
    assert started.wait(5)
    executor.pool.cancel()
    assert future.result(timeout=5) is True


def test_current_job_context_is_none_outside_a_call(make_executor: MakeExecutor) -> None:
    make_executor(1)
    assert current_job_context() is None


def test_current_job_context_in_a_call_is_the_executors_pool_context(
    make_executor: MakeExecutor,
) -> None:
    executor = make_executor(1)
    assert executor.submit(current_job_context).result(timeout=5) is executor.pool.context


def test_shutdown_with_wait_from_inside_a_call_raises_runtime_error(
    make_executor: MakeExecutor,
) -> None:
    executor = make_executor(2)
    future = executor.submit(lambda: executor.shutdown(wait=True))
    assert isinstance(future.exception(timeout=5), RuntimeError)
    assert not executor.pool.closed


def test_leaving_a_with_block_from_inside_a_call_raises_runtime_error(
    make_executor: MakeExecutor,
) -> None:
    executor = make_executor(2)

    def inner() -> None:
        with executor:
            pass

    assert isinstance(executor.submit(inner).exception(timeout=5), RuntimeError)


def test_shutdown_without_wait_from_inside_a_call_is_allowed(make_executor: MakeExecutor) -> None:
    executor = make_executor(2)
    future = executor.submit(lambda: executor.shutdown(wait=False))
    assert future.result(timeout=5) is None
    assert executor.pool.closed


# -- at interpreter exit (subprocesses) -------------------------------------------------


def run_python(program: str, timeout: float = 20) -> tuple[subprocess.CompletedProcess[str], float]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    start = time.monotonic()
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(program)], capture_output=True,
                          text=True, timeout=timeout, env=env, cwd=ROOT, check=False)
    return done, time.monotonic() - start


SLEEP_AND_PRINT = """
    import sys, time
    from pool import Executor

    def sleep_and_print(t, msg):
        time.sleep(t)
        print(msg)
        sys.stdout.flush()
"""


def test_interpreter_exit_waits_for_a_submitted_call() -> None:
    # [CPython: test_shutdown.test_interpreter_shutdown]
    done, _ = run_python(SLEEP_AND_PRINT + """
    t = Executor(5)
    t.submit(sleep_and_print, 0.2, "apple")
    """)
    assert done.returncode == 0
    assert done.stderr == ""
    assert done.stdout.strip() == "apple"


def test_interpreter_exit_after_shutdown_without_wait_still_runs_the_call() -> None:
    # [CPython: test_shutdown.test_hang_gh83386]
    done, _ = run_python(SLEEP_AND_PRINT + """
    t = Executor(max_workers=3)
    t.submit(sleep_and_print, 0.2, "apple")
    t.shutdown(wait=False)
    """)
    assert done.returncode == 0
    assert done.stderr == ""
    assert done.stdout.strip() == "apple"


def test_submit_from_an_atexit_hook_raises_runtime_error() -> None:
    # [CPython: test_shutdown.test_submit_after_interpreter_shutdown]
    done, _ = run_python("""
    import atexit

    @atexit.register
    def run_last():
        try:
            t.submit(id, None)
        except RuntimeError:
            print("runtime-error")

    from pool import Executor
    t = Executor(5)
    t.submit(id, 42).result()
    """)
    assert done.returncode == 0
    assert done.stdout.strip() == "runtime-error"


def test_interpreter_exit_with_a_hung_call_is_bounded_by_exit_timeout() -> None:
    # Departs from ThreadPoolExecutor, whose exit waits for a hung call forever.
    done, elapsed = run_python("""
    import threading
    from pool import Executor

    started = threading.Event()

    def hang():
        started.set()
        threading.Event().wait()

    t = Executor(1, exit_timeout=0.2)
    t.submit(hang)
    assert started.wait(5)
    print("exiting")
    """)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "exiting"
    assert elapsed < 5  # interpreter start-up, then at most 0.2 + 0.1 s, with slack


# -- contextvars ----------------------------------------------------------------------

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="unset")


def test_call_sees_the_submitters_contextvars(make_executor: MakeExecutor) -> None:
    executor = make_executor(2)

    def submit() -> JobFuture:
        request_id.set("req-1")
        return executor.submit(request_id.get)

    future = contextvars.copy_context().run(submit)
    assert future.result(timeout=5) == "req-1"


def test_call_sees_the_contextvars_as_they_were_at_submit(make_executor: MakeExecutor,
                                                         release: threading.Event) -> None:
    executor, _ = held_executor(make_executor, release)

    def submit_then_change() -> JobFuture:
        request_id.set("at-submit")
        future = executor.submit(request_id.get)
        request_id.set("changed-later")
        return future

    future = contextvars.copy_context().run(submit_then_change)
    release.set()
    assert future.result(timeout=5) == "at-submit"


def test_call_that_sets_a_contextvar_does_not_change_the_submitters(
    make_executor: MakeExecutor,
) -> None:
    executor = make_executor(1)

    def set_it() -> str:
        request_id.set("set-in-call")
        return request_id.get()

    assert executor.submit(set_it).result(timeout=5) == "set-in-call"
    assert request_id.get() == "unset"
    assert executor.submit(request_id.get).result(timeout=5) == "unset"


# -- asyncio ----------------------------------------------------------------------------


def test_asyncio_run_in_executor_awaits_a_call(make_executor: MakeExecutor) -> None:
    executor = make_executor(2)

    async def main() -> int:
        return await asyncio.get_running_loop().run_in_executor(executor, mul, 6, 7)

    assert asyncio.run(main()) == 42


def test_asyncio_cancelling_the_awaited_call_cancels_it_while_queued(
    make_executor: MakeExecutor, release: threading.Event
) -> None:
    executor, _ = held_executor(make_executor, release)
    ran: list[int] = []

    async def main() -> None:
        queued = asyncio.get_running_loop().run_in_executor(executor, ran.append, 1)
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(queued, 0.05)

    asyncio.run(main())
    release.set()
    executor.shutdown(timeout=5)
    assert ran == []
    assert executor.pool.stats.canceled == 1


# -- the bounded buffer: backpressure --------------------------------------------------


def test_submit_blocks_while_the_buffer_is_full(
    make_executor: MakeExecutor, release: threading.Event, spawn: Callable[..., Any]
) -> None:
    # Departs from ThreadPoolExecutor (an unbounded queue: submit never blocks).
    executor, _ = held_executor(make_executor, release, buffer=1)
    executor.submit(int)
    blocked = spawn(executor.submit, str, "late")
    assert eventually(lambda: parked_submits(executor.pool) == 1)
    assert not blocked.finished.wait(0.05)
    release.set()
    assert blocked.join().result(timeout=5) == "late"


def test_default_buffer_holds_100_waiting_calls(
    make_executor: MakeExecutor, release: threading.Event, spawn: Callable[..., Any]
) -> None:
    # Departs from ThreadPoolExecutor: bounded by default, which is backpressure.
    executor, _ = held_executor(make_executor, release)
    for _ in range(100):
        executor.submit(int)
    blocked = spawn(executor.submit, int)
    assert eventually(lambda: parked_submits(executor.pool) == 1)
    release.set()
    blocked.join()


def test_unbounded_buffer_never_blocks_submit(
    make_executor: MakeExecutor, release: threading.Event
) -> None:
    # [CPython: test_thread_pool.test_saturation], with buffer=None as in the stdlib
    executor, _ = held_executor(make_executor, release, workers=4, buffer=None)
    sem = threading.Semaphore(0)
    fs = [executor.submit(sem.acquire, timeout=BOUND) for _ in range(15 * 4)]
    fs += [executor.submit(int) for _ in range(1000)]
    assert executor.pool.stats.queued == len(fs)
    assert len(executor.pool.threads()) == 4
    release.set()
    for _ in range(15 * 4):
        sem.release()
    executor.shutdown(timeout=5)
    assert all(f.done() and not f.cancelled() for f in fs)


# -- .pool -------------------------------------------------------------------------------


def test_pool_exposes_stats_trace_and_report(make_executor: MakeExecutor) -> None:
    executor = make_executor(2)
    fs = [executor.submit(mul, i, 2) for i in range(5)]
    fs.append(executor.submit(divmod, 1, 0))
    cf.wait(fs, timeout=5)
    assert executor.pool.report is None
    executor.shutdown(timeout=5)
    stats = executor.pool.stats
    assert (stats.submitted, stats.succeeded, stats.failed) == (6, 5, 1)
    spans = executor.pool.trace.spans()
    assert sorted(s.job_id for s in spans) == sorted(f.job_id for f in fs)
    assert all(s.end is not None for s in spans)
    report = executor.pool.report
    assert report is not None and report.clean
    assert executor.report is report
    assert [o.status for o in executor.pool.errors] == [Status.FAILED]


# -- bad input -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("max_workers", "error"),
    [(0, ValueError), (-1, ValueError), ("2", TypeError), (2.0, TypeError), (True, TypeError)],
    ids=["zero", "negative", "str", "float", "bool"],
)
def test_bad_max_workers_raises_naming_it(max_workers: object, error: type[Exception]) -> None:
    with pytest.raises(error, match="max_workers"):
        Executor(max_workers=max_workers)  # type: ignore[arg-type]


@pytest.mark.parametrize("max_workers", [0, -1])
def test_max_workers_below_one_raises_the_stdlib_message(max_workers: int) -> None:
    # [CPython: executor.ExecutorTest.test_max_workers_negative]
    with pytest.raises(ValueError, match="max_workers must be greater than 0"):
        Executor(max_workers=max_workers)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [({"thread_name_prefix": 1}, "thread_name_prefix"), ({"initializer": 1}, "initializer"),
     ({"buffer": -1}, "buffer"), ({"buffer": "1"}, "buffer")],
    ids=["prefix-int", "initializer-int", "buffer-negative", "buffer-str"],
)
def test_bad_constructor_argument_raises_naming_it(kwargs: dict[str, Any], name: str) -> None:
    with pytest.raises((TypeError, ValueError), match=name):
        Executor(2, **kwargs)


def test_submit_of_a_non_callable_raises_type_error_naming_fn(
    make_executor: MakeExecutor,
) -> None:
    # Departs from ThreadPoolExecutor, which accepts it and fails the future
    # with "'int' object is not callable": here the mistake is raised at once.
    executor = make_executor(1)
    with pytest.raises(TypeError, match="fn"):
        executor.submit(42)  # type: ignore[arg-type]
    assert executor.pool.stats.submitted == 0


@pytest.mark.parametrize(("timeout", "error"), BAD_TIMEOUTS)
def test_shutdown_with_a_bad_timeout_raises_naming_timeout(
    make_executor: MakeExecutor, timeout: object, error: type[Exception]
) -> None:
    executor = make_executor(1)
    with pytest.raises(error, match="timeout"):
        executor.shutdown(timeout=timeout)  # type: ignore[arg-type]


@pytest.mark.parametrize(("grace", "error"),
                         [(-1, ValueError), (math.nan, ValueError), ("1", TypeError)],
                         ids=["negative", "nan", "str"])
def test_shutdown_with_a_bad_grace_raises_naming_grace(
    make_executor: MakeExecutor, grace: object, error: type[Exception]
) -> None:
    executor = make_executor(1)
    with pytest.raises(error, match="grace"):
        executor.shutdown(grace=grace)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["wait", "cancel_futures"])
def test_shutdown_with_a_non_bool_flag_raises_naming_it(
    make_executor: MakeExecutor, name: str
) -> None:
    executor = make_executor(1)
    with pytest.raises(TypeError, match=name):
        executor.shutdown(**{name: "yes"})


@pytest.mark.parametrize("kwargs", [{"timeout": -1}, {"grace": math.nan}, {"wait": 1}],
                         ids=["timeout", "grace", "wait"])
def test_shutdown_with_a_bad_argument_leaves_the_executor_open(
    make_executor: MakeExecutor, kwargs: dict[str, Any]
) -> None:
    executor = make_executor(1)
    with pytest.raises((TypeError, ValueError)):
        executor.shutdown(**kwargs)
    assert executor.submit(mul, 6, 7).result(timeout=5) == 42


@pytest.mark.parametrize(("timeout", "error"), BAD_TIMEOUTS)
def test_map_with_a_bad_timeout_raises_naming_timeout(
    make_executor: MakeExecutor, timeout: object, error: type[Exception]
) -> None:
    executor = make_executor(1)
    with pytest.raises(error, match="timeout"):
        executor.map(abs, [1], timeout=timeout)  # type: ignore[arg-type]
    assert executor.pool.stats.submitted == 0
