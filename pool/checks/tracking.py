"""Notebook 08: ``check_pool`` — a pool that accounts for every job, even under a hung one."""

from __future__ import annotations

import os
import sys
import sysconfig
import threading
import time
from collections import Counter
from collections.abc import Callable
from types import FrameType
from typing import Any

from ..context import background
from ..job import Job
from ._harness import (
    _EARLY_SLACK,
    _PROMPT,
    _SHORT_TIMEOUT,
    _Call,
    _check_callable,
    _describe,
    _Env,
    _Fail,
    _jobs,
    _Process,
    _run,
    _Scenario,
    _show,
    _shutdown_in_background,
)

__all__ = ["check_pool"]

_DRAIN_TIMEOUT = 1.5
"""The shutdown timeout of the drain scenario: long enough that sleeping through it shows."""
_IDLE_AFTER_JOBS = 0.5
"""How long after the last job ended a shutdown may still take and count as prompt."""
_ONE_TIMEOUT_SLACK = 0.4
"""What a shutdown with hung jobs may take beyond its timeout (WorkerPool adds a 0.1 s grace)."""
_HUNG_WORKERS = 5
"""Hung workers in the one-timeout scenario: joining each for the whole timeout takes 5 x 0.2 s."""
_RACE_JOBS = 8
"""Jobs that end while shutdown gives up, one between each step of its bookkeeping."""
_RACE_STEPS = (1, 2, 3, 5, 7, 10, 13, 17)
"""After which line of the answer's shutdown (counted from its timeout) each job is let go."""
_STEP_WAIT = 0.15
"""How long the race scenario waits for a released job's worker to finish its bookkeeping."""

_LIBRARY_DIRS = tuple(
    os.path.normcase(os.path.realpath(p)) + os.sep
    for p in {sysconfig.get_paths()["stdlib"], sysconfig.get_paths()["platstdlib"],
              os.path.dirname(os.path.dirname(os.path.abspath(__file__)))}
)


def _status(outcome: Any) -> str:
    """An outcome's status as its lower-case name: ``Status.FAILED`` and ``"failed"`` alike."""
    status = getattr(outcome, "status", None)
    value = getattr(status, "value", status)
    return value.lower() if isinstance(value, str) else repr(value)


_CHECKS_DIR = os.path.dirname(os.path.abspath(__file__))


def _from_a_job(exc: BaseException) -> bool:
    """Whether ``exc`` was raised inside the checker's own ``process`` (a job), not the pool."""
    tb = exc.__traceback__
    while tb is not None:
        if os.path.dirname(os.path.abspath(tb.tb_frame.f_code.co_filename)) == _CHECKS_DIR:
            return True
        tb = tb.tb_next
    return False


_WHY = {
    ("timed_out", "canceled"): "its deadline passed (DeadlineExceeded): that is TIMED_OUT; "
                               "CANCELED is for a context that was cancelled (Canceled)",
    ("canceled", "timed_out"): "its context was cancelled (Canceled): that is CANCELED; "
                               "TIMED_OUT is for a deadline that passed (DeadlineExceeded)",
    ("timed_out", "failed"): "its context's deadline stopped it: a job stopped by its context "
                             "is TIMED_OUT or CANCELED, not FAILED (that hides real errors)",
    ("canceled", "failed"): "its context was cancelled: a job stopped by its context is "
                            "CANCELED or TIMED_OUT, not FAILED (that hides real errors)",
}


