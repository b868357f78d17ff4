"""The pool's life from start to exit: DESIGN.md "Lifecycle", one section per clause.

1. a passed deadline stays the cause after a cancel;
2. nothing is kept that nobody asked for;
3. a pool dropped without shutdown() drains and its threads exit;
4. at interpreter exit a pool not shut down is shut down with ``exit_timeout``;
5. calls that would wait for themselves raise RuntimeError;
6. ``Stats.submitted`` counts accepted jobs only and never goes down;
7. log records carry ``job_id`` and ``worker_id``;
8. a Job subclass reaches ``process`` as itself;
9. after ``os.fork()`` the child's copy of a pool is closed;
10. a KeyboardInterrupt anywhere in submit or shutdown leaves the ledger consistent;
11. each job runs in a copy of its submitter's ``contextvars``.

Every test ends what it starts: pools are shut down and their threads
joined, child processes are waited for with a bound and killed if need be.
"""

from __future__ import annotations

import contextlib
import contextvars
import dis
import gc
import inspect
import itertools
import logging
import os
import re
import signal
import subprocess
import sys
import textwrap
import threading
import time
import traceback
import warnings
import weakref
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent import futures as cf
from dataclasses import dataclass
from typing import Any

import pytest

sys.path.insert(0, os.path.dirname(__file__))

from poolhelpers import (
    BOUND,
    Hang,
    MakePool,
    Script,
    eventually,
    join_all,
    ledger_problems,
    parked_submits,
    raises,
    stats_sum_holds,
)

import pool as pool_package
from pool import (
    Canceled,
    Context,
    DeadlineExceeded,
    Executor,
    Job,
    JobFuture,
    PoolClosed,
    ShutdownReport,
    Status,
    WorkerPool,
    background,
)

pytestmark = pytest.mark.timeout(60)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
POOL_DIR = os.path.dirname(os.path.abspath(pool_package.__file__)) + os.sep
SLACK = 0.5
"""Seconds of scheduling noise a time bound allows on a loaded 2-core machine."""
SWEEP_SLACK = 1.0
"""The same, for the bounds a sweep checks dozens of times in a row (one stall fails it)."""


def wait_past(deadline: float | None) -> None:
    """Block until ``time.monotonic()`` is past ``deadline``, without asking any context."""
    assert deadline is not None
    pause = threading.Event()
    while (left := deadline - time.monotonic()) >= 0:
        pause.wait(left + 0.001)


class Counting:
    """A ``process`` that counts how often each job id ran, then hands the job to ``inner``."""

    def __init__(self, inner: Callable[[Job], Any]) -> None:
        self.inner = inner
        self.runs: Counter[str] = Counter()
        self._lock = threading.Lock()

    def __call__(self, job: Job) -> Any:
        with self._lock:
            self.runs[job.id] += 1
        return self.inner(job)

    def ran_twice(self) -> list[str]:
        with self._lock:
            return sorted(job_id for job_id, n in self.runs.items() if n > 1)


# -- 1. a deadline that has passed is the cause, even if cancel() comes later -------------


def test_context_past_its_deadline_stays_deadline_exceeded_when_cancelled_later() -> None:
    ctx, cancel = background().with_timeout(0.02)
    wait_past(ctx.deadline())
    cancel()  # nobody asked the context anything before this
    assert isinstance(ctx.err(), DeadlineExceeded)


def test_err_seen_before_the_cancel_stays_deadline_exceeded_after_it() -> None:
    ctx, cancel = background().with_timeout(0.02)
    wait_past(ctx.deadline())
    assert isinstance(ctx.err(), DeadlineExceeded)
    cancel()
    assert isinstance(ctx.err(), DeadlineExceeded)


def test_children_of_a_context_past_its_deadline_stay_deadline_exceeded_when_it_is_cancelled(
) -> None:
    parent, cancel = background().with_timeout(0.02)
    child, cancel_child = parent.with_cancel()
    grandchild, _ = child.with_cancel()
    wait_past(parent.deadline())
    cancel()
    cancel_child()
    assert isinstance(parent.err(), DeadlineExceeded)
    assert isinstance(child.err(), DeadlineExceeded)
    assert isinstance(grandchild.err(), DeadlineExceeded)


def test_child_whose_own_deadline_passed_stays_deadline_exceeded_when_its_parent_is_cancelled(
) -> None:
    parent, cancel = background().with_cancel()
    child, _ = parent.with_timeout(0.02)
    grandchild, _ = child.with_cancel()
    wait_past(child.deadline())
    cancel()
    assert isinstance(parent.err(), Canceled)
    assert isinstance(child.err(), DeadlineExceeded)
    assert isinstance(grandchild.err(), DeadlineExceeded)


def test_running_job_past_its_deadline_ends_timed_out_when_the_pool_is_cancelled_after(
    make_pool: MakePool, release: threading.Event
) -> None:
    started = threading.Event()

    def ignore_ctx_until_released_then_raise_its_err(job: Job) -> str:
        started.set()
        release.wait(BOUND)
        err = job.ctx.err()
        if err is not None:
            raise err
        return "its context never ended"

    script = Script()
    pool = make_pool(script, 1)
    ctx, cancel = background().with_timeout(0.05)
    future = pool.submit(script.job("j", ignore_ctx_until_released_then_raise_its_err, ctx=ctx))
    assert started.wait(5)
    wait_past(ctx.deadline())
    pool.cancel()
    release.set()
    assert isinstance(future.exception(timeout=5), DeadlineExceeded)
    assert future.outcome is not None
    assert future.outcome.status is Status.TIMED_OUT
    cancel()


def test_queued_job_past_its_deadline_ends_timed_out_unrun_when_the_pool_is_cancelled_after(
    make_pool: MakePool, release: threading.Event
) -> None:
    script = Script()
    pool = make_pool(script, 1)
    hang = Hang(release)
    pool.submit(script.job("h", hang))
    assert hang.started.wait(5)
    ctx, cancel = background().with_timeout(0.05)
    future = pool.submit(script.job("j", ctx=ctx))
    wait_past(ctx.deadline())
    pool.cancel()
    release.set()
    assert isinstance(future.exception(timeout=5), DeadlineExceeded)
    assert future.outcome is not None
    assert (future.outcome.status, future.outcome.started_at) == (Status.TIMED_OUT, None)
    cancel()


def test_queued_job_past_its_deadline_ends_timed_out_when_its_parent_context_is_cancelled_after(
    make_pool: MakePool, release: threading.Event
) -> None:
    script = Script()
    pool = make_pool(script, 1)
    hang = Hang(release)
    pool.submit(script.job("h", hang))
    assert hang.started.wait(5)
    parent, cancel_parent = background().with_cancel()
    ctx, _ = parent.with_timeout(0.05)
    future = pool.submit(script.job("j", ctx=ctx))
    wait_past(ctx.deadline())
    cancel_parent()
    release.set()
    future.exception(timeout=5)
    assert future.outcome is not None
    assert future.outcome.status is Status.TIMED_OUT


# -- 2. nothing is kept that nobody asked for ------------------------------------------------


class Cargo:
    """Something a job carries or makes, watched by a weak reference."""


class Boom(Exception):
    """A failure a weak reference can watch (built-in exception instances cannot be)."""


@dataclass(frozen=True)
class CargoJob(Job):
    """A job that carries an object besides its payload."""

    cargo: Any = None


def collected(*refs: weakref.ref[Any]) -> bool:
    """True once every referent is gone (after a full garbage collection)."""
    gc.collect()
    return all(ref() is None for ref in refs)


def alive(refs: dict[str, weakref.ref[Any]]) -> list[str]:
    gc.collect()
    return sorted(name for name, ref in refs.items() if ref() is not None)


