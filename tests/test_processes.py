"""ProcessPool: the process engine (DESIGN.md "Engines", issue 9).

Jobs come from :mod:`procjobs` (one picklable ``process`` whose behaviour is
in the payload), because a worker process imports ``process`` by name. Every
pool is made through the ``make`` fixture, which shuts it down with a bound at
teardown; the autouse ``no_leftover_processes`` fixture then fails the test
if any process it started (a worker, a zombie, a child python) is still there.
Every blocking call has a bound.
"""

from __future__ import annotations

import gc
import math
import multiprocessing
import os
import re
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import CancelledError
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, os.path.dirname(__file__))

import procjobs
from poolhelpers import BAD_TIMEOUTS, eventually, future_problems, ledger_problems
from prochelpers import alive, descendants, describe, left_behind, needs_proc
from procjobs import job

import pool
from pool import (
    Abandoned,
    Canceled,
    DeadlineExceeded,
    Job,
    PoolClosed,
    ProcessPool,
    Status,
    WorkerDied,
    background,
)
from pool import trace as ev

pytestmark = [pytest.mark.timeout(60), needs_proc]

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
BOUND = 10.0  # the longest any wait in these tests may take
SLACK = 0.25  # how far past a promised bound a busy 2-core machine may run


@pytest.fixture(autouse=True)
def no_leftover_processes() -> Iterator[None]:
    """Fail the test if it leaves a process (a worker, a zombie, a child) behind."""
    before = descendants()
    yield
    left = left_behind(before, wait=1.0)
    assert not left, f"processes left behind: {describe(left)}"
    assert not multiprocessing.active_children()


MakePool = Callable[..., ProcessPool]


@pytest.fixture
def make() -> Iterator[MakePool]:
    """``make(workers=2, **kwargs)``: a ProcessPool running procjobs.run, shut down at teardown."""
    made: list[ProcessPool] = []

    def build(workers: int = 2, process: Any = procjobs.run, **kwargs: Any) -> ProcessPool:
        p = ProcessPool(process, workers, **kwargs)
        made.append(p)
        assert p.wait_ready(BOUND)
        return p

    yield build
    for p in made:  # (tests that need their jobs to finish shut down themselves)
        p.shutdown(timeout=0.5, grace=0.1)


def started(path: Path) -> bool:
    """Wait until a job has created ``path`` (it runs now); bounded."""
    return eventually(path.exists, BOUND)


def outcome_of(p: ProcessPool, job_id: str) -> Any:
    return next(o for o in p.outcomes if o.job_id == job_id)


# -- construction -------------------------------------------------------------------


def test_worker_processes_are_started_before_any_job_is_submitted(make: MakePool) -> None:
    p = make(3)
    pids = p.pids()
    assert sorted(pids) == [1, 2, 3]
    assert all(alive(pid) for pid in pids.values())
    assert p.stats.submitted == 0


def test_default_number_of_workers_is_the_cpu_count(make: MakePool) -> None:
    p = make(None)
    assert p.workers == (os.cpu_count() or 1)
    assert len(p.pids()) == p.workers


def test_default_start_method_is_forkserver_where_available(make: MakePool) -> None:
    p = make(1)
    expected = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
    assert p.mp_context.get_start_method() == expected


@pytest.mark.parametrize("mp_context", ["spawn", multiprocessing.get_context("spawn")],
                         ids=["name", "context"])
def test_mp_context_takes_a_start_method_name_or_a_context(make: MakePool,
                                                           mp_context: Any) -> None:
    p = make(1, mp_context=mp_context)
    assert p.mp_context.get_start_method() == "spawn"
    assert p.submit(job("a")).result(BOUND) == "a"


@pytest.mark.parametrize(
    ("kwargs", "error", "name"),
    [
        ({"workers": 0}, ValueError, "workers"),
        ({"workers": -1}, ValueError, "workers"),
        ({"workers": "2"}, TypeError, "workers"),
        ({"workers": True}, TypeError, "workers"),
        ({"buffer": -1}, ValueError, "buffer"),
        ({"keep": -1}, ValueError, "keep"),
        ({"job_timeout": -1}, ValueError, "job_timeout"),
        ({"job_timeout": math.nan}, ValueError, "job_timeout"),
        ({"job_timeout": "1"}, TypeError, "job_timeout"),
        ({"exit_timeout": -1}, ValueError, "exit_timeout"),
        ({"mp_context": "threads"}, ValueError, "mp_context"),
        ({"mp_context": 42}, TypeError, "mp_context"),
        ({"process": 42}, TypeError, "process"),
    ],
    ids=["workers-0", "workers-negative", "workers-str", "workers-bool", "buffer-negative",
         "keep-negative", "job_timeout-negative", "job_timeout-nan", "job_timeout-str",
         "exit_timeout-negative", "mp_context-unknown", "mp_context-int",
         "process-not-callable"],
)
def test_bad_constructor_argument_raises_naming_it(kwargs: dict[str, Any],
                                                   error: type[Exception], name: str) -> None:
    args: dict[str, Any] = {"process": procjobs.run, "workers": 1, **kwargs}
    with pytest.raises(error, match=name):
        ProcessPool(**args)


