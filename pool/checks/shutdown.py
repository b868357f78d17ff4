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
    _Activity,
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

_LATE = 0.1
"""How much later than its timeout a shutdown may return (a right one: milliseconds).

Waiting twice (the timeout once more after it ran out, or once per step)
takes at least twice the timeout, 0.2 s more. A return later than this is
tried once more on fresh workers before it counts, so one stall of a busy
machine does not fail a right answer.
"""
_OVERDUE = 0.5
"""How long past its timeout the later timing scenarios wait for a shutdown (the first: 1 s)."""
_WATCHED_TIMEOUT = 0.8
"""The shutdown timeout of the scenario that watches the wait for polling."""
_SETTLE = 0.2
"""How long a shutdown may take to reach its wait (a right one: microseconds)."""
_WINDOW = 0.15
"""How long the wait is watched, three times: a thread that waits runs no code meanwhile."""
_SPIN_SHARE = 0.15
"""The share of ``_WINDOW`` on a CPU above which a busy waiter spins rather than polls."""

_TWICE = ("a timeout bounds the whole shutdown: wait once, with what is left of it (not once "
          "per step, or once more after it ran out)")


class _SpyChannel(Channel[Job]):
    """A real :class:`pool.Channel` that wakes the scenario when it is closed."""

    def __init__(self, env: _Env, capacity: int) -> None:
        super().__init__(capacity)
        self._env = env

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._env.poke()


# -- stage 4: graceful shutdown ----------------------------------------------------


