"""Exercise checkers: run a learner's answer through named scenarios and say what is wrong.

Each stage notebook ends with an exercise: write the stage's function
yourself, then check it::

    from pool.checks import check_worker
    check_worker(my_worker)

A checker prints exactly one line per scenario, ``ok   <subject> <scenario>``
or ``FAIL <subject> <scenario>: <hint>``, and returns ``True`` if every
scenario passed. The hint says in plain words what is wrong and what to do,
e.g. ``the worker never called wg.done(): shutdown would wait forever``.

Guarantees, for every checker:

* **A broken answer cannot hang the notebook.** Each scenario runs in a
  daemon thread of its own with its own time bound, and every wait inside it
  is bounded too; a scenario whose answer deadlocks or loops fails after
  about a second. When a scenario ends, the checker releases the jobs it
  held, closes the channels it made and starts a best-effort shutdown of a
  pool it made, so threads of an answer that merely forgot something wind
  down. (A thread that loops forever cannot be killed, in Python or Go; it
  is a daemon thread when the checker started it, so it never keeps Python
  from exiting.)
* **A wrong answer never raises.** Whatever it raises becomes a ``FAIL``
  line. The checkers raise only ``TypeError`` when given something that is
  not callable.
* **The output is deterministic**: no timings, thread ids or addresses, so
  nbval can compare a notebook's committed output with a fresh run. Lines
  are printed from the calling thread, each as soon as its scenario ends.
* Uncaught exceptions in threads started while a check runs (say a worker
  thread that crashed) are caught through ``threading.excepthook`` for the
  duration of the check and reported in a hint instead of as a traceback.
  Exceptions from threads that existed before go to the previous hook.

Some scenarios fail a job on purpose; the reference worker logs that on the
``pool`` logger, which prints nothing unless the notebook configured logging.
"""

from __future__ import annotations

import contextlib
import gc
import json
import multiprocessing
import os
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from ._validate import type_name
from .channel import Channel, ChannelClosed
from .context import Canceled, Context, DeadlineExceeded, background
from .job import Job, Status
from .ledger import PoolClosed
from .processes import ProcessPool, WorkerDied
from .waitgroup import WaitGroup
from .worker import worker as _reference_worker
from .workerpool import WorkerPool

__all__ = [
    "check_job",
    "check_pool",
    "check_process",
    "check_run_with_hard_timeout",
    "check_service",
    "check_shutdown",
    "check_start_workers",
    "check_worker",
]

_PROMPT = 1.0
"""Seconds something a correct answer does in microseconds may take on a slow, busy machine."""
_SHORT_TIMEOUT = 0.2
"""The shutdown timeout used in the hung-worker scenarios."""
_EARLY_SLACK = 0.05
"""How much sooner than its timeout a shutdown may return and still count as having waited."""
_CRASH_GRACE = 0.1
"""How long a failing scenario gives a just-started thread's crash to show, to report it first."""
_GATE_LIMIT = 30.0
"""A held job lets itself go after this long even if nobody releases it: a last resort."""
_BACKSTOP = 6.0
"""Bound on a scenario's own thread, above the sum of the waits inside it."""
_POLL = 0.05
"""Longest sleep between looks at a condition nobody signals (e.g. a learner's channel closing)."""

_WAITED_BEFORE_CLOSE = (
    "wg.wait() was called while the channel was still open: workers block in their loop "
    "forever, so the wait never ends; close the channel first (jobs.close()), then wait"
)
_NEVER_CLOSED = "the channel was never closed: workers block in their loop forever"


# -- the runner -----------------------------------------------------------------


class _Fail(Exception):
    """A scenario's verdict: what is wrong, in plain words."""