def test_lambda_process_is_a_type_error_at_construction_naming_it_and_why() -> None:
    with pytest.raises(TypeError, match=r"process must pickle.*<lambda>.*top level of a module"):
        ProcessPool(lambda job: job.id, 1)


def test_nested_function_process_is_a_type_error_at_construction() -> None:
    def process(job: Job) -> str:
        return job.id

    with pytest.raises(TypeError, match=r"process must pickle.*process"):
        ProcessPool(process, 1)


def test_process_defined_in_an_interactive_main_is_a_type_error_at_construction(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # As in a notebook: __main__ has no file the workers could import.
    main = type(sys)("__main__")

    def notebook_process(job: Job) -> str:
        return job.id

    notebook_process.__module__ = "__main__"
    notebook_process.__qualname__ = "notebook_process"
    main.notebook_process = notebook_process  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "__main__", main)
    with pytest.raises(TypeError, match=r"__main__ module of an interactive session.*module"):
        ProcessPool(notebook_process, 1)


# -- submit --------------------------------------------------------------------------


def test_submit_returns_a_future_that_resolves_to_the_result(make: MakePool) -> None:
    p = make(2)
    future = p.submit(job("a", "ok", "hello"))
    assert isinstance(future, pool.JobFuture)
    assert future.job_id == "a"
    assert future.result(BOUND) == "hello"
    assert future.outcome.status is Status.SUCCEEDED


def test_job_payload_reaches_the_worker_intact(make: MakePool) -> None:
    p = make(1)
    assert p.submit(job("a", "ok", "x" * 100_000)).result(BOUND) == "x" * 100_000


def test_job_subclass_reaches_process_as_itself_with_its_fields(make: MakePool) -> None:
    p = make(1)
    result = p.submit(procjobs.TaggedJob("t", b"data", tag="blue")).result(BOUND)
    assert result == ("TaggedJob", "t", "blue", b"data")


def test_job_that_cannot_be_rebuilt_in_the_worker_fails_with_a_type_error_naming_it(
    make: MakePool,
) -> None:
    p = make(1)
    future = p.submit(procjobs.TaggedJob("odd", tag=procjobs.BreaksOnLoad()))  # type: ignore[arg-type]
    error = future.exception(BOUND)
    assert isinstance(error, TypeError)
    assert "job 'odd' could not be unpickled in worker 1" in str(error)
    assert p.submit(job("next")).result(BOUND) == "next"


def test_unpicklable_job_is_a_type_error_at_submit_naming_it(make: MakePool) -> None:
    p = make(1)
    with pytest.raises(TypeError, match=r"job 'locked' \(LockedJob\) does not pickle.*lock"):
        p.submit(procjobs.LockedJob("locked", lock=threading.Lock()))
    assert p.stats.submitted == 0
    assert p.submit(job("next")).result(BOUND) == "next"


def test_non_job_is_a_type_error(make: MakePool) -> None:
    p = make(1)
    with pytest.raises(TypeError, match=r"job must be a pool\.Job"):
        p.submit("a")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"job must be a pool\.Job"):
        p.try_submit(b"a")  # type: ignore[arg-type]


@pytest.mark.parametrize(("timeout", "error"), BAD_TIMEOUTS)
def test_submit_with_a_bad_timeout_raises_naming_it(make: MakePool, timeout: Any,
                                                    error: type[Exception]) -> None:
    p = make(1)
    with pytest.raises(error, match="timeout"):
        p.submit(job("a"), timeout=timeout)
    assert p.stats.submitted == 0


def test_job_id_still_queued_or_running_is_a_value_error(make: MakePool, tmp_path: Path) -> None:
    p = make(1)
    mark = tmp_path / "running"
    p.submit(job("a", "mark", mark))
    assert started(mark)
    with pytest.raises(ValueError, match="'a' is already queued or running"):
        p.submit(job("a"))


def test_submit_blocks_while_the_buffer_is_full_then_times_out(make: MakePool,
                                                               tmp_path: Path) -> None:
    p = make(1, buffer=1, job_timeout=BOUND)
    mark = tmp_path / "running"
    p.submit(job("busy", "mark", mark))
    assert started(mark)
    p.submit(job("queued"))
    began = time.monotonic()
    with pytest.raises(TimeoutError):
        p.submit(job("late"), timeout=0.1)
    assert 0.1 <= time.monotonic() - began < 0.1 + SLACK
    assert p.try_submit(job("late")) is None
    assert p.stats.submitted == 2


def test_submit_after_shutdown_raises_pool_closed(make: MakePool) -> None:
    p = make(1)
    p.shutdown(timeout=BOUND)
    with pytest.raises(PoolClosed):
        p.submit(job("a"))
    with pytest.raises(PoolClosed):
        p.try_submit(job("a"))


# -- CPU-bound work in parallel ---------------------------------------------------------


