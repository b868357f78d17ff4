"""Answers to notebook 03's exercise, right and wrong, as a learner could write them.

The exercise asks for ``my_worker(worker_id, jobs, wg, process, *, record=None)``
(see ``pool.checks.check_worker``). ``RIGHT`` holds correct workers in other
styles; ``WRONG`` holds one worker per mistake the notebook and the issue
name, and a few more, each with the scenarios it must fail and a phrase the
hint of the first failed one must contain. ``tests/test_check_worker.py``
runs them all through the checker.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pool import Canceled, Channel, DeadlineExceeded, Job, Outcome, Status, WaitGroup

log = logging.getLogger("pool")

Worker = Callable[..., None]

# -- the scenarios, as check_worker prints them (after "worker ") ------------------------------

EVERY = "processes every job from a closed channel, the last one too"
RESULT = "records process(job)'s return value as a SUCCEEDED result"
FAILED = "records a job that raises as FAILED, with its exception"
SURVIVES = "survives a job that raises (the next job still runs)"
EXIT = "survives a job that calls sys.exit() (SystemExit)"
DONE_ONCE = "calls wg.done() exactly once, also when a job raised"
DONE_AT_EXIT = "calls wg.done() when it exits, not while a job runs"
RETURNS = "returns when the channel is closed"
WORKER_ID = "records its worker id in each outcome"
CONTEXT = "does not run a job whose context is already done, and records why"
BLOCKS = "blocks on the channel while no job comes (no polling)"
SCENARIOS = (EVERY, RESULT, FAILED, SURVIVES, EXIT, DONE_ONCE, DONE_AT_EXIT, RETURNS, WORKER_ID,
             CONTEXT, BLOCKS)

LOOPS_END = threading.Event()
"""Set by the test once the check is over: ends the loops below that would never end alone."""


def outcome_of(worker_id: int, job: Job, process: Callable[[Job], Any]) -> Outcome:
    """The right per-job step: skip a done context, run, catch anything."""
    err = job.ctx.err()
    if err is not None:
        status = Status.TIMED_OUT if isinstance(err, DeadlineExceeded) else Status.CANCELED
        return Outcome(job.id, worker_id, status, error=err)
    try:
        return Outcome(job.id, worker_id, Status.SUCCEEDED, process(job))
    except BaseException as exc:
        log.error("job %s failed: %r", job.id, exc)
        return Outcome(job.id, worker_id, Status.FAILED, error=exc)


# -- right answers, other styles --------------------------------------------------------------

def worker_while_recv(worker_id: int, jobs: Channel[Job], wg: WaitGroup,
                      process: Callable[[Job], Any], *, record: Any = None) -> None:
    """A while loop on recv(); try/finally for wg.done()."""
    try:
        while True:
            job, ok = jobs.recv()
            if not ok:
                break
            assert job is not None
            outcome = outcome_of(worker_id, job, process)
            if record:
                record(outcome)
    finally:
        wg.done()


def worker_exit_stack(worker_id: int, jobs: Channel[Job], wg: WaitGroup,
                      process: Callable[[Job], Any], *, record: Any = None) -> None:
    """Go's defer, literally: ExitStack.callback(wg.done) runs it when the block ends."""
    with contextlib.ExitStack() as defer:
        defer.callback(wg.done)
        for job in jobs:
            started = time.monotonic()
            if job.ctx.done():
                err = job.ctx.err()
                match err:
                    case DeadlineExceeded():
                        status = Status.TIMED_OUT
                    case _:
                        status = Status.CANCELED
                outcome = Outcome(job.id, worker_id, status, None, err, started, None,
                                  time.monotonic())
            else:
                try:
                    result = process(job)
                except (Exception, SystemExit, KeyboardInterrupt) as exc:
                    outcome = Outcome(job.id, worker_id, Status.FAILED, None, exc, started,
                                      started, time.monotonic())
                else:
                    outcome = Outcome(job.id, worker_id, Status.SUCCEEDED, result, None,
                                      started, started, time.monotonic())
            if record is not None:
                record(outcome)


