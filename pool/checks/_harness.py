"""The checkers' shared harness: the scenario runner, its bounds and the helpers scenarios share."""

from __future__ import annotations

import contextlib
import re
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from .._validate import type_name
from ..channel import Channel, ChannelClosed
from ..job import Job
from ..waitgroup import WaitGroup

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

    def start_nondaemon(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> _Call:
        """Call ``fn(*args, **kwargs)`` in a NON-daemon thread of its own.

        A new thread inherits ``daemon`` from the thread that makes it, so
        threads an answer starts from :meth:`start`'s daemon thread are daemon
        threads whatever the answer says. Called from here, they are what
        they would be under a program's main thread, and a scenario can see
        an ignored or hard-coded ``daemon``. Use it only for a call that must
        return at once, or that the scenario's cleanup ends (a non-daemon
        thread that never ends keeps Python from exiting).
        """
        call = _Call(self, fn, args, kwargs)
        call.thread.daemon = False
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

def _shutdown_in_background(p: Any) -> None:
    """Best effort: shut a pool down without waiting for it (it may hang)."""
    threading.Thread(target=_quietly, args=(p.shutdown,), kwargs={"timeout": _PROMPT},
                     name="pool-check-cleanup", daemon=True).start()


_CONDITION_WAIT = threading.Condition.wait.__code__


class _Activity:
    """Watches the Python code an answer's threads run, to tell waiting from polling.

    A thread blocked in ``Condition.wait`` (or any lock) runs no Python code,
    so it makes no trace events; one that polls (sleeps, looks again) or spins
    makes events all the time. ``events`` counts them, ``cpu()`` sums each
    traced thread's ``time.thread_time()`` as of its last event, ``waiting``
    is how many traced threads are inside ``threading.Condition.wait`` now
    and ``waits`` how many times one entered it. Changes to ``waiting``
    notify ``env.cond``.

    Trace with :meth:`call` (the calling thread, for one call) or
    :meth:`following_new_threads` (threads started meanwhile); both restore
    whatever trace function was there before (a debugger's, coverage's).
    """

    def __init__(self, env: _Env) -> None:
        self._env = env
        self.events = 0
        self.waiting = 0
        self.waits = 0
        self._cpu: dict[int, float] = {}

    def call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """``fn(*args, **kwargs)``, traced in this thread."""
        previous = sys.gettrace()
        self._cpu[threading.get_ident()] = time.thread_time()
        sys.settrace(self._trace)
        try:
            return fn(*args, **kwargs)
        finally:
            sys.settrace(previous)

    @contextlib.contextmanager
    def following_new_threads(self) -> Iterator[None]:
        """Trace every thread started (by anyone) while the block runs."""
        previous = threading.gettrace()
        threading.settrace(self._trace)
        try:
            yield
        finally:
            threading.settrace(previous)

    def all_waiting(self) -> bool:
        """Whether every traced thread still alive is inside ``Condition.wait`` (and one is)."""
        alive = {t.ident for t in threading.enumerate()} & set(self._cpu)
        return 0 < len(alive) <= self.waiting

    def cpu(self) -> float:
        """CPU seconds the traced threads had used, as of each one's last event."""
        return sum(list(self._cpu.values()))

    def over(self, seconds: float, stop: Callable[[], bool] = lambda: False
             ) -> tuple[int, float]:
        """Watch ``seconds`` (or until ``stop()``); return ``(events, cpu seconds)`` meanwhile."""
        events, cpu = self.events, self.cpu()
        self._env.wait_until(stop, seconds)
        return self.events - events, self.cpu() - cpu

    def _trace(self, frame: Any, event: str, arg: Any) -> Any:
        caller = frame.f_back
        if event == "call" and caller is not None and caller.f_code is _CONDITION_WAIT:
            return None  # the wait's own bookkeeping, just before it sleeps or after it woke
        self.events += 1
        self._cpu[threading.get_ident()] = time.thread_time()
        if event == "call" and frame.f_code is _CONDITION_WAIT:
            with self._env.cond:
                self.waiting += 1
                self.waits += 1
                self._env.cond.notify_all()
            return self._in_wait
        return self._trace

    def _in_wait(self, frame: Any, event: str, arg: Any) -> Any:
        if event == "return":
            with self._env.cond:
                self.waiting -= 1
                self._env.cond.notify_all()
        return self._in_wait