def test_cpu_bound_jobs_on_as_many_workers_take_about_one_jobs_time(make: MakePool) -> None:
    # In parallel, 2 jobs on 2 workers take about 1x one job's time; taking
    # turns (threads and the GIL) 2x. Other programs on a shared machine can
    # steal a core for a while, so the best of a few tries counts.
    p = make(2)
    loops = 1_000_000  # about 0.1 s of CPU
    tries = []
    for attempt in range(10):
        alone = p.submit(job(f"alone{attempt}", "work", loops))
        alone.result(BOUND)
        one = alone.outcome.ran_for
        futures = [p.submit(job(f"pair{attempt}-{i}", "work", loops)) for i in range(2)]
        for f in futures:
            f.result(BOUND)
        outcomes = [f.outcome for f in futures]
        wall = max(o.finished_at for o in outcomes) - min(o.started_at for o in outcomes)
        tries.append(wall / one)
        if wall < 1.5 * one:
            return
    pytest.fail(f"2 jobs on 2 workers took {min(tries):.2f}x one job's time at best ({tries})")


# -- futures and statuses ------------------------------------------------------------------


def test_futures_agree_with_the_ledger_for_every_kind_of_end(make: MakePool,
                                                              tmp_path: Path) -> None:
    p = make(2, job_timeout=BOUND)
    done_ctx, cancel = background().with_cancel()
    cancel()
    futures = [
        p.submit(job("ok")),
        p.submit(job("fails", "raise", "boom")),
        p.submit(job("deadline", "honour", ctx=background().with_timeout(0.05)[0])),
        p.submit(job("cancelled-before", "ok", ctx=done_ctx)),
        p.submit(job("dies", "exit", 3)),
    ]
    for f in futures:
        f.exception(BOUND) if not f.cancelled() else None
    report = p.shutdown(timeout=BOUND)
    assert report.clean
    assert future_problems(futures, p.outcomes) == []
    assert ledger_problems(p, [f.job_id for f in futures]) == []  # type: ignore[arg-type]
    statuses = {f.job_id: f.outcome.status for f in futures}
    assert statuses == {"ok": Status.SUCCEEDED, "fails": Status.FAILED,
                        "deadline": Status.TIMED_OUT, "cancelled-before": Status.CANCELED,
                        "dies": Status.FAILED}
    assert futures[3].cancelled()


def test_failed_job_raises_its_exception_with_the_workers_traceback(make: MakePool) -> None:
    p = make(1)
    future = p.submit(job("fails", "raise", "boom"))
    error = future.exception(BOUND)
    assert isinstance(error, ValueError) and str(error) == "boom"
    assert "procjobs.py" in str(error.__cause__)
    assert "raise ValueError" in str(error.__cause__)
    assert p.errors[0].error is error


def test_future_cancel_takes_a_queued_job_out_and_it_never_runs(make: MakePool,
                                                                tmp_path: Path) -> None:
    p = make(1, job_timeout=BOUND)
    mark, ran = tmp_path / "running", tmp_path / "ran"
    p.submit(job("busy", "mark", mark, 0.2))
    assert started(mark)
    queued = p.submit(job("queued", "log", ran))
    assert queued.cancel()
    assert queued.cancelled()
    p.shutdown(timeout=BOUND)
    assert not ran.exists()
    assert outcome_of(p, "queued").status is Status.CANCELED


def test_current_worker_id_in_a_worker_is_its_worker_id(make: MakePool) -> None:
    p = make(1)
    assert p.submit(job("who", "worker")).result(BOUND) == 1


# -- hard limits --------------------------------------------------------------------------


def test_job_past_job_timeout_is_killed_and_ends_timed_out(make: MakePool) -> None:
    p = make(1, job_timeout=0.3)
    pid = p.pids()[1]
    future = p.submit(job("hung", "hang"))
    error = future.exception(BOUND)
    assert isinstance(error, DeadlineExceeded)
    assert re.search(r"job 'hung' was still running at its job_timeout of 0.3 s: worker 1 "
                     rf"\(pid {pid}\) killed", str(error))
    outcome = future.outcome
    assert outcome.status is Status.TIMED_OUT
    assert 0.3 <= outcome.ran_for < 0.3 + SLACK
    assert eventually(lambda: not alive(pid), BOUND)


def test_killed_worker_is_replaced_by_a_new_worker_that_runs_the_next_job(
    make: MakePool,
) -> None:
    p = make(1, job_timeout=0.2)
    old = p.pids()[1]
    hung = p.submit(job("hung", "hang"))
    after = p.submit(job("after", "pid"))
    assert after.result(BOUND) != old
    assert hung.outcome.status is Status.TIMED_OUT
    assert after.outcome.worker_id == 2
    assert list(p.pids()) == [2]


def test_job_past_its_own_deadline_is_killed_without_a_job_timeout(make: MakePool) -> None:
    p = make(1)
    pid = p.pids()[1]
    ctx, _ = background().with_timeout(0.3)
    future = p.submit(job("hung", "hang", ctx=ctx))
    error = future.exception(BOUND)
    assert isinstance(error, DeadlineExceeded)
    assert "at its deadline" in str(error)
    # Killed at the deadline, which was set before the job started (so it ran < 0.3 s).
    deadline = ctx.deadline()
    assert deadline is not None
    assert deadline <= future.outcome.finished_at < deadline + SLACK
    assert eventually(lambda: not alive(pid), BOUND)


