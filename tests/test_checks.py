"""pool.checks: the package's own answers pass; broken answers fail the right scenario, quickly.

Every broken answer here is one a learner could write. Each check must
finish within a few seconds even when the answer deadlocks, print one
stable line per scenario, and leave no thread of its own running.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

sys.path.insert(0, os.path.dirname(__file__))

import corpus
from corpus import CountedScenarios, Run, do_nothing, raise_at_once

import pool
from pool import Channel, Job, Outcome, Status, WaitGroup
from pool.checks import (
    check_job,
    check_pool,
    check_process,
    check_shutdown,
    check_start_workers,
    check_worker,
)

pytestmark = pytest.mark.timeout(30)

Check = Callable[[Callable[..., Any]], bool]

SCENARIOS: dict[Check, int] = {
    check_job: 7,
    check_worker: 11,
    check_start_workers: 8,
    check_shutdown: 8,
    check_pool: 9,
    check_process: 5,
}
REFERENCE: dict[Check, Callable[..., Any]] = {
    check_job: pool.Job,
    check_worker: pool.worker,
    check_start_workers: pool.start_workers,
    check_shutdown: pool.shutdown,
    check_pool: pool.WorkerPool,
}
QUICK = 5.0  # a check, even of an answer that hangs, returns within this many seconds


def run_check(check: Check, answer: Callable[..., Any], capsys: pytest.CaptureFixture[str]) -> Run:
    """check(answer), its output read as SCENARIOS[check] lines of any scenarios."""
    return corpus.run_check(check, [answer], capsys, CountedScenarios(SCENARIOS[check]))


@pytest.fixture(autouse=True)
def no_thread_left_behind() -> Iterator[None]:
    """Every thread a test (or a check it ran) started has ended shortly after the test."""
    with corpus.no_thread_left_behind():
        yield


# -- learner-style answers ---------------------------------------------------------


def run_job(worker_id: int, job: Job, process: Callable[[Job], Any]) -> Outcome:
    """The right per-job step (the worker mistakes below are elsewhere; more in
    worker_answers.py): a job whose context is done is not run; anything raised is a failure."""
    err = job.ctx.err()
    if err is not None:
        status = Status.TIMED_OUT if isinstance(err, pool.DeadlineExceeded) else Status.CANCELED
        return Outcome(job.id, worker_id, status, None, err)
    try:
        return Outcome(job.id, worker_id, Status.SUCCEEDED, process(job))
    except BaseException as exc:
        return Outcome(job.id, worker_id, Status.FAILED, None, exc)


def worker_forgetting_done(worker_id: int, jobs: Channel[Job], wg: WaitGroup,
                           process: Callable[[Job], Any], *, record: Any = None) -> None:
    for job in jobs:
        outcome = run_job(worker_id, job, process)
        if record is not None:
            record(outcome)


def worker_dying_on_first_exception(worker_id: int, jobs: Channel[Job], wg: WaitGroup,
                                    process: Callable[[Job], Any], *, record: Any = None) -> None:
    try:
        for job in jobs:
            result = process(job)  # no try/except: the first failure ends the worker
            if record is not None:
                record(Outcome(job.id, worker_id, Status.SUCCEEDED, result))
    finally:
        wg.done()


def worker_crashing_without_finally(worker_id: int, jobs: Channel[Job], wg: WaitGroup,
                                    process: Callable[[Job], Any], *, record: Any = None) -> None:
    for job in jobs:
        process(job)
    wg.done()  # never reached once a job raised


def start_one_worker(num_workers: int, process: Callable[[Job], Any], *, buffer: int = 100,
                     record: Any = None, daemon: bool = True) -> tuple[Channel[Job], WaitGroup]:
    jobs: Channel[Job] = Channel(buffer)
    wg = WaitGroup()
    wg.add(1)
    threading.Thread(target=pool.worker, args=(1, jobs, wg, process), kwargs={"record": record},
                     daemon=daemon).start()
    return jobs, wg


def start_workers_with_arguments_swapped(
    num_workers: int, process: Callable[[Job], Any], *, buffer: int = 100, record: Any = None,
    daemon: bool = True,
) -> tuple[Channel[Job], WaitGroup]:
    jobs: Channel[Job] = Channel(buffer)
    wg = WaitGroup()
    for worker_id in range(1, num_workers + 1):
        wg.add(1)
        threading.Thread(target=pool.worker, args=(jobs, worker_id, wg, process),
                         daemon=daemon).start()
    return jobs, wg


def shutdown_without_close(jobs: Channel[Job], wg: WaitGroup, timeout: float | None = None
                           ) -> bool:
    return wg.wait(timeout)


def shutdown_ignoring_timeout(jobs: Channel[Job], wg: WaitGroup, timeout: float | None = None
                              ) -> bool:
    jobs.close()
    wg.wait()
    return True


class TinyPool:
    """A learner's pool built from the stages: shutdown returns a bool."""

    def __init__(self, process: Callable[[Job], Any], workers: int) -> None:
        self.outcomes: list[Outcome] = []
        self._jobs, self._wg = pool.start_workers(workers, process, record=self.outcomes.append)

    def submit(self, job: Job) -> None:
        self._jobs.send(job)

    def shutdown(self, timeout: float | None = None) -> bool:
        return pool.shutdown(self._jobs, self._wg, timeout)