@pytest.fixture
def unrecorded_pool_log(monkeypatch: pytest.MonkeyPatch) -> None:
    """Turn the ``pool`` logger off, so pytest's log capture keeps none of its records.

    pytest keeps every record until the test ends (it attaches to loggers
    that do not propagate, too), and a failed job's record holds its
    exception: that reference would be pytest's, not the pool's.
    """
    monkeypatch.setattr(logging.getLogger("pool"), "disabled", True)


def test_idle_worker_holds_no_reference_to_its_last_job_payload_or_result(
    make_pool: MakePool,
) -> None:
    refs: dict[str, weakref.ref[Any]] = {}

    def make_result(job: Job) -> Cargo:
        result = Cargo()
        refs["result"] = weakref.ref(result)
        return result

    pool = make_pool(make_result, 1, keep=0)
    cargo = Cargo()
    job = CargoJob("j", b"payload", cargo=cargo)
    refs |= {"job": weakref.ref(job), "cargo": weakref.ref(cargo)}
    future = pool.submit(job)
    assert isinstance(future.result(timeout=5), Cargo)
    del future, job, cargo
    assert eventually(lambda: not alive(refs), timeout=2), f"still referenced: {alive(refs)}"


def test_idle_worker_holds_no_reference_to_the_exception_of_its_last_job(
    make_pool: MakePool, unrecorded_pool_log: None
) -> None:
    refs: dict[str, weakref.ref[Any]] = {}

    def fail(job: Job) -> None:
        error = Boom(job.id)
        refs["exception"] = weakref.ref(error)
        raise error

    pool = make_pool(fail, 1, keep=0)
    cargo = Cargo()
    refs["cargo"] = weakref.ref(cargo)
    future = pool.submit(CargoJob("j", cargo=cargo))
    assert isinstance(future.exception(timeout=5), Boom)
    del future, cargo
    assert eventually(lambda: not alive(refs), timeout=2), f"still referenced: {alive(refs)}"


def _fail_holding_a_big_local(job: Job) -> None:
    big = Cargo()
    _BIG_LOCALS.append(weakref.ref(big))
    raise Boom(job.id)


_BIG_LOCALS: list[weakref.ref[Cargo]] = []
_source, _first = inspect.getsourcelines(_fail_holding_a_big_local)
_RAISE_LINE = _first + next(i for i, line in enumerate(_source) if "raise Boom" in line)


def test_kept_error_keeps_its_exception_and_a_traceback_naming_the_failing_function_and_line(
    make_pool: MakePool, unrecorded_pool_log: None
) -> None:
    pool = make_pool(_fail_holding_a_big_local, 1)
    future = pool.submit(Job("j"))
    future.exception(timeout=5)  # (result() would re-raise it, adding this test's frames)
    (outcome,) = pool.errors
    assert isinstance(outcome.error, Boom)
    text = "".join(traceback.format_exception(outcome.error))
    assert f'line {_RAISE_LINE}, in _fail_holding_a_big_local' in text
    assert "raise Boom(job.id)" in text


def test_kept_error_does_not_keep_the_failing_frames_locals(
    make_pool: MakePool, unrecorded_pool_log: None
) -> None:
    _BIG_LOCALS.clear()
    pool = make_pool(_fail_holding_a_big_local, 1)
    pool.submit(Job("j")).exception(timeout=5)
    (big,) = _BIG_LOCALS
    assert eventually(lambda: collected(big), timeout=2)
    assert isinstance(pool.errors[0].error, Boom)


def test_kept_error_does_not_keep_its_job_or_payload(
    make_pool: MakePool, unrecorded_pool_log: None
) -> None:
    pool = make_pool(_fail_holding_a_big_local, 1)
    cargo = Cargo()
    job = CargoJob("j", b"payload", cargo=cargo)
    refs = {"job": weakref.ref(job), "cargo": weakref.ref(cargo)}
    future = pool.submit(job)
    future.exception(timeout=5)
    del future, job, cargo
    assert eventually(lambda: not alive(refs), timeout=2), (
        f"pool.errors keeps what nobody asked for: {alive(refs)}")
    assert isinstance(pool.errors[0].error, Boom)


def test_kept_result_does_not_keep_its_job_or_payload(make_pool: MakePool) -> None:
    pool = make_pool(lambda job: Cargo(), 1)
    cargo = Cargo()
    job = CargoJob("j", b"payload", cargo=cargo)
    refs = {"job": weakref.ref(job), "cargo": weakref.ref(cargo)}
    pool.submit(job).result(timeout=5)
    del job, cargo
    assert eventually(lambda: not alive(refs), timeout=2), f"still referenced: {alive(refs)}"
    assert isinstance(pool.outcomes[0].result, Cargo)


# -- 3. a pool dropped without shutdown() drains, and its threads exit -----------------------


def _end_survivor(ref: weakref.ref[Any], threads: list[threading.Thread],
                  release: threading.Event) -> list[str]:
    """Teardown for a dropped pool: shut it down if it survived; return threads still alive."""
    release.set()
    survivor = ref()
    if isinstance(survivor, WorkerPool):
        survivor.shutdown(timeout=5, grace=0.5)
    elif isinstance(survivor, Executor):
        survivor.shutdown(wait=True, timeout=5, grace=0.5)
    del survivor
    return join_all(threads, timeout=5)


def new_threads(before: set[threading.Thread]) -> list[str]:
    return sorted(t.name for t in set(threading.enumerate()) - before)


def test_dropped_pool_runs_every_accepted_job(release: threading.Event) -> None:
    ran: list[str] = []

    def wait_for_release(job: Job) -> str:
        release.wait(BOUND)
        ran.append(job.id)
        return job.id

    pool = WorkerPool(wait_for_release, 2)
    threads = pool.threads()
    ids = [f"j{i}" for i in range(6)]
    futures = [pool.submit(Job(job_id)) for job_id in ids]  # 2 running, 4 queued
    ref = weakref.ref(pool)
    del pool
    gc.collect()
    try:
        assert ref() is None, "the pool was not collected"
        release.set()
        assert [f.result(timeout=5) for f in futures] == ids
        assert sorted(ran) == ids
    finally:
        assert _end_survivor(ref, threads, release) == []


def test_dropped_pool_threads_exit_and_no_thread_is_left_behind(release: threading.Event) -> None:
    before = set(threading.enumerate())
    pool = WorkerPool(lambda job: release.wait(BOUND), 3)
    threads = pool.threads()
    futures = [pool.submit(Job(f"j{i}")) for i in range(5)]
    ref = weakref.ref(pool)
    del pool
    gc.collect()
    try:
        assert ref() is None, "the pool was not collected"
        release.set()
        cf.wait(futures, timeout=5)
        assert join_all(threads, timeout=5) == []
        assert eventually(lambda: not new_threads(before)), new_threads(before)
    finally:
        assert _end_survivor(ref, threads, release) == []


def test_dropped_executor_runs_every_submitted_call(release: threading.Event) -> None:
    def wait_for_release(n: int) -> int:
        release.wait(BOUND)
        return n * n

    executor = Executor(max_workers=2)
    threads = executor.pool.threads()
    futures = [executor.submit(wait_for_release, n) for n in range(6)]
    ref = weakref.ref(executor)
    del executor
    gc.collect()
    try:
        assert ref() is None, "the executor was not collected"
        release.set()
        assert [f.result(timeout=5) for f in futures] == [n * n for n in range(6)]
    finally:
        assert _end_survivor(ref, threads, release) == []


