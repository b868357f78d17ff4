"""Notebook 09: ``check_stopper`` — a signal handler: drain on the first, cancel on the second."""

from __future__ import annotations

import signal
from collections.abc import Callable
from typing import Any

from ..job import Job, Status
from ..workerpool import WorkerPool
from ._harness import (
    _PROMPT,
    _SHORT_TIMEOUT,
    _Call,
    _check_callable,
    _describe,
    _Env,
    _Fail,
    _Process,
    _run,
    _Scenario,
    _show,
    _shutdown_in_background,
)

__all__ = ["check_stopper"]

_HANDLER_BOUND = 0.5
"""How long a signal handler may take: it should take microseconds."""
_LONG = 5.0
"""The Stopper's timeout where no job hangs: long enough that waiting it out shows."""
_GRACE = 0.1
"""WorkerPool.shutdown's default grace: what a bounded shutdown may add to its timeout."""


def check_stopper(cls: Callable[..., Any]) -> bool:
    """Check a signal handler that stops a :class:`pool.WorkerPool` the production way.

    The checker uses only this much of ``cls``:

    * ``stopper = cls(pool, timeout)`` for a running ``WorkerPool``;
    * ``stopper(signum, frame)``: what ``signal.signal(SIGINT, stopper)``
      calls on each signal. The first starts ``pool.shutdown(timeout)``
      without waiting for it (a handler must return at once); the second
      cancels the pool (``pool.cancel()``); later ones change nothing. It
      never raises;
    * ``stopper.wait(timeout=None)`` blocks until that shutdown has
      finished and returns its :class:`pool.ShutdownReport`, or ``None``
      if ``timeout`` passed first.

    The checker calls the handler directly, from a thread of its own, with
    ``signal.SIGINT`` or ``signal.SIGTERM`` and ``frame=None``; no real
    signal is sent. Scenarios: the first signal returns at once and stops
    intake; it drains (queued and running jobs finish) and ``wait()``
    returns the report; a second signal cancels, so jobs that listen to
    their context stop and queued ones never run; the shutdown is bounded
    by the timeout, so a job that ignores its context is abandoned.

    Prints one line per scenario and returns True if all passed. Runs in
    about a second for a right answer, a few for a wrong one, never forever.
    Raises ``TypeError`` only if ``cls`` is not callable.
    """
    _check_callable(cls, "cls")

    def make(env: _Env, process: Callable[[Job], Any], timeout: float) -> tuple[WorkerPool, Any]:
        pool = WorkerPool(process, workers=1, buffer=10)
        env.later(lambda: _shutdown_in_background(pool))
        env.later(pool.cancel)
        call = env.start(cls, pool, timeout)
        if not env.wait_until(lambda: call.finished, _PROMPT):
            raise _Fail("creating the stopper did not return: cls(pool, timeout) only keeps "
                        "what it needs; the signals do the work")
        if call.error is not None:
            raise _Fail(f"creating the stopper with cls(pool, {timeout:g}) raised "
                        f"{_describe(call.error)}")
        if not callable(call.value):
            raise _Fail(f"cls(pool, timeout) made {_show(call.value)}, which is not callable: "
                        "signal.signal() needs a handler(signum, frame)")
        if not callable(getattr(call.value, "wait", None)):
            raise _Fail("the stopper has no wait() method: the main thread needs a way to wait "
                        "for the shutdown's report")
        return pool, call.value

    def signal_it(env: _Env, stopper: Any, which: str, signum: int) -> _Call:
        call = env.start(stopper, signum, None)
        if not env.wait_until(lambda: call.finished, _HANDLER_BOUND):
            raise _Fail(f"the {which} signal's handler did not return within "
                        f"{_HANDLER_BOUND:g} s: it waited for the shutdown. A handler runs on "
                        "the main thread, which can do nothing else meanwhile (not even take "
                        "a second Ctrl-C): start the shutdown in a thread of its own")
        if call.error is not None:
            raise _Fail(f"the {which} signal's handler raised {_describe(call.error)}: a handler "
                        "that raises interrupts whatever the main thread was doing; never "
                        "raise, and let the main thread decide how to exit after wait()")
        return call

    def wait_report(env: _Env, stopper: Any, bound: float, why: str,
                    call: _Call | None = None) -> Any:
        """The report ``stopper.wait(bound)`` returns; ``call``: that wait, started earlier."""
        if call is None:
            call = env.start(stopper.wait, bound)
        if not env.wait_until(lambda: call.finished, bound + _PROMPT):
            raise _Fail(f"wait({bound:g}) did not return within its timeout: bound the wait "
                        "(threading.Event.wait(timeout) does)")
        if call.error is not None:
            raise _Fail(f"wait() raised {_describe(call.error)}")
        if call.value is None and call.elapsed < bound / 2:
            raise _Fail(f"wait({bound:g}) returned None at once, before the shutdown had "
                        "finished: wait for the shutdown's report and return it")
        if call.value is None:
            raise _Fail(why)
        if not hasattr(call.value, "clean") or not hasattr(call.value, "abandoned"):
            raise _Fail(f"wait() returned {_show(call.value)}: return the ShutdownReport "
                        "pool.shutdown() returned")
        return call.value

    def statuses(pool: WorkerPool) -> dict[str, str]:
        return {o.job_id: o.status.value for o in pool.outcomes}

    def first_returns_at_once(env: _Env) -> None:
        process = _Process(env, hold={"a"})
        pool, stopper = make(env, process, _LONG)
        pool.submit(Job("a"))
        if not env.wait_until(lambda: "a" in process.started, _PROMPT):
            raise _Fail("job 'a' never started")
        signal_it(env, stopper, "first", signal.SIGINT)
        if not env.wait_until(lambda: pool.closed, _PROMPT):
            raise _Fail("after the first signal the pool still accepted jobs: the first "
                        "signal starts a graceful shutdown (pool.shutdown), which stops intake")

    def first_drains(env: _Env) -> None:
        process = _Process(env, hold={"a"})
        pool, stopper = make(env, process, _LONG)
        for job_id in ("a", "b", "c"):
            pool.submit(Job(job_id))
        if not env.wait_until(lambda: "a" in process.started, _PROMPT):
            raise _Fail("job 'a' never started")
        signal_it(env, stopper, "first", signal.SIGTERM)
        env.wait_until(lambda: pool.closed, _PROMPT)
        waiting = env.start(stopper.wait, 2 * _PROMPT)  # the main thread waits from here on
        env.wait_until(lambda: waiting.finished, 0.05)
        process.gate.set()
        report = wait_report(env, stopper, 2 * _PROMPT,
                             "wait() returned None after the first signal although every job "
                             "finished within a second: wait for the shutdown's report and "
                             "return it", waiting)
        got = statuses(pool)
        stopped = sorted(job_id for job_id, status in got.items() if status != "succeeded")
        if stopped:
            raise _Fail(f"the first signal stopped job {stopped[0]!r} ({got[stopped[0]]}): the "
                        "first signal asks for a graceful stop, so queued and running jobs "
                        "finish; cancel only on the second")
        if not report.clean:
            raise _Fail("the report says the shutdown was not clean, although every job "
                        "finished in time")

    def second_cancels(env: _Env) -> None:
        started = _Process(env)

        def listening(job: Job) -> Any:
            result = started(job)
            job.ctx.sleep(_LONG)  # long work that listens to its context
            return result

        pool, stopper = make(env, listening, _LONG)
        for job_id in ("a", "b"):
            pool.submit(Job(job_id))
        if not env.wait_until(lambda: "a" in started.started, _PROMPT):
            raise _Fail("job 'a' never started")
        signal_it(env, stopper, "first", signal.SIGINT)
        env.wait_until(lambda: pool.closed, _PROMPT)
        waiting = env.start(stopper.wait, _PROMPT)
        env.wait_until(lambda: waiting.finished, 0.05)
        signal_it(env, stopper, "second", signal.SIGINT)
        wait_report(env, stopper, _PROMPT,
                    "after the second signal the shutdown still waited for job 'a', which "
                    "listens to its context: the second signal must cancel the pool "
                    "(pool.cancel()), so running jobs see job.ctx done and queued ones never "
                    "run", waiting)
        got = statuses(pool)
        if "b" in started.started:
            raise _Fail("job 'b' ran after the second signal: cancelling the pool ends the "
                        "queued jobs unrun")
        if got.get("a") != Status.CANCELED.value:
            raise _Fail(f"job 'a' ended {got.get('a')!r}, expected 'canceled'")
        signal_it(env, stopper, "third", signal.SIGINT)

    def bounded(env: _Env) -> None:
        process = _Process(env, hold={"stuck"})
        pool, stopper = make(env, process, _SHORT_TIMEOUT)
        pool.submit(Job("stuck"))
        if not env.wait_until(lambda: "stuck" in process.started, _PROMPT):
            raise _Fail("job 'stuck' never started")
        signal_it(env, stopper, "first", signal.SIGTERM)
        report = wait_report(env, stopper, _SHORT_TIMEOUT + _GRACE + _PROMPT,
                             f"the shutdown the first signal started was still waiting "
                             f"{_PROMPT:g} s after the stopper's timeout ({_SHORT_TIMEOUT:g} s) "
                             "for a job that ignores its context: pass the timeout to "
                             "pool.shutdown, so one hung job cannot hold the program forever")
        abandoned = [getattr(o, "job_id", None) for o in report.abandoned]
        if abandoned != ["stuck"]:
            raise _Fail(f"the report lists {abandoned!r} abandoned; expected ['stuck']")

    return _run("stopper", [
        _Scenario("the first signal returns at once and stops intake", first_returns_at_once),
        _Scenario("the first signal drains: running and queued jobs finish; wait() returns "
                  "the report", first_drains),
        _Scenario("the second signal cancels: running jobs see job.ctx done, queued ones "
                  "never run", second_cancels),
        _Scenario(f"the shutdown is bounded: a job that ignores its context is abandoned "
                  f"after the timeout ({_SHORT_TIMEOUT:g} s)", bounded),
    ])