class ClassWorker:
    """A class: the worker is a callable object that also counts what it did."""

    def __init__(self) -> None:
        self.handled = 0

    def __call__(self, worker_id: int, jobs: Channel[Job], wg: WaitGroup,
                 process: Callable[[Job], Any], *, record: Any = None) -> None:
        try:
            for job in jobs:
                self.handle(worker_id, job, process, record)
        finally:
            wg.done()

    def handle(self, worker_id: int, job: Job, process: Callable[[Job], Any], record: Any) -> None:
        self.handled += 1
        try:
            job.ctx.err() and _raise(job.ctx.err())
            outcome = Outcome(job.id, worker_id, Status.SUCCEEDED, process(job))
        except Canceled as exc:
            outcome = Outcome(job.id, worker_id, Status.CANCELED, error=exc)
        except DeadlineExceeded as exc:
            outcome = Outcome(job.id, worker_id, Status.TIMED_OUT, error=exc)
        except BaseException as exc:
            outcome = Outcome(job.id, worker_id, Status.FAILED, error=exc)
        if record is not None:
            record(outcome)


def _raise(exc: BaseException | None) -> None:
    assert exc is not None
    raise exc


def worker_recv_with_timeout(worker_id: int, jobs: Channel[Job], wg: WaitGroup,
                             process: Callable[[Job], Any], *, record: Any = None) -> None:
    """Blocks in recv(timeout=1.0) and goes round again: waits on the channel, never sleeps."""
    try:
        while True:
            try:
                job, ok = jobs.recv(timeout=1.0)
            except TimeoutError:
                continue
            if not ok:
                return
            assert job is not None
            outcome = outcome_of(worker_id, job, process)
            if record is not None:
                record(outcome)
    finally:
        wg.done()


def worker_with_done_flag(worker_id: int, jobs: Channel[Job], wg: WaitGroup,
                          process: Callable[[Job], Any], *, record: Any = None) -> None:
    """A flag instead of finally: each way out calls wg.done() once (clumsy, but right)."""
    signalled = False
    try:
        for job in jobs:
            outcome = outcome_of(worker_id, job, process)
            if record is not None:
                record(outcome)
    except BaseException:
        wg.done()
        signalled = True
        raise
    if not signalled:
        wg.done()


@dataclass(frozen=True)
class Answer:
    name: str
    worker: Worker


RIGHT = [
    Answer("while loop on recv()", worker_while_recv),
    Answer("ExitStack.callback as defer, match on the error", worker_exit_stack),
    Answer("a class with __call__", ClassWorker()),
    Answer("recv(timeout=1.0) in a loop", worker_recv_with_timeout),
    Answer("a flag instead of finally", worker_with_done_flag),
]


# -- wrong answers --------------------------------------------------------------------------

def catching_exception_only(worker_id: int, jobs: Channel[Job], wg: WaitGroup,
                            process: Callable[[Job], Any], *, record: Any = None) -> None:
    """except Exception: SystemExit passes through and ends the thread without a word."""
    try:
        for job in jobs:
            if job.ctx.err() is not None:
                if record:
                    record(Outcome(job.id, worker_id, Status.CANCELED if isinstance(
                        job.ctx.err(), Canceled) else Status.TIMED_OUT))
                continue
            try:
                outcome = Outcome(job.id, worker_id, Status.SUCCEEDED, process(job))
            except Exception as exc:
                outcome = Outcome(job.id, worker_id, Status.FAILED, error=exc)
            if record:
                record(outcome)
    finally:
        wg.done()


def done_first(worker_id: int, jobs: Channel[Job], wg: WaitGroup,
               process: Callable[[Job], Any], *, record: Any = None) -> None:
    """Go's `defer wg.Done()` copied as a call: it runs at once, not at return."""
    wg.done()
    for job in jobs:
        outcome = outcome_of(worker_id, job, process)
        if record:
            record(outcome)