def test_dropped_executor_threads_exit_and_no_thread_is_left_behind(
    release: threading.Event,
) -> None:
    before = set(threading.enumerate())
    executor = Executor(max_workers=3)
    threads = executor.pool.threads()
    futures = [executor.submit(release.wait, BOUND) for _ in range(5)]
    ref = weakref.ref(executor)
    del executor
    gc.collect()
    try:
        assert ref() is None, "the executor was not collected"
        release.set()
        cf.wait(futures, timeout=5)
        assert join_all(threads, timeout=5) == []
        assert eventually(lambda: not new_threads(before)), new_threads(before)
    finally:
        assert _end_survivor(ref, threads, release) == []


# -- 4. at interpreter exit a pool not shut down is shut down with exit_timeout --------------


@dataclass
class Child:
    returncode: int
    stdout: str
    stderr: str
    exited_at: float  # time.monotonic() when its output closed, i.e. when it exited

    def printed(self, tag: str) -> str:
        """The rest of the line the child printed after ``tag``."""
        match = re.search(rf"^{re.escape(tag)} (.*)$", self.stdout, re.MULTILINE)
        assert match, f"child did not print {tag!r}:\n{self.stdout}\n{self.stderr}"
        return match.group(1)


def run_child(program: str, timeout: float = 30.0) -> Child:
    """Run ``program`` in a fresh interpreter; kill it if it outlives ``timeout``."""
    process = subprocess.Popen([sys.executable, "-c", program], cwd=ROOT, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        stdout, stderr = process.communicate(timeout=timeout)
        exited_at = time.monotonic()
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=5)
    return Child(process.returncode, stdout, stderr, exited_at)


# The child's jobs: "first" holds the rest in the queue until interpreter exit
# begins; "hang" never returns; "honour" waits on its context. Workers never
# print: the main thread reports, from an atexit hook (which runs after the
# pool's exit hook), which jobs ran. It waits (a bounded while) for "honour"
# to say how it stopped, since a loaded machine may wake it after the grace.
CHILD = '''
import atexit, gc, logging, sys, threading, time, weakref
from pool import Executor, Job, WorkerPool
logging.basicConfig(stream=sys.stderr, level=logging.WARNING,
                    format="%(levelname)s:%(name)s:%(message)s")
exiting = threading.Event()
honoured = threading.Event()
ran = []
def process(job):
    if job.id == "first":
        exiting.wait(5)
    elif job.id == "hang":
        threading.Event().wait()
    elif job.id == "honour":
        job.ctx.wait(5)
        ran.append("honour stopped by " + type(job.ctx.err()).__name__)
        honoured.set()
        return
    ran.append(job.id)
def report():
    if "honour" in JOBS:
        honoured.wait(2)
    print("ran", ran, flush=True)
atexit.register(report)
'''

# Registered after the pool's own hook, so it runs first at exit (hooks run last-in first-out).
AT_EXIT_BEGINS = "threading._register_atexit(exiting.set)\n"
MAIN_DONE = 'print("main-done", time.monotonic(), flush=True)\n'


def child_with_pool(jobs: list[str], *, exit_timeout: float = 5.0, dropped: bool = False,
                    workers: int = 1) -> Child:
    program = f"JOBS = {jobs!r}\n" + CHILD + textwrap.dedent(f"""
        pool = WorkerPool(process, {workers}, exit_timeout={exit_timeout})
        for job_id in JOBS:
            pool.submit(Job(job_id))
    """) + AT_EXIT_BEGINS
    if dropped:
        program += textwrap.dedent("""
            ref = weakref.ref(pool)
            del pool
            gc.collect()
            print("collected", ref() is None, flush=True)
        """)
    return run_child(program + MAIN_DONE)


def exit_delay(child: Child) -> float:
    """Seconds from the end of the child's main module to the end of the child."""
    return child.exited_at - float(child.printed("main-done"))


@pytest.mark.slow
def test_at_exit_queued_jobs_of_a_pool_not_shut_down_run_before_exit() -> None:
    child = child_with_pool(["first", "a", "b", "c"])
    assert child.returncode == 0, child.stderr
    assert child.printed("ran") == "['first', 'a', 'b', 'c']"


@pytest.mark.slow
def test_at_exit_a_hung_job_delays_exit_by_at_most_exit_timeout_plus_grace() -> None:
    child = child_with_pool(["hang"], exit_timeout=0.5)
    assert child.returncode == 0, child.stderr
    delay = exit_delay(child)
    assert 0.5 - 0.05 <= delay <= 0.5 + 0.1 + SLACK


@pytest.mark.slow
def test_at_exit_a_report_that_is_not_clean_is_logged_at_warning_on_the_pool_logger() -> None:
    child = child_with_pool(["hang", "a"], exit_timeout=0.2)
    assert child.returncode == 0, child.stderr
    warnings_ = [line for line in child.stderr.splitlines() if line.startswith("WARNING:pool:")]
    assert any("abandoned" in line for line in warnings_), child.stderr


@pytest.mark.slow
def test_at_exit_a_clean_report_logs_no_warning() -> None:
    child = child_with_pool(["first", "a"])
    assert child.returncode == 0, child.stderr
    assert "WARNING" not in child.stderr


@pytest.mark.slow
@pytest.mark.parametrize("dropped", [False, True], ids=["kept", "dropped"])
def test_at_exit_a_running_job_sees_its_context_cancelled_after_exit_timeout(
    dropped: bool,
) -> None:
    child = child_with_pool(["honour"], exit_timeout=0.2, dropped=dropped)
    assert child.returncode == 0, child.stderr
    assert child.printed("ran") == "['honour stopped by Canceled']", child.stderr


@pytest.mark.slow
def test_at_exit_a_dropped_pools_queued_jobs_still_run() -> None:
    child = child_with_pool(["first", "a", "b", "c"], dropped=True)
    assert child.returncode == 0, child.stderr
    assert child.printed("collected") == "True"
    assert child.printed("ran") == "['first', 'a', 'b', 'c']"


@pytest.mark.slow
def test_at_exit_a_dropped_pools_hung_job_delays_exit_by_at_most_exit_timeout_plus_grace(
) -> None:
    child = child_with_pool(["hang"], exit_timeout=0.5, dropped=True)
    assert child.returncode == 0, child.stderr
    assert child.printed("collected") == "True"
    assert exit_delay(child) <= 0.5 + 0.1 + SLACK


@pytest.mark.slow
def test_at_exit_a_dropped_pools_jobs_that_could_not_run_are_not_silently_lost() -> None:
    child = child_with_pool(["hang", "a", "b"], exit_timeout=0.2, dropped=True)
    assert child.returncode == 0, child.stderr
    assert child.printed("ran") == "[]"
    warned = "\n".join(line for line in child.stderr.splitlines()
                       if line.startswith("WARNING:pool:"))
    names_them = "'a'" in warned and "'b'" in warned
    counts_them = re.search(r"\b2 (queued|canceled|cancelled|never ran)", warned) is not None
    assert names_them or counts_them, f"queued jobs 'a' and 'b' vanished:\n{child.stderr}"


@pytest.mark.slow
def test_at_exit_an_executor_not_shut_down_runs_its_queued_calls() -> None:
    program = "JOBS = []\n" + CHILD + textwrap.dedent("""
        executor = Executor(max_workers=1)
        executor.submit(exiting.wait, 5)
        for n in range(3):
            executor.submit(ran.append, n)
    """) + AT_EXIT_BEGINS + MAIN_DONE
    child = run_child(program)
    assert child.returncode == 0, child.stderr
    assert child.printed("ran") == "[0, 1, 2]"


# -- 5. calls that would wait for themselves raise RuntimeError ----------------------------


def test_shutdown_from_inside_one_of_the_pools_own_jobs_fails_the_job_with_runtime_error(
    make_pool: MakePool,
) -> None:
    pools: list[WorkerPool] = []
    pool = make_pool(lambda job: pools[0].shutdown(), 1)
    pools.append(pool)
    future = pool.submit(Job("inside"))
    error = future.exception(timeout=5)
    assert type(error) is RuntimeError
    assert future.outcome is not None
    assert (future.outcome.status, future.outcome.error) == (Status.FAILED, error)