def check_pool(cls: Callable[..., Any]) -> bool:
    """Check a pool class that keeps the ledger rule: every submitted job ends exactly once.

    The checker uses only this much of the class (:class:`pool.WorkerPool`
    has it all):

    * ``cls(process, workers)`` (positional) starts ``workers`` threads that
      call ``process(job)``;
    * ``p.submit(job)`` queues a :class:`pool.Job`, waiting while the buffer
      is full, and raises once shutdown has begun;
    * ``p.shutdown(timeout=seconds)`` stops intake and waits at most that
      long; it returns a bool (True: every job finished in time) or a report
      with ``.abandoned`` (outcomes with ``.job_id``), like
      :class:`pool.ShutdownReport`;
    * ``p.outcomes``: one outcome per ended job, each with ``.job_id`` and
      ``.status`` (a :class:`pool.Status` or its value, e.g. ``"failed"``).

    Scenarios: every job runs once, at most ``workers`` at a time, and a
    shutdown drains the queued ones and returns as soon as they are done;
    a job that raises (even ``SystemExit``) does not stop its worker; each
    job's one outcome has the right status (a deadline is ``timed_out``, a
    cancel ``canceled``); a full buffer makes submit wait, never drop; with
    hung jobs shutdown returns after one timeout, however many hang; a job
    still running then ends ``abandoned`` once, even when it finishes late;
    jobs still queued then end ``canceled`` and never run; a job finishing
    while shutdown gives up still has one outcome (the checker steps the
    answer's shutdown line by line after its timeout and lets a job finish
    between two steps: a race made visible); submit after shutdown raises.
    The checker releases its held jobs after each scenario and shuts down
    any pool a failing scenario left open.

    Prints one line per scenario and returns True if all passed. Runs in
    about three seconds for a right answer; a wrong one costs at most a few
    more, never forever. Raises ``TypeError`` only if ``cls`` is not callable.
    """
    _check_callable(cls, "cls")

    class Made:
        def __init__(self, pool: Any, before: set[threading.Thread],
                     workers: set[threading.Thread]) -> None:
            self.pool = pool
            self.before = before  # threads that are not the answer's
            self.workers = workers  # the threads cls(...) started

    def make(env: _Env, process: Callable[[Job], Any], workers: int) -> Made:
        before = set(threading.enumerate())
        call = env.start(cls, process, workers)
        if not env.wait_until(lambda: call.finished, _PROMPT):
            raise _Fail("creating the pool did not return: start the worker threads and "
                        "return; do not wait for them")
        if call.error is not None:
            raise _Fail(f"creating the pool with cls(process, {workers}) raised "
                        f"{_describe(call.error)}")
        p = call.value
        for method in ("submit", "shutdown"):
            if not callable(getattr(p, method, None)):
                raise _Fail(f"the pool has no {method}() method")
        env.later(lambda: _shutdown_in_background(p))
        started = set(threading.enumerate()) - before - {call.thread}
        return Made(p, before | {call.thread}, started)

    def submit(env: _Env, made: Made, job: Job) -> None:
        call = env.start(made.pool.submit, job)
        if not env.wait_until(lambda: call.finished, _PROMPT):
            raise _Fail(f"submit(job) blocked for job {job.id!r} with free workers and an "
                        "empty buffer")
        if call.error is not None:
            raise _Fail(f"submit(job) raised {_describe(call.error)} for job {job.id!r}")

    def no_dead_workers(env: _Env, made: Made) -> None:
        exc = env.thread_error(made.before)
        if exc is None:
            return
        if not _from_a_job(exc):
            raise _Fail(f"a worker thread died of {_describe(exc)}, raised by the pool's own "
                        "code, not by a job: a worker ends only once the queue is closed and empty")
        if not isinstance(exc, Exception):
            raise _Fail(f"a worker thread died of {_describe(exc)}: `except Exception` does "
                        f"not catch {type(exc).__name__}, and in a thread it ends the thread "
                        "silently; one job must never take its worker with it")
        raise _Fail(f"a worker thread died of {_describe(exc)}: catch exceptions around "
                    "process(job), so a failing job does not take its worker with it")

    def start_shutdown(env: _Env, made: Made, timeout: float,
                       fn: Callable[..., Any] | None = None) -> _Call:
        return env.start(fn or made.pool.shutdown, timeout=timeout)

    def finish_shutdown(env: _Env, made: Made, call: _Call, timeout: float,
                        extra: float = 0.0) -> _Call:
        env.wait_until(lambda: call.finished, timeout + extra + _PROMPT)
        no_dead_workers(env, made)
        if not call.finished:
            raise _Fail(f"shutdown(timeout={timeout:g}) was still waiting {_PROMPT:g} s after "
                        "its timeout: close the intake, then wait for the workers at most "
                        "timeout seconds")
        if call.error is not None:
            raise _Fail(f"shutdown raised {_describe(call.error)}")
        return call

    def shut_down(env: _Env, made: Made, timeout: float) -> _Call:
        return finish_shutdown(env, made, start_shutdown(env, made, timeout), timeout)

    def prompt_and_clean(made: Made, process: _Process, call: _Call, timeout: float) -> None:
        """A shutdown after which every job had ended returned soon after, and said so."""
        last = max(process.ended_at.values(), default=call.started_at)
        idle = (process.running == 0 and call.ended_at - max(last, call.started_at)
                > _IDLE_AFTER_JOBS)
        if idle and any(t.is_alive() for t in made.workers):
            raise _Fail(f"shutdown(timeout={timeout:g}) waited its whole timeout although "
                        "every job had finished, and the workers were still waiting for "
                        "more: the intake (the channel) was never closed, so their loops "
                        "never end")
        if idle:
            raise _Fail(f"shutdown(timeout={timeout:g}) returned only at its timeout although "
                        "every job had finished long before: wait for the workers (with the "
                        "timeout as a bound), do not sleep it out")
        if abandoned_ids(call.value) != []:
            raise _Fail("shutdown reported a timeout although every job finished in time")

    def abandoned_ids(value: Any) -> list[str] | None:
        """The abandoned job ids a shutdown reported, [] for True, None for False."""
        if isinstance(value, bool):
            return [] if value else None
        if not hasattr(value, "abandoned"):
            raise _Fail(f"shutdown returned {_show(value)}: return True/False, or a report "
                        "with .abandoned")
        return sorted(str(getattr(o, "job_id", "?")) for o in value.abandoned)

    def outcomes(env: _Env, made: Made) -> list[Any]:
        """The pool's outcomes, read in a bounded call (a wrong answer's lock may be held)."""
        def read() -> list[Any]:
            found = getattr(made.pool, "outcomes", None)
            if callable(found):
                found = found()
            return list(found) if found is not None else []
        if getattr(made.pool, "outcomes", None) is None:
            raise _Fail("the pool has no outcomes: keep one outcome (job_id, status) per job, "
                        "so every job can be accounted for")
        call = env.start(read)
        if not env.wait_until(lambda: call.finished, _PROMPT):
            raise _Fail("reading the pool's outcomes blocked: never hold the pool's lock while "
                        "a job runs or while waiting")
        if call.error is not None:
            raise _Fail(f"reading the pool's outcomes raised {_describe(call.error)}")
        value: list[Any] = call.value
        return value

    def by_job(found: list[Any]) -> dict[str, list[str]]:
        statuses: dict[str, list[str]] = {}
        for o in found:
            statuses.setdefault(str(getattr(o, "job_id", "?")), []).append(_status(o))
        return statuses

    def expect(env: _Env, made: Made, expected: dict[str, str], *, when: str = "") -> None:
        """Each expected job has exactly one outcome, with the expected status."""
        statuses = by_job(outcomes(env, made))
        for job_id, want in expected.items():
            got = statuses.get(job_id, [])
            if not got:
                if want == "abandoned":
                    raise _Fail(f"no outcome for job {job_id!r}, which was still running when "
                                "shutdown gave up: record it ABANDONED, so every job is "
                                "accounted for")
                if want == "canceled" and when == "queued":
                    raise _Fail(f"no outcome for job {job_id!r}, which was still queued when "
                                "shutdown's timeout passed: it was dropped; a queued job that "
                                "will never run must end CANCELED, not vanish")
                raise _Fail(f"no outcome for job {job_id!r}: every submitted job needs exactly "
                            "one outcome")
            if len(got) > 1:
                if when == "late":
                    raise _Fail(f"job {job_id!r} has {len(got)} outcomes "
                                f"({' and '.join(got)}): it was abandoned, then its late "
                                "finish was counted again; once shutdown abandons a job, its "
                                "worker must not record it a second time")
                raise _Fail(f"job {job_id!r} has {len(got)} outcomes ({' and '.join(got)}): "
                            "record each job's end exactly once")
            if got[0] != want:
                why = _WHY.get((want, got[0]))
                if why is None and want == "abandoned":
                    why = ("it was still running when shutdown gave up; it has not finished, "
                           "so it is ABANDONED")
                if why is None and want == "canceled" and when == "queued":
                    why = ("it was still queued when shutdown gave up and never ran, so it is "
                           "CANCELED")
                raise _Fail(f"job {job_id!r} ended {got[0]!r}, expected {want!r}"
                            + (f": {why}" if why else ""))

    def wait_workers_gone(env: _Env, made: Made) -> None:
        """Give the answer's threads a moment to end (bounded; a pool may keep them)."""
        env.wait_until(lambda: not any(t.is_alive() for t in made.workers), _PROMPT / 2)

    # -- the scenarios --------------------------------------------------------------------

    def drains(env: _Env) -> None:
        ids = [f"j{i}" for i in range(1, 7)]
        process = _Process(env, hold_all=True)
        made = make(env, process, 2)
        for job in _jobs(*ids):
            submit(env, made, job)
        if not env.wait_until(lambda: len(process.started) >= 2, _PROMPT):
            no_dead_workers(env, made)
            raise _Fail(f"only {len(process.started)} of 2 workers took a job: start `workers` "
                        "threads, each taking jobs from the queue")
        env.wait_until(lambda: process.most_running > 2, 0.2)
        if process.most_running > 2:
            raise _Fail("more than 2 jobs ran at once on a pool of 2 workers: a thread per job "
                        "has no limit; start `workers` threads that share the queue")
        call = start_shutdown(env, made, _DRAIN_TIMEOUT)
        env.wait_until(lambda: call.finished, 0.1)  # shutdown begins while 4 jobs are queued
        process.gate.set()
        finish_shutdown(env, made, call, _DRAIN_TIMEOUT)
        process.check_called_with_jobs()
        counts = Counter(process.started)
        for job_id in ids:
            if counts[job_id] == 0:
                raise _Fail(f"job {job_id!r} never ran: it was queued when shutdown began; a "
                            "graceful shutdown lets queued jobs finish (stop intake, then wait "
                            "for the workers)")
            if counts[job_id] > 1:
                raise _Fail(f"job {job_id!r} ran {counts[job_id]} times: each job runs once")
        prompt_and_clean(made, process, call, _DRAIN_TIMEOUT)
        expect(env, made, dict.fromkeys(ids, "succeeded"))

    def survives_failure(env: _Env) -> None:
        inner = _Process(env)

        def process(job: Job) -> Any:
            result = inner(job)
            if job.id == "boom":
                raise RuntimeError("job boom fails on purpose")
            if job.id == "exits":
                raise SystemExit(3)  # what sys.exit(3) deep inside a job does
            return result

        made = make(env, process, 1)
        for job in _jobs("boom", "exits", "j3"):
            submit(env, made, job)
        call = shut_down(env, made, _PROMPT)
        if "j3" not in inner.started:
            raise _Fail("job 'j3' never ran after jobs 'boom' and 'exits' raised: a failing "
                        "job must not stop its worker")
        prompt_and_clean(made, inner, call, _PROMPT)
        expect(env, made, {"boom": "failed", "exits": "failed", "j3": "succeeded"})

    def ledger(env: _Env) -> None:
        inner = _Process(env)
        late_ctx, cancel_late = background().with_timeout(0.05)
        stop_ctx, cancel_stop = background().with_cancel()
        expired_ctx, cancel_expired = background().with_timeout(0)
        for cancel in (cancel_late, cancel_stop, cancel_expired):
            env.later(cancel)

        def process(job: Job) -> Any:
            result = inner(job)
            if job.id == "boom":
                raise ValueError("job boom fails on purpose")
            if job.id == "stopped":
                cancel_stop()  # as if the caller gave up on it
            if job.id in ("late", "stopped", "expired"):
                job.ctx.sleep(_PROMPT)  # raises the context's error: DeadlineExceeded, Canceled
            return result

        expected = {"ok1": "succeeded", "boom": "failed", "late": "timed_out",
                    "stopped": "canceled", "expired": "timed_out", "ok2": "succeeded"}
        made = make(env, process, 2)
        contexts = {"late": late_ctx, "stopped": stop_ctx, "expired": expired_ctx}
        for job_id in expected:
            submit(env, made, Job(job_id, b"payload", contexts.get(job_id, background())))
        call = shut_down(env, made, _PROMPT)
        expect(env, made, expected)
        prompt_and_clean(made, inner, call, _PROMPT)

    def backpressure(env: _Env) -> None:
        process = _Process(env, hold_all=True)
        made = make(env, process, 1)
        ids = [f"b{i:03d}" for i in range(250)]
        refused: list[str] = []

        def submit_all() -> None:
            for job in _jobs(*ids):
                try:
                    made.pool.submit(job)
                except Exception:  # raising when full is honest; dropping silently is not
                    refused.append(job.id)

        call = env.start(submit_all)
        env.wait_until(lambda: call.finished, 0.3)  # a right answer blocks here, when full
        process.gate.set()
        if not env.wait_until(lambda: call.finished, 2 * _PROMPT):
            no_dead_workers(env, made)
            raise _Fail("submit(job) stayed blocked after the workers took jobs again")
        call = shut_down(env, made, _PROMPT)
        accepted = [job_id for job_id in ids if job_id not in refused]
        counts = Counter(process.started)
        dropped = [job_id for job_id in accepted if counts[job_id] == 0]
        if dropped:
            raise _Fail("jobs submitted while the buffer was full never ran, and submit did not "
                        "say so: a full buffer must make submit wait (backpressure) or raise, "
                        "never drop the job")
        expect(env, made, dict.fromkeys(accepted, "succeeded"))
        prompt_and_clean(made, process, call, _PROMPT)

    def one_timeout(env: _Env) -> None:
        ids = [f"h{i}" for i in range(1, _HUNG_WORKERS + 1)]
        process = _Process(env, hold_all=True)
        made = make(env, process, _HUNG_WORKERS)
        for job in _jobs(*ids):
            submit(env, made, job)
        if not env.wait_until(lambda: len(process.started) == _HUNG_WORKERS, _PROMPT):
            no_dead_workers(env, made)
            raise _Fail(f"only {len(process.started)} of {_HUNG_WORKERS} workers took a job")
        call = shut_down(env, made, _SHORT_TIMEOUT)
        if call.elapsed < _SHORT_TIMEOUT - _EARLY_SLACK:
            raise _Fail(f"shutdown(timeout={_SHORT_TIMEOUT:g}) returned before its timeout "
                        "while jobs were still running: wait up to timeout seconds")
        if call.elapsed > _SHORT_TIMEOUT + _ONE_TIMEOUT_SLACK:
            raise _Fail(f"shutdown(timeout={_SHORT_TIMEOUT:g}) with {_HUNG_WORKERS} hung workers "
                        f"took about {_HUNG_WORKERS} x {_SHORT_TIMEOUT:g} s: joining each thread "
                        "with the full timeout adds the timeouts up; the timeout bounds the "
                        "whole shutdown (wait on a deadline, or on the WaitGroup once)")
        abandoned = abandoned_ids(call.value)
        if abandoned == []:
            raise _Fail("shutdown reported a clean stop although its jobs were still running")
        if abandoned is not None and abandoned != ids:
            raise _Fail(f"shutdown reported {', '.join(map(repr, abandoned)) or 'nothing'} "
                        f"abandoned; expected {', '.join(map(repr, ids))}, the jobs still running")
        expect(env, made, dict.fromkeys(ids, "abandoned"))

    def abandons_once(env: _Env) -> None:
        process = _Process(env, hold={"stuck"})
        made = make(env, process, 2)
        submit(env, made, Job("stuck"))
        if not env.wait_until(lambda: "stuck" in process.started, _PROMPT):
            no_dead_workers(env, made)
            raise _Fail("job 'stuck' never started")
        submit(env, made, Job("quick"))
        env.wait_until(lambda: "quick" in process.ended, _PROMPT)
        call = shut_down(env, made, _SHORT_TIMEOUT)
        abandoned = abandoned_ids(call.value)
        if abandoned == []:
            raise _Fail("shutdown reported a clean stop although job 'stuck' was still running")
        if abandoned is not None and abandoned != ["stuck"]:
            raise _Fail(f"shutdown reported {', '.join(map(repr, abandoned))} abandoned; "
                        "expected only 'stuck', the job still running")
        expect(env, made, {"stuck": "abandoned", "quick": "succeeded"})
        process.gate.set()  # the hung job comes back late
        env.wait_until(lambda: "stuck" in process.ended, _PROMPT)
        wait_workers_gone(env, made)
        expect(env, made, {"stuck": "abandoned", "quick": "succeeded"}, when="late")

    def cancels_queued(env: _Env) -> None:
        process = _Process(env, hold={"stuck"})
        made = make(env, process, 1)
        submit(env, made, Job("stuck"))
        if not env.wait_until(lambda: "stuck" in process.started, _PROMPT):
            no_dead_workers(env, made)
            raise _Fail("job 'stuck' never started")
        for job in _jobs("q1", "q2"):
            submit(env, made, job)
        call = shut_down(env, made, _SHORT_TIMEOUT)
        if abandoned_ids(call.value) == []:
            raise _Fail("shutdown reported a clean stop although job 'stuck' was still running "
                        "and two jobs were queued behind it")
        expect(env, made, {"q1": "canceled", "q2": "canceled", "stuck": "abandoned"},
               when="queued")
        process.gate.set()  # the hung worker is free again: the queued jobs must stay unrun
        env.wait_until(lambda: "stuck" in process.ended, _PROMPT)
        wait_workers_gone(env, made)
        ran = [job_id for job_id in ("q1", "q2") if job_id in process.started]
        if ran:
            raise _Fail(f"job {ran[0]!r} ran after shutdown had ended it CANCELED: once "
                        "shutdown gives up, the jobs still queued must never run (the ledger "
                        "would say they did not)")
        expect(env, made, {"q1": "canceled", "q2": "canceled", "stuck": "abandoned"},
               when="late")

    def race(env: _Env) -> None:
        ids = [f"r{i}" for i in range(1, _RACE_JOBS + 1)]
        gates = {job_id: env.gate() for job_id in ids}
        ran_on: dict[str, threading.Thread] = {}
        inner = _Process(env)

        def process(job: Job) -> Any:
            result = inner(job)
            with env.cond:
                ran_on[job.id] = threading.current_thread()
            gates[job.id].wait(_PROMPT * 10)
            return result

        made = make(env, process, _RACE_JOBS)
        for job in _jobs(*ids):
            submit(env, made, job)
        if not env.wait_until(lambda: len(ran_on) == _RACE_JOBS, _PROMPT):
            no_dead_workers(env, made)
            raise _Fail(f"only {len(ran_on)} of {_RACE_JOBS} workers took a job")
        order = [job_id for job_id in reversed(inner.started)]  # last started, first released
        stepper = _Stepper(time.monotonic() + _SHORT_TIMEOUT - _EARLY_SLACK / 2, order, gates,
                           ran_on)
        call = start_shutdown(env, made, _SHORT_TIMEOUT, stepper.traced(made.pool.shutdown))
        finish_shutdown(env, made, call, _SHORT_TIMEOUT, _STEP_WAIT * len(_RACE_STEPS))
        stepper.release_all()
        wait_workers_gone(env, made)
        statuses = by_job(outcomes(env, made))
        twice = sorted(set(map(tuple, map(sorted, (s for s in statuses.values() if len(s) > 1)))))
        if twice:  # which job it is depends on thread start order: the hint does not name it
            raise _Fail(f"a job has {len(twice[0])} outcomes ({' and '.join(twice[0])}): it "
                        "finished while shutdown was giving up on it, and both recorded it; "
                        "deciding who records a job and recording it must happen under one "
                        "lock, in the worker and in shutdown alike")
        expect(env, made, {job_id: (statuses.get(job_id) or ["abandoned"])[0]
                           for job_id in ids})
        for job_id in ids:
            if statuses[job_id][0] not in ("abandoned", "succeeded"):
                raise _Fail(f"job {job_id!r} ended {statuses[job_id][0]!r}: it was running when "
                            "shutdown's timeout passed, so it is ABANDONED (or SUCCEEDED, if "
                            "it finished before shutdown gave up on it)")

    def refuses_after_shutdown(env: _Env) -> None:
        process = _Process(env)
        made = make(env, process, 1)
        prompt_and_clean(made, process, shut_down(env, made, _PROMPT), _PROMPT)
        call = env.start(made.pool.submit, Job("late"))
        if not env.wait_until(lambda: call.finished, _PROMPT):
            raise _Fail("submit() after shutdown() blocked: raise an error at once "
                        "(pool.PoolClosed)")
        if call.error is None:
            raise _Fail("submit() after shutdown() accepted job 'late': it will never run; "
                        "raise an error instead (pool.PoolClosed)")

    return _run("pool", [
        _Scenario("runs each job once, at most `workers` at a time, and drains the queue at "
                  "shutdown", drains),
        _Scenario("keeps running after a job raises, even SystemExit", survives_failure),
        _Scenario("records one outcome per job, with its status (the ledger)", ledger),
        _Scenario("makes submit wait while the buffer is full, never drops a job", backpressure),
        _Scenario(f"gives up on hung jobs after one timeout ({_SHORT_TIMEOUT:g} s), however "
                  "many hang", one_timeout),
        _Scenario("records a job running at the timeout ABANDONED, once, even when it "
                  "finishes late", abandons_once),
        _Scenario("records jobs still queued at the timeout CANCELED and never runs them",
                  cancels_queued),
        _Scenario("keeps one outcome per job when jobs finish while shutdown gives up",
                  race),
        _Scenario("refuses jobs after shutdown", refuses_after_shutdown),
    ])