def failure_as_succeeded(worker_id: int, jobs: Channel[Job], wg: WaitGroup,
                         process: Callable[[Job], Any], *, record: Any = None) -> None:
    """Catches the failure, then records every job SUCCEEDED."""
    try:
        for job in jobs:
            if job.ctx.done():
                if record:
                    record(outcome_of(worker_id, job, process))
                continue
            result = None
            try:
                result = process(job)
            except BaseException as exc:
                log.error("job %s failed: %r", job.id, exc)
            if record:
                record(Outcome(job.id, worker_id, Status.SUCCEEDED, result))
    finally:
        wg.done()


def failure_not_recorded(worker_id: int, jobs: Channel[Job], wg: WaitGroup,
                         process: Callable[[Job], Any], *, record: Any = None) -> None:
    """Logs a failure and goes on, but records only the jobs that succeeded."""
    try:
        for job in jobs:
            try:
                result = process(job)
            except BaseException as exc:
                log.error("job %s failed: %r", job.id, exc)
                continue
            if record:
                record(Outcome(job.id, worker_id, Status.SUCCEEDED, result))
    finally:
        wg.done()


def process_twice(worker_id: int, jobs: Channel[Job], wg: WaitGroup,
                  process: Callable[[Job], Any], *, record: Any = None) -> None:
    """Runs the job, then runs it again to put its result in the outcome."""
    try:
        for job in jobs:
            try:
                process(job)
                if record:
                    record(Outcome(job.id, worker_id, Status.SUCCEEDED, process(job)))
            except BaseException as exc:
                if record:
                    record(Outcome(job.id, worker_id, Status.FAILED, error=exc))
    finally:
        wg.done()


def skipping_without_outcome(worker_id: int, jobs: Channel[Job], wg: WaitGroup,
                             process: Callable[[Job], Any], *, record: Any = None) -> None:
    """Skips a job whose context is done, but records nothing for it: the job vanishes."""
    try:
        for job in jobs:
            if job.ctx.done():
                continue
            outcome = outcome_of(worker_id, job, process)
            if record:
                record(outcome)
    finally:
        wg.done()


def ignoring_context(worker_id: int, jobs: Channel[Job], wg: WaitGroup,
                     process: Callable[[Job], Any], *, record: Any = None) -> None:
    """Runs every job, even one whose caller has gone."""
    try:
        for job in jobs:
            try:
                outcome = Outcome(job.id, worker_id, Status.SUCCEEDED, process(job))
            except BaseException as exc:
                outcome = Outcome(job.id, worker_id, Status.FAILED, error=exc)
            if record:
                record(outcome)
    finally:
        wg.done()


def every_done_context_canceled(worker_id: int, jobs: Channel[Job], wg: WaitGroup,
                                process: Callable[[Job], Any], *, record: Any = None) -> None:
    """Skips done contexts, but calls a passed deadline CANCELED too."""
    try:
        for job in jobs:
            if job.ctx.done():
                outcome = Outcome(job.id, worker_id, Status.CANCELED, error=job.ctx.err())
            else:
                outcome = outcome_of(worker_id, job, process)
            if record:
                record(outcome)
    finally:
        wg.done()


def sleep_polling(worker_id: int, jobs: Channel[Job], wg: WaitGroup,
                  process: Callable[[Job], Any], *, record: Any = None) -> None:
    """Looks at the channel, sleeps 50 ms when it is empty, looks again."""
    try:
        while True:
            if len(jobs):
                job, _ = jobs.recv()
                assert job is not None
                outcome = outcome_of(worker_id, job, process)
                if record:
                    record(outcome)
            elif jobs.closed:
                return
            else:
                time.sleep(0.05)
    finally:
        wg.done()