def test_leaving_a_with_block_inside_one_of_the_pools_own_jobs_fails_the_job_with_runtime_error(
    make_pool: MakePool,
) -> None:
    pools: list[WorkerPool] = []

    def leave_a_with_block(job: Job) -> None:
        with pools[0]:
            pass

    pool = make_pool(leave_a_with_block, 1)
    pools.append(pool)
    future = pool.submit(Job("inside"))
    error = future.exception(timeout=5)
    assert type(error) is RuntimeError
    assert future.outcome is not None
    assert future.outcome.status is Status.FAILED


def test_pool_shuts_down_normally_from_outside_after_a_job_tried_to_shut_it_down(
    make_pool: MakePool,
) -> None:
    pools: list[WorkerPool] = []
    script = Script()
    pool = make_pool(script, 2)
    pools.append(pool)
    pool.submit(script.job("inside", lambda job: pools[0].shutdown())).exception(timeout=5)
    pool.submit(script.job("after"))
    report = pool.shutdown(timeout=5)
    assert report.clean
    assert ledger_problems(pool, ["inside", "after"]) == []
    assert not join_all(pool.threads(), timeout=5)


def test_shutdown_of_another_pool_from_inside_a_job_is_allowed(make_pool: MakePool) -> None:
    other = make_pool(Script(), 1)
    pool = make_pool(lambda job: other.shutdown(timeout=5), 1)
    assert isinstance(pool.submit(Job("j")).result(timeout=5), ShutdownReport)
    assert other.closed


@contextlib.contextmanager
def executor_calling(fn: Callable[[Executor], Any]) -> Iterator[tuple[Executor, cf.Future[Any]]]:
    """An executor running ``fn(executor)`` as one of its calls; shut down and joined after."""
    executor = Executor(max_workers=2)
    try:
        yield executor, executor.submit(fn, executor)
    finally:
        executor.shutdown(wait=True, timeout=5, grace=0.5)
        assert join_all(executor.pool.threads(), timeout=5) == []


def test_executor_shutdown_with_wait_from_inside_one_of_its_calls_raises_runtime_error() -> None:
    with executor_calling(lambda ex: ex.shutdown(wait=True)) as (executor, future):
        assert type(future.exception(timeout=5)) is RuntimeError
        executor.shutdown(wait=True, timeout=5)
        assert executor.report is not None
        assert executor.report.clean


def test_executor_with_block_left_inside_one_of_its_calls_raises_runtime_error() -> None:
    def leave(executor: Executor) -> None:
        with executor:
            pass

    with executor_calling(leave) as (_, future):
        assert type(future.exception(timeout=5)) is RuntimeError


def test_executor_shutdown_without_wait_from_inside_one_of_its_calls_is_allowed() -> None:
    with executor_calling(lambda ex: ex.shutdown(wait=False)) as (executor, future):
        assert future.result(timeout=5) is None
        assert executor.pool.closed


# -- 6. Stats.submitted counts accepted jobs only and never goes down ------------------------


def test_stats_submitted_never_goes_down_and_never_counts_a_timed_out_or_refused_submit(
    make_pool: MakePool, release: threading.Event, spawn: Callable[..., Any]
) -> None:
    script = Script()
    pool = make_pool(script, 1, buffer=1)
    hang = Hang(release)
    pool.submit(script.job("hang", hang))
    assert hang.started.wait(5)
    pool.submit(script.job("queued"))  # the buffer is full now
    stop = threading.Event()
    released = threading.Event()
    seen: dict[str, Any] = {"samples": 0, "decreases": [], "max_before_release": 0}

    def sample() -> None:
        last = 0
        while not stop.is_set():
            submitted = pool.stats.submitted
            if not released.is_set():  # read after the stats: a sample taken before release
                seen["max_before_release"] = max(seen["max_before_release"], submitted)
            if submitted < last:
                seen["decreases"].append((last, submitted))
            last = submitted
            seen["samples"] += 1

    sampler = spawn(sample)
    parked = spawn(pool.submit, script.job("parked"))
    assert eventually(lambda: parked_submits(pool) == 1)
    for i in range(4):
        with pytest.raises(TimeoutError):
            pool.submit(script.job(f"timed-out-{i}"), timeout=0.05)
        assert pool.try_submit(script.job(f"refused-{i}")) is None
    released.set()
    release.set()
    parked.join()
    report = pool.shutdown(timeout=5)
    stop.set()
    sampler.join()
    assert seen["samples"] > 0
    assert seen["decreases"] == []
    assert seen["max_before_release"] == 2  # "hang" and "queued"; "parked" still waited
    assert report.stats.submitted == pool.stats.submitted == 3
    assert ledger_problems(pool, ["hang", "queued", "parked"],
                           [f"{kind}-{i}" for kind in ("timed-out", "refused")
                            for i in range(4)]) == []


# -- 7. log records of the pool logger carry job_id and worker_id -----------------------------


