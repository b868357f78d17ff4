"""Notebook 12: ``check_async_pool`` — an asyncio pool: a TaskGroup and a bounded shutdown.

The answer runs in an event loop of its own, in a thread of its own: the
notebook's cell already runs inside the kernel's event loop, which a
checker called from a normal cell can neither use (the cell is blocking it)
nor nest another ``run_until_complete`` in.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import inspect
import re
import threading
import time
import warnings
from collections import Counter
from collections.abc import Callable, Coroutine, Iterator
from typing import Any

from ..job import Job, Status
from ._harness import (
    _EARLY_SLACK,
    _GATE_LIMIT,
    _PROMPT,
    _check_callable,
    _count,
    _describe,
    _Env,
    _Fail,
    _run,
    _Scenario,
    _show,
)

__all__ = ["check_async_pool"]

_TICK = 0.01
"""How often the checker's heartbeat task wakes up in the answer's loop."""
_BLOCKED = 0.5
"""A loop that ran nothing for this long was blocked (a correct answer's gaps are ~_TICK)."""
_JITTER = 0.03
"""A heartbeat gap longer than this counts towards the loop's blocked time."""
_BLOCKED_TOTAL = 0.25
"""Blocked time in the blocking scenario that fails it (its wrong answers block 0.5 s or more)."""
_HUNG_TIMEOUT = 0.3
"""The ``timeout`` given to the answer in the scenario with hung jobs."""
_LATE = 0.4
"""How long after its ``timeout`` a shutdown with hung jobs may return (busy machines are slow)."""
_STOP_GRACE = 0.5
"""How long tasks the checker cancelled get to end, at each step of stopping an answer."""
_STATUSES = ("succeeded", "failed", "canceled")
_ASYNCIO_RUN = "cannot be called from a running event loop"
_NEVER_AWAITED = re.compile(r"coroutine '([^']+)' was never awaited")

_LEFT_BEHIND: list[object] = []
"""Tasks of broken answers that ignored every cancel, with their loops.

Kept referenced for good: a pending task that is garbage collected logs
"Task was destroyed but it is pending!", which would land in some later
notebook cell. Only answers that swallow every ``CancelledError`` leave any.
"""


# -- "coroutine ... was never awaited" ------------------------------------------------------


class _Unawaited:
    """Names of coroutines Python reported as never awaited, with the thread that freed each."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: list[tuple[threading.Thread, str]] = []

    def add(self, name: str) -> None:
        with self._lock:
            self._seen.append((threading.current_thread(), name))

    def names(self, thread: threading.Thread, others: set[threading.Thread]) -> list[str]:
        """Names freed in ``thread``, or in any thread that is not one of ``others``' loops."""
        with self._lock:
            seen = list(self._seen)
        return sorted({name for t, name in seen if t is thread or t not in others})


@contextlib.contextmanager
def _catching_unawaited() -> Iterator[_Unawaited]:
    """While the check runs, collect "coroutine ... was never awaited" warnings, not show them.

    Python warns when a coroutine object is freed without ever having run
    (``process(job)`` with the ``await`` forgotten). The default action shows
    a warning once per place, so a second check of the same answer would see
    nothing: the filter says "always" for the check's duration. Other
    warnings go to the previous ``showwarning``. Like the harness's
    ``threading.excepthook``, this is process-wide while the check runs.
    """
    caught = _Unawaited()
    with warnings.catch_warnings():  # restores the filters and showwarning on the way out
        warnings.filterwarnings("always", message=r"coroutine .* was never awaited",
                                category=RuntimeWarning)
        previous = warnings.showwarning

        def show(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                 file: Any = None, line: str | None = None) -> None:
            match = _NEVER_AWAITED.search(str(message))
            if match is not None and issubclass(category, RuntimeWarning):
                caught.add(match.group(1))
            else:
                previous(message, category, filename, lineno, file, line)

        warnings.showwarning = show
        yield caught


# -- one call of the answer, in a loop of its own ------------------------------------------


class _Run:
    """``await fn(process, jobs, workers, timeout)`` in a fresh event loop in a daemon thread.

    Records what the checker's ``process`` saw (calls, concurrency, cancels,
    a task that ran a job after it was cancelled), a heartbeat task's gaps
    (a blocked loop) and the answer's value or exception, snapshotted the
    moment it returned.

    The thread is a daemon thread because an answer that blocks its loop
    forever (``time.sleep`` in a loop, ``queue.Queue.get()`` in a coroutine)
    can never be stopped: a non-daemon thread would then keep Python (the
    kernel) from exiting. It holds nothing but the check's own state, so
    nothing is lost if it is still running at exit.
    """

    def __init__(self, fn: Callable[..., Any], actions: dict[str, str], workers: int,
                 timeout: float) -> None:
        self._fn = fn
        self.actions = actions  # job id -> "work <seconds>", "fail" or "hang"
        self.jobs = [Job(job_id, action.encode()) for job_id, action in actions.items()]
        self.workers = workers
        self.timeout = timeout
        self._lock = threading.Lock()
        self.returned = threading.Event()
        self.closed = threading.Event()
        self.loop = asyncio.new_event_loop()
        self._root: asyncio.Task[Any] | None = None
        # what process saw
        self.calls: Counter[str] = Counter()
        self.not_jobs: list[str] = []
        self.running: Counter[str] = Counter()
        self.most_running = 0
        self.cancelled_tasks: set[asyncio.Task[Any]] = set()
        self.after_cancel: list[str] = []  # jobs started by a task that had been cancelled
        self._coros: list[Coroutine[Any, Any, str]] = []
        self.never_started = 0  # process coroutines never awaited (counted once the loop is done)
        # the heartbeat
        self.last_tick = time.monotonic()
        self.max_gap = 0.0
        self.blocked = 0.0
        # the call
        self.not_awaitable: object = None
        self.is_awaitable = True
        self.value: Any = None
        self.error: BaseException | None = None
        self.elapsed = 0.0
        self.running_at_return: list[str] = []
        self.cancel_swallowed = False  # a cancelled task still running when the checker gave up
        self._stopping = False
        self.thread = threading.Thread(target=self._thread, name="pool-check-loop", daemon=True)

    # -- the checker's process ------------------------------------------------------------

    def process(self, job: Any) -> Coroutine[Any, Any, str]:
        """The ``process`` the answer gets: calling it makes a coroutine, kept to see if it ran."""
        coro = self._process(job)
        self._coros.append(coro)
        return coro

    async def _process(self, job: Any) -> str:
        job_id = getattr(job, "id", None)
        if not isinstance(job_id, str) or job_id not in self.actions:
            with self._lock:
                self.not_jobs.append(type(job).__name__)
            raise TypeError(f"process(job) needs one of the Jobs it was given, got {_show(job)}")
        task = asyncio.current_task()
        with self._lock:
            if task in self.cancelled_tasks:
                self.after_cancel.append(job_id)
            self.calls[job_id] += 1
            self.running[job_id] += 1
            self.most_running = max(self.most_running, self.running.total())
        try:
            action, *args = self.actions[job_id].split()
            if action == "hang":
                await asyncio.sleep(_GATE_LIMIT)  # honours cancellation; the checker cancels it
                return "woke up"
            await asyncio.sleep(float(args[0]) if args else 0.01)
            if action == "fail":
                raise RuntimeError(f"job {job_id} fails on purpose")
            return f"result of {job_id}"
        except asyncio.CancelledError:
            if task is not None:
                with self._lock:
                    self.cancelled_tasks.add(task)
            raise
        finally:
            with self._lock:
                self.running[job_id] -= 1

    def running_jobs(self) -> list[str]:
        with self._lock:
            return sorted(+self.running)

    # -- the loop's thread ------------------------------------------------------------------

    def start(self) -> None:
        self.thread.start()

    def _thread(self) -> None:
        loop = self.loop
        try:
            # RuntimeError: "Event loop stopped before Future completed": the checker stopped it
            with contextlib.suppress(RuntimeError):
                loop.run_until_complete(self._main())
            self._wind_down(loop)
        finally:
            self._count_never_started(loop)
            with contextlib.suppress(Exception):
                loop.close()
            self.closed.set()

    async def _main(self) -> None:
        self._root = asyncio.current_task()
        started = self.last_tick = time.monotonic()
        heartbeat = asyncio.get_running_loop().create_task(self._heartbeat())
        try:
            call = self._fn(self.process, list(self.jobs), self.workers, self.timeout)
            if not inspect.isawaitable(call):
                self.is_awaitable = False
                self.not_awaitable = call
                return
            value = await call
            # a snapshot: tasks the answer left running could still change its dict
            self.value = dict(value) if isinstance(value, dict) else value
        except BaseException as exc:  # a wrong answer may raise anything; it becomes a hint
            # Without its traceback: the frames in it (this one among them) would make a cycle
            # that only the garbage collector frees, so a coroutine they hold (asyncio.run's
            # argument, say) would warn "never awaited" in some later notebook cell.
            self.error = exc.with_traceback(None)
        finally:
            now = time.monotonic()
            self._gap(now)
            self.elapsed = now - started
            self.running_at_return = self.running_jobs()
            heartbeat.cancel()
            self.returned.set()

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(_TICK)
            self._gap(time.monotonic())

    def _gap(self, now: float) -> None:
        gap = now - self.last_tick
        self.last_tick = now
        self.max_gap = max(self.max_gap, gap)
        if gap > _JITTER:
            self.blocked += gap - _TICK

    def _wind_down(self, loop: asyncio.AbstractEventLoop) -> None:
        """Cancel whatever the answer left running and give it a bounded moment to end."""
        tasks = asyncio.all_tasks(loop)
        for task in tasks:
            task.cancel()
        if tasks:
            with contextlib.suppress(RuntimeError):
                loop.run_until_complete(asyncio.wait(tasks, timeout=_STOP_GRACE))
        left = [task for task in tasks if not task.done()]
        if left:
            _LEFT_BEHIND.append((loop, left))

    def _count_never_started(self, loop: asyncio.AbstractEventLoop) -> None:
        """Count process coroutines that never ran and close them (which also keeps Python quiet).

        A coroutine a task was made for but that never got to run was closed
        when its task was cancelled; one still owned by a left-behind task
        is not the answer's forgotten ``await``.
        """
        owned = {id(task.get_coro()) for task in asyncio.all_tasks(loop)}
        for coro in self._coros:
            if inspect.getcoroutinestate(coro) == inspect.CORO_CREATED and id(coro) not in owned:
                self.never_started += 1
                coro.close()

    # -- from the scenario's thread ------------------------------------------------------------

    def loop_stuck(self) -> bool:
        """Whether the loop has run nothing for ``_BLOCKED`` seconds, right now."""
        return time.monotonic() - self.last_tick > _BLOCKED

    def stop(self) -> None:
        """Note any cancelled task still running, cancel every task, stop the loop if need be.

        Blocks at most about ``3 * _STOP_GRACE`` seconds, the first call only. A
        loop blocked by the answer cannot be stopped: the cancels and the stop
        are queued without waiting, and its daemon thread is left to itself.
        """
        if self.closed.is_set() or self._stopping:
            return
        self._stopping = True
        noted = threading.Event()

        def cancel_everything() -> None:
            try:
                for task in asyncio.all_tasks(self.loop):
                    if task is not self._root and not task.done() and task.cancelling() > 0:
                        self.cancel_swallowed = True  # it was cancelled, and it carries on
                for task in asyncio.all_tasks(self.loop):
                    task.cancel()
            finally:
                noted.set()

        try:
            self.loop.call_soon_threadsafe(cancel_everything)
            if self.loop_stuck():  # nothing will run until it unblocks, if ever: do not wait
                self.loop.call_soon_threadsafe(self.loop.stop)
                return
        except RuntimeError:  # the loop is closed: the thread has ended
            return
        noted.wait(_STOP_GRACE)
        if self.closed.wait(_STOP_GRACE):
            return
        # an answer that swallows every cancel: stop the loop under it (_thread then winds down)
        with contextlib.suppress(RuntimeError):
            self.loop.call_soon_threadsafe(self.loop.stop)
        self.closed.wait(2 * _STOP_GRACE)


# -- the verdicts ------------------------------------------------------------------------------


def _status(value: object) -> object:
    return value.value if isinstance(value, Status) else value


def _short(name: str) -> str:
    """``run_pool.<locals>.worker`` -> ``worker``: the name a learner knows it by."""
    return name.split(".<locals>.")[-1]


def _is_job_error(exc: BaseException) -> bool:
    """Whether ``exc`` is (or groups only around) a checker job's on-purpose failure."""
    if isinstance(exc, BaseExceptionGroup):
        return any(_is_job_error(e) for e in exc.exceptions)
    return isinstance(exc, RuntimeError) and "fails on purpose" in str(exc)


def _first_checks(run: _Run, returned: bool, stuck: bool, unawaited: list[str]) -> None:
    """The mistakes any scenario can show, most telling first."""
    # asyncio.run() refusing to run also leaves its coroutine never awaited: name the cause
    if isinstance(run.error, RuntimeError) and _ASYNCIO_RUN in str(run.error):
        raise _Fail("asyncio.run() inside run_pool: it cannot run in a loop that is already "
                    "running; make run_pool an async def and await what it needs")
    if not run.is_awaitable:
        raise _Fail(f"run_pool returned {_show(run.not_awaitable)}, not a coroutine: define it "
                    "with async def, so the checker can await it in its event loop")
    if unawaited:
        name = _short(unawaited[0])
        raise _Fail(f"a forgotten await: coroutine {name!r} was never awaited, so it never ran; "
                    "calling an async def only makes a coroutine: await it (or start it as a "
                    "task)")
    if run.never_started:
        calls = _count(run.never_started, "time")
        raise _Fail(f"a forgotten await: process(job) was called {calls} but its coroutine "
                    "never ran (coroutine 'process' was never awaited), so "
                    "nothing ran; await process(job)")
    if run.max_gap > _BLOCKED or (not returned and stuck):
        raise _Fail(f"blocking the loop: the event loop ran nothing for over {_BLOCKED:g} s, so "
                    "no other task could run; a coroutine must never block (time.sleep, a busy "
                    "wait, queue.Queue.get, thread.join): await asyncio.sleep, asyncio.wait or "
                    "an asyncio.Queue instead")
    if run.not_jobs:
        raise _Fail(f"process was called with a {run.not_jobs[0]}, not with the Job: "
                    "call process(job)")


def _hang_checks(run: _Run, returned: bool, running_at_bound: list[str], bound: float) -> None:
    if returned:
        return
    if run.cancel_swallowed or run.after_cancel:
        raise _Fail("a swallowed CancelledError: a worker was cancelled, caught the "
                    "CancelledError and carried on, so the shutdown never ended; a cancel must "
                    "end the worker: note the job 'canceled' and re-raise (catch Exception, "
                    "not BaseException, around await process(job))")
    if running_at_bound:
        raise _Fail(f"a shutdown that waits forever: run_pool did not return within {bound:g} s "
                    f"with job {running_at_bound[0]!r} hung, and it was never cancelled; wait at "
                    "most timeout for the workers, then cancel the ones still running")
    raise _Fail(f"a shutdown that waits forever: no job was left running, yet run_pool did "
                f"not return within {bound:g} s; something it awaits never ends (workers "
                "waiting on queue.get() that nobody stops, queue.join() without a task_done() "
                "per job, a wait with no timeout)")


def _error_checks(run: _Run) -> None:
    error = run.error
    if error is None:
        return
    if _is_job_error(error):
        raise _Fail("a worker that dies with its first failing job: the job's exception left "
                    "the worker, so the TaskGroup cancelled every other worker and raised it; "
                    "catch Exception around await process(job), note 'failed', take the next job")
    if isinstance(error, asyncio.CancelledError):
        raise _Fail("run_pool raised CancelledError: awaiting a task you cancelled re-raises "
                    "its CancelledError; wait for cancelled tasks with asyncio.wait or "
                    "asyncio.gather(..., return_exceptions=True)")
    if isinstance(error, TimeoutError):
        raise _Fail("run_pool raised TimeoutError: the shutdown timeout passing is not an error "
                    "of run_pool; catch it, and return every job's status")
    raise _Fail(f"run_pool raised {_describe(error)}: return every job's status, never raise")


def _returned_checks(run: _Run) -> dict[str, object]:
    """Checks on a returned run that every scenario shares; returns the statuses."""
    if run.after_cancel:
        raise _Fail(f"a swallowed CancelledError: a worker cancelled at the shutdown caught the "
                    f"CancelledError and went on to run job {run.after_cancel[0]!r}; a cancel "
                    "must end the worker: note the job 'canceled' and re-raise (catch Exception, "
                    "not BaseException, around await process(job))")
    for job in run.jobs:
        n = run.calls[job.id]
        if n > 1:
            raise _Fail(f"a job run twice: job {job.id!r} ran {n} times; every job runs exactly "
                        "once (a failed one is not retried, none is queued twice)")
    value = run.value
    if not isinstance(value, dict):
        raise _Fail(f"run_pool returned {_show(value)}: return a dict with each job's id and "
                    "its status")
    ids = {job.id for job in run.jobs}
    for key in value:
        if key not in ids:
            raise _Fail(f"the result has the key {_show(key)}, which is no job's id: key it by "
                        "job.id")
    statuses = {job_id: _status(status) for job_id, status in value.items()}
    for job in run.jobs:
        status = statuses.get(job.id)
        if job.id in statuses and status not in _STATUSES:
            raise _Fail(f"job {job.id!r} has the status {_show(status)}: use 'succeeded', "
                        "'failed' or 'canceled' (the values of pool.Status)")
    return statuses


def _expect(run: _Run, statuses: dict[str, object], expected: dict[str, str]) -> None:
    """Compare each job's status with the expected one; the first difference is the hint."""
    for job_id, want in expected.items():
        got = statuses.get(job_id)
        if got == want:
            continue
        ran = run.calls[job_id] > 0
        if want == "canceled" and not ran:
            if got is None:
                raise _Fail(f"job {job_id!r}, still queued at the timeout, is missing from the "
                            "result: a job that never started ends 'canceled' too (every job "
                            "ends exactly once)")
            raise _Fail(f"job {job_id!r}, still queued at the timeout and never run, is "
                        f"reported {got!r}: a job that never started ends 'canceled'")
        if want == "canceled":
            raise _Fail(f"job {job_id!r}, cancelled at the shutdown timeout, is reported "
                        f"{_show(got)}: a job cancelled at the timeout ends 'canceled'")
        if not ran:
            where = "is missing from the result" if got is None else f"is reported {got!r}"
            raise _Fail(f"a job lost: job {job_id!r} never ran and {where}, though there was "
                        "time for it; the workers must keep taking jobs until none is left")
        if got is None:
            raise _Fail(f"job {job_id!r} ran but is missing from the result: every job ends "
                        "exactly once, with its status")
        if want == "failed":
            raise _Fail(f"job {job_id!r} raised but is reported {_show(got)}: a job whose "
                        "process raised ends 'failed'")
        raise _Fail(f"job {job_id!r} returned but is reported {_show(got)}: a job whose "
                    "process returned ends 'succeeded'")


# -- the checker ------------------------------------------------------------------------------


def check_async_pool(fn: Callable[..., Any]) -> bool:
    """Check ``async def run_pool(process, jobs, workers, timeout) -> dict[str, str]``.

    The exercise: run ``await process(job)`` for each of ``jobs`` (a list of
    :class:`pool.Job`) on ``workers`` worker tasks in an ``asyncio.TaskGroup``,
    fed in order through an ``asyncio.Queue``:

    * a worker takes jobs until none is left; ``process`` returning ends the
      job ``"succeeded"``; ``process`` raising an ``Exception`` ends it
      ``"failed"``, and the worker goes on with the next job (a job's error
      never ends the pool);
    * with every job in the queue, shut down: wait at most ``timeout``
      seconds for the workers to finish (returning as soon as they do), then
      cancel the workers still running and wait for them to end. A job
      cancelled there ends ``"canceled"``, and so does a job that never
      started. A worker's ``CancelledError`` must end it: never swallow it;
    * return ``{job.id: status}`` with every job exactly once; the statuses
      are ``"succeeded"``, ``"failed"`` and ``"canceled"`` (the values of
      :class:`pool.Status`; its members are accepted too);
    * never block the event loop (no ``time.sleep``), and ``await`` every
      coroutine.

    ``run_pool`` runs in a fresh event loop of the checker's own, in a
    daemon thread, so the check works from a notebook cell (which already
    runs in the kernel's loop). The checker's ``process`` sleeps briefly
    with ``asyncio.sleep`` and returns, raises ``RuntimeError``, or hangs
    until cancelled; a heartbeat task in the same loop notices when the
    loop is blocked.

    Scenarios, each naming the classic mistake it catches: every job runs
    exactly once (a forgotten ``await``: nothing runs; a job lost; a job run
    twice); failing jobs end ``"failed"`` and the workers go on (a worker
    that dies with its first failing job: the TaskGroup then cancels the
    rest); exactly ``workers`` jobs run at a time (not serial, not one task
    per job unbounded); it returns as soon as the jobs are done (not after
    the whole timeout); it never blocks the loop (``time.sleep``); with hung
    jobs it returns within ``timeout`` plus a little, their statuses and the
    queued job's ``"canceled"`` (a shutdown that waits forever; a swallowed
    ``CancelledError``; a hung job left running; a timeout per worker that
    adds up). A forgotten ``await`` or a blocked loop is named first in
    whichever scenario shows it.

    Prints one line per scenario (no timings, ids or addresses) and returns
    True if all passed. Blocks a few seconds at most: every wait is bounded,
    and an answer that never ends is cancelled, then its loop stopped; one
    that blocks its loop forever is left in its daemon thread. Raises
    ``TypeError`` only if ``fn`` is not callable; whatever the answer
    raises becomes a hint.
    """
    _check_callable(fn, "fn")
    loops: set[threading.Thread] = set()

    def run(env: _Env, actions: dict[str, str], workers: int, timeout: float,
            unawaited: _Unawaited) -> tuple[_Run, dict[str, object]]:
        """Call the answer; fail on the mistakes every scenario shares; return the statuses."""
        r = _Run(fn, actions, workers, timeout)
        loops.add(r.thread)
        env.later(r.stop)
        r.start()
        bound = timeout + _PROMPT
        returned = r.returned.wait(bound)
        stuck = not returned and r.loop_stuck()
        running_at_bound = r.running_jobs()
        if returned:
            r.closed.wait(2 * _STOP_GRACE)  # let it wind down, so forgotten coroutines show
        else:
            r.stop()
        _first_checks(r, returned, stuck, unawaited.names(r.thread, loops - {r.thread}))
        _hang_checks(r, returned, running_at_bound, bound)
        _error_checks(r)
        return r, _returned_checks(r)

    def scenarios(unawaited: _Unawaited) -> list[_Scenario]:
        def runs_each(env: _Env) -> None:
            actions = {f"a{i}": "work 0.02" for i in range(1, 8)}
            r, statuses = run(env, actions, 3, 1.0, unawaited)
            if not any(r.calls.values()):
                raise _Fail("process was never called, so nothing ran: each worker takes jobs "
                            "from the queue and awaits process(job)")
            _expect(r, statuses, dict.fromkeys(actions, "succeeded"))

        def failures(env: _Env) -> None:
            actions = {"f1": "fail", "f2": "fail"} | {f"b{i}": "work 0.02" for i in range(1, 5)}
            r, statuses = run(env, actions, 2, 1.0, unawaited)
            lost = [job_id for job_id in actions if r.calls[job_id] == 0]
            if lost:
                raise _Fail(f"a worker that dies with its first failing job: after 'f1' and "
                            f"'f2' failed, job {lost[0]!r} never ran; a job's error must not "
                            "end its worker: catch Exception around await process(job), note "
                            "'failed', take the next job")
            _expect(r, statuses, {job_id: "failed" if action == "fail" else "succeeded"
                                  for job_id, action in actions.items()})

        def concurrency(env: _Env) -> None:
            actions = {f"c{i}": "work 0.1" for i in range(1, 7)}
            r, statuses = run(env, actions, 3, 1.0, unawaited)
            if r.most_running == 1:
                raise _Fail("not concurrent: the jobs ran one at a time with workers=3; start "
                            "every worker as a task before waiting for any (awaiting a worker "
                            "runs it to its end first)")
            if r.most_running > 3:
                raise _Fail(f"unbounded: {r.most_running} jobs ran at once with workers=3; "
                            "`workers` worker tasks take jobs from the queue, never one task "
                            "per job all at once")
            if r.most_running < 3:
                raise _Fail(f"at most {r.most_running} jobs ran at once with workers=3: start "
                            "`workers` worker tasks")
            _expect(r, statuses, dict.fromkeys(actions, "succeeded"))

        def early(env: _Env) -> None:
            actions = {"e1": "work 0.02", "e2": "fail", "e3": "work 0.02", "e4": "work 0.02"}
            timeout = 2.0
            r, statuses = run(env, actions, 2, timeout, unawaited)
            _expect(r, statuses, {job_id: "failed" if action == "fail" else "succeeded"
                                  for job_id, action in actions.items()})
            if r.elapsed > timeout / 2:
                raise _Fail(f"waited the full timeout: every job was done almost at once, yet "
                            f"run_pool took over half of timeout={timeout:g} to return; the "
                            "shutdown ends when the workers do: a worker stops once the queue "
                            "is empty, and the wait for it is bounded (asyncio.wait, "
                            "asyncio.timeout), not a fixed sleep; with queue.join(), call "
                            "task_done() after every job, failed ones too")

        def no_blocking(env: _Env) -> None:
            actions = {f"l{i:02}": "work 0.02" for i in range(1, 13)}
            r, statuses = run(env, actions, 3, 1.0, unawaited)
            if r.blocked > _BLOCKED_TOTAL:
                raise _Fail(f"blocking the loop: over twelve quick jobs the event loop was blocked "
                            f"for more than {_BLOCKED_TOTAL:g} s in all, and no other task "
                            "(job, worker, timer) can run meanwhile; never time.sleep or wait "
                            "without await in a coroutine: await asyncio.sleep instead")
            _expect(r, statuses, dict.fromkeys(actions, "succeeded"))

        def hung(env: _Env) -> None:
            actions = {"h1": "hang", "h2": "hang", "q1": "work 0.02", "q2": "work 0.02",
                       "q3": "work 0.02", "h3": "hang", "n1": "work 0.02"}
            timeout = _HUNG_TIMEOUT
            r, statuses = run(env, actions, 3, timeout, unawaited)
            if r.running_at_return:
                raise _Fail(f"a hung job left running: run_pool returned while job "
                            f"{r.running_at_return[0]!r} still ran; cancel the workers still "
                            "running at the timeout, then wait for them to end (cancel() only "
                            "asks: await them with asyncio.wait or gather)")
            if r.calls["n1"] and not r.after_cancel:
                raise _Fail("job 'n1' ran although every worker was stuck in a hung job: only "
                            "`workers` jobs run at a time, and a job still queued at the "
                            "timeout never starts (it ends 'canceled')")
            if r.elapsed > timeout + _LATE:
                raise _Fail(f"the shutdown returned more than {_LATE:g} s after timeout="
                            f"{timeout:g}: the timeout bounds the whole shutdown, not each "
                            "worker's wait (one timeout per worker adds up)")
            if r.elapsed < timeout - _EARLY_SLACK:
                raise _Fail(f"the shutdown gave up before timeout={timeout:g} passed: wait the "
                            "whole timeout for the workers before cancelling them")
            _expect(r, statuses, {job_id: "canceled" if action == "hang" or job_id == "n1"
                                  else "succeeded" for job_id, action in actions.items()})

        return [
            _Scenario("runs every job exactly once ('succeeded')", runs_each),
            _Scenario("keeps the workers going after a job fails ('failed')", failures),
            _Scenario("runs `workers` jobs at a time, no more", concurrency),
            _Scenario("returns as soon as every job is done", early),
            _Scenario("never blocks the event loop", no_blocking),
            _Scenario("cancels hung jobs at the timeout ('canceled') and returns", hung),
        ]

    with _catching_unawaited() as unawaited:
        try:
            return _run("run_pool", scenarios(unawaited))
        finally:
            # Coroutines an answer left in reference cycles are freed here, while their
            # "never awaited" warnings are still caught, not later in another cell.
            gc.collect()
