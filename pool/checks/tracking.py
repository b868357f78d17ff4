"""Notebook 08: ``check_pool`` — a pool that tracks every outcome."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

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
    _one_outcome_each,
    _Process,
    _run,
    _Scenario,
    _show,
    _shutdown_in_background,
)

__all__ = ["check_pool"]

# -- the production pool ---------------------------------------------------------------


def check_pool(cls: Callable[..., Any]) -> bool:
    """Check a pool class with :class:`pool.WorkerPool`'s core API.

    The checker uses only this much of it:

    * ``cls(process, workers)`` (positional) starts a pool of ``workers``
      threads that call ``process(job)``;
    * ``p.submit(job)`` queues a :class:`pool.Job`, and raises once shutdown
      has begun;
    * ``p.shutdown(timeout=seconds)`` returns either a bool (True: every
      job finished in time) or a report with ``.abandoned``, the outcomes
      of jobs still running at the end (each with ``.job_id``; empty means
      clean), like :class:`pool.ShutdownReport`;
    * ``p.outcomes``: one outcome per finished job, each with ``.job_id``
      and ``.status`` (a :class:`pool.Status` or its value, e.g.
      ``"failed"``). Only the ledger scenario reads it.

    Scenarios: every submitted job runs exactly once; a raising job does not
    stop the pool; the ledger holds exactly one outcome per job with the
    right status; a shutdown with a hung job returns after its timeout and
    reports that job (and only it) abandoned; submit after shutdown raises.
    The checker releases its hung job after the scenario and shuts down any
    pool a failing scenario left open.

    Prints one line per scenario and returns True if all passed. Blocks
    about a second per failing scenario at most, never forever. Raises
    ``TypeError`` only if ``cls`` is not callable.
    """
    _check_callable(cls, "cls")

    def make(env: _Env, process: _Process, workers: int) -> tuple[Any, set[threading.Thread]]:
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
        return p, before | {call.thread}

    def submit(env: _Env, p: Any, job: Job) -> None:
        call = env.start(p.submit, job)
        if not env.wait_until(lambda: call.finished, _PROMPT):
            raise _Fail(f"submit(job) blocked for job {job.id!r} with free workers and an "
                        "empty buffer")
        if call.error is not None:
            raise _Fail(f"submit(job) raised {_describe(call.error)} for job {job.id!r}")

    def shut_down(env: _Env, p: Any, timeout: float, before: set[threading.Thread]) -> _Call:
        call = env.start(p.shutdown, timeout=timeout)
        env.wait_until(lambda: call.finished, timeout + _PROMPT)
        exc = env.thread_error(before)
        if exc is not None:
            raise _Fail(f"a worker thread died of {_describe(exc)}: catch exceptions around "
                        "process(job), so a failing job does not take its worker with it")
        if not call.finished:
            raise _Fail(f"shutdown(timeout={timeout:g}) was still waiting {_PROMPT:g} s after "
                        "its timeout: close the intake, then wait for the workers at most "
                        "timeout seconds")
        if call.error is not None:
            raise _Fail(f"shutdown raised {_describe(call.error)}")
        return call

    def abandoned_ids(value: Any) -> list[str] | None:
        """The abandoned job ids a shutdown reported, [] for True, None for False."""
        if isinstance(value, bool):
            return [] if value else None
        if not hasattr(value, "abandoned"):
            raise _Fail(f"shutdown returned {_show(value)}: return True/False, or a report "
                        "with .abandoned")
        return sorted(str(getattr(o, "job_id", "?")) for o in value.abandoned)

    def runs_each_once(env: _Env) -> None:
        ids = [f"j{i}" for i in range(1, 7)]
        process = _Process(env)
        p, before = make(env, process, 2)
        for job in _jobs(*ids):
            submit(env, p, job)
        call = shut_down(env, p, _PROMPT, before)
        process.check_called_with_jobs()
        counts = Counter(process.started)
        for job_id in ids:
            if counts[job_id] == 0:
                raise _Fail(f"job {job_id!r} never ran: shutdown must let queued jobs finish "
                            "(close the intake, then wait for the workers)")
            if counts[job_id] > 1:
                raise _Fail(f"job {job_id!r} ran {counts[job_id]} times: each job runs once")
        if abandoned_ids(call.value) != []:
            raise _Fail("shutdown reported a timeout although every job finished in time")

    def survives_failure(env: _Env) -> None:
        process = _Process(env, fail={"boom"})
        p, before = make(env, process, 1)
        for job in _jobs("boom", "j2", "j3"):
            submit(env, p, job)
        shut_down(env, p, _PROMPT, before)
        for job_id in ("j2", "j3"):
            if job_id not in process.started:
                raise _Fail(f"job {job_id!r} never ran after job 'boom' raised: a failing job "
                            "must not stop its worker")

    def ledger(env: _Env) -> None:
        expected = {"ok1": "succeeded", "boom": "failed", "ok2": "succeeded", "ok3": "succeeded"}
        process = _Process(env, fail={"boom"})
        p, before = make(env, process, 2)
        for job in _jobs(*expected):
            submit(env, p, job)
        shut_down(env, p, _PROMPT, before)
        outcomes = getattr(p, "outcomes", None)
        if outcomes is None:
            raise _Fail("the pool has no outcomes: keep one outcome (job_id, status) per job, "
                        "so every job can be accounted for")
        outcomes = list(outcomes)
        _one_outcome_each(
            Counter(getattr(o, "job_id", None) for o in outcomes), expected,
            missing="no outcome for job {job_id!r}: every submitted job needs exactly one "
                    "outcome",
            repeated="job {job_id!r} has {n} outcomes: record each job's end exactly once")
        for o in outcomes:
            want = expected.get(o.job_id)
            status = getattr(o, "status", None)
            got = getattr(status, "value", status)
            if want is not None and got != want:
                raise _Fail(f"job {o.job_id!r} ended {_show(got)}, expected {want!r}")

    def hung_job(env: _Env) -> None:
        process = _Process(env, hold={"stuck"})
        p, before = make(env, process, 2)
        submit(env, p, Job("stuck"))
        if not env.wait_until(lambda: "stuck" in process.started, _PROMPT):
            raise _Fail("job 'stuck' never started")
        submit(env, p, Job("quick"))
        call = shut_down(env, p, _SHORT_TIMEOUT, before)
        if call.elapsed < _SHORT_TIMEOUT - _EARLY_SLACK:
            raise _Fail(f"shutdown(timeout={_SHORT_TIMEOUT:g}) returned before its timeout "
                        "while a job was still running: wait up to timeout seconds")
        abandoned = abandoned_ids(call.value)
        if abandoned == []:
            raise _Fail("shutdown reported a clean stop although job 'stuck' was still running")
        if abandoned is not None and abandoned != ["stuck"]:
            raise _Fail(f"shutdown reported {', '.join(map(repr, abandoned))} abandoned; "
                        "expected only 'stuck', the job still running")

    def refuses_after_shutdown(env: _Env) -> None:
        process = _Process(env)
        p, before = make(env, process, 1)
        shut_down(env, p, _PROMPT, before)
        call = env.start(p.submit, Job("late"))
        if not env.wait_until(lambda: call.finished, _PROMPT):
            raise _Fail("submit() after shutdown() blocked: raise an error at once "
                        "(pool.PoolClosed)")
        if call.error is None:
            raise _Fail("submit() after shutdown() accepted job 'late': it will never run; "
                        "raise an error instead (pool.PoolClosed)")

    return _run("pool", [
        _Scenario("runs every submitted job exactly once", runs_each_once),
        _Scenario("keeps running after a job raises", survives_failure),
        _Scenario("has exactly one outcome per job, with its status (the ledger)", ledger),
        _Scenario(f"gives up on a hung job after its shutdown timeout ({_SHORT_TIMEOUT:g} s)",
                  hung_job),
        _Scenario("refuses jobs after shutdown", refuses_after_shutdown),
    ])