class TinyPoolIgnoringTimeout(TinyPool):
    def shutdown(self, timeout: float | None = None) -> bool:
        return pool.shutdown(self._jobs, self._wg)


class TinyPoolAcceptingAfterShutdown(TinyPool):
    def submit(self, job: Job) -> None:
        if not self._jobs.closed:
            self._jobs.send(job)


@dataclass(frozen=True)
class UncheckedJob:
    id: Any
    payload: Any = b""
    ctx: Any = None


# -- the package's own answers pass ------------------------------------------------


@pytest.mark.parametrize("check", list(REFERENCE), ids=lambda c: c.__name__)
def test_package_answer_passes_its_check_with_one_ok_line_per_scenario(
    check: Check, capsys: pytest.CaptureFixture[str]
) -> None:
    run = run_check(check, REFERENCE[check], capsys)
    assert run.passed, run.lines
    assert run.elapsed < QUICK


def test_pool_built_from_the_stage_functions_only_fails_the_accounting_scenarios(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Notebook 08 asks for the cancel/abandon/late-finish accounting: stage 3-5 alone lack it."""
    run = run_check(check_pool, TinyPool, capsys)
    assert set(run.failures) == {
        "pool gives up on hung jobs after one timeout (0.2 s), however many hang",
        "pool records a job running at the timeout ABANDONED, once, even when it finishes late",
        "pool records jobs still queued at the timeout CANCELED and never runs them",
    }, run.lines
    assert "record it ABANDONED" in run.failures[
        "pool gives up on hung jobs after one timeout (0.2 s), however many hang"]


# -- broken workers -------------------------------------------------------------------


def test_worker_that_forgets_wg_done_fails_only_the_wg_done_scenario(
    capsys: pytest.CaptureFixture[str],
) -> None:
    run = run_check(check_worker, worker_forgetting_done, capsys)
    assert run.failures == {
        "worker calls wg.done() exactly once, also when a job raised":
            "the worker never called wg.done(): shutdown would wait forever",
    }
    assert run.elapsed < QUICK


def test_worker_that_dies_on_first_exception_fails_the_survival_scenario(
    capsys: pytest.CaptureFixture[str],
) -> None:
    run = run_check(check_worker, worker_dying_on_first_exception, capsys)
    assert "worker survives a job that raises (the next job still runs)" in run.failures
    assert "worker calls wg.done() exactly once, also when a job raised" not in run.failures
    assert "the worker died when job 'j2' raised" in run.failures[
        "worker survives a job that raises (the next job still runs)"]
    assert run.elapsed < QUICK


def test_worker_that_raises_without_finally_is_told_to_call_wg_done_in_finally(
    capsys: pytest.CaptureFixture[str],
) -> None:
    run = run_check(check_worker, worker_crashing_without_finally, capsys)
    hint = run.failures["worker calls wg.done() exactly once, also when a job raised"]
    assert hint.startswith("the worker raised RuntimeError: job j2 fails on purpose and never "
                           "called wg.done()")
    assert "finally" in hint
    assert run.elapsed < QUICK


def test_worker_that_never_returns_after_close_fails_without_hanging_the_check(
    capsys: pytest.CaptureFixture[str],
) -> None:
    release = threading.Event()

    def worker_ignoring_close(worker_id: int, jobs: Channel[Job], wg: WaitGroup,
                              process: Callable[[Job], Any], *, record: Any = None) -> None:
        try:
            while True:
                job, ok = jobs.recv()
                if not ok:
                    release.wait(10)  # stands for a loop that never notices the close
                    return
                outcome = run_job(worker_id, job, process)  # type: ignore[arg-type]
                if record is not None:
                    record(outcome)
        finally:
            wg.done()

    try:
        run = run_check(check_worker, worker_ignoring_close, capsys)
    finally:
        release.set()
    assert run.failures == {
        "worker calls wg.done() exactly once, also when a job raised":
            "the worker never returned after the channel was closed and drained, so it never "
            "called wg.done(): shutdown would wait forever",
        "worker returns when the channel is closed":
            "the worker did not return after the channel was closed: loop with 'for job in "
            "jobs:', which ends once the channel is closed and drained",
    }
    assert run.elapsed < QUICK


# -- broken dispatchers -----------------------------------------------------------------


def test_start_workers_that_starts_one_worker_fails_the_count_and_concurrency_scenarios(
    capsys: pytest.CaptureFixture[str],
) -> None:
    run = run_check(check_start_workers, start_one_worker, capsys)
    assert set(run.failures) == {
        "start_workers starts exactly 3 worker threads",
        "start_workers runs 3 jobs at the same time on its 3 workers",
        "start_workers gives its 3 workers the ids 1 to 3",
        "start_workers makes one channel that holds buffer=2 waiting jobs for 2 workers",
        "start_workers counts every worker in wg before returning",
    }
    assert run.failures["start_workers starts exactly 3 worker threads"].startswith(
        "start_workers(3, ...) started 1 thread:")
    assert run.failures["start_workers runs 3 jobs at the same time on its 3 workers"].startswith(
        "only 1 of 3 jobs ran at the same time")
    assert run.elapsed < QUICK


def test_crashing_worker_threads_are_reported_in_a_hint_not_printed_as_tracebacks(
    capsys: pytest.CaptureFixture[str],
) -> None:
    run = run_check(check_start_workers, start_workers_with_arguments_swapped, capsys)
    crash = "a worker thread raised TypeError: worker_id must be an int, got Channel"
    assert run.failures == {
        "start_workers runs 3 jobs at the same time on its 3 workers": crash,
        "start_workers gives its 3 workers the ids 1 to 3": crash,
        "start_workers makes one channel that holds buffer=2 waiting jobs for 2 workers": crash,
        "start_workers counts every worker in wg before returning": crash,
        "start_workers passes process and record on to every worker": crash,
    }
    assert run.elapsed < QUICK


def test_check_restores_the_threading_excepthook_it_borrowed(
    capsys: pytest.CaptureFixture[str],
) -> None:
    hook = threading.excepthook
    run_check(check_start_workers, start_workers_with_arguments_swapped, capsys)
    assert threading.excepthook is hook


# -- broken shutdowns -------------------------------------------------------------------


def test_shutdown_that_never_closes_the_channel_fails_the_close_scenario(
    capsys: pytest.CaptureFixture[str],
) -> None:
    run = run_check(check_shutdown, shutdown_without_close, capsys)
    hint = run.failures["shutdown closes the channel"]
    assert "workers block in their loop forever" in hint
    assert "close the channel first" in hint
    assert run.elapsed < QUICK


def test_shutdown_that_waits_forever_on_a_hung_worker_fails_the_timeout_scenario(
    capsys: pytest.CaptureFixture[str],
) -> None:
    run = run_check(check_shutdown, shutdown_ignoring_timeout, capsys)
    assert list(run.failures) == [
        "shutdown returns False after its timeout (0.2 s) when a worker hangs",
        "shutdown returns False at once with timeout=0 when a worker hangs",
        "shutdown leaves only daemon threads behind on a hung worker",
        "shutdown can be called again, without an error, and tells the truth",
    ]
    assert run.failures[
        "shutdown returns False after its timeout (0.2 s) when a worker hangs"].startswith(
        "shutdown(timeout=0.2) was still waiting 1 s after its timeout while a worker hung")
    assert run.elapsed < QUICK


# -- broken jobs and pools ------------------------------------------------------------


def test_job_without_validation_fails_the_copy_and_rejection_scenarios(
    capsys: pytest.CaptureFixture[str],
) -> None:
    run = run_check(check_job, UncheckedJob, capsys)
    assert set(run.failures) == {
        "job gives a job made without ctx a context that is never done",
        "job copies a bytearray payload to bytes",
        "job rejects an empty id with ValueError",
        "job rejects an id that is not a str with TypeError",
        "job rejects a str payload with TypeError",
        "job rejects a payload that is not bytes (a list, an int) with TypeError",
    }
    assert "copy it with bytes(payload)" in run.failures["job copies a bytearray payload to bytes"]


def test_pool_whose_shutdown_ignores_its_timeout_fails_the_hung_job_scenario(
    capsys: pytest.CaptureFixture[str],
) -> None:
    run = run_check(check_pool, TinyPoolIgnoringTimeout, capsys)
    hung = "pool gives up on hung jobs after one timeout (0.2 s), however many hang"
    assert hung in run.failures
    assert "was still waiting 1 s after its timeout" in run.failures[hung]
    assert run.elapsed < QUICK + 5.0


def test_pool_that_silently_accepts_jobs_after_shutdown_fails_the_refusal_scenario(
    capsys: pytest.CaptureFixture[str],
) -> None:
    run = run_check(check_pool, TinyPoolAcceptingAfterShutdown, capsys)
    assert "pool refuses jobs after shutdown" in run.failures
    assert "accepted job 'late'" in run.failures["pool refuses jobs after shutdown"]


# -- any answer, however wrong ----------------------------------------------------------


@pytest.mark.parametrize("answer", [raise_at_once, do_nothing], ids=lambda a: a.__name__)
@pytest.mark.parametrize("check", list(SCENARIOS), ids=lambda c: c.__name__)
def test_unfinished_answer_fails_every_scenario_quickly_without_raising(
    check: Check, answer: Callable[..., Any], capsys: pytest.CaptureFixture[str]
) -> None:
    run = run_check(check, answer, capsys)
    assert len(run.failures) == SCENARIOS[check]
    assert run.elapsed < QUICK


@pytest.mark.parametrize("check", list(SCENARIOS), ids=lambda c: c.__name__)
def test_check_given_something_not_callable_raises_type_error(check: Check) -> None:
    with pytest.raises(TypeError, match="must be callable, got int"):
        check(42)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("check", "answer"),
    [
        (check_worker, pool.worker),
        (check_worker, worker_forgetting_done),
        (check_worker, worker_dying_on_first_exception),
        (check_start_workers, start_one_worker),
        (check_start_workers, start_workers_with_arguments_swapped),
        (check_shutdown, shutdown_without_close),
        (check_shutdown, shutdown_ignoring_timeout),
        (check_job, UncheckedJob),
        (check_pool, TinyPoolIgnoringTimeout),
        (check_pool, raise_at_once),
    ],
    ids=lambda x: getattr(x, "__name__", "?"),
)
def test_check_output_is_the_same_every_run(
    check: Check, answer: Callable[..., Any], capsys: pytest.CaptureFixture[str]
) -> None:
    first = run_check(check, answer, capsys)
    second = run_check(check, answer, capsys)
    assert first.lines == second.lines
    assert not any("0x" in line for line in first.lines)


# -- check_process: a process function that listens to its context -------------------------


def listening_process(job: Job) -> int:
    for _ in job.payload:
        job.ctx.sleep(0.05)
    return len(job.payload)


REFERENCE[check_process] = listening_process


def deaf_process(job: Job) -> int:
    time.sleep(0.05 * len(job.payload))
    return len(job.payload)


def swallowing_process(job: Job) -> str:
    try:
        for _ in job.payload:
            job.ctx.sleep(0.05)
    except pool.ContextError:
        return "stopped"
    return "done"


def test_listening_process_passes_check_process(capsys: pytest.CaptureFixture[str]) -> None:
    run = run_check(check_process, listening_process, capsys)
    assert run.passed is True
    assert all(line.startswith("ok   process ") for line in run.lines)


def test_process_that_ignores_its_context_fails_the_stopping_scenarios(
    capsys: pytest.CaptureFixture[str],
) -> None:
    run = run_check(check_process, deaf_process, capsys)
    assert run.passed is False
    assert run.lines[0].startswith("ok   ") and run.lines[1].startswith("ok   ")  # no spinning
    assert all("still working" in line for line in run.lines[2:])
    assert run.elapsed < 5


def test_process_that_swallows_the_context_error_is_told_to_raise_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    run = run_check(check_process, swallowing_process, capsys)
    assert run.passed is False
    assert all("raise the context's error" in line for line in run.lines[2:])
