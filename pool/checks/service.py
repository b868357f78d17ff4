"""Notebook 10: ``check_service`` — a service around the pool: one request, and the stop."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from typing import Any

from ..job import Job, Status
from ..ledger import PoolClosed
from ..workerpool import WorkerPool
from ._harness import (
    _EARLY_SLACK,
    _PROMPT,
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

__all__ = ["check_service"]

# -- a service around the pool: one request, and the stop --------------------------------

_STOP_BOUND = 0.3
"""The stop timeout in the hung-job scenario."""
_MAX_GRACE = 0.5
"""How long past its timeout a stop may take (the grace it gives cancelled jobs)."""
_DRAIN_TIMEOUT = 2.0
"""The stop timeout where nothing hangs: far more than the jobs need."""
_JOB_SECONDS = 0.05
"""How long each job of the drain scenario works."""
_INTAKE_BY = 0.2
"""How soon after stop() begins a new request must be refused."""
_NEVER_RAN = "job 'waiting', which never ran (cancelled unrun at shutdown)"
_ABANDONED = "job 'stuck', which shutdown abandoned (still running past its timeout)"


def check_service(handle: Callable[..., Any], stop: Callable[..., Any]) -> bool:
    """Check the two functions at the heart of a service that runs requests on a pool.

    ``handle(pool, job)`` runs one request's job on a :class:`pool.WorkerPool`
    and returns ``(status, body)``:

    * ``200`` with the job's result in the body (a dict, str or bytes whose
      text contains it);
    * ``429`` at once when the pool is full (``try_submit`` returned ``None``);
    * ``503`` once the pool is shutting down (``try_submit`` raised
      ``PoolClosed``), and also when shutdown dropped the request's job:
      never run (a cancelled future: ``CancelledError``) or abandoned
      (``pool.Abandoned``; ``504`` is accepted for this one);
    * a ``5xx`` (``500``) when the job raised.

    ``stop(pool, timeout)`` stops intake at once (a request that comes while
    it drains gets 503 and is never queued), drains the accepted jobs,
    returns within ``timeout`` seconds plus a grace of at most 0.5 s even if
    a job hangs, and returns the pool's :class:`pool.ShutdownReport` (any
    object whose ``abandoned`` lists the outcomes of the abandoned jobs).

    Each scenario makes a real ``WorkerPool`` whose jobs the checker
    controls (a job returns ``"result of <id>"``; some raise, some are held
    until the scenario ends) and calls ``handle`` and ``stop`` in threads of
    their own, each wait bounded. The mistakes it names: a ``handle`` that
    blocks on a full pool, lets ``PoolClosed`` or a job's exception escape,
    or loses the answer of a job that never ran (``CancelledError``) or was
    abandoned; a ``stop`` that keeps accepting work while it drains, cancels
    accepted jobs, or waits with no bound for a hung job.

    Prints one line per scenario and returns True if all passed. About 2 s
    for a right answer; a scenario whose answer hangs fails after about a
    second. Raises ``TypeError`` only if ``handle`` or ``stop`` is not
    callable.
    """
    _check_callable(handle, "handle")
    _check_callable(stop, "stop")

    def make_pool(env: _Env, process: _Process, workers: int, buffer: int) -> WorkerPool:
        p = WorkerPool(process, workers, buffer=buffer)
        env.later(lambda: _shutdown_in_background(p))
        return p

    def start_handle(env: _Env, p: WorkerPool, job: Job, wait: float = _PROMPT) -> _Call:
        call = env.start(handle, p, job)
        env.wait_until(lambda: call.finished, wait)
        return call

    def hold(env: _Env, p: WorkerPool, process: _Process, job_id: str) -> None:
        p.submit(Job(job_id), timeout=_PROMPT)
        if not env.wait_until(lambda: job_id in process.started, _PROMPT):
            raise _Fail(f"job {job_id!r} never started")  # the checker's own pool: not expected

    def reply_of(call: _Call) -> tuple[int, Any]:
        value = call.value
        if not isinstance(value, (tuple, list)) or len(value) != 2:
            raise _Fail(f"handle returned {_show(value)}: return a pair (status, body), e.g. "
                        "(200, {'result': ...})")
        status, body = value
        if isinstance(status, bool) or not isinstance(status, int):
            raise _Fail(f"handle returned the status {_show(status)}: return (status, body) with "
                        "an HTTP status code (an int such as 200) first")
        return int(status), body

    def answers_result(env: _Env) -> None:
        process = _Process(env)
        p = make_pool(env, process, 2, 4)
        call = start_handle(env, p, Job("req-1"))
        if not call.finished:
            raise _Fail("handle did not return within 1 s for a quick job on an idle pool: "
                        "submit the job, wait for its future's result and return it")
        if call.error is not None:
            raise _Fail(f"handle raised {_describe(call.error)} for a job that succeeded: "
                        "return (200, body) with the job's result")
        status, body = reply_of(call)
        if not p.stats.submitted:
            raise _Fail("job 'req-1' never reached the pool: submit it (pool.try_submit(job))")
        if status != 200:
            raise _Fail(f"handle answered {status} for a job that succeeded: answer 200 with "
                        "its result")
        if "result of req-1" not in _text(body):
            raise _Fail("the body of the 200 answer does not hold the job's result: put "
                        "future.result() in it")

    def answers_429_when_full(env: _Env) -> None:
        process = _Process(env, hold_all=True)
        p = make_pool(env, process, 1, 1)
        hold(env, p, process, "busy-1")  # the one worker holds it
        p.submit(Job("busy-2"), timeout=_PROMPT)  # waits in the buffer: the pool is full
        call = start_handle(env, p, Job("extra"))
        if not call.finished:
            raise _Fail("handle was still waiting 1 s after a request came to a full pool: answer "
                        "429 at once; pool.try_submit(job) never waits, it returns None when the "
                        "pool is full")
        if call.error is not None:
            why = (" (pool.try_submit returns None when the pool is full)"
                   if isinstance(call.error, AttributeError) else "")
            raise _Fail(f"handle raised {_describe(call.error)} when the pool was full{why}: "
                        "answer 429")
        status, _ = reply_of(call)
        if status != 429:
            raise _Fail(f"handle answered {status} when the pool was full: answer 429 (Too Many "
                        "Requests), so the client backs off and retries")

    def answers_500_when_job_raises(env: _Env) -> None:
        process = _Process(env, fail={"boom"})
        p = make_pool(env, process, 2, 4)
        call = start_handle(env, p, Job("boom"))
        if not call.finished:
            raise _Fail("handle did not return within 1 s after its job raised: the job's "
                        "future holds the exception; answer 500")
        if call.error is not None:
            if call.error in process.raised:
                raise _Fail(f"handle raised {_describe(call.error)}, the job's own exception: "
                            "future.result() re-raises what the job raised; catch it and "
                            "answer 500")
            raise _Fail(f"handle raised {_describe(call.error)} when the job failed: answer 500")
        status, _ = reply_of(call)
        if not 500 <= status <= 599:
            raise _Fail(f"handle answered {status} for a job that raised: answer 500 (the server "
                        "failed, not the request)")

    def refusal(call: _Call, when: str) -> None:
        """The hints for a request that must be refused with 503."""
        if not call.finished:
            raise _Fail(f"handle did not answer within 1 s {when}: answer 503 at once")
        if isinstance(call.error, PoolClosed):
            raise _Fail(f"handle raised {_describe(call.error)} {when}: pool.try_submit raises "
                        "PoolClosed once shutdown has begun; catch it and answer 503 (Service "
                        "Unavailable: the service is draining)")
        if call.error is not None:
            raise _Fail(f"handle raised {_describe(call.error)} {when}: answer 503")
        status, _ = reply_of(call)
        if status != 503:
            raise _Fail(f"handle answered {status} {when}: answer 503, so the client (or its load "
                        "balancer) goes elsewhere")

    def answers_503_when_closed(env: _Env) -> None:
        p = make_pool(env, _Process(env), 1, 1)
        p.shutdown(timeout=_PROMPT)
        refusal(start_handle(env, p, Job("late")), "while the pool was shutting down")

    def stop_closes_intake(env: _Env) -> None:
        process = _Process(env, hold={"slow"})
        p = make_pool(env, process, 1, 4)
        hold(env, p, process, "slow")
        stopping = env.start(stop, p, _DRAIN_TIMEOUT)
        env.wait_until(lambda: p.closed or stopping.finished, _INTAKE_BY)
        if stopping.error is not None:
            raise _Fail(f"stop raised {_describe(stopping.error)}")
        accepted = p.stats.submitted
        late = env.start(handle, p, Job("late"))
        env.wait_until(lambda: late.finished or p.stats.submitted > accepted, _PROMPT)
        if p.stats.submitted > accepted:
            raise _Fail("stop() did not stop intake: a request that came after stop began was "
                        "accepted (job 'late' was queued): stop intake first (pool.shutdown(...) "
                        "closes it at once), then drain")
        refusal(late, "to a request that came after stop() began")
        process.gate.set()  # the job in flight ends; the drain is over
        if not env.wait_until(lambda: stopping.finished, _PROMPT):
            raise _Fail("stop() did not return within 1 s after the last accepted job ended")
        if stopping.error is not None:
            raise _Fail(f"stop raised {_describe(stopping.error)}")

    def stop_drains(env: _Env) -> None:
        ids = [f"job-{i}" for i in range(1, 7)]
        process = _Process(env, seconds=_JOB_SECONDS)
        p = make_pool(env, process, 2, len(ids))
        for job in _jobs(*ids):
            p.submit(job, timeout=_PROMPT)
        stopping = env.start(stop, p, _DRAIN_TIMEOUT)
        env.wait_until(lambda: stopping.finished, _PROMPT + 3 * _JOB_SECONDS)
        if not stopping.finished:
            raise _Fail(f"stop(pool, timeout={_DRAIN_TIMEOUT:g}) was still waiting 1 s after the "
                        "accepted jobs could all have ended: return as soon as the drain is done")
        if stopping.error is not None:
            raise _Fail(f"stop raised {_describe(stopping.error)}")
        cancelled = [o.job_id for o in p.outcomes if o.status is Status.CANCELED]
        if cancelled:
            raise _Fail("stop() cancelled accepted jobs that were still queued: a graceful stop "
                        "drains what it accepted; pool.shutdown(timeout=timeout) runs the queued "
                        "jobs too (drain=True), and cancels nothing before its timeout")
        returned_at = stopping.ended_at
        unfinished = [i for i in ids if process.ended_at.get(i, returned_at + 1) > returned_at]
        if unfinished:
            raise _Fail("stop() returned while accepted jobs still waited or ran: wait for the "
                        "drain (pool.shutdown(timeout=timeout) returns once it is done)")

    def stop_is_bounded(env: _Env) -> None:
        process = _Process(env, hold={"stuck"})
        p = make_pool(env, process, 2, 4)
        hold(env, p, process, "stuck")
        p.submit(Job("quick"), timeout=_PROMPT)
        stopping = env.start(stop, p, _STOP_BOUND)
        env.wait_until(lambda: stopping.finished, _STOP_BOUND + _PROMPT)
        if not stopping.finished:
            raise _Fail(f"stop(pool, timeout={_STOP_BOUND:g}) was still waiting {_PROMPT:g} s "
                        "past its timeout while job 'stuck' hung: a drain with no bound holds "
                        "the service (and its deploy) forever; pass the bound on: "
                        "pool.shutdown(timeout=timeout), and wait for nothing else without one")
        if stopping.error is not None:
            raise _Fail(f"stop raised {_describe(stopping.error)}")
        if stopping.elapsed > _STOP_BOUND + _MAX_GRACE + _EARLY_SLACK:
            raise _Fail(f"stop(pool, timeout={_STOP_BOUND:g}) took longer than "
                        f"{_STOP_BOUND + _MAX_GRACE:g} s while a job hung: return within the "
                        f"timeout plus a grace of at most {_MAX_GRACE:g} s")
        if stopping.elapsed < _STOP_BOUND - _EARLY_SLACK:
            raise _Fail(f"stop(pool, timeout={_STOP_BOUND:g}) returned before its timeout while "
                        "a job was still running: give the drain the whole timeout")
        abandoned = getattr(stopping.value, "abandoned", None)
        if abandoned is None:
            raise _Fail(f"stop returned {_show(stopping.value)}: return the pool's ShutdownReport "
                        "(what pool.shutdown returns), so the service can say which job it "
                        "abandoned")
        ids = sorted(str(getattr(o, "job_id", "?")) for o in abandoned)
        if ids != ["stuck"]:
            raise _Fail(f"the report lists {', '.join(map(repr, ids)) or 'nothing'} as "
                        "abandoned; expected 'stuck', the job still running")

    def dropped_at_shutdown(env: _Env) -> tuple[_Call, _Call]:
        """One request's job hangs on the only worker, another waits; then the pool stops."""
        process = _Process(env, hold={"stuck"})
        p = make_pool(env, process, 1, 2)
        stuck = env.start(handle, p, Job("stuck"))
        env.wait_until(lambda: "stuck" in process.started
                       or (stuck.finished and not p.stats.submitted), _PROMPT)
        if "stuck" not in process.started:
            if stuck.error is not None:
                raise _Fail(f"handle raised {_describe(stuck.error)} for job 'stuck' on an idle "
                            "pool: submit it (pool.try_submit(job)) and wait for its future")
            raise _Fail("handle did not run job 'stuck' on an idle pool: submit it "
                        "(pool.try_submit(job)) and wait for its future")
        waiting = env.start(handle, p, Job("waiting"))
        env.wait_until(lambda: p.stats.queued > 0 or waiting.finished, _PROMPT)
        if not p.stats.queued:
            raise _Fail("handle did not queue job 'waiting' behind a busy worker although the "
                        "pool had room: submit it (pool.try_submit(job)) and wait for its future")
        for call, job_id in ((stuck, "stuck"), (waiting, "waiting")):
            if call.finished:
                what = ("returned" if call.error is None
                        else f"raised {_describe(call.error)}")
                raise _Fail(f"handle {what} before job {job_id!r} had ended: wait for the job's "
                            "future (future.result()) before answering")
        # The pool's own stop: 'waiting' ends CANCELED unrun, 'stuck' ABANDONED.
        shutting = env.start(p.shutdown, timeout=0.1, grace=0.05)
        env.wait_until(lambda: shutting.finished and stuck.finished and waiting.finished,
                       _PROMPT)
        return stuck, waiting

    def never_ran_gets_503(env: _Env) -> None:
        _, waiting = dropped_at_shutdown(env)
        if not waiting.finished:
            raise _Fail(f"the answer was lost: handle was still waiting 1 s after {_NEVER_RAN}: "
                        "wait on the job's future, which is cancelled then, and answer 503")
        if waiting.error is not None:
            raise _Fail(f"handle raised {_describe(waiting.error)} for {_NEVER_RAN}, so the "
                        "request got no answer: a job that never ran is a cancelled future; "
                        "catch concurrent.futures.CancelledError (or check future.cancelled()) "
                        "and answer 503")
        status, _ = reply_of(waiting)
        if status == 500:
            raise _Fail(f"handle answered 500 for {_NEVER_RAN}: nothing failed, the service is "
                        "stopping (a CancelledError is no server error); answer 503 so the "
                        "client retries")
        if status != 503:
            raise _Fail(f"handle answered {status} for {_NEVER_RAN}: answer 503 (the service is "
                        "stopping)")

    def abandoned_gets_503(env: _Env) -> None:
        stuck, _ = dropped_at_shutdown(env)
        if not stuck.finished:
            raise _Fail(f"the answer was lost: handle was still waiting 1 s after {_ABANDONED}: "
                        "wait on the job's future (it raises pool.Abandoned then) and answer 503")
        if stuck.error is not None:
            raise _Fail(f"handle raised {_describe(stuck.error)} for {_ABANDONED}, so the "
                        "request got no answer: catch pool.Abandoned (a TimeoutError) and "
                        "answer 503")
        status, _ = reply_of(stuck)
        if status not in (503, 504):
            raise _Fail(f"handle answered {status} for {_ABANDONED}: answer 503 (the service is "
                        "stopping)")

    return _run("service", [
        _Scenario("answers 200 with the job's result", answers_result),
        _Scenario("answers 429 at once when the pool is full", answers_429_when_full),
        _Scenario("answers 500 when the job raises", answers_500_when_job_raises),
        _Scenario("answers 503 once the pool is shutting down", answers_503_when_closed),
        _Scenario("stop() stops intake at once: a request that comes while it drains gets 503",
                  stop_closes_intake),
        _Scenario("stop() drains the accepted jobs", stop_drains),
        _Scenario(f"stop() gives up on a hung job after its timeout ({_STOP_BOUND:g} s) and "
                  "reports it", stop_is_bounded),
        _Scenario("a request whose job never ran (cancelled at shutdown) gets 503",
                  never_ran_gets_503),
        _Scenario("a request whose job was abandoned at shutdown gets 503", abandoned_gets_503),
    ])


def _text(body: Any) -> str:
    """A response body as text, whatever its type: to look for a result in it."""
    try:
        if isinstance(body, (bytes, bytearray)):
            return bytes(body).decode("utf-8", "replace")
        if isinstance(body, str):
            return body
        return json.dumps(body, default=str)
    except Exception:  # a learner's body may not serialise; its repr still may hold the result
        with contextlib.suppress(Exception):
            return repr(body)
        return ""