def check_shutdown(fn: Callable[..., Any]) -> bool:
    """Check a stage-4 answer: a shutdown with :func:`pool.shutdown`'s signature.

    ``fn(jobs, wg)`` and ``fn(jobs, wg, timeout=seconds)`` are called with a
    :class:`pool.Channel` and a :class:`pool.WaitGroup` counting worker
    threads the checker started (running :func:`pool.worker`). Scenarios:
    it closes the channel (a helper thread may start waiting before the
    close, as in Go's idiom; a wait in the closing thread before the close
    never ends); it waits for a job in flight; it returns True when every
    worker finished; with a worker hung on a job it returns False once its
    ``timeout`` (0.2 s) has passed, not sooner and not much later (0.1 s;
    a late return is tried once more); ``timeout=0`` returns False at once
    (0 is not "no timeout"); it waits without polling or spinning (its
    threads run no code while they wait: they are traced); the threads it
    leaves behind on a hung worker are daemon threads (it is called from a
    non-daemon thread there, as from a program's main thread, since threads
    inherit ``daemon``); a second call neither raises nor lies: it waits
    again and says whether the workers finished. The checker releases its
    held jobs after each scenario.

    Prints one line per scenario and returns True if all passed. Blocks
    about a second per failing scenario at most, never forever. Raises
    ``TypeError`` only if ``fn`` is not callable.
    """
    _check_callable(fn, "fn")
    returned: list[bool] = []  # a call has returned: a non-daemon caller is safe

    def workers(env: _Env, count: int, process: _Process) -> tuple[Channel[Job], _SpyWaitGroup]:
        channel = _SpyChannel(env, 10)
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

    def hung(env: _Env) -> tuple[Channel[Job], _SpyWaitGroup]:
        """Two workers, one of them hung on job 'stuck' until the scenario ends."""
        process = _Process(env, hold={"stuck"})
        channel, wg = workers(env, 2, process)
        hold_one(env, channel, process, "stuck")
        return channel, wg

    def settle(env: _Env, call: _Call, channel: Channel[Job], wg: _SpyWaitGroup,
               timeout: float) -> None:
        """Wait for the call to close the channel; fail on never closing, raising or hanging."""
        env.wait_until(lambda: call.finished or channel.closed, timeout)
        if call.error is not None:
            raise _Fail(f"shutdown raised {_describe(call.error)}")
        if not channel.closed:
            if call.finished:
                raise _Fail("shutdown returned without closing the channel: workers block in "
                            "their loop forever")
            # A wait in progress and no close: the closing thread itself waits (a
            # helper thread that waits while the caller closes is Go's idiom: fine).
            raise _Fail(_WAITED_BEFORE_CLOSE if wg.wait_calls else _NEVER_CLOSED)
        returned.append(True)

    def timed(env: _Env, timeout: float, what: str, *, nondaemon: bool = False,
              overdue: float = _PROMPT) -> tuple[_Call, set[threading.Thread]]:
        """Call shutdown(timeout=...) with a hung worker; return the call and the threads before.

        Fails if it does not return False between ``timeout`` and ``timeout + _LATE``
        (a late return is tried again once, on fresh workers).
        """
        for attempt in (1, 2):
            channel, wg = hung(env)
            before = set(threading.enumerate())
            start = env.start_nondaemon if nondaemon and returned else env.start
            call = start(fn, channel, wg, timeout=timeout)
            env.wait_until(lambda: call.finished, timeout + overdue)  # noqa: B023 -- used at once
            if not call.finished:
                if timeout == 0:
                    raise _Fail(f"shutdown(timeout=0) was still waiting {overdue:g} s later "
                                "while a worker hung: 0 is a timeout (do not wait at all), not "
                                "'no timeout'; only None means wait as long as it takes (a "
                                "test like `if timeout:` mixes them up)")
                raise _Fail(f"shutdown(timeout={timeout:g}) was still waiting {overdue:g} s "
                            "after its timeout while a worker hung: pass the timeout on to "
                            "the wait, so one hung worker cannot hang shutdown forever")
            returned.append(True)
            if call.error is not None:
                raise _Fail(f"shutdown raised {_describe(call.error)}")
            if call.value is not False:
                raise _Fail(f"{what} returned {_show(call.value)} although a worker was still "
                            "running: return False when the timeout passes (the bounded wait "
                            "says so)")
            if call.elapsed < timeout - _EARLY_SLACK:
                raise _Fail(f"shutdown(timeout={timeout:g}) returned before its timeout "
                            "while a job was still running: wait up to timeout seconds for the "
                            "workers")
            if call.elapsed <= timeout + _LATE:
                return call, before
            if attempt == 2:
                raise _Fail(f"{what} returned well after its timeout, twice: {_TWICE}")
        raise AssertionError("unreachable")

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
        settle(env, call, channel, wg, _PROMPT)
        env.wait_until(lambda: call.finished or wg.wait_calls > 0, _PROMPT)
        if call.finished:
            raise _Fail("shutdown returned while job 'slow' was still running: wait for the "
                        "workers with wg.wait()")
        process.gate.set()
        if not env.wait_until(lambda: call.finished, _PROMPT):
            raise _Fail("shutdown did not return after the last job finished")
        if call.error is not None:
            raise _Fail(f"shutdown raised {_describe(call.error)}")

    def true_when_clean(env: _Env) -> None:
        process = _Process(env)
        channel, wg = workers(env, 2, process)
        for job in _jobs("j1", "j2", "j3", "j4"):
            channel.send(job, timeout=0)
        call = env.start(fn, channel, wg, timeout=5.0)
        settle(env, call, channel, wg, _PROMPT)
        env.wait_until(lambda: call.finished, _PROMPT)
        if not call.finished:
            raise _Fail("shutdown did not return although every worker had finished")
        if call.error is not None:
            raise _Fail(f"shutdown raised {_describe(call.error)}")
        if call.value is not True:
            raise _Fail(f"shutdown returned {_show(call.value)}, expected True: return what "
                        "the bounded wait says (True once every worker has finished)")

    def false_after_timeout(env: _Env) -> None:
        timed(env, _SHORT_TIMEOUT, f"shutdown(timeout={_SHORT_TIMEOUT:g})")

    def zero_timeout(env: _Env) -> None:
        timed(env, 0, "shutdown(timeout=0)", overdue=_OVERDUE)

    def early(call: _Call) -> None:
        if call.error is not None:
            raise _Fail(f"shutdown raised {_describe(call.error)}")
        raise _Fail(f"shutdown(timeout={_WATCHED_TIMEOUT:g}) returned {_show(call.value)} "
                    "before its timeout while a worker hung: it must wait up to its timeout")

    def no_polling(env: _Env) -> None:
        channel, wg = hung(env)
        watch = _Activity(env)
        with watch.following_new_threads():  # the call's thread, and any helper it starts
            call = env.start(fn, channel, wg, timeout=_WATCHED_TIMEOUT)
            env.wait_until(lambda: watch.all_waiting() or call.finished, _SETTLE)
        if call.finished:
            early(call)
        # Three windows: the first may still catch a helper thread on its way to its
        # wait; a shutdown that sleeps is quiet in the other two, a poller or spinner
        # is not (a spinner the machine starved of CPU for one window shows in the other).
        busy = []
        for window in range(3):
            events, cpu = watch.over(_WINDOW, lambda: call.finished)
            if call.finished:
                early(call)
            if window and events:
                busy.append(cpu)
        if not busy:
            return
        if max(busy) >= _SPIN_SHARE * _WINDOW:
            raise _Fail("shutdown spun while it waited for the workers: a loop that checks "
                        "again and again burns a CPU (and the GIL the workers need); block in "
                        "a wait that the workers' end wakes")
        raise _Fail("shutdown kept waking up while it waited for the workers (polling: a "
                    "sleep, or a short wait, in a loop): it notices late and wastes work; block "
                    "in one wait that the workers' end wakes, bounded by the timeout")

    def daemon_helpers(env: _Env) -> None:
        call, before = timed(env, _SHORT_TIMEOUT, f"shutdown(timeout={_SHORT_TIMEOUT:g})",
                             nondaemon=True, overdue=_OVERDUE)
        left = [t for t in threading.enumerate()
                if t not in before and t is not call.thread and t.is_alive()]
        if any(not t.daemon for t in left):
            raise _Fail("shutdown left a non-daemon thread behind, still waiting for the hung "
                        "worker: called from a program's main thread, that thread would keep "
                        "Python from exiting, which is what the timeout was for; a thread that "
                        "may wait forever must be a daemon thread")

    def second_call(env: _Env) -> None:
        process = _Process(env, hold={"stuck"})
        channel, wg = workers(env, 2, process)
        hold_one(env, channel, process, "stuck")
        first = env.start(fn, channel, wg, timeout=_SHORT_TIMEOUT)
        if not env.wait_until(lambda: first.finished, _SHORT_TIMEOUT + _OVERDUE):
            raise _Fail("the first shutdown did not return after its timeout")
        if first.error is not None:
            raise _Fail(f"the first shutdown raised {_describe(first.error)}")
        again = env.start(fn, channel, wg, timeout=_SHORT_TIMEOUT)
        if not env.wait_until(lambda: again.finished, _SHORT_TIMEOUT + _OVERDUE):
            raise _Fail("a second shutdown did not return after its timeout")
        if again.error is not None:
            raise _Fail(f"a second shutdown, on a channel the first one had closed, raised "
                        f"{_describe(again.error)}: shutdown may well be called twice (a "
                        "signal handler, then a finally); closing what is already closed "
                        "is not an error there, and the second call must still wait")
        if again.value is not False:
            raise _Fail(f"a second shutdown returned {_show(again.value)} while a worker still "
                        "hung: it must not assume the first one finished the job; wait again "
                        "and say whether the workers finished")
        if again.elapsed < _SHORT_TIMEOUT - _EARLY_SLACK:
            raise _Fail("a second shutdown returned False at once while a worker still hung: "
                        "wait again, up to its timeout; the worker may finish meanwhile")
        process.gate.set()  # the hung job ends: a third call finds every worker finished
        third = env.start(fn, channel, wg, timeout=_PROMPT / 2)  # a right one: milliseconds
        env.wait_until(lambda: third.finished, _PROMPT)
        if third.error is not None:
            raise _Fail(f"a shutdown after the hung job finished raised "
                        f"{_describe(third.error)}")
        if third.value is not True:
            raise _Fail(f"a shutdown after the hung job finished returned {_show(third.value)}, "
                        "expected True: every worker had finished")

    return _run("shutdown", [
        _Scenario("closes the channel", closes_channel),
        _Scenario("waits for the job in flight", waits_in_flight),
        _Scenario("returns True when every worker finished", true_when_clean),
        _Scenario(f"returns False after its timeout ({_SHORT_TIMEOUT:g} s) when a worker hangs",
                  false_after_timeout),
        _Scenario("returns False at once with timeout=0 when a worker hangs", zero_timeout),
        _Scenario("waits without polling or spinning", no_polling),
        _Scenario("leaves only daemon threads behind on a hung worker", daemon_helpers),
        _Scenario("can be called again, without an error, and tells the truth", second_call),
    ])
