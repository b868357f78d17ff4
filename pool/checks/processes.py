"""Notebook 11: ``check_run_with_hard_timeout`` — a hard timeout on top of ProcessPool."""

from __future__ import annotations

import contextlib
import gc
import multiprocessing
import os
import threading
import time
from collections.abc import Callable
from typing import Any

from ..job import Job
from ..processes import ProcessPool, WorkerDied
from ._harness import (
    _PROMPT,
    _Call,
    _check_callable,
    _count,
    _describe,
    _Env,
    _Fail,
    _quietly,
    _run,
    _Scenario,
    _show,
)

__all__ = ["check_run_with_hard_timeout", "hard_timeout_job"]

# -- processes: a hard timeout on top of ProcessPool ----------------------------------------

_HARD_TIMEOUT = 0.3
"""The ``timeout`` given to the learner's function in the scenarios with a hung job."""
_PROCESS_BOUND = 4.0
"""How long a call may take: pool start-up, a kill, a replacement, shutdown, on a slow machine."""
_PICKLING = ("pickle", "lambda", "top level", "top-level", "local object")


def hard_timeout_job(job: Job) -> Any:
    """The checker's ``process``, run in worker processes (so at a module's top level).

    Payload ``b"double N"`` returns ``2 * N``; ``b"hang"`` sleeps a minute,
    ignoring its context (only a kill ends it); ``b"crash"`` ends the worker
    process with ``os._exit(3)``.
    """
    action, *args = job.payload.decode().split()
    if action == "double":
        return 2 * int(args[0])
    if action == "hang":
        time.sleep(60)
        return "woke up"
    if action == "crash":
        os._exit(3)
    raise ValueError(f"unknown action {action!r}")


def _new_children(before: set[int]) -> list[multiprocessing.process.BaseProcess]:
    return [c for c in multiprocessing.active_children() if c.pid not in before]


def _stop_leftovers(before_pools: set[int], before_children: set[int]) -> None:
    """After a scenario: shut down the process pools an answer left open, kill its children."""
    for obj in gc.get_objects():
        if isinstance(obj, ProcessPool) and id(obj) not in before_pools and not obj.closed:
            threading.Thread(target=_quietly, args=(obj.shutdown,),
                             kwargs={"timeout": 0, "grace": 0.05},
                             name="pool-check-cleanup", daemon=True).start()
    deadline = time.monotonic() + _PROMPT
    while _new_children(before_children) and time.monotonic() < deadline:
        time.sleep(0.01)
    for child in _new_children(before_children):
        with contextlib.suppress(Exception):
            child.kill()
            child.join(_PROMPT)


