"""Notebook 03, stage 2: ``check_worker`` — the worker loop and its WaitGroup."""

from __future__ import annotations

import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .. import channel as _channel_module
from ..channel import Channel
from ..context import background
from ..job import Job, Status
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

_CHANNEL_FILE = Path(_channel_module.__file__).resolve()
_IDLE_WINDOW = 0.4
"""Seconds the polling scenario watches an idle worker."""
_SAMPLE_EVERY = 0.02
_SETTLE = 0.1
"""How long a worker that recorded every job is given to return before the outcomes are read."""
_BUSY_CPU = 0.1
"""Share of a CPU an idle worker may not reach: a blocked one uses next to none, a busy
loop all it gets (on a loaded machine perhaps a third)."""


class _ExitingProcess(_Process):
    """A ``process`` whose chosen jobs call ``sys.exit(3)`` (after the usual bookkeeping)."""

    def __init__(self, env: _Env, *, exit_on: set[str]) -> None:
        super().__init__(env)
        self._exit_on = frozenset(exit_on)

    def __call__(self, job: Any) -> str:
        result = super().__call__(job)
        if getattr(job, "id", None) in self._exit_on:
            exc = SystemExit(3)  # what a library deep inside a job may do
            self.raised.append(exc)
            raise exc
        return result


def _in_channel(thread: threading.Thread) -> bool | None:
    """Whether ``thread`` is inside a :class:`pool.Channel` method now; None if not running."""
    frame = sys._current_frames().get(thread.ident) if thread.ident is not None else None
    if frame is None:
        return None
    while frame is not None:
        if Path(frame.f_code.co_filename).resolve() == _CHANNEL_FILE:
            return True
        frame = frame.f_back
    return False


def _cpu_clock(thread: threading.Thread) -> Callable[[], float] | None:
    """A clock of ``thread``'s own CPU time, where the platform has one (Linux, macOS)."""
    getclock = getattr(time, "pthread_getcpuclockid", None)
    if getclock is None or thread.ident is None:
        return None
    try:
        clock = getclock(thread.ident)
        time.clock_gettime(clock)
    except (OSError, OverflowError, ValueError):
        return None

    def read() -> float:
        return time.clock_gettime(clock)

    return read


# -- stage 2: the worker --------------------------------------------------------------