class Records(logging.Handler):
    """Keeps every record it is given."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def for_job(self, job_id: str) -> list[logging.LogRecord]:
        return [r for r in self.records if getattr(r, "job_id", None) == job_id]


IDS_FORMAT = logging.Formatter("%(levelname)s job=%(job_id)s worker=%(worker_id)s %(message)s")


@pytest.fixture
def pool_log() -> Iterator[Records]:
    """Every record of the ``pool`` logger, from DEBUG up, while the test runs."""
    logger = logging.getLogger("pool")
    handler = Records()
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def test_failed_job_is_logged_with_its_job_id_and_worker_id(
    make_pool: MakePool, pool_log: Records
) -> None:
    script = Script()
    pool = make_pool(script, 2)
    future = pool.submit(script.job("bad-job", raises(ValueError, "boom")))
    future.exception(timeout=5)
    assert future.outcome is not None
    (record,) = [r for r in pool_log.for_job("bad-job") if r.levelno == logging.ERROR]
    assert IDS_FORMAT.format(record).startswith(
        f"ERROR job=bad-job worker={future.outcome.worker_id} ")


def test_job_stopped_by_its_context_is_logged_at_info_with_its_job_id_and_worker_id(
    make_pool: MakePool, pool_log: Records
) -> None:
    started = threading.Event()

    def sleep_until_stopped(job: Job) -> None:
        started.set()
        job.ctx.sleep(BOUND)

    script = Script()
    pool = make_pool(script, 2)
    ctx, cancel = background().with_cancel()
    future = pool.submit(script.job("slow-job", sleep_until_stopped, ctx=ctx))
    assert started.wait(5)
    cancel()
    future.exception(timeout=5)
    assert future.outcome is not None
    assert future.outcome.status is Status.CANCELED
    (record,) = pool_log.for_job("slow-job")
    assert IDS_FORMAT.format(record).startswith(
        f"INFO job=slow-job worker={future.outcome.worker_id} ")


def test_abandoned_job_warning_carries_its_job_id_and_worker_id(
    make_pool: MakePool, release: threading.Event, pool_log: Records
) -> None:
    script = Script()
    pool = make_pool(script, 2)
    hang = Hang(release)
    pool.submit(script.job("stuck-job", hang))
    assert hang.started.wait(5)
    report = pool.shutdown(timeout=0.01, grace=0.01)
    (abandoned,) = report.abandoned
    (record,) = pool_log.for_job("stuck-job")
    assert IDS_FORMAT.format(record).startswith(
        f"WARNING job=stuck-job worker={abandoned.worker_id} ")
    assert "abandoned" in record.getMessage()


def test_late_finish_warning_carries_its_job_id_and_worker_id(
    make_pool: MakePool, release: threading.Event, pool_log: Records
) -> None:
    script = Script()
    pool = make_pool(script, 1)
    hang = Hang(release)
    pool.submit(script.job("late-job", hang))
    assert hang.started.wait(5)
    report = pool.shutdown(timeout=0.01, grace=0.01)
    release.set()
    assert not join_all(pool.threads(), timeout=5)
    worker_id = report.abandoned[0].worker_id
    formatted = [IDS_FORMAT.format(r) for r in pool_log.for_job("late-job")]
    assert len(formatted) == 2, formatted  # abandoned, then back late
    assert all(f.startswith(f"WARNING job=late-job worker={worker_id} ") for f in formatted)


def test_every_pool_log_record_formats_with_job_id_and_worker_id(
    make_pool: MakePool, release: threading.Event, pool_log: Records
) -> None:
    script = Script()
    pool = make_pool(script, 2)
    hang = Hang(release)
    ctx, cancel = background().with_timeout(0.01)
    pool.submit(script.job("fails", raises(KeyError, "k")))
    pool.submit(script.job("stops", lambda job: job.ctx.sleep(1), ctx=ctx))
    pool.submit(script.job("hangs", hang))
    assert hang.started.wait(5)
    pool.shutdown(timeout=0.01, grace=0.01)
    release.set()
    assert not join_all(pool.threads(), timeout=5)
    cancel()
    assert len(pool_log.records) >= 3
    for record in pool_log.records:
        IDS_FORMAT.format(record)  # a record without the attributes raises here


# -- 8. a Job subclass reaches process as itself ---------------------------------------------


@dataclass(frozen=True)
class TaggedJob(Job):
    """A job with fields of its own."""

    tag: str = ""
    attempt: int = 0


class CallJob(Job):
    """A job subclass with an ``__init__`` of its own, not a dataclass one (as Executor's)."""

    __slots__ = ("fn",)
    fn: Callable[[], Any]

    def __init__(self, job_id: str, fn: Callable[[], Any], ctx: Context | None = None) -> None:
        super().__init__(job_id, b"", ctx if ctx is not None else background())
        object.__setattr__(self, "fn", fn)


@pytest.mark.parametrize("own_ctx", [False, True], ids=["background", "own-ctx"])
def test_job_subclass_reaches_process_as_itself_with_its_extra_fields(
    make_pool: MakePool, own_ctx: bool
) -> None:
    seen: list[Job] = []
    pool = make_pool(seen.append, 1)
    ctx, cancel = background().with_cancel()
    job = TaggedJob("t", b"data", **({"ctx": ctx} if own_ctx else {}), tag="red", attempt=3)
    pool.submit(job).result(timeout=5)
    cancel()
    (got,) = seen
    assert type(got) is TaggedJob
    assert (got.id, got.payload, got.tag, got.attempt) == ("t", b"data", "red", 3)


@pytest.mark.parametrize("own_ctx", [False, True], ids=["background", "own-ctx"])
def test_job_subclass_sees_a_ctx_that_is_done_once_the_pool_is_cancelled(
    make_pool: MakePool, release: threading.Event, own_ctx: bool
) -> None:
    seen: list[Job] = []
    started = threading.Event()

    def keep(job: Job) -> None:
        seen.append(job)
        started.set()
        release.wait(BOUND)

    pool = make_pool(keep, 1)
    ctx, cancel = background().with_cancel()
    pool.submit(TaggedJob("t", **({"ctx": ctx} if own_ctx else {}), tag="red"))
    assert started.wait(5)
    (got,) = seen
    assert isinstance(got, TaggedJob)
    assert not got.ctx.done()
    pool.cancel()
    assert got.ctx.done()
    assert isinstance(got.ctx.err(), Canceled)
    cancel()


@pytest.mark.parametrize("own_ctx", [False, True], ids=["background", "own-ctx"])
def test_job_subclass_with_an_init_of_its_own_reaches_process_as_itself(
    make_pool: MakePool, own_ctx: bool
) -> None:
    def call_it(job: Job) -> Any:
        assert isinstance(job, CallJob)
        return job.fn()

    pool = make_pool(call_it, 1)
    ctx, cancel = background().with_cancel()
    future = pool.submit(CallJob("c", lambda: "called", ctx if own_ctx else None))
    try:
        done, _ = cf.wait([future], timeout=5)
        assert done, f"the job never ended; worker alive: {pool.threads()[0].is_alive()}"
        assert future.result() == "called"
    finally:
        cancel()
        pool.shutdown(timeout=0.5, grace=0.1)


# -- 9. after os.fork() the child's copy of a pool is closed ---------------------------------


def wait_for_child(pid: int, timeout: float = 10.0) -> int:
    """Reap child ``pid`` within ``timeout`` s (SIGKILL it past that); return its exit code."""
    limit = time.monotonic() + timeout
    pause = threading.Event()
    while True:
        reaped, status = os.waitpid(pid, os.WNOHANG)
        if reaped == pid:
            return os.waitstatus_to_exitcode(status)
        if time.monotonic() >= limit:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            raise AssertionError(f"forked child {pid} still running after {timeout} s: killed")
        pause.wait(0.005)


def in_forked_child(check: Callable[[], list[str]]) -> list[str]:
    """Run ``check`` in a forked child; return the problems it found there.

    The child never returns into pytest: it reports through a pipe and
    leaves with ``os._exit``.
    """
    read_end, write_end = os.pipe()
    with warnings.catch_warnings():  # 3.12+: "This process is multi-threaded, use of fork()..."
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # the child
        code = 2
        try:
            os.close(read_end)
            problems = check()
            os.write(write_end, "\n".join(problems).encode())
            code = 1 if problems else 0
        except BaseException:
            with contextlib.suppress(BaseException):
                os.write(write_end, traceback.format_exc().encode())
        finally:
            os._exit(code)
    os.close(write_end)
    try:
        code = wait_for_child(pid)
        chunks = []
        while chunk := os.read(read_end, 65536):
            chunks.append(chunk)
    finally:
        os.close(read_end)
    text = b"".join(chunks).decode()
    problems = [line for line in text.splitlines() if line]
    if code not in (0, 1):
        problems.append(f"child exited with {code}")
    return problems


def closed_copy_problems(pool: WorkerPool) -> list[str]:
    """In a forked child: what is wrong with the child's copy of ``pool``."""
    problems = []
    for name, attempt in (("submit", pool.submit), ("try_submit", pool.try_submit)):
        try:
            attempt(Job(f"in-child-{name}"))
            problems.append(f"{name} accepted a job")
        except PoolClosed:
            pass
        except BaseException as exc:
            problems.append(f"{name} raised {exc!r}, not PoolClosed")
    if not pool.closed:
        problems.append("pool.closed is False")
    start = time.monotonic()
    pool.shutdown()
    if (elapsed := time.monotonic() - start) > 0.25:
        problems.append(f"shutdown() took {elapsed:.3f} s")
    return problems


def test_forked_childs_copy_of_a_pool_is_closed(make_pool: MakePool) -> None:
    script = Script()
    pool = make_pool(script, 2)
    pool.submit(script.job("before")).result(timeout=5)
    assert in_forked_child(lambda: closed_copy_problems(pool)) == []


def test_forked_childs_copy_of_a_pool_with_a_busy_worker_is_closed_and_shuts_down_at_once(
    make_pool: MakePool, release: threading.Event
) -> None:
    script = Script()
    pool = make_pool(script, 2)
    hang = Hang(release)
    pool.submit(script.job("busy", hang))
    assert hang.started.wait(5)
    pool.submit(script.job("queued"))
    assert in_forked_child(lambda: closed_copy_problems(pool)) == []


def test_forked_childs_copy_of_an_executor_is_closed() -> None:
    executor = Executor(max_workers=2)
    try:
        def check() -> list[str]:
            try:
                executor.submit(print, "never")
                return ["submit accepted a call"]
            except RuntimeError:
                return []

        assert in_forked_child(check) == []
    finally:
        executor.shutdown(wait=True, timeout=5)
        assert join_all(executor.pool.threads(), timeout=5) == []


def test_parent_pool_is_unaffected_by_a_fork(
    make_pool: MakePool, release: threading.Event
) -> None:
    script = Script()
    pool = make_pool(script, 2)
    hang = Hang(release)
    busy = pool.submit(script.job("busy", hang))
    assert hang.started.wait(5)
    assert in_forked_child(lambda: closed_copy_problems(pool)) == []
    assert not pool.closed
    after = pool.submit(script.job("after"), timeout=5)
    assert after.result(timeout=5) == "after"
    release.set()
    assert busy.result(timeout=5) == "released"
    assert pool.shutdown(timeout=5).clean
    assert ledger_problems(pool, ["busy", "after"]) == []


def test_pool_made_in_a_forked_child_runs_jobs(make_pool: MakePool) -> None:
    make_pool(Script(), 2)

    def check() -> list[str]:
        fresh = WorkerPool(lambda job: job.id * 2, 2)
        result = fresh.submit(Job("ab")).result(timeout=5)
        report = fresh.shutdown(timeout=5)
        problems = [] if result == "abab" else [f"result {result!r}"]
        return problems + ([] if report.clean else [str(report)])

    assert in_forked_child(check) == []


# -- 10. a KeyboardInterrupt at any point of submit or shutdown ------------------------------


# Where CPython raises the KeyboardInterrupt of a Ctrl-C: a signal only sets a
# flag, and the interpreter acts on it at its checks, on entering a function
# (RESUME), after a call returns (CALL) and at a loop's backward jump. Anywhere
# else (the first line of a ``finally``, a ``with`` block calling
# ``__exit__``) no interrupt can land, and no code can protect itself there.
_CHECKS = frozenset({"CALL", "CALL_FUNCTION_EX", "CALL_KW", "JUMP_BACKWARD"})


class _Code:
    """What the interrupter needs to know about one code object."""

    _known: dict[Any, _Code] = {}  # noqa: RUF012  (a cache, shared on purpose)

    def __init__(self, code: Any) -> None:
        self.opnames = {ins.offset: ins.opname for ins in dis.get_instructions(code)}
        self.handlers = [(e.start, e.end, e.target) for e in dis.Bytecode(code).exception_entries]

    @classmethod
    def of(cls, code: Any) -> _Code:
        if code not in cls._known:
            cls._known[code] = cls(code)
        return cls._known[code]

    def handler(self, offset: int) -> int | None:
        """Where an exception raised at ``offset`` goes (``None``: out of the function)."""
        return next((target for start, end, target in self.handlers if start <= offset < end),
                    None)


class SignalPointInterrupt:
    """A ``sys.settrace`` tracer: KeyboardInterrupt at the ``n``-th signal check in ``pool/``.

    The checks are CPython's (see ``_CHECKS``): entering a function, right
    after a call returns or a loop jumps back, counted only in frames of
    files under ``pool/``. The interrupt is raised at the next instruction,
    which is where CPython would raise it unless that instruction lies in
    another exception region than the call (the call raised, or it was the
    last one in a ``with`` block): those points are skipped. Only the
    calling thread is traced; ``where`` names the point it fired at.
    """

    def __init__(self, n: int) -> None:
        self.n = n
        self.points = 0
        self.where: str | None = None
        self._after: dict[Any, int] = {}  # frame -> offset of the check it just passed

    def trace_calls(self, frame: Any, event: str, arg: Any) -> Any:
        if not frame.f_code.co_filename.startswith(POOL_DIR):
            return None
        frame.f_trace_opcodes = True
        frame.f_trace = self.trace_opcodes  # (3.13 needs it set here, not only returned)
        self._point(frame, "entering")
        return self.trace_opcodes

    def trace_opcodes(self, frame: Any, event: str, arg: Any) -> Any:
        if event == "opcode":
            code = _Code.of(frame.f_code)
            check = self._after.pop(frame, None)
            if check is not None and code.handler(check) == code.handler(frame.f_lasti):
                self._point(frame, f"after {code.opnames[check]}")
            if code.opnames.get(frame.f_lasti) in _CHECKS:
                self._after[frame] = frame.f_lasti
        elif event == "return":
            self._after.pop(frame, None)
        return self.trace_opcodes

    def _point(self, frame: Any, what: str) -> None:
        if self.where is not None:
            return
        self.points += 1
        if self.points == self.n:
            code = frame.f_code
            self.where = (f"{os.path.relpath(code.co_filename, ROOT)}:{frame.f_lineno} "
                          f"in {code.co_name}, {what}")
            raise KeyboardInterrupt(self.where)


def _opcode_events_arrive() -> bool:
    """True if this Python reports opcode events to a tracer that asks (3.12.1 does not)."""
    seen: list[str] = []

    def local(frame: Any, event: str, arg: Any) -> Any:
        seen.append(event)
        return local

    def calls(frame: Any, event: str, arg: Any) -> Any:
        if frame.f_code is probe.__code__:
            frame.f_trace_opcodes = True
            frame.f_trace = local
            return local
        return None

    def probe() -> int:
        return len(seen) + 1

    previous = sys.gettrace()
    sys.settrace(calls)
    try:
        probe()
    finally:
        sys.settrace(previous)
    return "opcode" in seen


needs_opcode_events = pytest.mark.skipif(
    not _opcode_events_arrive(), reason="this Python reports no opcode events to sys.settrace")


@dataclass
class Interrupted:
    """What became of a call run under :class:`LineInterrupt`."""

    result: Any
    fired: bool  # False: the call finished before reaching point n
    raised: bool  # the KeyboardInterrupt reached the caller
    where: str | None


def call_interrupted_at_point(n: int, fn: Callable[[], Any]) -> Interrupted:
    """Call ``fn`` with a KeyboardInterrupt at its ``n``-th signal check in ``pool/``."""
    tracer = SignalPointInterrupt(n)
    previous = sys.gettrace()
    # No garbage collection inside the call: a finalizer it ran (a dropped
    # pool of an earlier round) would be traced as if it were the call's own.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    sys.settrace(tracer.trace_calls)
    try:
        result = fn()
    except KeyboardInterrupt:
        if tracer.where is None:
            raise
        return Interrupted(None, True, True, tracer.where)
    finally:
        sys.settrace(previous)
        if gc_was_enabled:
            gc.enable()
    return Interrupted(result, tracer.where is not None, False, tracer.where)


def sweep(scenario: Callable[[int], tuple[Interrupted, list[str]]],
          limit: int = 5000) -> tuple[int, dict[str, list[str]]]:
    """Run ``scenario(n)`` for n = 1, 2, ... until its call finishes before point n.

    Returns how many points the call passed and the problems found, keyed by the point.
    """
    problems: dict[str, list[str]] = {}
    for n in itertools.count(1):
        call, found = scenario(n)
        if call.fired and not call.raised:
            found = [*found, "the KeyboardInterrupt was swallowed"]
        if found:
            problems[f"point {n} ({call.where})"] = found
        if not call.fired:
            return n - 1, problems
        assert n < limit, "the call never finished"
    raise AssertionError("unreachable")


def summary(problems: dict[str, list[str]]) -> str:
    lines = [f"{len(problems)} interrupted points broke a promise:"]
    for where, found in list(problems.items())[:15]:
        lines.append(f"  {where}: {'; '.join(found)}")
    return "\n".join(lines)


def bounded_shutdown(pool: WorkerPool, timeout: float, grace: float,
                     problems: list[str]) -> ShutdownReport | None:
    """``pool.shutdown(timeout, grace=grace)`` from a helper thread; note it if it overruns.

    A shutdown stuck for good is reported and left to its daemon thread, so
    that the sweep goes on and says where else the pool breaks its bound.
    """
    outcome: dict[str, Any] = {}

    def shut() -> None:
        try:
            outcome["report"] = pool.shutdown(timeout, grace=grace)
        except BaseException as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=shut, name="bounded-shutdown", daemon=True)
    start = time.monotonic()
    thread.start()
    thread.join(timeout + grace + SWEEP_SLACK)
    elapsed = time.monotonic() - start
    if thread.is_alive():
        problems.append(f"later shutdown(timeout={timeout}, grace={grace}) still running "
                        f"after {elapsed:.2f} s")
    elif elapsed > timeout + grace + SWEEP_SLACK:
        problems.append(f"later shutdown(timeout={timeout}, grace={grace}) took {elapsed:.2f} s")
    if "error" in outcome:
        problems.append(f"later shutdown raised {outcome['error']!r}")
    return outcome.get("report")