def spinning(worker_id: int, jobs: Channel[Job], wg: WaitGroup,
             process: Callable[[Job], Any], *, record: Any = None) -> None:
    """Asks the channel again and again without waiting: a busy loop."""
    try:
        while not LOOPS_END.is_set():
            try:
                job, ok = jobs.recv(timeout=0)
            except TimeoutError:
                continue
            if not ok:
                return
            assert job is not None
            outcome = outcome_of(worker_id, job, process)
            if record:
                record(outcome)
    finally:
        wg.done()


def dropping_last_job(worker_id: int, jobs: Channel[Job], wg: WaitGroup,
                      process: Callable[[Job], Any], *, record: Any = None) -> None:
    """Takes a job, then stops if the channel looks empty: the last job is never run."""
    try:
        while True:
            job, ok = jobs.recv()
            if not ok or len(jobs) == 0:
                break
            assert job is not None
            outcome = outcome_of(worker_id, job, process)
            if record:
                record(outcome)
    finally:
        wg.done()


def dropping_last_job_looking_ahead(worker_id: int, jobs: Channel[Job], wg: WaitGroup,
                                    process: Callable[[Job], Any], *, record: Any = None) -> None:
    """Reads one job ahead and runs the current one only if another follows."""
    try:
        job, ok = jobs.recv()
        while ok:
            following, ok = jobs.recv()
            if not ok:
                break
            assert job is not None
            outcome = outcome_of(worker_id, job, process)
            if record:
                record(outcome)
            job = following
    finally:
        wg.done()


def returning_when_empty(worker_id: int, jobs: Channel[Job], wg: WaitGroup,
                         process: Callable[[Job], Any], *, record: Any = None) -> None:
    """Works while the channel has jobs: an empty channel ends the worker, open or not."""
    try:
        while len(jobs) > 0:
            job, _ = jobs.recv()
            assert job is not None
            outcome = outcome_of(worker_id, job, process)
            if record:
                record(outcome)
    finally:
        wg.done()


def forgetting_done(worker_id: int, jobs: Channel[Job], wg: WaitGroup,
                    process: Callable[[Job], Any], *, record: Any = None) -> None:
    for job in jobs:
        outcome = outcome_of(worker_id, job, process)
        if record:
            record(outcome)


def done_twice(worker_id: int, jobs: Channel[Job], wg: WaitGroup,
               process: Callable[[Job], Any], *, record: Any = None) -> None:
    """wg.done() after the loop and again in finally."""
    try:
        for job in jobs:
            outcome = outcome_of(worker_id, job, process)
            if record:
                record(outcome)
        wg.done()
    finally:
        wg.done()


def dying_on_first_exception(worker_id: int, jobs: Channel[Job], wg: WaitGroup,
                             process: Callable[[Job], Any], *, record: Any = None) -> None:
    try:
        for job in jobs:
            result = process(job)
            if record:
                record(Outcome(job.id, worker_id, Status.SUCCEEDED, result))
    finally:
        wg.done()


def crashing_without_finally(worker_id: int, jobs: Channel[Job], wg: WaitGroup,
                             process: Callable[[Job], Any], *, record: Any = None) -> None:
    for job in jobs:
        outcome = Outcome(job.id, worker_id, Status.SUCCEEDED, process(job))
        if record:
            record(outcome)
    wg.done()


def error_left_out(worker_id: int, jobs: Channel[Job], wg: WaitGroup,
                   process: Callable[[Job], Any], *, record: Any = None) -> None:
    """Records FAILED, but only the message in result: the exception itself is lost."""
    try:
        for job in jobs:
            outcome = outcome_of(worker_id, job, process)
            if outcome.status is Status.FAILED:
                outcome = Outcome(job.id, worker_id, Status.FAILED, str(outcome.error))
            if record:
                record(outcome)
    finally:
        wg.done()


def worker_id_left_out(worker_id: int, jobs: Channel[Job], wg: WaitGroup,
                       process: Callable[[Job], Any], *, record: Any = None) -> None:
    try:
        for job in jobs:
            outcome = outcome_of(worker_id, job, process)
            if record:
                record(outcome._replace(worker_id=None))
    finally:
        wg.done()