def check_worker(fn: Callable[..., Any]) -> bool:
    """Check a stage-2 answer: a worker with :func:`pool.worker`'s signature.

    ``fn(worker_id, jobs, wg, process, *, record=None)`` is run in a daemon
    thread on a :class:`pool.Channel` of :class:`pool.Job` s, with a
    :class:`pool.WaitGroup` counting one worker. Scenarios: it processes
    every job of a closed channel, the last one too; it hands ``record`` one
    outcome per job, calling ``process`` once per job, with ``process(job)``'s
    return value as the ``result`` of a ``SUCCEEDED`` outcome, and the
    exception as the ``error`` of a ``FAILED`` one; a job that raises, even
    ``SystemExit``, does not stop it; it calls ``wg.done()`` exactly once,
    when it exits (not while a job runs); it returns once the channel is
    closed; each outcome carries its worker id; a job whose context is
    already done is not run and ends ``CANCELED`` (or ``TIMED_OUT`` for a
    passed deadline); while no job comes it blocks on the channel, neither
    spinning nor sleeping and looking again. ``record`` is called with
    outcomes that have ``job_id``, ``worker_id``, ``status``, ``result``
    and ``error`` attributes (a :class:`pool.Outcome`).

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

    def recorded(env: _Env, ids: list[str], process: _Process, jobs: list[Job] | None = None
                 ) -> tuple[_Call, dict[str, Any]]:
        """Run the worker with ``record`` on a closed channel; one outcome per id, by id."""
        record = _Recorder(env)
        channel = _filled_channel(jobs if jobs is not None else _jobs(*ids))
        call, _ = run_worker(env, 1, channel, process, record=record)
        env.wait_until(lambda: call.finished or len(record.outcomes) >= len(ids), _PROMPT)
        env.wait_until(lambda: call.finished, _SETTLE)  # a repeated record() comes at once
        process.check_called_with_jobs()
        outcomes = list(record.outcomes)
        if not outcomes:
            crashed(call)
            raise _Fail("record(outcome) was never called: call it once per job with the "
                        "job's Outcome")
        _one_outcome_each(
            Counter(_outcome_attr(o, "job_id") for o in outcomes), ids,
            missing="no outcome was recorded for job {job_id!r}: call record(outcome) once per "
                    "job, however the job ends",
            repeated="job {job_id!r} was recorded {n} times: call record(outcome) once per job")
        return call, {o.job_id: o for o in outcomes}

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
        if seen == ids[:-1]:
            raise _Fail(f"the worker processed jobs j1 to j4 but never the last one, {ids[-1]!r}: "
                        "the loop stopped one job early (did it look at len(jobs) or "
                        "jobs.closed before taking the last job?); a closed channel still "
                        "delivers every job sent before close()")
        if len(seen) < len(ids):
            raise _Fail(f"the worker processed {len(seen)} of the {len(ids)} jobs in the "
                        "channel: keep taking jobs until the channel is closed and drained "
                        "(for job in jobs: ...)")
        raise _Fail("the worker processed the jobs out of order: take them from the channel "
                    "one by one")

    def result_recorded(env: _Env) -> None:
        ids = ["j1", "j2"]
        process = _Process(env)
        call, outcomes = recorded(env, ids, process)
        for job_id, n in Counter(process.started).items():
            if n > 1:
                raise _Fail(f"process(job) was called {n} times for job {job_id!r}: call it once "
                            "per job and keep its return value for the outcome (each call "
                            "does the job's work again)")
        for job_id in ids:
            o = outcomes[job_id]
            if _outcome_attr(o, "result") != f"result of {job_id}":
                raise _Fail(f"the outcome of job {job_id!r} does not carry what process(job) "
                            "returned: put the return value in the outcome's result")
            status = _outcome_attr(o, "status")
            if status != Status.SUCCEEDED:
                raise _Fail(f"job {job_id!r} returned normally but was recorded as "
                            f"{_status(status)}: record it Status.SUCCEEDED")
        crashed(call)

    def failure_recorded(env: _Env) -> None:
        ids = ["j1", "j2", "j3"]
        process = _Process(env, fail={"j2"})
        call, outcomes = recorded(env, ids, process)
        o = outcomes["j2"]
        status = _outcome_attr(o, "status")
        if status != Status.FAILED:
            raise _Fail(f"job 'j2' raised but was recorded as {_status(status)}: record a job "
                        "that raised as Status.FAILED, or the failure is counted as a success")
        error = _outcome_attr(o, "error")
        if error is not process.raised[0]:
            raise _Fail("the outcome of job 'j2' does not carry the exception it raised: put "
                        "the exception in the outcome's error, so the failure can be read later")
        if _outcome_attr(outcomes["j1"], "status") != Status.SUCCEEDED:
            raise _Fail(f"job 'j1' returned normally but was recorded as "
                        f"{_status(outcomes['j1'].status)}: record it Status.SUCCEEDED")
        crashed(call)

    def survives_failure(env: _Env) -> None:
        # j4 comes after j3, so a worker that drops the last job is not blamed here.
        process = _Process(env, fail={"j2"})
        call, _ = run_worker(env, 1, _filled_channel(_jobs("j1", "j2", "j3", "j4")), process)
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

    def survives_exit(env: _Env) -> None:
        ids = ["j1", "j2", "j3", "j4"]
        process = _ExitingProcess(env, exit_on={"j2"})
        record = _Recorder(env)
        call, _ = run_worker(env, 1, _filled_channel(_jobs(*ids)), process, record=record)
        env.wait_until(lambda: call.finished or "j3" in process.started, _PROMPT)
        process.check_called_with_jobs()
        if "j3" not in process.started:
            if isinstance(call.error, SystemExit):
                raise _Fail("the worker died when job 'j2' called sys.exit(): SystemExit is a "
                            "BaseException, not an Exception, so 'except Exception' lets it "
                            "through and the thread ends without a word; catch BaseException "
                            "around process(job)")
            crashed(call)
            raise _Fail("job 'j3' never ran after job 'j2' called sys.exit(): a job must not "
                        "end the worker, whatever it raises")
        env.wait_until(lambda: call.finished or len(record.outcomes) >= len(ids), _PROMPT)
        for o in list(record.outcomes):
            if _outcome_attr(o, "job_id") == "j2" and _outcome_attr(o, "status") != Status.FAILED:
                raise _Fail(f"job 'j2' called sys.exit() but was recorded as "
                            f"{_status(o.status)}: record it Status.FAILED")

    def done_once(env: _Env) -> None:
        process = _Process(env, fail={"j2"})
        call, wg = run_worker(env, 1, _filled_channel(_jobs("j1", "j2", "j3")), process)
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

    def done_at_exit(env: _Env) -> None:
        channel: Channel[Job] = Channel(1)
        process = _Process(env, hold={"j1"})
        call, wg = run_worker(env, 1, channel, process)
        _send(channel, Job("j1", b"payload"), _PROMPT)
        env.wait_until(lambda: call.finished or "j1" in process.started or bool(process.not_jobs),
                       _PROMPT)
        process.check_called_with_jobs()
        crashed(call)
        if "j1" not in process.started:
            if call.finished:
                raise _Fail("the worker returned while the channel was still open, without "
                            "running job 'j1': only a closed channel ends the loop")
            raise _Fail(f"job 'j1' was sent to the idle worker but did not start within "
                        f"{_PROMPT:g} s: run each job as soon as it is taken from the channel")
        if wg.done_calls and not call.finished:
            raise _Fail("wg.done() was called while job 'j1' was still running: shutdown's "
                        "wg.wait() would return True with a job in flight; Go's defer runs "
                        "wg.Done() when the function returns, a plain call in Python runs at "
                        "once: call it when the worker exits (in a finally block)")
        process.gate.set()

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

    def skips_done_context(env: _Env) -> None:
        gone_ctx, cancel = background().with_cancel()
        cancel()  # the caller gave up before a worker got to the job
        late_ctx, cancel_late = background().with_deadline(time.monotonic() - 1.0)
        env.later(cancel_late)
        jobs = [Job("gone", b"payload", gone_ctx), Job("late", b"payload", late_ctx),
                Job("fresh", b"payload")]
        process = _Process(env)
        call, outcomes = recorded(env, ["gone", "late", "fresh"], process, jobs)
        ran = [job_id for job_id in ("gone", "late") if job_id in process.started]
        if ran:
            why = "cancelled" if ran[0] == "gone" else "past its deadline"
            raise _Fail(f"job {ran[0]!r} was run although its context was already {why}: "
                        "nobody waits for its result any more; ask job.ctx.err() before "
                        "process(job) and do not run such a job")
        for job_id, want in (("gone", Status.CANCELED), ("late", Status.TIMED_OUT)):
            status = _outcome_attr(outcomes[job_id], "status")
            if status != want:
                why = ("its err() is a Canceled" if want is Status.CANCELED
                       else "its err() is a DeadlineExceeded")
                raise _Fail(f"job {job_id!r} (context already done: {why}) was recorded as "
                            f"{_status(status)}: record it as Status.{want.name}")
        if "fresh" not in process.started:
            raise _Fail("job 'fresh', whose context is not done, never ran")
        crashed(call)

    def blocks_while_idle(env: _Env) -> None:
        channel: Channel[Job] = Channel(1)
        process = _Process(env)
        call, _ = run_worker(env, 1, channel, process)
        if env.wait_until(lambda: call.finished, 0.1):
            crashed(call)
            raise _Fail("the worker returned while the channel was still open and empty: an "
                        "empty channel means 'wait for the next job'")
        clock = _cpu_clock(call.thread)
        cpu_before = clock() if clock is not None else 0.0
        started = time.monotonic()
        inside = outside = 0
        while time.monotonic() - started < _IDLE_WINDOW:
            where = _in_channel(call.thread)
            if where is True:
                inside += 1
            elif where is False:
                outside += 1
            time.sleep(_SAMPLE_EVERY)  # sampling: the worker is watched, not waited for
        window = time.monotonic() - started
        cpu = clock() - cpu_before if clock is not None else 0.0
        crashed(call)
        if cpu > _BUSY_CPU * window:
            raise _Fail("while no job came, the worker kept a CPU busy asking the channel again "
                        "and again (a busy loop): block on the channel instead ('for job in "
                        "jobs:' or jobs.recv() without a timeout), which sleeps until a job is "
                        "sent or the channel closes")
        if outside > inside:
            raise _Fail("while no job came, the worker was mostly not waiting on the channel: "
                        "it sleeps and looks again (polling), so each job waits up to a whole "
                        "sleep and an idle worker keeps waking up; block on the channel "
                        "instead ('for job in jobs:' or jobs.recv()), which wakes the moment "
                        "a job is sent or the channel closes")
        _send(channel, Job("j1", b"payload"), _PROMPT)

    return _run("worker", [
        _Scenario("processes every job from a closed channel, the last one too", every_job),
        _Scenario("records process(job)'s return value as a SUCCEEDED result", result_recorded),
        _Scenario("records a job that raises as FAILED, with its exception", failure_recorded),
        _Scenario("survives a job that raises (the next job still runs)", survives_failure),
        _Scenario("survives a job that calls sys.exit() (SystemExit)", survives_exit),
        _Scenario("calls wg.done() exactly once, also when a job raised", done_once),
        _Scenario("calls wg.done() when it exits, not while a job runs", done_at_exit),
        _Scenario("returns when the channel is closed", returns_on_close),
        _Scenario("records its worker id in each outcome", records_worker_id),
        _Scenario("does not run a job whose context is already done, and records why",
                  skips_done_context),
        _Scenario("blocks on the channel while no job comes (no polling)", blocks_while_idle),
    ])


def _status(status: Any) -> str:
    """A learner's status, shown stably: ``Status.X`` for a member, else a short rendering."""
    if isinstance(status, Status):
        return f"Status.{status.name}"
    return f"{status!r}" if isinstance(status, str) and len(status) <= 20 else "something else"