def test_hard_limit_is_the_earlier_of_job_timeout_and_the_deadline(make: MakePool) -> None:
    p = make(1, job_timeout=0.2)
    late, _ = background().with_timeout(BOUND)
    first = p.submit(job("job-timeout-first", "hang", ctx=late))
    assert "job_timeout of 0.2 s" in str(first.exception(BOUND))
    assert p.wait_ready(BOUND)
    soon, _ = background().with_timeout(0.1)
    second = p.submit(job("deadline-first", "hang", ctx=soon))
    assert "at its deadline" in str(second.exception(BOUND))


def test_job_ctx_in_the_worker_is_done_at_the_hard_limit(make: MakePool) -> None:
    p = make(1, job_timeout=2.0)
    future = p.submit(job("d", "deadline"))
    deadline = future.result(BOUND)
    assert deadline == pytest.approx(future.outcome.started_at + 2.0, abs=1e-6)


def test_job_that_honours_its_ctx_ends_timed_out_by_its_own_deadline_error(
    make: MakePool,
) -> None:
    p = make(1, job_timeout=0.2)
    future = p.submit(job("polite", "honour"))
    error = future.exception(BOUND)
    assert isinstance(error, DeadlineExceeded)
    assert future.outcome.status is Status.TIMED_OUT


def test_job_whose_deadline_passed_while_queued_never_runs(make: MakePool,
                                                           tmp_path: Path) -> None:
    p = make(1, job_timeout=BOUND)
    mark, ran = tmp_path / "running", tmp_path / "ran"
    p.submit(job("busy", "mark", mark, 0.2))
    assert started(mark)
    ctx, _ = background().with_timeout(0.01)
    future = p.submit(job("late", "log", ran, ctx=ctx))
    assert isinstance(future.exception(BOUND), DeadlineExceeded)
    assert future.outcome.started_at is None
    assert future.outcome.status is Status.TIMED_OUT
    assert not ran.exists()


# -- workers that die ----------------------------------------------------------------------


def test_worker_that_exits_fails_its_job_with_worker_died_naming_the_exit_code(
    make: MakePool,
) -> None:
    p = make(1)
    pid = p.pids()[1]
    error = p.submit(job("dies", "exit", 7)).exception(BOUND)
    assert isinstance(error, WorkerDied)
    assert str(error) == f"worker 1 (pid {pid}) died running job 'dies': exited with code 7"
    assert (error.job_id, error.worker_id, error.pid, error.exitcode) == ("dies", 1, pid, 7)


def test_worker_killed_from_outside_fails_its_job_with_worker_died_naming_the_signal(
    make: MakePool, tmp_path: Path,
) -> None:
    p = make(1)
    mark = tmp_path / "running"
    future = p.submit(job("victim", "mark", mark))
    assert started(mark)
    os.kill(p.pids()[1], signal.SIGKILL)
    error = future.exception(BOUND)
    assert isinstance(error, WorkerDied)
    assert "killed by signal SIGKILL" in str(error)
    assert "'victim'" in str(error)
    assert future.outcome.status is Status.FAILED


def test_worker_that_crashes_with_a_segfault_fails_its_job_naming_sigsegv(
    make: MakePool,
) -> None:
    p = make(1)
    error = p.submit(job("crash", "signal", "SIGSEGV")).exception(BOUND)
    assert isinstance(error, WorkerDied)
    assert "killed by signal SIGSEGV" in str(error)


def test_dead_worker_is_replaced_and_other_workers_jobs_are_unaffected(
    make: MakePool, tmp_path: Path,
) -> None:
    p = make(2)
    mark = tmp_path / "running"
    steady = p.submit(job("steady", "mark", mark, 0.5))
    assert started(mark)
    dies = p.submit(job("dies", "exit", 1))
    assert isinstance(dies.exception(BOUND), WorkerDied)
    assert steady.result(BOUND) == "steady"
    assert eventually(lambda: sorted(p.pids()) == [1, 3] or sorted(p.pids()) == [2, 3])
    assert p.submit(job("next")).result(BOUND) == "next"


def test_no_job_is_lost_or_run_twice_when_workers_die(make: MakePool, tmp_path: Path) -> None:
    p = make(2)
    log = tmp_path / "ran"
    futures = []
    for i in range(24):
        if i % 6 == 5:
            futures.append(p.submit(job(f"dies{i}", "exit", 1)))
        else:
            futures.append(p.submit(job(f"logs{i}", "log", log)))
    report = p.shutdown(timeout=BOUND)
    assert report.clean
    ran = log.read_text().split()
    logged = [f.job_id for f in futures if f.job_id.startswith("logs")]
    assert sorted(ran) == sorted(logged)  # each exactly once
    assert ledger_problems(p, [f.job_id for f in futures]) == []  # type: ignore[arg-type]
    assert p.stats.failed == 4 and p.stats.succeeded == 20


def test_worker_that_cannot_load_process_breaks_the_pool(make: MakePool) -> None:
    # It pickles here, and fails to unpickle in the worker.
    p = ProcessPool(procjobs.BreaksOnLoad(), 1)  # type: ignore[arg-type]
    try:
        assert eventually(lambda: p.closed, BOUND)
        with pytest.raises(BrokenProcessPool, match="could not load the pool's process"):
            p.submit(job("a"))
    finally:
        report = p.shutdown(timeout=BOUND)
    assert report.stats.submitted == 0