def observe(futures: dict[str, JobFuture]) -> None:
    """Make every future one somebody waits on, so its end must wake a Condition."""
    for future in futures.values():
        future.add_done_callback(lambda f: None)


def final_problems(pool: WorkerPool, report: ShutdownReport | None,
                   futures: dict[str, JobFuture], counting: Counting,
                   target: str | None, reserved_uncounted: bool) -> list[str]:
    """The promises checked once the pool is shut down and every thread has ended."""
    problems = []
    outcome_ids = {o.job_id for o in pool.outcomes}
    accepted = set(futures)
    if target is not None and target in outcome_ids:
        accepted.add(target)
    problems += ledger_problems(pool, accepted)
    if report is not None and pool.stats != report.stats:
        problems.append(f"stats changed after shutdown: {report.stats} -> {pool.stats}")
    if twice := counting.ran_twice():
        problems.append(f"ran twice: {twice}")
    if pending := sorted(job_id for job_id, f in futures.items() if not f.done()):
        problems.append(f"futures never resolved: {pending}")
    if reserved_uncounted and target is not None:
        if target in outcome_ids:
            problems.append(f"{target!r} was in the pool but not in its stats after the interrupt")
        else:
            problems.append(f"{target!r} refused as a duplicate, yet it never ran")
    return problems


