"""Notebook 03, stage 2: ``check_worker`` — the worker loop and its WaitGroup."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

from ..channel import Channel
from ..job import Job
from ._harness import (
    _PROMPT,
    _Call,
    _check_callable,
    _close_quietly,
    _count,
    _describe,
    _Env,
    _Fail,
    _filled_channel,
    _jobs,
    _one_outcome_each,
    _outcome_attr,
    _Process,
    _Recorder,
    _run,
    _Scenario,
    _send,
    _SpyWaitGroup,
)

__all__ = ["check_worker"]

# -- stage 2: the worker --------------------------------------------------------------


def check_worker(fn: Callable[..., Any]) -> bool:
    """Check a stage-2 answer: a worker with :func:`pool.worker`'s signature.

    ``fn(worker_id, jobs, wg, process, *, record=None)`` is run in a daemon
    thread on a :class:`pool.Channel` of :class:`pool.Job` s, with a
    :class:`pool.WaitGroup` counting one worker. Scenarios: it processes
    every job of a closed channel; it passes ``process(job)``'s return value
    to ``record`` as the outcome's ``result``; a job that raises does not
    stop it; it calls ``wg.done()`` exactly once, also when a job raised; it
    returns once the channel is closed; each outcome carries its worker id.
    ``record`` is called with outcomes that have ``job_id``, ``worker_id``
    and ``result`` attributes (a :class:`pool.Outcome`).

    Prints one line per scenario and returns True if all passed. Blocks
    about a second per failing scenario at most, never forever. Raises
    ``TypeError`` only if ``fn`` is not callable.
    """
    _check_callable(fn, "fn")

    def run_worker(env: _Env, worker_id: int, channel: Channel[Job], process: _Process,
                   **kwargs: Any) -> tuple[_Call, _SpyWaitGroup]:
        wg = _SpyWaitGroup(env)
        wg.add(1)
        env.later(lambda: _close_quietly(channel))
        return env.start(fn, worker_id, channel, wg, process, **kwargs), wg

    def crashed(call: _Call) -> None:
        if call.error is not None:
            raise _Fail(f"the worker raised {_describe(call.error)}")

    def every_job(env: _Env) -> None:
        ids = [f"j{i}" for i in range(1, 6)]
        process = _Process(env)
        call, _ = run_worker(env, 1, _filled_channel(_jobs(*ids)), process)
        env.wait_until(lambda: call.finished or len(process.started) >= len(ids), _PROMPT)
        process.check_called_with_jobs()
        seen = list(process.started)
        if seen == ids:
            return
        twice = [job_id for job_id, n in Counter(seen).items() if n > 1]
        if twice:
            raise _Fail(f"job {twice[0]!r} was processed more than once: take each job from "
                        "the channel once")
        crashed(call)
        if len(seen) < len(ids):
            raise _Fail(f"the worker processed {len(seen)} of the {len(ids)} jobs in the "
                        "channel: keep taking jobs until the channel is closed and drained "
                        "(for job in jobs: ...)")
        raise _Fail("the worker processed the jobs out of order: take them from the channel "
                    "one by one")

    def result_recorded(env: _Env) -> None:
        ids = ["j1", "j2"]
        process = _Process(env)
        record = _Recorder(env)
        call, _ = run_worker(env, 1, _filled_channel(_jobs(*ids)), process, record=record)
        env.wait_until(lambda: call.finished or len(record.outcomes) >= len(ids), _PROMPT)
        process.check_called_with_jobs()
        crashed(call)
        outcomes = list(record.outcomes)
        if not outcomes:
            raise _Fail("record(outcome) was never called: call it once per job with the "
                        "job's Outcome")
        _one_outcome_each(
            Counter(_outcome_attr(o, "job_id") for o in outcomes), ids,
            missing="no outcome was recorded for job {job_id!r}: call record(outcome) once per "
                    "job",
            repeated="job {job_id!r} was recorded {n} times: call record(outcome) once per job")
        for o in outcomes:
            if _outcome_attr(o, "result") != f"result of {o.job_id}":
                raise _Fail(f"the outcome of job {o.job_id!r} does not carry what process(job) "
                            "returned: put the return value in the outcome's result")

    def survives_failure(env: _Env) -> None:
        process = _Process(env, fail={"j2"})
        call, _ = run_worker(env, 1, _filled_channel(_jobs("j1", "j2", "j3")), process)
        env.wait_until(lambda: call.finished or "j3" in process.started, _PROMPT)
        process.check_called_with_jobs()
        if "j3" in process.started:
            return
        if call.error is not None and call.error in process.raised:
            raise _Fail("the worker died when job 'j2' raised: catch the exception around "
                        "process(job), log it and go on to the next job")
        crashed(call)
        if "j2" not in process.started:
            raise _Fail(f"the worker stopped after {_count(len(process.started), 'job')}, "
                        "before job 'j2'")
        if call.finished:
            raise _Fail("the worker returned after job 'j2' raised, without running job 'j3': "
                        "a failing job must not end the loop")
        raise _Fail("job 'j3' never ran after job 'j2' raised: log the failure and go on to "
                    "the next job")

    def done_once(env: _Env) -> None:
        process = _Process(env, fail={"j2"})
        call, wg = run_worker(env, 1, _filled_channel(_jobs("j1", "j2")), process)
        env.wait_until(lambda: call.finished, _PROMPT)
        n = wg.done_calls
        if n == 1:
            return
        if n > 1:
            raise _Fail(f"the worker called wg.done() {n} times: call it exactly once, when the "
                        "worker exits (in a finally block around the loop); extra calls let "
                        "shutdown stop waiting while other workers still run")
        if call.error is not None:
            raise _Fail(f"the worker raised {_describe(call.error)} and never called wg.done(): "
                        "call wg.done() in a finally block so it runs whatever happens")
        if call.finished:
            raise _Fail("the worker never called wg.done(): shutdown would wait forever")
        raise _Fail("the worker never returned after the channel was closed and drained, so "
                    "it never called wg.done(): shutdown would wait forever")

    def returns_on_close(env: _Env) -> None:
        channel: Channel[Job] = Channel(1)
        process = _Process(env)
        call, _ = run_worker(env, 1, channel, process)
        def has_ended(job_id: str) -> Callable[[], bool]:
            return lambda: call.finished or job_id in process.ended

        for job in _jobs("j1", "j2"):
            _send(channel, job, _PROMPT)
            env.wait_until(has_ended(job.id), _PROMPT)
            process.check_called_with_jobs()
            crashed(call)
            if call.finished:
                raise _Fail("the worker returned while the channel was still open: an empty "
                            "channel means 'wait for the next job'; only a closed one ends "
                            "the loop")
        channel.close()
        if not env.wait_until(lambda: call.finished, _PROMPT):
            raise _Fail("the worker did not return after the channel was closed: loop with "
                        "'for job in jobs:', which ends once the channel is closed and drained")
        crashed(call)

    def records_worker_id(env: _Env) -> None:
        ids = ["j1", "j2"]
        record = _Recorder(env)
        call, _ = run_worker(env, 7, _filled_channel(_jobs(*ids)), _Process(env), record=record)
        env.wait_until(lambda: call.finished or len(record.outcomes) >= len(ids), _PROMPT)
        crashed(call)
        if not record.outcomes:
            raise _Fail("record(outcome) was never called: call it once per job with the "
                        "job's Outcome")
        for o in list(record.outcomes):
            worker_id = _outcome_attr(o, "worker_id")
            if isinstance(worker_id, bool) or worker_id != 7:
                raise _Fail("an outcome's worker_id is not 7, the id this worker was started "
                            "with: put worker_id in every outcome, so a failure can be traced "
                            "to its worker")

    return _run("worker", [
        _Scenario("processes every job from a closed channel", every_job),
        _Scenario("records process(job)'s return value as the result", result_recorded),
        _Scenario("survives a job that raises (the next job still runs)", survives_failure),
        _Scenario("calls wg.done() exactly once, also when a job raised", done_once),
        _Scenario("returns when the channel is closed", returns_on_close),
        _Scenario("records its worker id in each outcome", records_worker_id),
    ])