# -- what does not pickle ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "message"),
    [
        ("bad-result", r"job 'j' returned a lock that does not pickle"),
        ("bad-exception", r"job 'j' raised Unpicklable: holds a lock, an exception that does "
                          r"not pickle"),
        ("bad-exception-init", r"job 'j' raised NeedsTwoArgs: a b, an exception that does not "
                               r"pickle"),
        ("bad-unpickle-result", r"the result of job 'j' could not be unpickled in the pool: "
                                r"RuntimeError"),
    ],
    ids=["result", "exception", "exception-that-cannot-be-rebuilt",
         "result-that-cannot-be-rebuilt"],
)
def test_what_does_not_pickle_fails_that_job_with_a_type_error_naming_it(
    make: MakePool, action: str, message: str,
) -> None:
    p = make(1)
    future = p.submit(job("j", action))
    error = future.exception(BOUND)
    assert isinstance(error, TypeError)
    assert re.search(message, str(error)), str(error)
    assert future.outcome.status is Status.FAILED
    assert p.submit(job("next")).result(BOUND) == "next"  # the worker goes on


# -- cancel -----------------------------------------------------------------------------------


def test_cancel_reaches_the_job_ctx_in_the_worker(make: MakePool, tmp_path: Path) -> None:
    p = make(1)
    mark = tmp_path / "running"
    future = p.submit(job("listens", "honour", 30, mark))
    assert started(mark)
    began = time.monotonic()
    p.cancel()
    assert isinstance(future.exception(BOUND), Canceled)
    assert time.monotonic() - began < SLACK
    assert future.outcome.status is Status.CANCELED
    assert p.context.done()


def test_cancel_ends_queued_jobs_canceled_without_running_them(make: MakePool,
                                                               tmp_path: Path) -> None:
    p = make(1)
    mark, ran = tmp_path / "running", tmp_path / "ran"
    p.submit(job("listens", "honour", 30, mark))
    assert started(mark)
    queued = [p.submit(job(f"q{i}", "log", ran)) for i in range(3)]
    p.cancel()
    for f in queued:
        with pytest.raises(CancelledError):
            f.result(BOUND)
    assert not ran.exists()


# -- shutdown -------------------------------------------------------------------------------


def test_shutdown_runs_queued_jobs_and_reports_clean(make: MakePool) -> None:
    p = make(2)
    futures = [p.submit(job(f"j{i}", "sleep", 0.02)) for i in range(6)]
    report = p.shutdown(timeout=BOUND)
    assert report.clean
    assert report.stats.succeeded == 6
    assert len(report.drained) + sum(1 for f in futures if f.outcome not in report.drained) == 6
    assert all(f.result(0) == f.job_id for f in futures)


def test_shutdown_without_drain_cancels_queued_jobs(make: MakePool, tmp_path: Path) -> None:
    p = make(1)
    mark, ran = tmp_path / "running", tmp_path / "ran"
    p.submit(job("busy", "mark", mark, 0.2))
    assert started(mark)
    queued = [p.submit(job(f"q{i}", "log", ran)) for i in range(3)]
    report = p.shutdown(timeout=BOUND, drain=False)
    assert report.clean
    assert {o.job_id for o in report.canceled} == {"q0", "q1", "q2"}
    assert all(f.cancelled() for f in queued)
    assert not ran.exists()


def test_shutdown_with_a_hung_job_returns_within_timeout_plus_grace_and_abandons_it(
    make: MakePool, tmp_path: Path,
) -> None:
    p = make(2)
    mark = tmp_path / "running"
    hung = p.submit(job("hung", "mark", mark))
    assert started(mark)
    pids = list(p.pids().values())
    began = time.monotonic()
    report = p.shutdown(timeout=0.2, grace=0.1)
    elapsed = time.monotonic() - began
    assert 0.3 <= elapsed < 0.3 + SLACK
    assert not report.clean
    assert [o.job_id for o in report.abandoned] == ["hung"]
    error = hung.exception(0)
    assert isinstance(error, Abandoned) and error.job_id == "hung"
    assert not any(alive(pid) for pid in pids)
    assert not multiprocessing.active_children()


def test_shutdown_kills_a_worker_that_ignores_sigterm(make: MakePool, tmp_path: Path) -> None:
    p = make(1)
    mark = tmp_path / "running"
    p.submit(job("stubborn", "ignore-term", mark))
    assert started(mark)
    pid = p.pids()[1]
    began = time.monotonic()
    report = p.shutdown(timeout=0.1, grace=0.0)
    assert time.monotonic() - began < 0.1 + SLACK
    assert [o.job_id for o in report.abandoned] == ["stubborn"]
    assert not alive(pid)