def check_run_with_hard_timeout(fn: Callable[..., Any]) -> bool:
    """Check ``run_with_hard_timeout(process, payloads, timeout, workers=2)`` built on ProcessPool.

    The answer runs ``process`` (a top-level function taking a ``Job``) on
    each payload in worker processes and returns a list with one entry per
    payload, in order: the job's result, or the exception it ended with (a
    job past ``timeout`` is killed with its worker; a worker that dies fails
    its job with ``WorkerDied``). It returns only when every job has an
    answer, and leaves no worker process behind.

    Scenarios, each naming the classic mistake it catches: results in order;
    ``process`` passed as is (a lambda sent to a process pool does not
    pickle); a hung job killed at the timeout and answered (a kill that
    loses the job); two hung jobs on two workers, then more jobs (a
    replacement that is never started: later jobs wait forever); a worker
    that crashes fails only its own job; no child process left after it
    returns (a shutdown that leaves orphans). Every wait is bounded; the
    whole check takes a few seconds. Prints one line per scenario, returns
    True if all passed; raises ``TypeError`` only if ``fn`` is not callable.
    """
    _check_callable(fn, "fn")

    def call(env: _Env, payloads: list[bytes], timeout: float) -> _Call:
        pools = {id(o) for o in gc.get_objects() if isinstance(o, ProcessPool)}
        children = {c.pid for c in multiprocessing.active_children() if c.pid is not None}
        env.later(lambda: _stop_leftovers(pools, children))
        c = env.start(fn, hard_timeout_job, payloads, timeout, workers=2)
        env.wait_until(lambda: c.finished, _PROCESS_BOUND)
        return c

    def returned(c: _Call, payloads: list[bytes], what: str, why: str,
                 lost: str = "") -> list[Any]:
        if not c.finished:
            raise _Fail(f"{what} did not return within {_PROCESS_BOUND:g} s: {why}")
        if c.error is not None:
            text = str(c.error).lower()
            if isinstance(c.error, TypeError) and any(w in text for w in _PICKLING):
                raise _Fail("a lambda sent to a process pool: it does not pickle, so no worker "
                            f"process can get it ({_describe(c.error)}); pass process itself "
                            "(a function at the top level of a module)")
            raise _Fail(f"{what} raised {_describe(c.error)}: return one entry per payload, "
                        "the result or the exception, never raise")
        value = c.value
        if not isinstance(value, list) or len(value) != len(payloads):
            got = (f"a list of {len(value)}" if isinstance(value, list) else _show(value))
            raise _Fail(f"{lost}{what} returned {got} for {_count(len(payloads), 'payload')}: "
                        "return a list with one entry per payload, in order")
        return value

    def in_order(env: _Env) -> None:
        payloads = [b"double 1", b"double 2", b"double 3"]
        value = returned(call(env, payloads, 2.0), payloads, "three quick jobs",
                         "wait for each job's future (future.result())")
        if value != [2, 4, 6]:
            raise _Fail(f"returned {[_show(v) for v in value]} for jobs returning [2, 4, 6]: "
                        "put each job's result at its payload's place")

    def no_lambda(env: _Env) -> None:
        payloads = [b"double 5"]
        returned(call(env, payloads, 2.0), payloads, "one quick job",
                 "wait for each job's future (future.result())")

    def kill_keeps_job(env: _Env) -> None:
        payloads = [b"hang", b"double 5"]
        value = returned(call(env, payloads, _HARD_TIMEOUT), payloads,
                         f"a hung job with timeout={_HARD_TIMEOUT:g}",
                         "give the pool job_timeout=timeout, so it kills the hung job",
                         lost="a kill that loses the job: ")
        if not isinstance(value[0], BaseException):
            raise _Fail(f"a kill that loses the job: the hung job, killed at its timeout, got "
                        f"{_show(value[0])} instead of its error; put the exception its "
                        "future raises (DeadlineExceeded) in its place")
        if value[1] != 10:
            raise _Fail(f"the quick job beside the hung one got {_show(value[1])}, expected 10")

    def replaced(env: _Env) -> None:
        payloads = [b"hang", b"hang", b"double 1", b"double 2", b"double 3"]
        value = returned(call(env, payloads, _HARD_TIMEOUT), payloads,
                         "two hung jobs on two workers, then three quick ones",
                         "a replacement that is never started: the workers stuck in the hung "
                         "jobs were never killed and replaced, so later jobs wait forever; "
                         "use job_timeout=timeout (the pool kills and replaces the worker)")
        if value[2:] != [2, 4, 6]:
            raise _Fail(f"a replacement that is never started: the three later jobs got "
                        f"{[_show(v) for v in value[2:]]}, not [2, 4, 6]; the workers stuck in the "
                        "hung jobs must be killed and replaced (job_timeout=timeout does both)")
        if not all(isinstance(v, BaseException) for v in value[:2]):
            raise _Fail(f"the two hung jobs got {[_show(v) for v in value[:2]]}: put the "
                        "exception each one's future raises in its place")

    def crash(env: _Env) -> None:
        payloads = [b"crash", b"double 4"]
        value = returned(call(env, payloads, 2.0), payloads, "a job whose worker crashes",
                         "a crashed worker's future raises WorkerDied; catch it like any error")
        if not isinstance(value[0], WorkerDied):
            raise _Fail(f"the job whose worker died got {_show(value[0])}: put the WorkerDied "
                        "its future raises in its place")
        if value[1] != 8:
            raise _Fail(f"the job beside the crash got {_show(value[1])}, expected 8: "
                        "a crash must not touch the other jobs")

    def no_orphans(env: _Env) -> None:
        payloads = [b"double 1", b"hang"]
        before = {c.pid for c in multiprocessing.active_children() if c.pid is not None}
        c = call(env, payloads, _HARD_TIMEOUT)
        returned(c, payloads, "a quick job and a hung one", "shut the pool down with a bound")
        left = _new_children(before)
        if left:
            raise _Fail(f"a shutdown that leaves orphans: {_count(len(left), 'worker process')} "
                        "still alive after it returned; shut the pool down before returning "
                        "(with ProcessPool(...) as pool:, or pool.shutdown() in a finally)")

    return _run("run_with_hard_timeout", [
        _Scenario("returns each job's result, in payload order", in_order),
        _Scenario("sends process itself to the workers (a lambda does not pickle)", no_lambda),
        _Scenario("answers a hung job killed at the timeout with its error", kill_keeps_job),
        _Scenario("runs later jobs on replacement workers after kills", replaced),
        _Scenario("fails only the job whose worker crashed (WorkerDied)", crash),
        _Scenario("leaves no worker process behind", no_orphans),
    ])