class _Stepper:
    """Runs a shutdown line by line after its timeout, letting one held job end between steps.

    A trace function (``sys.settrace``, in the shutdown's own thread only)
    sees each line of the answer's code (not the standard library's, not
    ``pool``'s). From ``start`` on, at the lines in ``_RACE_STEPS`` it
    releases the next job of ``order`` and waits until that job's worker
    thread has ended (its bookkeeping done) or ``_STEP_WAIT`` passed. A
    worker that is still busy after that is waiting for a lock the shutdown
    holds: then the rest are released at once and tracing stops. So a
    shutdown that checks "is it still running?" on one line and records it
    abandoned on another, with no lock, meets a job that finished in between.
    """

    def __init__(self, start: float, order: list[str], gates: dict[str, threading.Event],
                 ran_on: dict[str, threading.Thread]) -> None:
        self._start = start
        self._order = list(order)
        self._gates = gates
        self._ran_on = ran_on
        self._lines = 0
        self._stopped = False

    def release_all(self) -> None:
        self._stopped = True
        for job_id in self._order:
            self._gates[job_id].set()
        self._order.clear()

    def traced(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            previous = sys.gettrace()
            sys.settrace(self._call)
            try:
                return fn(*args, **kwargs)
            finally:
                sys.settrace(previous)
        return call

    @staticmethod
    def _answers(frame: FrameType) -> bool:
        name = frame.f_code.co_filename
        if name.startswith("<"):
            return False
        return not os.path.normcase(os.path.realpath(name)).startswith(_LIBRARY_DIRS)

    def _call(self, frame: FrameType, event: str, arg: Any) -> Any:
        if self._stopped or not self._answers(frame):
            return None
        return self._line

    def _line(self, frame: FrameType, event: str, arg: Any) -> Any:
        if self._stopped:
            return None
        if event != "line" or time.monotonic() < self._start:
            return self._line
        self._lines += 1
        if self._lines in _RACE_STEPS and self._order:
            job_id = self._order.pop(0)
            self._gates[job_id].set()
            thread = self._ran_on.get(job_id)
            if thread is not None:
                thread.join(_STEP_WAIT)
                if thread.is_alive():  # blocked on the answer's lock: stepping is over
                    self.release_all()
        if not self._order:
            self._stopped = True
            return None
        return self._line
