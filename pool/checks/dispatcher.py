"""Notebook 04, stage 3: ``check_start_workers`` — starting the workers."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from typing import Any

from .._validate import type_name
from ..channel import Channel
from ..waitgroup import WaitGroup
from ..worker import worker as _reference_worker
from ._harness import (
    _CRASH_GRACE,
    _GATE_LIMIT,
    _PROMPT,
    _Call,
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


class _HoldNewThreads:
    """Holds every thread started during a call before it runs a line of its code.

    Installed with ``threading.settrace`` for the length of the call: a new
    thread runs the hook just before its ``run()``, and waits there until
    :attr:`release` is set (at the scenario's end at the latest). So when
    the answer returns, none of its threads has run yet, whatever the
    scheduler would have done: a thread that counts itself in ``wg``, or a
    lambda that reads the loop variable late, shows its mistake every time.
    """

    def __init__(self, env: _Env) -> None:
        self._env = env
        self.release = env.gate()
        self.held = 0

    def call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        previous = threading.gettrace()

        def hook(frame: Any, event: Any, arg: Any) -> Any:
            sys.settrace(previous)
            with self._env.cond:
                self.held += 1
                self._env.cond.notify_all()
            self.release.wait(_GATE_LIMIT)
            return previous(frame, event, arg) if previous is not None else None

        threading.settrace(hook)
        try:
            return fn(*args, **kwargs)
        finally:
            threading.settrace(previous)


def _stack(thread: threading.Thread) -> list[Any]:
    """The frames ``thread`` is running now, innermost first."""
    frame = sys._current_frames().get(thread.ident or -1)
    frames = []
    while frame is not None:
        frames.append(frame)
        frame = frame.f_back
    return frames


def _close_channels_in(frames: list[Any]) -> None:
    """Close the channels a call that never returned holds in its local variables.

    Its workers then leave their loops and the call (a join, a wait) can end,
    instead of keeping threads alive for good.
    """
    for frame in frames:
        for value in list(frame.f_locals.values()):
            if isinstance(value, Channel):
                _close_quietly(value)


_JOIN = {threading.Thread.join.__code__}
_WG_WAIT = {WaitGroup.wait.__code__}
_WORKER_LOOP = {Channel.recv.__code__, Channel.__iter__.__code__, _reference_worker.__code__}


# -- stage 3: the dispatcher ------------------------------------------------------


def check_start_workers(fn: Callable[..., Any]) -> bool:
    """Check a stage-3 answer: a dispatcher with :func:`pool.start_workers`'s signature.

    ``fn(num_workers, process, *, buffer=100, record=None, daemon=True)``
    must return ``(jobs, wg)`` at once: a channel (``send``/``close`` like
    :class:`pool.Channel`, with ``send(item, timeout=...)``) and a wait group
    (``add``/``done``/``wait`` and ``count``, like :class:`pool.WaitGroup`).
    Scenarios: it returns such a pair; it starts exactly ``num_workers``
    threads; they run that many jobs at the same time; the workers get the
    ids 1 to ``num_workers``; the channel holds ``buffer`` waiting jobs for
    the whole pool, no more; ``wg`` counts every worker when ``fn`` returns;
    ``process`` and ``record`` reach the workers; the threads are daemon
    threads by default and not with ``daemon=False``. After each scenario the
    checker closes the channel, so the workers can exit.

    Two scenarios hold every thread the answer starts back until it has
    returned (``threading.settrace``), so ``wg.add(1)`` called inside the
    worker thread, and a ``lambda`` that reads the loop's worker id only when
    its thread runs, fail every time, not only when the race shows. The
    daemon scenario calls ``fn`` from a non-daemon thread, as a program's
    main thread would: threads inherit ``daemon`` from the thread that makes
    them, so an answer that ignores ``daemon`` shows it there.

    Prints one line per scenario and returns True if all passed. Blocks
    about a second per failing scenario at most, never forever. Raises
    ``TypeError`` only if ``fn`` is not callable.
    """
    _check_callable(fn, "fn")
    n = 3

    hung: list[_Fail] = []  # the verdict once a call never returned: later scenarios repeat it
    returned: list[bool] = []  # a call has returned: a non-daemon caller is safe

    def not_returned(env: _Env, call: _Call) -> _Fail:
        frames = _stack(call.thread)
        env.later(lambda: _close_channels_in(frames))
        codes = {f.f_code for f in frames}
        if codes & _JOIN:
            return _Fail("start_workers did not return: it waits for (joins) its worker "
                         "threads, which run until the channel is closed; start them and "
                         "return at once")
        if codes & _WG_WAIT:
            return _Fail("start_workers did not return: it waits on wg, which counts workers "
                         "that run until the channel is closed; start them and return at once")
        if codes & _WORKER_LOOP:
            return _Fail("start_workers did not return: it runs a worker's loop itself, in "
                         "its own thread (worker(...) called directly, or thread.run() instead "
                         "of thread.start()); start a new thread for each worker")
        return _Fail(f"start_workers did not return within {_PROMPT:g} s: start each worker "
                     "thread and return (jobs, wg) at once")

    def start(env: _Env, num_workers: int, process: _Process, *,
              hold: _HoldNewThreads | None = None, nondaemon: bool = False, **kwargs: Any
              ) -> tuple[Any, Any, list[threading.Thread], set[threading.Thread]]:
        """Call the answer; return ``(jobs, wg, threads it started, threads not its own)``."""
        if hung:
            raise hung[0]
        before = set(threading.enumerate())
        # A thread that had ended before `before` had its crash noted already: not ours.
        crashed_before = set(env.crashed_threads(set()))
        args = (fn, num_workers, process) if hold is None else (hold.call, fn, num_workers,
                                                                process)
        call = (env.start_nondaemon if nondaemon else env.start)(*args, **kwargs)
        if not env.wait_until(lambda: call.finished, _PROMPT):
            hung.append(not_returned(env, call))
            raise hung[0]
        returned.append(True)
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
        theirs = before | crashed_before | {call.thread}
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
                "worker thread per worker")

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

    def numbers_workers(env: _Env) -> None:
        hold = _HoldNewThreads(env)
        process = _Process(env, hold_all=True)
        record = _Recorder(env)
        jobs, _, _, theirs = start(env, n, process, hold=hold, buffer=10, record=record)
        hold.release.set()
        for job in _jobs(*(f"j{i}" for i in range(1, n + 1))):
            _send(jobs, job, _PROMPT)
        env.wait_until(lambda: process.running >= n or env.thread_error(theirs) is not None,
                       _PROMPT)
        process.check_called_with_jobs()
        if process.most_running < n:
            raise fail(env, theirs, f"only {process.most_running} of {n} jobs ran at the same "
                       f"time on {n} workers")
        process.gate.set()  # one job held on each worker: the n outcomes come from n workers
        env.wait_until(lambda: len(record.outcomes) >= n or env.thread_error(theirs) is not None,
                       _PROMPT)
        if len(record.outcomes) < n:
            raise fail(env, theirs, f"{len(record.outcomes)} of {n} finished jobs were "
                       "recorded: pass record=record on to each worker")
        ids = sorted((getattr(o, "worker_id", None) for o in record.outcomes), key=repr)
        wanted = list(range(1, n + 1))
        if ids == wanted:
            return
        shown = ", ".join(_show(i) for i in ids)
        if ids == list(range(n)):
            raise _Fail(f"the {n} workers had the ids {shown}: number them 1 to num_workers, "
                        "as the logs and Go's guide do (range(n) starts at 0)")
        if len(set(ids)) == 1:
            raise _Fail(f"all {n} workers had the id {_show(ids[0])}: each worker must get its "
                        "own; a lambda (or inner function) that reads the loop variable reads "
                        "it when its thread runs, by then the loop has moved on; hand each "
                        "thread its id when you make it (args=...)")
        raise _Fail(f"the {n} workers had the ids {shown}, expected 1, 2, 3: give each worker "
                    "its own id, 1 to num_workers")

    def honours_buffer(env: _Env) -> None:
        workers, buffer = 2, 2
        process = _Process(env, hold_all=True)
        jobs, _, started, theirs = start(env, workers, process, buffer=buffer)
        if len(started) != workers:
            raise fail(env, theirs, count_hint(len(started), workers))
        for job in _jobs("j1", "j2"):
            _send(jobs, job, _PROMPT)
        env.wait_until(lambda: process.running >= workers or env.thread_error(theirs) is not None,
                       _PROMPT)
        if process.running < workers:
            raise fail(env, theirs, f"the {workers} workers did not both start a job")
        taken = 0
        for job in _jobs("w1", "w2", "w3", "w4", "w5", "w6"):
            try:
                jobs.send(job, timeout=0)
            except TimeoutError:
                break
            except Exception as exc:
                raise _Fail(f"sending on the channel raised {_describe(exc)}") from None
            taken += 1
        if taken < buffer:
            raise _Fail(f"the channel had room for {taken} waiting jobs although buffer={buffer}: "
                        "make it with Channel(buffer)")
        if taken == buffer:
            return
        if taken == buffer * workers:
            raise _Fail(f"the channel took {taken} waiting jobs although buffer={buffer}: buffer "
                        "is the room of the one channel the workers share, not "
                        "room per worker; make it with Channel(buffer)")
        raise _Fail(f"the channel took {taken} waiting jobs although buffer={buffer}: make it "
                    "with Channel(buffer), so a full buffer pushes back on the sender")

    def counts_workers(env: _Env) -> None:
        hold = _HoldNewThreads(env)
        _, wg, started, theirs = start(env, n, _Process(env), hold=hold, buffer=10)
        count = getattr(wg, "count", None)
        if isinstance(count, bool) or not isinstance(count, int):
            raise _Fail("the wait group has no count: use pool.WaitGroup")
        if count == n:
            hold.release.set()
            crash = fail(env, theirs, "")  # a worker that crashes at once: say so
            if str(crash):
                raise crash
            return
        # Every thread started is still held back before its first line: let them
        # run, and see whether they count themselves.
        hold.release.set()
        env.wait_until(lambda: getattr(wg, "count", None) == n
                       or env.thread_error(theirs) is not None, _CRASH_GRACE * 3)
        if getattr(wg, "count", None) == n and len(started) == n:
            raise _Fail(f"wg counted {_count(count, 'worker')} when start_workers returned and "
                        f"{n} only once the worker threads ran: a worker that counts itself "
                        "does it too late, a shutdown that comes at once finds nothing to wait "
                        "for; count each worker in the dispatcher, before starting its thread")
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
        # Called from a non-daemon thread, like a program's main thread: a thread
        # made without daemon=... would inherit False there.
        # Only once a call has returned: a non-daemon call that never returns would
        # keep Python from exiting.
        _, _, started, _ = start(env, 2, _Process(env), nondaemon=bool(returned), buffer=10)
        if not started:
            raise _Fail(count_hint(0, 2))
        if not all(t.daemon for t in started):
            raise _Fail("called from a program's main thread, start_workers started worker "
                        "threads that are not daemon threads, though daemon=True is the "
                        "default: a hung worker would keep Python from exiting; a new thread "
                        "is a daemon thread only if told so (or made by one)")
        _, _, started, _ = start(env, 2, _Process(env), nondaemon=True, buffer=10,
                                 daemon=False)
        if any(t.daemon for t in started):
            raise _Fail("start_workers(..., daemon=False) started daemon threads: the daemon "
                        "argument is ignored or hard-coded; hand it on to each thread")

    return _run("start_workers", [
        _Scenario("returns a channel and a wait group", returns_pair),
        _Scenario(f"starts exactly {n} worker threads", starts_n_threads),
        _Scenario(f"runs {n} jobs at the same time on its {n} workers", runs_concurrently),
        _Scenario(f"gives its {n} workers the ids 1 to {n}", numbers_workers),
        _Scenario("makes one channel that holds buffer=2 waiting jobs for 2 workers",
                  honours_buffer),
        _Scenario("counts every worker in wg before returning", counts_workers),
        _Scenario("passes process and record on to every worker", passes_process_and_record),
        _Scenario("starts daemon threads by default, non-daemon ones with daemon=False",
                  daemon_threads),
    ])
