"""Notebooks 05 and 06, stage 4: ``check_shutdown`` — graceful shutdown with a timeout."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from ..channel import Channel
from ..job import Job
from ..worker import worker as _reference_worker
from ._harness import (
    _EARLY_SLACK,
    _NEVER_CLOSED,
    _PROMPT,
    _SHORT_TIMEOUT,
    _WAITED_BEFORE_CLOSE,
    _Call,
    _check_callable,
    _close_quietly,
    _describe,
    _Env,
    _Fail,
    _jobs,
    _Process,
    _run,
    _Scenario,
    _show,
    _SpyWaitGroup,
)

__all__ = ["check_shutdown"]

# -- stage 4: graceful shutdown ----------------------------------------------------


def check_shutdown(fn: Callable[..., Any]) -> bool:
    """Check a stage-4 answer: a shutdown with :func:`pool.shutdown`'s signature.

    ``fn(jobs, wg)`` and ``fn(jobs, wg, timeout=seconds)`` are called in a
    daemon thread with a :class:`pool.Channel` and a :class:`pool.WaitGroup`
    counting worker threads the checker started (running
    :func:`pool.worker`). Scenarios: it closes the channel (before waiting);
    it waits for a job in flight; it returns True when every worker
    finished; with a worker hung on a job it returns False once its
    ``timeout`` (0.2 s) has passed, not sooner and not much later (this one
    checks only the timing and the result; closing is the first one's
    job). The checker releases its held jobs after each scenario.

    Prints one line per scenario and returns True if all passed. Blocks
    about a second per failing scenario at most, never forever. Raises
    ``TypeError`` only if ``fn`` is not callable.
    """
    _check_callable(fn, "fn")

    def workers(env: _Env, count: int, process: _Process) -> tuple[Channel[Job], _SpyWaitGroup]:
        channel: Channel[Job] = Channel(10)
        wg = _SpyWaitGroup(env, channel)
        env.later(lambda: _close_quietly(channel))
        for worker_id in range(1, count + 1):
            wg.add(1)
            threading.Thread(target=_reference_worker, args=(worker_id, channel, wg, process),
                             name=f"pool-check-worker-{worker_id}", daemon=True).start()
        return channel, wg

    def hold_one(env: _Env, channel: Channel[Job], process: _Process, job_id: str) -> None:
        channel.send(Job(job_id), timeout=_PROMPT)
        if not env.wait_until(lambda: job_id in process.started, _PROMPT):
            raise _Fail(f"job {job_id!r} never started")  # the checker's own workers: not expected

    def settle(env: _Env, call: _Call, channel: Channel[Job], wg: _SpyWaitGroup,
               timeout: float) -> None:
        """Wait for the call; fail on waiting before close, never closing, raising or hanging."""
        env.wait_until(lambda: call.finished or wg.waited_while_open, timeout)
        if wg.waited_while_open:
            raise _Fail(_WAITED_BEFORE_CLOSE)
        if call.error is not None:
            raise _Fail(f"shutdown raised {_describe(call.error)}")
        if not channel.closed:
            if call.finished:
                raise _Fail("shutdown returned without closing the channel: workers block in "
                            "their loop forever")
            raise _Fail(_NEVER_CLOSED)

    def closes_channel(env: _Env) -> None:
        channel, wg = workers(env, 2, _Process(env))
        call = env.start(fn, channel, wg)
        settle(env, call, channel, wg, _PROMPT)
        if not env.wait_until(lambda: call.finished, _PROMPT):
            raise _Fail("shutdown closed the channel but did not return after the workers "
                        "finished")

    def waits_in_flight(env: _Env) -> None:
        process = _Process(env, hold={"slow"})
        channel, wg = workers(env, 1, process)
        hold_one(env, channel, process, "slow")
        call = env.start(fn, channel, wg)
        env.wait_until(lambda: call.finished or wg.wait_calls > 0, _PROMPT)
        if wg.waited_while_open:
            raise _Fail(_WAITED_BEFORE_CLOSE)
        if call.finished and call.error is None:
            raise _Fail("shutdown returned while job 'slow' was still running: wait for the "
                        "workers with wg.wait()")
        process.gate.set()
        settle(env, call, channel, wg, _PROMPT)
        if not call.finished:
            raise _Fail("shutdown did not return after the last job finished")

    def true_when_clean(env: _Env) -> None:
        process = _Process(env)
        channel, wg = workers(env, 2, process)
        for job in _jobs("j1", "j2", "j3", "j4"):
            channel.send(job, timeout=0)
        call = env.start(fn, channel, wg, timeout=5.0)
        settle(env, call, channel, wg, _PROMPT)
        if not call.finished:
            raise _Fail("shutdown did not return although every worker had finished")
        if call.value is not True:
            raise _Fail(f"shutdown returned {_show(call.value)}, expected True: return what "
                        "wg.wait(timeout) returns (True once every worker has finished)")

    def false_after_timeout(env: _Env) -> None:
        process = _Process(env, hold={"stuck"})
        channel, wg = workers(env, 2, process)
        hold_one(env, channel, process, "stuck")
        call = env.start(fn, channel, wg, timeout=_SHORT_TIMEOUT)
        env.wait_until(lambda: call.finished, _SHORT_TIMEOUT + _PROMPT)
        if not call.finished:
            raise _Fail(f"shutdown(timeout={_SHORT_TIMEOUT:g}) was still waiting {_PROMPT:g} s "
                        "after its timeout while a worker hung: pass the timeout on to "
                        "wg.wait(timeout), so one hung worker cannot hang shutdown forever")
        if call.error is not None:
            raise _Fail(f"shutdown raised {_describe(call.error)}")
        if call.elapsed < _SHORT_TIMEOUT - _EARLY_SLACK:
            raise _Fail(f"shutdown(timeout={_SHORT_TIMEOUT:g}) returned before its timeout "
                        "while a job was still running: wait up to timeout seconds for the "
                        "workers")
        if call.value is not False:
            raise _Fail(f"shutdown returned {_show(call.value)} although a worker was still "
                        "running: return False when the timeout passes (wg.wait(timeout) "
                        "says so)")

    return _run("shutdown", [
        _Scenario("closes the channel", closes_channel),
        _Scenario("waits for the job in flight", waits_in_flight),
        _Scenario("returns True when every worker finished", true_when_clean),
        _Scenario(f"returns False after its timeout ({_SHORT_TIMEOUT:g} s) when a worker hangs",
                  false_after_timeout),
    ])