def probe_id(pool: WorkerPool, target: str, futures: dict[str, JobFuture]) -> bool:
    """Try to submit ``target`` again; True if it was refused as a duplicate."""
    try:
        again = pool.try_submit(Job(target))
    except ValueError:
        return True
    if again is not None:
        futures[target] = again
    return False


SUBMIT_MODES = ["room", "times-out", "lands", "pool-closes"]
"""How the interrupted submit would end if nothing interrupted it.

room: the buffer has room. The others find it full and park: times-out
(``timeout=0.05``), lands (a worker frees a place), pool-closes (another
thread shuts the pool down).
"""


def _interrupted_submit(mode: str, n: int) -> tuple[Interrupted, list[str]]:
    gates = [threading.Event(), threading.Event()]
    script = Script()
    counting = Counting(script)
    pool = WorkerPool(counting, 2, buffer=2)
    futures: dict[str, JobFuture] = {}
    problems: list[str] = []
    helper: threading.Thread | None = None
    stop = threading.Event()
    try:
        hangs = [Hang(gate) for gate in gates]
        for i, hang in enumerate(hangs):
            futures[f"hang{i}"] = pool.submit(script.job(f"hang{i}", hang))
        assert all(hang.started.wait(5) for hang in hangs)
        for i in range(1 if mode == "room" else 2):
            futures[f"queued{i}"] = pool.submit(script.job(f"queued{i}"))
        observe(futures)
        if mode in ("lands", "pool-closes"):
            def free_or_close_once_parked() -> None:
                while not stop.is_set():
                    if parked_submits(pool):
                        if mode == "lands":
                            gates[0].set()
                        else:
                            pool.shutdown(timeout=0, grace=0)
                        return
                    stop.wait(0.001)

            helper = threading.Thread(target=free_or_close_once_parked, daemon=True)
            helper.start()
        job = script.job("target")

        def submit() -> JobFuture | None:
            try:
                return pool.submit(job, timeout=0.05 if mode == "times-out" else None)
            except (TimeoutError, PoolClosed):
                return None

        call = call_interrupted_at_point(n, submit)
        stop.set()
        if helper is not None:
            helper.join(1 + SWEEP_SLACK)
            if helper.is_alive():
                problems.append("shutdown(timeout=0, grace=0) from another thread is stuck")
        if call.result is not None:
            futures["target"] = call.result
            observe({"target": call.result})
        if not stats_sum_holds(pool):
            problems.append(f"stats do not add up: {pool.stats}")
        reserved_uncounted = False
        if not pool.closed:
            # One worker free; a barrier job behind everything queued: once it
            # ran, nothing moves, and the stats can be read against the futures.
            gates[0].set()
            try:
                futures["barrier"] = pool.submit(script.job("barrier"), timeout=5)
                futures["barrier"].result(timeout=5)
            except BaseException as exc:
                problems.append(f"barrier job not run: {exc!r}")
            counted = pool.stats.submitted - len(futures)
            if counted not in (0, 1):
                problems.append(f"{counted} jobs counted beyond the accepted ones: {pool.stats}")
            if "target" not in futures and counted == 0:
                reserved_uncounted = probe_id(pool, "target", futures)
        for gate in gates:
            gate.set()
        report = bounded_shutdown(pool, 1.0, 0.1, problems)
        if alive_ := join_all(pool.threads(), timeout=5):
            problems.append(f"workers still alive: {alive_}")
        problems += final_problems(pool, report, futures, counting, "target", reserved_uncounted)
        return call, problems
    finally:
        stop.set()
        for gate in gates:
            gate.set()
        bounded_shutdown(pool, 5, 0.5, [])  # (a stuck one was reported already)
        join_all(pool.threads(), timeout=5)


@pytest.mark.slow
@pytest.mark.timeout(300)
@needs_opcode_events
@pytest.mark.parametrize("mode", SUBMIT_MODES)
def test_keyboard_interrupt_at_any_point_of_submit_leaves_the_ledger_consistent(
    mode: str,
) -> None:
    points, problems = sweep(lambda n: _interrupted_submit(mode, n))
    assert points >= 5  # the sweep reached into the code (3.13 has fewer points than 3.11)
    assert not problems, summary(problems)


class HonourOwnCtx:
    """A job that waits on its context (at most ``bound`` s) and raises ``ctx.err()``."""

    def __init__(self, bound: float = 3.0) -> None:
        self.bound = bound
        self.started = threading.Event()
        self.ctx: Context | None = None

    def __call__(self, job: Job) -> str:
        self.ctx = job.ctx
        self.started.set()
        job.ctx.wait(self.bound)
        if (err := job.ctx.err()) is not None:
            raise err
        return "its context never ended"