def passing_payload(worker_id: int, jobs: Channel[Job], wg: WaitGroup,
                    process: Callable[[Job], Any], *, record: Any = None) -> None:
    """Calls process(job.payload): the work never sees the job's id or context."""
    try:
        for job in jobs:
            outcome = outcome_of(worker_id, job, lambda j: process(j.payload))
            if record:
                record(outcome)
    finally:
        wg.done()


@dataclass(frozen=True)
class Wrong:
    name: str
    worker: Worker
    fails: frozenset[str]  # exactly these scenarios fail
    hint: str  # ... and the first one's hint contains this


def _wrong(name: str, worker: Worker, fails: set[str], hint: str) -> Wrong:
    return Wrong(name, worker, frozenset(fails), hint)


WRONG = [
    _wrong("except Exception only", catching_exception_only, {EXIT},
           "SystemExit is a BaseException"),
    _wrong("wg.done() called first (Go's defer copied as a call)", done_first, {DONE_AT_EXIT},
           "wg.done() was called while job 'j1' was still running"),
    _wrong("a failure recorded as SUCCEEDED", failure_as_succeeded, {FAILED, EXIT},
           "job 'j2' raised but was recorded as Status.SUCCEEDED"),
    _wrong("a failure not recorded", failure_not_recorded, {FAILED, CONTEXT},
           "no outcome was recorded for job 'j2'"),
    _wrong("process called twice per job with record", process_twice, {RESULT, CONTEXT},
           "process(job) was called 2 times for job 'j1'"),
    _wrong("a done context skipped without an outcome", skipping_without_outcome, {CONTEXT},
           "no outcome was recorded for job 'gone'"),
    _wrong("a done context ignored", ignoring_context, {CONTEXT},
           "job 'gone' was run although its context was already cancelled"),
    _wrong("a passed deadline recorded CANCELED", every_done_context_canceled, {CONTEXT},
           "record it as Status.TIMED_OUT"),
    _wrong("polling with sleep", sleep_polling, {BLOCKS}, "it sleeps and looks again"),
    _wrong("spinning on recv(timeout=0)", spinning, {BLOCKS}, "a busy loop"),
    _wrong("the last job dropped (stops when the channel looks empty)", dropping_last_job,
           {EVERY, RESULT, FAILED, DONE_AT_EXIT, RETURNS, CONTEXT},
           "never the last one, 'j5'"),
    _wrong("the last job dropped (reads one ahead)", dropping_last_job_looking_ahead,
           {EVERY, RESULT, FAILED, DONE_AT_EXIT, CONTEXT},
           "never the last one, 'j5'"),
    _wrong("returns when the channel is empty", returning_when_empty,
           {DONE_AT_EXIT, RETURNS, BLOCKS}, "returned while the channel was still open"),
    _wrong("forgets wg.done()", forgetting_done, {DONE_ONCE}, "never called wg.done()"),
    _wrong("wg.done() twice", done_twice, {DONE_ONCE}, "called wg.done() 2 times"),
    _wrong("dies on the first exception", dying_on_first_exception,
           {FAILED, SURVIVES, EXIT, CONTEXT}, "no outcome was recorded for job 'j2'"),
    _wrong("raises without finally", crashing_without_finally,
           {FAILED, SURVIVES, EXIT, DONE_ONCE, CONTEXT}, "no outcome was recorded for job 'j2'"),
    _wrong("the exception left out of the outcome", error_left_out, {FAILED},
           "does not carry the exception it raised"),
    _wrong("the worker id left out of the outcome", worker_id_left_out, {WORKER_ID},
           "worker_id is not 7"),
    _wrong("process called with the payload", passing_payload,
           {EVERY, RESULT, FAILED, SURVIVES, EXIT, DONE_AT_EXIT, RETURNS, CONTEXT},
           "process was called with a bytes, not with the Job"),
]