def test_shutdown_keeps_its_bound_after_a_wake_up_lands_while_the_supervisor_empties_its_pipe(
    make: MakePool, monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The race behind an overrun seen once in CI: the supervisor empties its
    # wake-up pipe with os.read calls, each of which lets other threads run,
    # and a wake-up (a submit's, a cancel's) landing between two reads was
    # swallowed so that every later one was skipped; shutdown then waited for
    # its 1 s fallback. Here that wake-up lands there every time.
    p = make(1)
    core = p._core
    raced = threading.Event()

    class RacingOs:
        """pool.processes' os, but a wake-up lands right after the first read of the pipe."""

        def __getattr__(self, name: str) -> Any:
            return getattr(os, name)

        def read(self, fd: int, n: int) -> bytes:
            data = os.read(fd, n)
            if fd == core._wake_r and data and not raced.is_set():
                raced.set()
                core._waker.release()  # as another thread's would, between two reads
            return data

    monkeypatch.setattr(pool.processes, "os", RacingOs())
    core._waker.release()  # any wake-up: the supervisor empties the pipe
    assert raced.wait(BOUND)
    # A job's round trip: its submit wakes the supervisor, and once it is
    # back the supervisor is past the racing turn, so the shutdown's own
    # wake-ups are the ones that must not be lost.
    assert p.submit(job("after")).result(BOUND) == "after"
    began = time.monotonic()
    report = p.shutdown(timeout=1.0, grace=0.0)
    assert time.monotonic() - began < 1.0 + SLACK
    assert report.clean  # the supervisor heard the shutdown, not only the fallback's kills


def test_shutdown_cancels_the_pool_context_after_its_timeout(make: MakePool,
                                                              tmp_path: Path) -> None:
    p = make(1)
    mark = tmp_path / "running"
    polite = p.submit(job("polite", "honour", 30, mark))
    assert started(mark)
    report = p.shutdown(timeout=0.1, grace=BOUND)
    assert not report.clean  # the timeout passed
    assert report.abandoned == ()  # but the job heard the cancel within the grace
    assert polite.outcome.status is Status.CANCELED


def test_shutdown_is_idempotent(make: MakePool) -> None:
    p = make(1)
    p.submit(job("a"))
    first = p.shutdown(timeout=BOUND)
    assert p.shutdown() is first
    assert p.report is first


@pytest.mark.parametrize(("timeout", "error"), BAD_TIMEOUTS)
def test_shutdown_with_a_bad_timeout_raises_naming_it(make: MakePool, timeout: Any,
                                                      error: type[Exception]) -> None:
    p = make(1)
    with pytest.raises(error, match="timeout"):
        p.shutdown(timeout=timeout)
    with pytest.raises(error, match="grace"):
        p.shutdown(grace=timeout if timeout is not True else "x")
    assert not p.closed


def test_context_manager_shuts_the_pool_down(make: MakePool) -> None:
    with ProcessPool(procjobs.run, 1) as p:
        future = p.submit(job("a", "sleep", 0.05))
    assert p.report is not None and p.report.clean
    assert future.result(0) == "a"


def test_shutdown_from_a_done_callback_raises_runtime_error(make: MakePool) -> None:
    p = make(1)
    raised: list[BaseException] = []
    done = threading.Event()

    def callback(_: Any) -> None:
        try:
            p.shutdown()
        except BaseException as exc:
            raised.append(exc)
        done.set()

    # The job waits for the cancel, so the callback is added before it ends
    # and runs in the supervisor thread (on a done future it would run here).
    p.submit(job("a", "honour", 30)).add_done_callback(callback)
    p.cancel()
    assert done.wait(BOUND)
    assert isinstance(raised[0], RuntimeError)
    assert "wait for itself" in str(raised[0])


@pytest.mark.timeout(60)
def test_a_supervisor_stuck_in_a_done_callback_cannot_keep_shutdown_or_workers_alive(
        make: MakePool) -> None:
    p = make(2)
    release = threading.Event()
    in_callback = threading.Event()

    def stuck(_: Any) -> None:  # runs in the supervisor thread, which then does nothing else
        in_callback.set()
        release.wait(BOUND)

    p.submit(job("a", "honour", 30)).add_done_callback(stuck)
    p.submit(job("b", "honour", 30))
    p.cancel()
    assert in_callback.wait(BOUND)
    start = time.monotonic()
    report = p.shutdown(timeout=0, grace=0)
    elapsed = time.monotonic() - start
    pids = list(p.pids().values())
    try:
        # The fallback waited twice its 1 s bound and SIGKILLed the workers meanwhile.
        assert elapsed < 2 * 1.0 + SLACK, elapsed
        assert report.stats.submitted == 2
        assert eventually(lambda: not any(alive(pid) for pid in pids), BOUND)
    finally:
        release.set()  # the supervisor runs again and reaps them (the autouse fixture checks)


def test_submit_from_a_done_callback_never_waits_for_room(make: MakePool) -> None:
    p = make(1, buffer=0)
    chained: list[Any] = []

    def callback(_: Any) -> None:
        chained.append(p.submit(job("second")))

    p.submit(job("first")).add_done_callback(callback)
    assert eventually(lambda: bool(chained), BOUND)
    assert chained[0].result(BOUND) == "second"


def test_keyboard_interrupt_during_shutdown_leaves_the_pool_consistent_and_bounded(
    make: MakePool, tmp_path: Path,
) -> None:
    p = make(1)
    mark = tmp_path / "running"
    p.submit(job("hung", "mark", mark))
    assert started(mark)
    main = threading.get_ident()
    # Python's own SIGINT handler, whatever this process inherited (a shell
    # starts background jobs with SIGINT ignored).
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    timer = threading.Timer(0.05, signal.pthread_kill, (main, signal.SIGINT))
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            p.shutdown(timeout=BOUND)
    finally:
        timer.join()
        signal.signal(signal.SIGINT, previous)
    began = time.monotonic()
    report = p.shutdown(timeout=0.1, grace=0.0)
    assert time.monotonic() - began < 0.1 + SLACK
    assert [o.job_id for o in report.abandoned] == ["hung"]
    assert ledger_problems(p, ["hung"]) == []  # type: ignore[arg-type]


# -- the trace -------------------------------------------------------------------------------


def test_trace_has_a_lane_per_worker_process_and_a_replacement_is_a_new_lane(
    make: MakePool,
) -> None:
    p = make(2, job_timeout=0.2)
    p.submit(job("hung", "hang")).exception(BOUND)
    assert p.wait_ready(BOUND)  # the replacement
    p.submit(job("after", "ok")).result(BOUND)
    p.shutdown(timeout=BOUND)
    events = p.trace.events()
    starts = [e.worker_id for e in events if e.kind == ev.WORKER_START]
    exits = [e.worker_id for e in events if e.kind == ev.WORKER_EXIT]
    assert sorted(starts) == [1, 2, 3]
    assert sorted(exits) == [1, 2, 3]
    spans = {s.job_id: s for s in p.trace.spans()}
    killed = spans["hung"]
    assert killed.status is Status.TIMED_OUT
    exit_of_killed = next(e.t for e in events
                          if e.kind == ev.WORKER_EXIT and e.worker_id == killed.worker_id)
    assert killed.end == pytest.approx(exit_of_killed, abs=1e-3)
    replacement_start = next(e.t for e in events if e.kind == ev.WORKER_START
                             and e.worker_id == 3)
    assert replacement_start > exit_of_killed


def test_plot_timeline_draws_a_process_pools_trace_with_the_replacement_lane(
    make: MakePool,
) -> None:
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    from pool.timeline import plot_timeline, snapshot

    p = make(1, job_timeout=0.2)
    p.submit(job("hung", "hang")).exception(BOUND)
    p.submit(job("after")).result(BOUND)
    p.shutdown(timeout=BOUND)
    assert snapshot(p.trace).lanes == (1, 2)
    ax = plot_timeline(p.trace)
    assert len(ax.get_yticks()) == 2


def test_plot_timeline_takes_a_process_pool(make: MakePool) -> None:
    pytest.importorskip("matplotlib")
    from pool.timeline import snapshot

    p = make(1)
    p.submit(job("a")).result(BOUND)
    assert snapshot(p).lanes == (1,)


def test_the_dashboards_timeline_view_draws_a_process_pool(make: MakePool) -> None:
    pytest.importorskip("ipywidgets")
    from pool.widgets import TimelineView

    p = make(1)
    p.submit(job("a")).result(BOUND)
    view = TimelineView(1, right=1.0, most_queued=1)
    png = view.show(p, p.trace.now())
    assert png.startswith(b"\x89PNG")


# -- exit, dropped pools, fork, a parent that dies ------------------------------------------


@dataclass
class Child:
    returncode: int
    stdout: str
    stderr: str
    exited_at: float

    def printed(self, tag: str) -> str:
        match = re.search(rf"^{re.escape(tag)} (.*)$", self.stdout, re.MULTILINE)
        assert match, f"child did not print {tag!r}:\n{self.stdout}\n{self.stderr}"
        return match.group(1)


def run_child(program: str, timeout: float = 30.0) -> Child:
    """Run ``program`` in a fresh interpreter that can import procjobs; bounded."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), str(ROOT)])}
    process = subprocess.Popen([sys.executable, "-c", program], cwd=TESTS, text=True, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        # The child's exit, not its pipes closing: its forkserver holds them a
        # moment longer (it exits when it sees its parent gone). The output is
        # small, so the child never blocks on a full pipe meanwhile.
        process.wait(timeout)
        exited_at = time.monotonic()
        stdout, stderr = process.communicate(timeout=timeout)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=5)
    return Child(process.returncode, stdout, stderr, exited_at)


PROGRAM = """
import logging, os, sys, time
import procjobs
from procjobs import job
from pool import ProcessPool
logging.basicConfig(stream=sys.stderr, level=logging.WARNING,
                    format="%(levelname)s:%(name)s:%(message)s")
"""


def worker_pids(child: Child) -> list[int]:
    return [int(pid) for pid in child.printed("pids").split()]


@pytest.mark.slow
def test_at_exit_accepted_jobs_of_a_pool_not_shut_down_complete(tmp_path: Path) -> None:
    log = tmp_path / "ran"
    child = run_child(PROGRAM + textwrap.dedent(f"""
        pool = ProcessPool(procjobs.run, 1)
        pool.submit(job("first", "sleep", 0.2))
        for name in "abc":
            pool.submit(job(name, "log", {str(log)!r}))
        print("pids", *pool.pids().values(), flush=True)
    """))
    assert child.returncode == 0, child.stderr
    assert log.read_text().split() == ["a", "b", "c"]
    assert "WARNING" not in child.stderr
    assert not any(alive(pid) for pid in worker_pids(child))


@pytest.mark.slow
def test_at_exit_a_hung_job_delays_exit_by_at_most_exit_timeout_plus_grace() -> None:
    child = run_child(PROGRAM + textwrap.dedent("""
        pool = ProcessPool(procjobs.run, 1, exit_timeout=0.5)
        pool.wait_ready(10)
        pool.submit(job("hung", "hang"))
        print("pids", *pool.pids().values(), flush=True)
        print("main-done", time.monotonic(), flush=True)
    """))
    assert child.returncode == 0, child.stderr
    delay = child.exited_at - float(child.printed("main-done"))
    assert 0.5 - 0.05 <= delay <= 0.5 + 0.1 + SLACK
    assert "abandoned" in child.stderr  # the report that is not clean is logged
    assert not any(alive(pid) for pid in worker_pids(child))


@pytest.mark.slow
def test_at_exit_a_dropped_pools_hung_job_delays_exit_by_at_most_exit_timeout_plus_grace(
) -> None:
    child = run_child(PROGRAM + textwrap.dedent("""
        import gc, weakref
        pool = ProcessPool(procjobs.run, 1, exit_timeout=0.5)
        pool.wait_ready(10)
        pool.submit(job("hung", "hang"))
        print("pids", *pool.pids().values(), flush=True)
        ref = weakref.ref(pool)
        del pool
        gc.collect()
        print("collected", ref() is None, flush=True)
        print("main-done", time.monotonic(), flush=True)
    """))
    assert child.returncode == 0, child.stderr
    assert child.printed("collected") == "True"
    delay = child.exited_at - float(child.printed("main-done"))
    assert delay <= 0.5 + 0.1 + SLACK
    assert not any(alive(pid) for pid in worker_pids(child))


@pytest.mark.slow
def test_dropped_pool_runs_its_accepted_jobs_and_leaves_no_process(tmp_path: Path) -> None:
    log = tmp_path / "ran"
    p = ProcessPool(procjobs.run, 1)
    futures = [p.submit(job(name, "log", log)) for name in "abc"]
    pids = list(p.pids().values())
    del p
    gc.collect()
    for f in futures:
        assert f.result(BOUND) == f.job_id
    assert log.read_text().split() == ["a", "b", "c"]
    assert eventually(lambda: not multiprocessing.active_children(), BOUND)
    assert eventually(lambda: not any(alive(pid) for pid in pids), BOUND)


@pytest.mark.slow
def test_workers_exit_when_the_pools_process_is_killed() -> None:
    # The parent dies without any chance to clean up: its workers must notice.
    child = subprocess.Popen(
        [sys.executable, "-c", PROGRAM + textwrap.dedent("""
            pool = ProcessPool(procjobs.run, 2)
            pool.wait_ready(10)
            pool.submit(job("busy", "hang"))  # one worker busy, one idle
            time.sleep(0.1)
            print("pids", *pool.pids().values(), flush=True)
            time.sleep(60)
        """)],
        cwd=TESTS, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), str(ROOT)])})
    try:
        assert child.stdout is not None
        line = child.stdout.readline()
        assert line.startswith("pids "), line + child.stderr.read() if child.stderr else ""
        pids = [int(pid) for pid in line.split()[1:]]
        assert len(pids) == 2 and all(alive(pid) for pid in pids)
        child.kill()
        child.wait(BOUND)
        assert eventually(lambda: not any(alive(pid) for pid in pids), BOUND), pids
    finally:
        if child.poll() is None:
            child.kill()
        child.communicate(timeout=BOUND)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_forked_childs_copy_of_a_process_pool_is_closed(make: MakePool) -> None:
    p = make(1)
    p.submit(job("a")).result(BOUND)
    pid = os.fork()
    if pid == 0:  # the child: its copy must refuse work and shut down at once
        code = 1
        try:
            try:
                p.submit(job("b"))
            except PoolClosed:
                report = p.shutdown(timeout=0)
                code = 0 if report.clean and p.closed else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert p.submit(job("c")).result(BOUND) == "c"  # the parent's pool is unaffected


# -- reading --------------------------------------------------------------------------------


def test_repr_names_the_engine_its_state_and_start_method(make: MakePool) -> None:
    p = make(2, buffer=5)
    method = p.mp_context.get_start_method()
    assert repr(p) == f"<ProcessPool open workers=2 buffer=5 {method}>"
    p.shutdown(timeout=BOUND)
    assert repr(p) == f"<ProcessPool closed workers=2 buffer=5 {method}>"


def test_stats_add_up_while_jobs_run(make: MakePool, tmp_path: Path) -> None:
    p = make(1)
    mark = tmp_path / "running"
    p.submit(job("busy", "mark", mark, 0.2))
    assert started(mark)
    p.submit(job("queued"))
    s = p.stats
    assert (s.submitted, s.running, s.queued) == (2, 1, 1)
