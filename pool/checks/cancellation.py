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

_STEP = 0.05
"""Seconds of work per payload byte, as the exercise asks."""
_LISTEN_BY = 0.3
"""How soon after its context ends a listening job must have stopped."""
_NO_STEP = 0.035
"""How long a job whose context is already done may take: well under one step (``_STEP``).

A job that does one step first takes at least ``_STEP``, however fast the
machine; a right answer takes microseconds, so it gets ``_TRIES`` chances to
show that on a busy machine.
"""
_TRIES = 3
_CPU_SHARE = 0.1
"""The share of its wall time a job may spend on a CPU while it only waits.

A right answer sleeps between steps (under 1 % of a core); one that spins
on ``time.monotonic()`` or ``ctx.done()`` uses a whole core, or whatever share
a busy machine leaves it, which is still far above this.
"""
_SPIN_BYTES = 6
"""The payload of the spinning scenario: 0.3 s of waiting."""


def check_process(fn: Callable[[Job], Any]) -> bool:
    """Check a cancellation-aware ``process(job)``: it works, and stops when ``job.ctx`` ends.

    ``fn(job)`` is called in a daemon thread with :class:`pool.Job` s whose
    payload says how much work to do (the notebook's exercise: one step of
    0.05 s per byte, returning the number of steps). Scenarios: it returns 2
    for a 2-byte job whose context stays open, after doing the 0.1 s of work;
    it waits without spinning (the CPU time of its thread, ``time.thread_time()``,
    stays a small share of the wait); with a 20-byte job (about a second of
    work) it stops within 0.3 s of the job's deadline by raising
    ``DeadlineExceeded``, and within 0.3 s of a cancel by raising
    ``Canceled`` (``job.ctx.sleep`` does both); a job whose context is
    already done raises at once, before a single step of work.

    Prints one line per scenario and returns True if all passed. Blocks
    about a second per scenario at most. Raises ``TypeError`` only if
    ``fn`` is not callable.
    """
    _check_callable(fn, "fn")

    def returned_steps(env: _Env, call: _Call, n: int, what: str) -> None:
        """Fail unless ``call`` returned ``n`` after about ``n`` steps of work."""
        env.wait_until(lambda: call.finished, n * _STEP + _PROMPT)
        if not call.finished:
            raise _Fail(f"{what} with no deadline did not finish within a second of its "
                        f"{n * _STEP:g} s of work")
        if call.error is not None:
            raise _Fail(f"{what} with no deadline raised {_describe(call.error)}"
                        + _raised_none_hint(call.error))
        if call.value != n:
            raise _Fail(f"{what} returned {_show(call.value)}: do one step per payload "
                        f"byte and return the number of steps ({n})")
        if call.elapsed < (n - 0.2) * _STEP:
            raise _Fail(f"{what} returned at once: each step is {_STEP:g} s of work "
                        "(sleep through the job's context)")

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
        returned_steps(env, call, 2, "a 2-byte job")

    def does_not_spin(env: _Env) -> None:
        cpu: list[float] = []

        def measured(job: Job) -> Any:
            # time.thread_time() counts the CPU of this thread only: the answer's own.
            start = time.thread_time()
            try:
                return fn(job)
            finally:
                cpu.append(time.thread_time() - start)

        call = env.start(measured, Job("idle", bytes(_SPIN_BYTES)))
        returned_steps(env, call, _SPIN_BYTES, f"a {_SPIN_BYTES}-byte job")
        if cpu and cpu[0] > _CPU_SHARE * call.elapsed:
            raise _Fail(f"its thread kept a CPU busy while it waited for {_SPIN_BYTES} steps "
                        "(busy-waiting: a loop that checks the clock or the context over and "
                        "over): block in a wait on the context instead, so the thread sleeps")

    def stops_at_deadline(env: _Env) -> None:
        ctx, cancel = background().with_timeout(0.1)
        env.later(cancel)
        call = env.start(fn, Job("deadline", bytes(20), ctx=ctx))
        deadline = ctx.deadline()
        assert deadline is not None
        env.wait_until(lambda: call.finished, 0.1)
        if call.finished and call.ended_at < deadline and call.error is None:
            raise _Fail(f"returned {_show(call.value)} before its deadline, though 20 steps "
                        f"of {_STEP:g} s take a second: do the work, one step per byte")
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
        for _ in range(_TRIES):
            ctx, cancel = background().with_cancel()
            cancel()
            call = env.start(fn, Job("already", bytes(20), ctx=ctx))
            stopped(env, call, Canceled, "its context was already cancelled", time.monotonic())
            if call.elapsed < _NO_STEP:
                return
        raise _Fail("did a step of work although the job's context was already cancelled: "
                    "look at job.ctx before each step, not only after it")

    return _run("process", [
        _Scenario("finishes a job whose context stays open, one step per byte", finishes),
        _Scenario("waits between steps without spinning (busy-waiting)", does_not_spin),
        _Scenario("stops at the job's deadline with DeadlineExceeded", stops_at_deadline),
        _Scenario("stops when the job is cancelled with Canceled", stops_when_cancelled),
        _Scenario("does no work for a job already cancelled", done_before_start),
    ])


def _raised_none_hint(error: BaseException) -> str:
    """An extra hint for ``raise job.ctx.err()`` while the context is open (it raises None)."""
    if isinstance(error, TypeError) and "must derive from BaseException" in str(error):
        return (": that is `raise None`; job.ctx.err() is None while the context is open, "
                "so raise it only once job.ctx is done")
    return ""