class _Env:
    """What one scenario works with: a condition to wait on and cleanups to run after it.

    Everything that changes state a scenario waits for (a job starting, a
    call returning, ``wg.done()``) notifies ``cond``; ``wait_until`` also
    looks every ``_POLL`` seconds, for changes nobody signals.
    """

    def __init__(self, thread_errors: list[tuple[threading.Thread | None, BaseException]]) -> None:
        self.cond = threading.Condition(threading.Lock())
        self._cleanups: list[Callable[[], None]] = []
        self._thread_errors = thread_errors
        self._first_error = len(thread_errors)  # earlier ones belong to earlier scenarios

    def later(self, cleanup: Callable[[], None]) -> None:
        """Run ``cleanup`` once the scenario is over (last registered, first run)."""
        self._cleanups.append(cleanup)

    def clean_up(self) -> None:
        while self._cleanups:
            cleanup = self._cleanups.pop()
            with contextlib.suppress(Exception):
                cleanup()

    def poke(self) -> None:
        with self.cond:
            self.cond.notify_all()

    def wait_until(self, predicate: Callable[[], bool], timeout: float) -> bool:
        """Wait at most ``timeout`` seconds for ``predicate()``; return its last value."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                if predicate():
                    return True
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self.cond.wait(min(remaining, _POLL))

    def start(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> _Call:
        """Call ``fn(*args, **kwargs)`` in a daemon thread of its own."""
        call = _Call(self, fn, args, kwargs)
        call.thread.start()
        return call

    def gate(self) -> threading.Event:
        """An event that held jobs wait on; set when the scenario ends, at the latest."""
        gate = threading.Event()
        self.later(gate.set)
        return gate

    def crashed_threads(self, existing: set[threading.Thread]) -> list[threading.Thread]:
        """Threads not in ``existing`` that died of an uncaught exception."""
        errors = self._thread_errors[self._first_error:]
        return [t for t, _ in errors if t is not None and t not in existing]

    def thread_error(self, existing: set[threading.Thread]) -> BaseException | None:
        """The first uncaught exception of a thread not in ``existing``, if any."""
        for thread, exc in self._thread_errors[self._first_error:]:
            if thread not in existing:
                return exc
        return None


class _Call:
    """A call of a learner's function in a daemon thread: its value or its exception."""

    def __init__(
        self, env: _Env, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> None:
        self._env = env
        self._fn = fn
        self._args = args
        self._kwargs = kwargs
        self.value: Any = None
        self.error: BaseException | None = None
        self.finished = False
        self.started_at = 0.0
        self.ended_at = 0.0
        self.thread = threading.Thread(target=self._run, name="pool-check-call", daemon=True)

    def _run(self) -> None:
        self.started_at = time.monotonic()
        try:
            self.value = self._fn(*self._args, **self._kwargs)
        except BaseException as exc:  # a wrong answer may raise anything; it becomes a hint
            self.error = exc
        finally:
            self.ended_at = time.monotonic()
            with self._env.cond:
                self.finished = True
                self._env.cond.notify_all()

    @property
    def elapsed(self) -> float:
        return self.ended_at - self.started_at


@dataclass(frozen=True)
class _Scenario:
    name: str
    body: Callable[[_Env], None]


@contextlib.contextmanager
def _catching_thread_errors() -> Iterator[list[tuple[threading.Thread | None, BaseException]]]:
    """Collect uncaught exceptions of threads started from now on, instead of printing them."""
    caught: list[tuple[threading.Thread | None, BaseException]] = []
    existing = set(threading.enumerate())
    previous = threading.excepthook

    def hook(args: threading.ExceptHookArgs) -> None:
        if args.thread in existing or args.exc_value is None:
            previous(args)
        else:
            caught.append((args.thread, args.exc_value))

    threading.excepthook = hook
    try:
        yield caught
    finally:
        if threading.excepthook is hook:
            threading.excepthook = previous


def _run(subject: str, scenarios: Sequence[_Scenario]) -> bool:
    """Run each scenario in a daemon thread, print one line for it, return whether all passed."""
    passed = True
    with _catching_thread_errors() as thread_errors:
        for scenario in scenarios:
            hint = _run_one(scenario, _Env(thread_errors))
            if hint is None:
                print(f"ok   {subject} {scenario.name}", flush=True)
            else:
                passed = False
                print(f"FAIL {subject} {scenario.name}: {hint}", flush=True)
    return passed


def _run_one(scenario: _Scenario, env: _Env) -> str | None:
    verdict: list[str | None] = []

    def body() -> None:
        try:
            scenario.body(env)
        except _Fail as fail:
            verdict.append(str(fail))
        except BaseException as exc:  # anything else an answer raised in the check's own thread
            verdict.append(f"the check stopped on {_describe(exc)}")
        else:
            verdict.append(None)

    thread = threading.Thread(target=body, name="pool-check-scenario", daemon=True)
    try:
        thread.start()
        thread.join(_BACKSTOP)
    finally:
        env.clean_up()
    if not verdict:
        return (f"the scenario did not finish within {_BACKSTOP:g} s: something blocks forever "
                "(a wait without a timeout, a channel never closed, a loop that never ends)")
    return verdict[0]


# -- helpers shared by the scenarios ----------------------------------------------

_ADDRESS = re.compile(r"0x[0-9a-fA-F]+")


def _describe(exc: BaseException) -> str:
    """``TypeName: message``, shortened, with memory addresses masked (output stays stable)."""
    try:
        text = _ADDRESS.sub("0x...", str(exc)).replace("\n", " ")
    except Exception:  # a learner's exception may fail to print itself
        text = ""
    if len(text) > 100:
        text = text[:97] + "..."
    return f"{type_name(exc)}: {text}" if text else type_name(exc)


def _show(value: object) -> str:
    """A short, stable rendering of a learner's value: no addresses, no long text."""
    if value is None or isinstance(value, (bool, int)):
        return repr(value)
    if isinstance(value, (str, bytes, bytearray)) and len(value) <= 40:
        return repr(value)
    return f"a {type_name(value)}"


def _count(n: int, thing: str) -> str:
    return f"{n} {thing}" if n == 1 else f"{n} {thing}s"


class _Process:
    """The checker's ``process(job)``: notes every call; fails or holds chosen jobs.

    Returns ``"result of <id>"``. A held job waits on ``gate``, which the
    scenario's end releases.
    """

    def __init__(
        self, env: _Env, *, fail: Iterable[str] = (), hold: Iterable[str] = (),
        hold_all: bool = False, seconds: float = 0.0,
    ) -> None:
        self._env = env
        self._fail = frozenset(fail)
        self._hold = frozenset(hold)
        self._hold_all = hold_all
        self._seconds = seconds  # how long every job that is not held works
        self.gate = env.gate()
        self.started: list[str] = []  # job ids, in the order process was called
        self.ended: list[str] = []
        self.ended_at: dict[str, float] = {}  # job id -> time.monotonic() when it ended
        self.running = 0
        self.most_running = 0
        self.not_jobs: list[str] = []  # type names of arguments that were not jobs
        self.raised: list[BaseException] = []

    def __call__(self, job: Any) -> str:
        cond = self._env.cond
        job_id = getattr(job, "id", None)
        if not isinstance(job_id, str):
            with cond:
                self.not_jobs.append(type_name(job))
                cond.notify_all()
            raise TypeError(f"process(job) needs a pool.Job, got {type_name(job)}")
        with cond:
            self.started.append(job_id)
            self.running += 1
            self.most_running = max(self.most_running, self.running)
            cond.notify_all()
        try:
            if self._hold_all or job_id in self._hold:
                self.gate.wait(_GATE_LIMIT)
            elif self._seconds:
                time.sleep(self._seconds)
            if job_id in self._fail:
                exc = RuntimeError(f"job {job_id} fails on purpose")
                self.raised.append(exc)
                raise exc
            return f"result of {job_id}"
        finally:
            with cond:
                self.running -= 1
                self.ended.append(job_id)
                self.ended_at[job_id] = time.monotonic()
                cond.notify_all()

    def check_called_with_jobs(self) -> None:
        if self.not_jobs:
            raise _Fail(f"process was called with a {self.not_jobs[0]}, not with the Job: "
                        "call process(job)")


class _Recorder:
    """The checker's ``record(outcome)``: keeps every outcome it is given."""

    def __init__(self, env: _Env) -> None:
        self._env = env
        self.outcomes: list[Any] = []

    def __call__(self, outcome: Any) -> None:
        with self._env.cond:
            self.outcomes.append(outcome)
            self._env.cond.notify_all()


class _SpyWaitGroup(WaitGroup):
    """A real :class:`WaitGroup` that also counts ``done()`` calls and sees ``wait()`` calls.

    Extra ``done()`` calls are counted but not passed on, so the answer under
    check does not crash on a negative counter and the hint can say how many.
    """

    def __init__(self, env: _Env, jobs: Channel[Any] | None = None) -> None:
        super().__init__()
        self._env = env
        self._jobs = jobs
        self._spy_lock = threading.Lock()
        self.done_calls = 0
        self.wait_calls = 0
        self.waited_while_open = False

    def done(self) -> None:
        with self._spy_lock:
            self.done_calls += 1
            real = self.count > 0
        if real:
            super().done()
        self._env.poke()

    def wait(self, timeout: float | None = None) -> bool:
        if self._jobs is not None and not self._jobs.closed:
            self.waited_while_open = True
        self.wait_calls += 1
        self._env.poke()
        return super().wait(timeout)


def _jobs(*ids: str) -> list[Job]:
    return [Job(job_id, b"payload") for job_id in ids]


def _filled_channel(jobs: Sequence[Job], *, close: bool = True) -> Channel[Job]:
    channel: Channel[Job] = Channel(len(jobs))
    for job in jobs:
        channel.send(job, timeout=0)
    if close:
        channel.close()
    return channel


def _close_quietly(channel: Any) -> None:
    """Close a channel if it is open; a learner's own channel type is closed in a daemon thread."""
    if isinstance(channel, Channel):
        with contextlib.suppress(ChannelClosed):
            channel.close()
        return
    close = getattr(channel, "close", None)
    if callable(close):
        threading.Thread(target=_quietly, args=(close,), name="pool-check-cleanup",
                         daemon=True).start()


def _quietly(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
    with contextlib.suppress(BaseException):
        fn(*args, **kwargs)


def _send(channel: Any, job: Job, timeout: float) -> None:
    """Send on a channel the answer made; fail with a hint if that does not work."""
    try:
        channel.send(job, timeout=timeout)
    except TimeoutError:
        raise _Fail(f"job {job.id!r} could not be sent within {timeout:g} s: no worker took it "
                    "and the channel had no room") from None
    except Exception as exc:
        raise _Fail(f"sending job {job.id!r} on the channel raised {_describe(exc)}") from None


def _one_outcome_each(counts: Counter[Any], ids: Iterable[str], *, missing: str,
                      repeated: str) -> None:
    """Fail unless each of ``ids`` has exactly one outcome in ``counts`` (job id -> count).

    ``missing`` and ``repeated`` are the hints, formatted with ``job_id`` (and ``n``).
    """
    for job_id in ids:
        n = counts[job_id]
        if n == 0:
            raise _Fail(missing.format(job_id=job_id))
        if n > 1:
            raise _Fail(repeated.format(job_id=job_id, n=n))


def _outcome_attr(outcome: Any, name: str) -> Any:
    if not hasattr(outcome, name):
        raise _Fail(f"record() got a {type_name(outcome)} without .{name}: pass it the job's "
                    "Outcome(job_id, worker_id, status, result, ...)")
    return getattr(outcome, name)


def _check_callable(value: Any, name: str) -> None:
    if not callable(value):
        raise TypeError(f"{name} must be callable, got {type_name(value)}")


# -- stage 1: the job --------------------------------------------------------------


def check_job(make_job: Callable[..., Any]) -> bool:
    """Check a stage-1 answer: a function or class that makes jobs.

    ``make_job`` is called as ``make_job(id, payload)`` and as
    ``make_job(id, payload, ctx)`` (positional arguments; ``pool.Job``
    itself qualifies, and so does ``def make_job(id, payload, ctx=None)``).
    It must return an object with ``.id``, ``.payload`` and ``.ctx``:
    the id as given, the payload as ``bytes`` (a ``bytearray`` copied, so
    later changes to the buffer do not reach the job), the ``ctx`` as
    given, or a context that is never done (``pool.background()``) when
    none was given. An empty id, a non-``str`` id and a ``str`` payload must
    raise ``TypeError`` or ``ValueError``.

    Prints one line per scenario and returns True if all passed. Blocks
    about a second at most per scenario, even if ``make_job`` hangs. Raises
    ``TypeError`` only if ``make_job`` is not callable.
    """
    _check_callable(make_job, "make_job")

    def shown(args: tuple[Any, ...]) -> str:
        return ", ".join("ctx" if isinstance(a, Context) else _show(a) for a in args)

    def call_make(env: _Env, *args: Any) -> _Call:
        call = env.start(make_job, *args)
        if not env.wait_until(lambda: call.finished, _PROMPT):
            raise _Fail(f"make_job({shown(args)}) did not return within {_PROMPT:g} s: making a "
                        "job must not wait for anything")
        return call

    def make(env: _Env, *args: Any) -> Any:
        call = call_make(env, *args)
        if call.error is not None:
            raise _Fail(f"make_job({shown(args)}) raised {_describe(call.error)}")
        return call.value

    def field(job: Any, name: str) -> Any:
        if not hasattr(job, name):
            raise _Fail(f"make_job returned {_show(job)}, which has no .{name}: return a job "
                        "with id, payload and ctx fields")
        return getattr(job, name)

    def keeps_fields(env: _Env) -> None:
        ctx, cancel = background().with_cancel()
        env.later(cancel)
        job = make(env, "job-1", b"hello", ctx)
        if field(job, "id") != "job-1":
            raise _Fail("job.id is not the id it was made with: keep the id as given")
        if field(job, "payload") != b"hello":
            raise _Fail("job.payload is not the payload it was made with: keep the bytes as given")
        if field(job, "ctx") is not ctx:
            raise _Fail("job.ctx is not the context it was made with: keep the ctx as given, "
                        "so the job carries the caller's deadline")

    def default_ctx(env: _Env) -> None:
        job = make(env, "job-1", b"hello")
        ctx = field(job, "ctx")
        if ctx is None:
            raise _Fail("a job made without ctx has ctx=None: default to pool.background(), "
                        "so a worker can always ask job.ctx.done()")
        if not isinstance(ctx, Context):
            raise _Fail(f"job.ctx is a {type_name(ctx)}, not a pool.Context: default to "
                        "pool.background()")
        if ctx.done():
            raise _Fail("a job made without ctx is already done: default to pool.background(), "
                        "which is never done")

    def copies_bytearray(env: _Env) -> None:
        buffer = bytearray(b"hello")
        job = make(env, "job-1", buffer)
        buffer[:] = b"HELLO"
        payload = field(job, "payload")
        if payload is buffer:
            raise _Fail("job.payload is the caller's bytearray itself: a later change to the "
                        "buffer would change the job; copy it with bytes(payload)")
        if type(payload) is not bytes:
            raise _Fail(f"job.payload is a {type_name(payload)}, not bytes: copy it with "
                        "bytes(payload)")
        if payload != b"hello":
            raise _Fail("job.payload changed when the caller changed its bytearray: copy it "
                        "with bytes(payload)")

    def rejects(args: tuple[Any, ...], what: str, fix: str) -> Callable[[_Env], None]:
        def scenario(env: _Env) -> None:
            call = call_make(env, *args)
            if isinstance(call.error, (TypeError, ValueError)):
                return
            if call.error is not None:
                raise _Fail(f"make_job({shown(args)}) raised {_describe(call.error)}; expected "
                            f"TypeError or ValueError, {fix}")
            raise _Fail(f"make_job({shown(args)}) returned {_show(call.value)}: {what} must "
                        f"raise TypeError or ValueError, {fix}")

        return scenario

    return _run("job", [
        _Scenario("keeps the id, payload and ctx it is given", keeps_fields),
        _Scenario("gives a job made without ctx a context that is never done", default_ctx),
        _Scenario("copies a bytearray payload to bytes", copies_bytearray),
        _Scenario("rejects an empty id", rejects(
            ("", b"hello"), "an empty id", "so every job can be told apart in logs")),
        _Scenario("rejects an id that is not a str", rejects(
            (42, b"hello"), "a non-str id", "naming the argument")),
        _Scenario("rejects a str payload", rejects(
            ("job-1", "hello"), "a str payload", "telling the caller to encode the text")),
    ])


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


# -- a process that listens to its context --------------------------------------------

_LISTEN_BY = 0.3
"""How soon after its context ends a listening job must have stopped."""


def check_process(fn: Callable[[Job], Any]) -> bool:
    """Check a cancellation-aware ``process(job)``: it works, and stops when ``job.ctx`` ends.

    ``fn(job)`` is called in a daemon thread with :class:`pool.Job` s whose
    payload says how much work to do (the notebook's exercise: one step of
    0.05 s per byte, returning the number of steps). Scenarios: it returns 2
    for a 2-byte job whose context stays open; with a 20-byte job (about a
    second of work) it stops within 0.3 s of the job's deadline by raising
    ``DeadlineExceeded``, and within 0.3 s of a cancel by raising
    ``Canceled`` (``job.ctx.sleep`` does both); a job whose context is
    already done raises at once.

    Prints one line per scenario and returns True if all passed. Blocks
    about a second per scenario at most. Raises ``TypeError`` only if
    ``fn`` is not callable.
    """
    _check_callable(fn, "fn")

    def stopped(env: _Env, call: _Call, expected: type[BaseException], why: str,
                ended_at: float) -> None:
        env.wait_until(lambda: call.finished, _LISTEN_BY + _PROMPT)
        if not call.finished or call.ended_at - ended_at > _LISTEN_BY:
            raise _Fail(f"still working {_LISTEN_BY:g} s after {why}: wait with "
                        "job.ctx.sleep(...) (or check job.ctx.done()) at every step")
        if call.error is None:
            raise _Fail(f"returned {_show(call.value)} after {why}: raise the context's error "
                        "(job.ctx.err()) so the pool records how the job ended")
        if not isinstance(call.error, expected):
            raise _Fail(f"raised {_describe(call.error)} after {why}, expected "
                        f"{expected.__name__}: let job.ctx.sleep's error propagate")

    def finishes(env: _Env) -> None:
        call = env.start(fn, Job("short", bytes(2)))
        env.wait_until(lambda: call.finished, _PROMPT)
        if not call.finished:
            raise _Fail("a 2-byte job with no deadline did not finish within a second")
        if call.error is not None:
            raise _Fail(f"a job with no deadline raised {_describe(call.error)}")
        if call.value != 2:
            raise _Fail(f"a 2-byte job returned {_show(call.value)}: do one step per payload "
                        "byte and return the number of steps (2)")

    def stops_at_deadline(env: _Env) -> None:
        ctx, cancel = background().with_timeout(0.1)
        env.later(cancel)
        call = env.start(fn, Job("deadline", bytes(20), ctx=ctx))
        deadline = ctx.deadline()
        assert deadline is not None
        stopped(env, call, DeadlineExceeded, "its deadline passed", deadline)

    def stops_when_cancelled(env: _Env) -> None:
        ctx, cancel = background().with_cancel()
        env.later(cancel)
        call = env.start(fn, Job("cancel", bytes(20), ctx=ctx))
        env.wait_until(lambda: call.finished, 0.1)
        cancelled_at = time.monotonic()
        cancel()
        stopped(env, call, Canceled, "it was cancelled", cancelled_at)

    def done_before_start(env: _Env) -> None:
        ctx, cancel = background().with_cancel()
        cancel()
        call = env.start(fn, Job("already", bytes(20), ctx=ctx))
        stopped(env, call, Canceled, "its context was already cancelled", time.monotonic())

    return _run("process", [
        _Scenario("finishes a job whose context stays open, one step per byte", finishes),
        _Scenario("stops at the job's deadline with DeadlineExceeded", stops_at_deadline),
        _Scenario("stops when the job is cancelled with Canceled", stops_when_cancelled),
        _Scenario("does no work for a job already cancelled", done_before_start),
    ])


# -- the production pool ---------------------------------------------------------------


def check_pool(cls: Callable[..., Any]) -> bool:
    """Check a pool class with :class:`pool.WorkerPool`'s core API.

    The checker uses only this much of it:

    * ``cls(process, workers)`` (positional) starts a pool of ``workers``
      threads that call ``process(job)``;
    * ``p.submit(job)`` queues a :class:`pool.Job`, and raises once shutdown
      has begun;
    * ``p.shutdown(timeout=seconds)`` returns either a bool (True: every
      job finished in time) or a report with ``.abandoned``, the outcomes
      of jobs still running at the end (each with ``.job_id``; empty means
      clean), like :class:`pool.ShutdownReport`;
    * ``p.outcomes``: one outcome per finished job, each with ``.job_id``
      and ``.status`` (a :class:`pool.Status` or its value, e.g.
      ``"failed"``). Only the ledger scenario reads it.

    Scenarios: every submitted job runs exactly once; a raising job does not
    stop the pool; the ledger holds exactly one outcome per job with the
    right status; a shutdown with a hung job returns after its timeout and
    reports that job (and only it) abandoned; submit after shutdown raises.
    The checker releases its hung job after the scenario and shuts down any
    pool a failing scenario left open.

    Prints one line per scenario and returns True if all passed. Blocks
    about a second per failing scenario at most, never forever. Raises
    ``TypeError`` only if ``cls`` is not callable.
    """
    _check_callable(cls, "cls")

    def make(env: _Env, process: _Process, workers: int) -> tuple[Any, set[threading.Thread]]:
        before = set(threading.enumerate())
        call = env.start(cls, process, workers)
        if not env.wait_until(lambda: call.finished, _PROMPT):
            raise _Fail("creating the pool did not return: start the worker threads and "
                        "return; do not wait for them")
        if call.error is not None:
            raise _Fail(f"creating the pool with cls(process, {workers}) raised "
                        f"{_describe(call.error)}")
        p = call.value
        for method in ("submit", "shutdown"):
            if not callable(getattr(p, method, None)):
                raise _Fail(f"the pool has no {method}() method")
        env.later(lambda: _shutdown_in_background(p))
        return p, before | {call.thread}

    def submit(env: _Env, p: Any, job: Job) -> None:
        call = env.start(p.submit, job)
        if not env.wait_until(lambda: call.finished, _PROMPT):
            raise _Fail(f"submit(job) blocked for job {job.id!r} with free workers and an "
                        "empty buffer")
        if call.error is not None:
            raise _Fail(f"submit(job) raised {_describe(call.error)} for job {job.id!r}")

    def shut_down(env: _Env, p: Any, timeout: float, before: set[threading.Thread]) -> _Call:
        call = env.start(p.shutdown, timeout=timeout)
        env.wait_until(lambda: call.finished, timeout + _PROMPT)
        exc = env.thread_error(before)
        if exc is not None:
            raise _Fail(f"a worker thread died of {_describe(exc)}: catch exceptions around "
                        "process(job), so a failing job does not take its worker with it")
        if not call.finished:
            raise _Fail(f"shutdown(timeout={timeout:g}) was still waiting {_PROMPT:g} s after "
                        "its timeout: close the intake, then wait for the workers at most "
                        "timeout seconds")
        if call.error is not None:
            raise _Fail(f"shutdown raised {_describe(call.error)}")
        return call

    def abandoned_ids(value: Any) -> list[str] | None:
        """The abandoned job ids a shutdown reported, [] for True, None for False."""
        if isinstance(value, bool):
            return [] if value else None
        if not hasattr(value, "abandoned"):
            raise _Fail(f"shutdown returned {_show(value)}: return True/False, or a report "
                        "with .abandoned")
        return sorted(str(getattr(o, "job_id", "?")) for o in value.abandoned)

    def runs_each_once(env: _Env) -> None:
        ids = [f"j{i}" for i in range(1, 7)]
        process = _Process(env)
        p, before = make(env, process, 2)
        for job in _jobs(*ids):
            submit(env, p, job)
        call = shut_down(env, p, _PROMPT, before)
        process.check_called_with_jobs()
        counts = Counter(process.started)
        for job_id in ids:
            if counts[job_id] == 0:
                raise _Fail(f"job {job_id!r} never ran: shutdown must let queued jobs finish "
                            "(close the intake, then wait for the workers)")
            if counts[job_id] > 1:
                raise _Fail(f"job {job_id!r} ran {counts[job_id]} times: each job runs once")
        if abandoned_ids(call.value) != []:
            raise _Fail("shutdown reported a timeout although every job finished in time")

    def survives_failure(env: _Env) -> None:
        process = _Process(env, fail={"boom"})
        p, before = make(env, process, 1)
        for job in _jobs("boom", "j2", "j3"):
            submit(env, p, job)
        shut_down(env, p, _PROMPT, before)
        for job_id in ("j2", "j3"):
            if job_id not in process.started:
                raise _Fail(f"job {job_id!r} never ran after job 'boom' raised: a failing job "
                            "must not stop its worker")

    def ledger(env: _Env) -> None:
        expected = {"ok1": "succeeded", "boom": "failed", "ok2": "succeeded", "ok3": "succeeded"}
        process = _Process(env, fail={"boom"})
        p, before = make(env, process, 2)
        for job in _jobs(*expected):
            submit(env, p, job)
        shut_down(env, p, _PROMPT, before)
        outcomes = getattr(p, "outcomes", None)
        if outcomes is None:
            raise _Fail("the pool has no outcomes: keep one outcome (job_id, status) per job, "
                        "so every job can be accounted for")
        outcomes = list(outcomes)
        _one_outcome_each(
            Counter(getattr(o, "job_id", None) for o in outcomes), expected,
            missing="no outcome for job {job_id!r}: every submitted job needs exactly one "
                    "outcome",
            repeated="job {job_id!r} has {n} outcomes: record each job's end exactly once")
        for o in outcomes:
            want = expected.get(o.job_id)
            status = getattr(o, "status", None)
            got = getattr(status, "value", status)
            if want is not None and got != want:
                raise _Fail(f"job {o.job_id!r} ended {_show(got)}, expected {want!r}")

    def hung_job(env: _Env) -> None:
        process = _Process(env, hold={"stuck"})
        p, before = make(env, process, 2)
        submit(env, p, Job("stuck"))
        if not env.wait_until(lambda: "stuck" in process.started, _PROMPT):
            raise _Fail("job 'stuck' never started")
        submit(env, p, Job("quick"))
        call = shut_down(env, p, _SHORT_TIMEOUT, before)
        if call.elapsed < _SHORT_TIMEOUT - _EARLY_SLACK:
            raise _Fail(f"shutdown(timeout={_SHORT_TIMEOUT:g}) returned before its timeout "
                        "while a job was still running: wait up to timeout seconds")
        abandoned = abandoned_ids(call.value)
        if abandoned == []:
            raise _Fail("shutdown reported a clean stop although job 'stuck' was still running")
        if abandoned is not None and abandoned != ["stuck"]:
            raise _Fail(f"shutdown reported {', '.join(map(repr, abandoned))} abandoned; "
                        "expected only 'stuck', the job still running")

    def refuses_after_shutdown(env: _Env) -> None:
        process = _Process(env)
        p, before = make(env, process, 1)
        shut_down(env, p, _PROMPT, before)
        call = env.start(p.submit, Job("late"))
        if not env.wait_until(lambda: call.finished, _PROMPT):
            raise _Fail("submit() after shutdown() blocked: raise an error at once "
                        "(pool.PoolClosed)")
        if call.error is None:
            raise _Fail("submit() after shutdown() accepted job 'late': it will never run; "
                        "raise an error instead (pool.PoolClosed)")

    return _run("pool", [
        _Scenario("runs every submitted job exactly once", runs_each_once),
        _Scenario("keeps running after a job raises", survives_failure),
        _Scenario("has exactly one outcome per job, with its status (the ledger)", ledger),
        _Scenario(f"gives up on a hung job after its shutdown timeout ({_SHORT_TIMEOUT:g} s)",
                  hung_job),
        _Scenario("refuses jobs after shutdown", refuses_after_shutdown),
    ])


def _shutdown_in_background(p: Any) -> None:
    """Best effort: shut a pool down without waiting for it (it may hang)."""
    threading.Thread(target=_quietly, args=(p.shutdown,), kwargs={"timeout": _PROMPT},
                     name="pool-check-cleanup", daemon=True).start()


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
