"""Notebook 04, stage 3: ``check_start_workers`` — starting the workers."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from .._validate import type_name
from ..job import Job
from ._harness import (
    _CRASH_GRACE,
    _PROMPT,
    _check_callable,
    _close_quietly,
    _count,
    _describe,
    _Env,
    _Fail,
    _jobs,
    _Process,
    _Recorder,
    _run,
    _Scenario,
    _send,
    _show,
)

__all__ = ["check_start_workers"]

# -- stage 3: the dispatcher ------------------------------------------------------


def check_start_workers(fn: Callable[..., Any]) -> bool:
    """Check a stage-3 answer: a dispatcher with :func:`pool.start_workers`'s signature.

    ``fn(num_workers, process, *, buffer=100, record=None, daemon=True)``
    must return ``(jobs, wg)`` at once: a channel (``send``/``close`` like
    :class:`pool.Channel`, with ``send(item, timeout=...)``) and a wait group
    (``add``/``done``/``wait`` and ``count``, like :class:`pool.WaitGroup`).
    Scenarios: it returns such a pair; it starts exactly ``num_workers``
    threads; they run that many jobs at the same time; the channel holds
    ``buffer`` waiting jobs, no more; ``wg`` counts every worker when ``fn``
    returns; ``process`` and ``record`` reach the workers; the threads are
    daemon threads by default. After each scenario the checker closes the
    channel, so the workers can exit.

    The count check catches a missing or single ``wg.add``; ``wg.add(1)``
    called inside the worker thread is a race it can catch only when the
    race shows.

    Prints one line per scenario and returns True if all passed. Blocks
    about a second per failing scenario at most, never forever. Raises
    ``TypeError`` only if ``fn`` is not callable.
    """
    _check_callable(fn, "fn")
    n = 3

    def start(env: _Env, num_workers: int, process: _Process, **kwargs: Any
              ) -> tuple[Any, Any, list[threading.Thread], set[threading.Thread]]:
        """Call the answer; return ``(jobs, wg, threads it started, threads not its own)``."""
        before = set(threading.enumerate())
        call = env.start(fn, num_workers, process, **kwargs)
        if not env.wait_until(lambda: call.finished, _PROMPT):
            raise _Fail("start_workers did not return: start each worker thread and return "
                        "at once; the workers run until the channel is closed, so do not wait "
                        "for (join) them")
        if call.error is not None:
            raise _Fail(f"start_workers raised {_describe(call.error)}")
        value = call.value
        if not isinstance(value, tuple) or len(value) != 2:
            raise _Fail(f"start_workers returned {_show(value)}, not a (jobs, wg) pair")
        jobs, wg = value
        env.later(lambda: _close_quietly(jobs))
        if not (callable(getattr(jobs, "send", None)) and callable(getattr(jobs, "close", None))):
            raise _Fail(f"the first item returned is a {type_name(jobs)}, not a channel: "
                        "return (jobs, wg) with jobs = Channel(buffer)")
        if not all(callable(getattr(wg, m, None)) for m in ("add", "done", "wait")):
            raise _Fail(f"the second item returned is a {type_name(wg)}, not a wait group: "
                        "return (jobs, wg) with wg = WaitGroup()")
        theirs = before | {call.thread}
        # Alive threads first, then crashed ones: a thread leaves enumerate() only
        # after its exception reached the hook, so none is missed.
        started = [t for t in threading.enumerate() if t not in theirs]
        started += [t for t in env.crashed_threads(theirs) if t not in started]
        return jobs, wg, started, theirs

    def fail(env: _Env, theirs: set[threading.Thread], hint: str) -> _Fail:
        """The hint, unless a worker thread crashed (give a crash a moment to show): that first."""
        env.wait_until(lambda: env.thread_error(theirs) is not None, _CRASH_GRACE)
        exc = env.thread_error(theirs)
        if exc is not None:
            return _Fail(f"a worker thread raised {_describe(exc)}")
        return _Fail(hint)

    def count_hint(started: int, wanted: int) -> str:
        return (f"start_workers({wanted}, ...) started {_count(started, 'thread')}: start one "
                "worker thread per worker (for worker_id in range(1, num_workers + 1))")

    def returns_pair(env: _Env) -> None:
        start(env, n, _Process(env), buffer=10)

    def starts_n_threads(env: _Env) -> None:
        _, _, started, _ = start(env, n, _Process(env), buffer=10)
        if len(started) != n:
            raise _Fail(count_hint(len(started), n))

    def runs_concurrently(env: _Env) -> None:
        process = _Process(env, hold_all=True)
        jobs, _, _, theirs = start(env, n, process, buffer=10)
        for job in _jobs(*(f"j{i}" for i in range(1, n + 1))):
            _send(jobs, job, _PROMPT)
        env.wait_until(lambda: process.running >= n or env.thread_error(theirs) is not None,
                       _PROMPT)
        process.check_called_with_jobs()
        if process.most_running < n:
            raise fail(env, theirs, f"only {process.most_running} of {n} jobs ran at the same "
                       f"time: start_workers({n}, ...) must start {n} workers that each take "
                       "jobs from the channel")

    def honours_buffer(env: _Env) -> None:
        process = _Process(env, hold={"j1"})
        jobs, _, started, theirs = start(env, 1, process, buffer=2)
        if len(started) != 1:
            raise fail(env, theirs, count_hint(len(started), 1))
        _send(jobs, Job("j1"), _PROMPT)
        env.wait_until(lambda: "j1" in process.started or env.thread_error(theirs) is not None,
                       _PROMPT)
        if "j1" not in process.started:
            raise fail(env, theirs, "the worker never started job 'j1'")
        for job in _jobs("j2", "j3"):
            try:
                jobs.send(job, timeout=0)
            except TimeoutError:
                raise _Fail("the channel had no room for 2 waiting jobs although buffer=2: "
                            "make it with Channel(buffer)") from None
            except Exception as exc:
                raise _Fail(f"sending on the channel raised {_describe(exc)}") from None
        try:
            jobs.send(Job("j4"), timeout=0)
        except TimeoutError:
            return
        except Exception as exc:
            raise _Fail(f"sending on the channel raised {_describe(exc)}") from None
        raise _Fail("the channel took a third waiting job although buffer=2: make it with "
                    "Channel(buffer), so a full buffer pushes back on the sender")

    def counts_workers(env: _Env) -> None:
        _, wg, _, theirs = start(env, n, _Process(env), buffer=10)
        count = getattr(wg, "count", None)
        if isinstance(count, bool) or not isinstance(count, int):
            raise _Fail("the wait group has no count: use pool.WaitGroup")
        # A worker that crashes at once may already have counted itself out: say so,
        # whether or not the count was read before it did.
        crash = fail(env, theirs, "")
        if str(crash):
            raise crash
        if count != n:
            raise fail(env, theirs, f"wg counted {_count(count, 'worker')} when start_workers "
                       f"returned, expected {n}: call wg.add(1) for each worker before starting "
                       "its thread, so a shutdown that comes at once still waits for it")

    def passes_process_and_record(env: _Env) -> None:
        ids = [f"j{i}" for i in range(1, 5)]
        process = _Process(env)
        record = _Recorder(env)
        jobs, _, _, theirs = start(env, 2, process, buffer=10, record=record)
        for job in _jobs(*ids):
            _send(jobs, job, _PROMPT)
        env.wait_until(lambda: len(record.outcomes) >= len(ids)
                       or env.thread_error(theirs) is not None, _PROMPT)
        process.check_called_with_jobs()
        ran = set(process.started)
        if len(ran) < len(ids):
            raise fail(env, theirs, f"only {len(ran)} of {len(ids)} jobs sent on the channel "
                       "were processed: each worker must call process(job) for the jobs it "
                       "takes")
        if not record.outcomes:
            raise fail(env, theirs, "record was never called: pass record=record on to each "
                       "worker")
        recorded = {getattr(o, "job_id", None) for o in list(record.outcomes)}
        if not set(ids) <= recorded:
            raise fail(env, theirs, f"only {len(recorded & set(ids))} of {len(ids)} jobs were "
                       "recorded: pass record=record on to each worker")

    def daemon_threads(env: _Env) -> None:
        _, _, started, _ = start(env, 2, _Process(env), buffer=10)
        if not started:
            raise _Fail(count_hint(0, 2))
        if not all(t.daemon for t in started):
            raise _Fail("a worker thread is not a daemon thread: a hung worker would keep "
                        "Python from exiting; pass daemon=daemon to threading.Thread")

    return _run("start_workers", [
        _Scenario("returns a channel and a wait group", returns_pair),
        _Scenario(f"starts exactly {n} worker threads", starts_n_threads),
        _Scenario(f"runs {n} jobs at the same time on its {n} workers", runs_concurrently),
        _Scenario("makes a channel that holds buffer=2 waiting jobs", honours_buffer),
        _Scenario("counts every worker in wg before returning", counts_workers),
        _Scenario("passes process and record on to every worker", passes_process_and_record),
        _Scenario("starts daemon threads by default", daemon_threads),
    ])
