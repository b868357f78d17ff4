"""Answers to notebook 09's exercise, right and wrong, as a learner could write them.

The exercise asks for ``Stopper(pool, timeout)``: a signal handler that
drains on the first SIGINT/SIGTERM and cancels on the second, with
``wait(timeout)`` for the shutdown's report (see
``pool.checks.check_stopper``). ``RIGHT`` holds correct answers in other
styles; ``WRONG`` one answer per mistake, each with the scenarios it must fail
and a phrase the first one's hint must contain.
``tests/test_check_production.py`` runs them all through the checker.
"""

from __future__ import annotations

import concurrent.futures
import itertools
import sys
import threading
from dataclasses import dataclass
from typing import Any

from pool import ShutdownReport, WorkerPool

RETURNS = "the first signal returns at once and stops intake"
DRAINS = "the first signal drains: running and queued jobs finish; wait() returns the report"
CANCELS = "the second signal cancels: running jobs see job.ctx done, queued ones never run"
BOUNDED = ("the shutdown is bounded: a job that ignores its context is abandoned after the "
           "timeout (0.2 s)")
SCENARIOS = (RETURNS, DRAINS, CANCELS, BOUNDED)


# -- right answers ----------------------------------------------------------------------------


class EventStopper:
    """A thread for the shutdown, an Event for wait(), a locked counter."""

    def __init__(self, pool: WorkerPool, timeout: float) -> None:
        self.pool, self.timeout = pool, timeout
        self.lock = threading.Lock()
        self.count = 0
        self.done = threading.Event()
        self.report: ShutdownReport | None = None

    def __call__(self, signum: int, frame: Any) -> None:
        with self.lock:
            self.count += 1
            n = self.count
        if n == 1:
            threading.Thread(target=self.run, daemon=True).start()
        elif n == 2:
            self.pool.cancel()

    def run(self) -> None:
        self.report = self.pool.shutdown(self.timeout)
        self.done.set()

    def wait(self, timeout: float | None = None) -> ShutdownReport | None:
        return self.report if self.done.wait(timeout) else None


class FutureStopper:
    """An executor's future holds the report; itertools.count numbers the signals."""

    def __init__(self, pool: WorkerPool, timeout: float) -> None:
        self.pool, self.timeout = pool, timeout
        self.numbers = itertools.count(1)  # next() on a count is atomic in CPython
        self.executor = concurrent.futures.ThreadPoolExecutor(1)
        self.future: concurrent.futures.Future[ShutdownReport] | None = None
        self.started = threading.Event()

    def __call__(self, signum: int, frame: Any) -> None:
        n = next(self.numbers)
        if n == 1:
            self.future = self.executor.submit(self.pool.shutdown, timeout=self.timeout)
            self.executor.shutdown(wait=False)
            self.started.set()
        elif n == 2:
            self.pool.cancel()

    def wait(self, timeout: float | None = None) -> ShutdownReport | None:
        if not self.started.wait(timeout) or self.future is None:
            return None
        try:
            return self.future.result(timeout)
        except concurrent.futures.TimeoutError:
            return None


def closure_stopper(pool: WorkerPool, timeout: float) -> Any:
    """No class: a handler function with a wait attribute, state in a closure."""
    state: dict[str, Any] = {"signals": 0, "report": None}
    lock = threading.Lock()
    done = threading.Event()

    def shut_down() -> None:
        state["report"] = pool.shutdown(timeout=timeout, grace=0.05)
        done.set()

    def handler(signum: int, frame: Any) -> None:
        with lock:
            state["signals"] += 1
            n = state["signals"]
        if n == 1:
            threading.Thread(target=shut_down, daemon=True).start()
        elif n == 2:
            pool.cancel()

    def wait(timeout: float | None = None) -> ShutdownReport | None:
        done.wait(timeout)
        return state["report"]

    handler.wait = wait  # type: ignore[attr-defined]
    return handler


RIGHT: list[tuple[str, Any]] = [
    ("thread + Event + locked counter", EventStopper),
    ("executor future + itertools.count", FutureStopper),
    ("a closure with a wait attribute", closure_stopper),
]