def _interrupted_shutdown(kind: str, n: int) -> tuple[Interrupted, list[str]]:
    """``kind``: "quick" (jobs finish at once) or "hung-drain"/"hung-no-drain" (workers stuck)."""
    gate = threading.Event()
    script = Script()
    counting = Counting(script)
    pool = WorkerPool(counting, 2, buffer=2)
    futures: dict[str, JobFuture] = {}
    problems: list[str] = []
    submitter: threading.Thread | None = None
    parked: dict[str, Any] = {}
    job_ctx, cancel_job_ctx = background().with_cancel()
    honour = HonourOwnCtx()
    try:
        if kind == "quick":
            for i in range(4):
                futures[f"quick{i}"] = pool.submit(script.job(f"quick{i}"))
            timeout, grace, drain = 1.0, 0.1, True
        else:
            hang = Hang(gate)
            futures["hang"] = pool.submit(script.job("hang", hang))
            futures["honour"] = pool.submit(script.job("honour", honour, ctx=job_ctx))
            assert hang.started.wait(5) and honour.started.wait(5)
            for i in range(2):
                futures[f"queued{i}"] = pool.submit(script.job(f"queued{i}"))

            def submit_parked() -> None:
                try:
                    parked["future"] = pool.submit(script.job("parked"))
                except BaseException as exc:
                    parked["error"] = exc

            submitter = threading.Thread(target=submit_parked, daemon=True)
            submitter.start()
            assert eventually(lambda: parked_submits(pool) == 1)
            timeout, grace, drain = 0.0, 0.0, kind == "hung-drain"
        observe(futures)
        call = call_interrupted_at_point(n, lambda: pool.shutdown(timeout, grace=grace,
                                                                 drain=drain))
        if not stats_sum_holds(pool):
            problems.append(f"stats do not add up: {pool.stats}")
        # Workers stay stuck for the later shutdown: a short bound keeps the sweep quick.
        later = (1.0, 0.1) if kind == "quick" else (0.1, 0.05)
        report = bounded_shutdown(pool, *later, problems)
        if kind != "quick" and not eventually(lambda: honour.ctx is not None
                                              and honour.ctx.done(), timeout=1):
            problems.append("the pool was cancelled, yet a running job's ctx is not done")
        gate.set()
        if submitter is not None:
            submitter.join(5)
            if "future" in parked:
                futures["parked"] = parked["future"]
            elif not isinstance(parked.get("error"), PoolClosed):
                problems.append(f"parked submit ended with {parked!r}")
        if alive_ := join_all(pool.threads(), timeout=5):
            problems.append(f"workers still alive: {alive_}")
        problems += final_problems(pool, report, futures, counting, None, False)
        return call, problems
    finally:
        gate.set()
        cancel_job_ctx()
        bounded_shutdown(pool, 5, 0.5, [])  # (a stuck one was reported already)
        join_all(pool.threads(), timeout=5)
        if submitter is not None:
            submitter.join(5)


@pytest.mark.slow
@pytest.mark.timeout(300)
@needs_opcode_events
@pytest.mark.parametrize("kind", ["quick", "hung-drain", "hung-no-drain"])
def test_keyboard_interrupt_at_any_point_of_shutdown_leaves_the_ledger_consistent(
    kind: str,
) -> None:
    points, problems = sweep(lambda n: _interrupted_shutdown(kind, n))
    assert points >= 5  # the sweep reached into the code (3.13 has fewer points than 3.11)
    assert not problems, summary(problems)


def _interrupt_main_thread_once_parked(pool: WorkerPool, stop: threading.Event) -> None:
    while not stop.is_set():
        if parked_submits(pool):
            signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGINT)
            return
        stop.wait(0.001)


@pytest.fixture
def sigint_raises() -> Iterator[None]:
    """SIGINT raises KeyboardInterrupt in the main thread (a run in the background ignores it)."""
    assert threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def test_keyboard_interrupt_while_a_submit_is_parked_leaves_the_job_out_and_the_ledger_whole(
    make_pool: MakePool, release: threading.Event, sigint_raises: None
) -> None:
    script = Script()
    counting = Counting(script)
    pool = make_pool(counting, 1, buffer=1)
    hang = Hang(release)
    pool.submit(script.job("hang", hang))
    assert hang.started.wait(5)
    pool.submit(script.job("queued"))
    stop = threading.Event()
    interrupter = threading.Thread(target=_interrupt_main_thread_once_parked, args=(pool, stop))
    interrupter.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            pool.submit(script.job("target"), timeout=BOUND)
    finally:
        stop.set()
        interrupter.join(5)
    assert parked_submits(pool) == 0
    assert pool.stats.submitted == 2
    assert pool.try_submit(script.job("target")) is None  # refused for want of room, not as a dup
    start = time.monotonic()
    report = pool.shutdown(timeout=1, grace=0.1)
    assert time.monotonic() - start <= 1.1 + SLACK
    release.set()
    assert not join_all(pool.threads(), timeout=5)
    assert ledger_problems(pool, ["hang", "queued"], ["target"]) == []
    assert pool.stats == report.stats
    assert counting.ran_twice() == []


# -- 11. each job runs in a copy of its submitter's contextvars --------------------------------


REQUEST_ID: contextvars.ContextVar[str] = contextvars.ContextVar("REQUEST_ID", default="unset")


def in_fresh_context(fn: Callable[[], Any]) -> Any:
    """Run ``fn`` in a copy of the current contextvars, so the test's own stay untouched."""
    return contextvars.copy_context().run(fn)


def test_job_sees_a_context_variable_set_by_its_submitter(make_pool: MakePool) -> None:
    pool = make_pool(lambda job: REQUEST_ID.get(), 2)

    def submit() -> Any:
        REQUEST_ID.set("req-42")
        return pool.submit(Job("j")).result(timeout=5)

    assert in_fresh_context(submit) == "req-42"


def test_job_sees_its_submitters_values_as_they_were_at_submit(
    make_pool: MakePool, release: threading.Event
) -> None:
    script = Script()
    pool = make_pool(script, 1)
    hang = Hang(release)
    pool.submit(script.job("hang", hang))
    assert hang.started.wait(5)

    def submit_then_change() -> JobFuture:
        REQUEST_ID.set("at-submit")
        future = pool.submit(script.job("j", lambda job: REQUEST_ID.get()))
        REQUEST_ID.set("changed-after-submit")
        return future

    future = in_fresh_context(submit_then_change)
    release.set()
    assert future.result(timeout=5) == "at-submit"


def test_job_change_to_a_context_variable_does_not_reach_its_submitter(
    make_pool: MakePool,
) -> None:
    def change(job: Job) -> str:
        REQUEST_ID.set("set-by-job")
        return REQUEST_ID.get()

    pool = make_pool(change, 1)

    def submit() -> tuple[Any, str]:
        REQUEST_ID.set("submitter")
        return pool.submit(Job("j")).result(timeout=5), REQUEST_ID.get()

    assert in_fresh_context(submit) == ("set-by-job", "submitter")


def test_job_change_to_a_context_variable_does_not_reach_the_next_job(
    make_pool: MakePool,
) -> None:
    script = Script()
    pool = make_pool(script, 1)  # one worker: both jobs run on the same thread

    def change(job: Job) -> str:
        REQUEST_ID.set("set-by-first-job")
        return REQUEST_ID.get()

    first = pool.submit(script.job("first", change))
    second = pool.submit(script.job("second", lambda job: REQUEST_ID.get()))
    assert first.result(timeout=5) == "set-by-first-job"
    assert second.result(timeout=5) == "unset"


def test_job_submitted_from_another_thread_sees_that_threads_values(
    make_pool: MakePool, spawn: Callable[..., Any]
) -> None:
    pool = make_pool(lambda job: REQUEST_ID.get(), 2)

    def submit_from_thread() -> Any:
        REQUEST_ID.set("from-thread")
        return pool.submit(Job("j")).result(timeout=5)

    assert spawn(submit_from_thread).join() == "from-thread"
    assert REQUEST_ID.get() == "unset"


def test_executor_call_sees_a_context_variable_set_by_its_submitter() -> None:
    executor = Executor(max_workers=2)
    try:
        def submit() -> Any:
            REQUEST_ID.set("req-7")
            return executor.submit(REQUEST_ID.get).result(timeout=5)

        assert in_fresh_context(submit) == "req-7"
    finally:
        executor.shutdown(wait=True, timeout=5)
        assert join_all(executor.pool.threads(), timeout=5) == []
