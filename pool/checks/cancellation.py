"""Notebook 07: ``check_process`` — a process that listens to its job's context."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from ..context import Canceled, DeadlineExceeded, background
from ..job import Job
from ._harness import (
    _PROMPT,
    _Call,
    _check_callable,
    _describe,
    _Env,
    _Fail,
    _run,
    _Scenario,
    _show,
)

__all__ = ["check_process"]

# -- a process that listens to its context --------------------------------------------

_LISTEN_BY = 0.3
"""How soon after its context ends a listening job must have stopped."""


def check_process(fn: Callable[[Job], Any]) -> bool:
    """Check a cancellation-aware ``process(job)``: it works, and stops when ``job.ctx`` ends.

    ``fn(job)`` is called in a daemon thread with :class:`pool.Job` s whose
    payload says how much work to do (the notebook's exercise: one step of
    0.05 s per byte, returning the number of steps). Scenarios: it returns 2
    for a 2-byte job whose context stays open; with a 20-byte job (about a
    second of work) it stops within 0.3 s of the job's deadline by raising
    ``DeadlineExceeded``, and within 0.3 s of a cancel by raising
    ``Canceled`` (``job.ctx.sleep`` does both); a job whose context is
    already done raises at once.

    Prints one line per scenario and returns True if all passed. Blocks
    about a second per scenario at most. Raises ``TypeError`` only if
    ``fn`` is not callable.
    """
    _check_callable(fn, "fn")

    def stopped(env: _Env, call: _Call, expected: type[BaseException], why: str,
                ended_at: float) -> None:
        env.wait_until(lambda: call.finished, _LISTEN_BY + _PROMPT)
        if not call.finished or call.ended_at - ended_at > _LISTEN_BY:
            raise _Fail(f"still working {_LISTEN_BY:g} s after {why}: wait with "
                        "job.ctx.sleep(...) (or check job.ctx.done()) at every step")
        if call.error is None:
            raise _Fail(f"returned {_show(call.value)} after {why}: raise the context's error "
                        "(job.ctx.err()) so the pool records how the job ended")
        if not isinstance(call.error, expected):
            raise _Fail(f"raised {_describe(call.error)} after {why}, expected "
                        f"{expected.__name__}: let job.ctx.sleep's error propagate")

    def finishes(env: _Env) -> None:
        call = env.start(fn, Job("short", bytes(2)))
        env.wait_until(lambda: call.finished, _PROMPT)
        if not call.finished:
            raise _Fail("a 2-byte job with no deadline did not finish within a second")
        if call.error is not None:
            raise _Fail(f"a job with no deadline raised {_describe(call.error)}")
        if call.value != 2:
            raise _Fail(f"a 2-byte job returned {_show(call.value)}: do one step per payload "
                        "byte and return the number of steps (2)")

    def stops_at_deadline(env: _Env) -> None:
        ctx, cancel = background().with_timeout(0.1)
        env.later(cancel)
        call = env.start(fn, Job("deadline", bytes(20), ctx=ctx))
        deadline = ctx.deadline()
        assert deadline is not None
        stopped(env, call, DeadlineExceeded, "its deadline passed", deadline)

    def stops_when_cancelled(env: _Env) -> None:
        ctx, cancel = background().with_cancel()
        env.later(cancel)
        call = env.start(fn, Job("cancel", bytes(20), ctx=ctx))
        env.wait_until(lambda: call.finished, 0.1)
        cancelled_at = time.monotonic()
        cancel()
        stopped(env, call, Canceled, "it was cancelled", cancelled_at)

    def done_before_start(env: _Env) -> None:
        ctx, cancel = background().with_cancel()
        cancel()
        call = env.start(fn, Job("already", bytes(20), ctx=ctx))
        stopped(env, call, Canceled, "its context was already cancelled", time.monotonic())

    return _run("process", [
        _Scenario("finishes a job whose context stays open, one step per byte", finishes),
        _Scenario("stops at the job's deadline with DeadlineExceeded", stops_at_deadline),
        _Scenario("stops when the job is cancelled with Canceled", stops_when_cancelled),
        _Scenario("does no work for a job already cancelled", done_before_start),
    ])