# -- wrong answers ----------------------------------------------------------------------------


class ShutsDownInHandler(EventStopper):
    def __call__(self, signum: int, frame: Any) -> None:
        with self.lock:
            self.count += 1
            n = self.count
        if n == 1:
            self.run()  # the handler itself waits for the whole drain
        elif n == 2:
            self.pool.cancel()


class CancelsAtOnce(EventStopper):
    def __call__(self, signum: int, frame: Any) -> None:
        self.pool.cancel()  # "stop means stop": the first Ctrl-C already cancels
        super().__call__(signum, frame)


class IgnoresSecond(EventStopper):
    def __call__(self, signum: int, frame: Any) -> None:
        with self.lock:
            self.count += 1
            if self.count == 1:
                threading.Thread(target=self.run, daemon=True).start()


class ShutsDownAgainOnSecond(EventStopper):
    def __call__(self, signum: int, frame: Any) -> None:
        with self.lock:
            self.count += 1
        threading.Thread(target=self.run, daemon=True).start()  # "try again, harder"


class ExitsOnSecond(EventStopper):
    def __call__(self, signum: int, frame: Any) -> None:
        with self.lock:
            self.count += 1
            n = self.count
        if n == 1:
            threading.Thread(target=self.run, daemon=True).start()
        else:
            self.pool.cancel()
            sys.exit(128 + signum)  # raises SystemExit in whatever the main thread was doing


class Unbounded(EventStopper):
    def run(self) -> None:
        self.report = self.pool.shutdown()  # forgot the timeout
        self.done.set()


class WaitReturnsAtOnce(EventStopper):
    def wait(self, timeout: float | None = None) -> ShutdownReport | None:
        return self.report  # does not wait


class WaitReturnsBool(EventStopper):
    def wait(self, timeout: float | None = None) -> Any:
        return self.done.wait(timeout)


class NoWait:
    def __init__(self, pool: WorkerPool, timeout: float) -> None:
        self.pool, self.timeout = pool, timeout

    def __call__(self, signum: int, frame: Any) -> None:
        threading.Thread(target=self.pool.shutdown, args=(self.timeout,), daemon=True).start()


@dataclass(frozen=True)
class Wrong:
    """A wrong answer; ``also``: scenarios it may fail too, depending on timing (never first)."""

    name: str
    cls: Any
    fails: frozenset[str]
    hint: str
    also: frozenset[str] = frozenset()


def _w(name: str, cls: Any, fails: tuple[str, ...], hint: str,
       also: tuple[str, ...] = ()) -> Wrong:
    return Wrong(name, cls, frozenset(fails), hint, frozenset(also))


WRONG = [
    _w("shuts down inside the handler", ShutsDownInHandler, (RETURNS, DRAINS, CANCELS),
       "start the shutdown in a thread of its own",
       also=(BOUNDED,)),  # its 0.3 s shutdown inside the handler passes, unless the machine is slow
    _w("cancels on the first signal", CancelsAtOnce, (DRAINS,),
       "the first signal asks for a graceful stop"),
    _w("ignores the second signal", IgnoresSecond, (CANCELS,),
       "the second signal must cancel the pool"),
    _w("shuts down again on the second signal", ShutsDownAgainOnSecond, (CANCELS,),
       "the second signal must cancel the pool"),
    _w("exits from the handler on the second signal", ExitsOnSecond, (CANCELS,),
       "never raise"),
    _w("a shutdown with no timeout", Unbounded, (BOUNDED,), "pass the timeout to pool.shutdown"),
    _w("wait() that does not wait", WaitReturnsAtOnce, (DRAINS, CANCELS, BOUNDED),
       "wait for the shutdown's report and return it"),
    _w("wait() that returns a bool", WaitReturnsBool, (DRAINS, CANCELS, BOUNDED),
       "return the ShutdownReport"),
    _w("no wait() at all", NoWait, SCENARIOS, "the stopper has no wait() method"),
]
