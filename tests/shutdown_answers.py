"""Answers to the shutdown exercises of notebooks 05 and 06, right and wrong, as learners write.

Both exercises ask for ``my_shutdown(jobs, wg, timeout=None) -> bool`` (see
``pool.checks.check_shutdown``): 05 with the package's bounded
``wg.wait(timeout)``, 06 the Go way (a helper thread that waits, an Event
raced against the timeout). ``RIGHT`` holds correct answers in other styles;
``WRONG`` holds one answer per mistake, each with the scenario that must fail
and a phrase its hint must contain (the name of the mistake).
``tests/test_check_shutdown.py`` runs them all through the checker.
"""

from __future__ import annotations

import contextlib
import threading
import time
from dataclasses import dataclass
from typing import Any

from pool import ChannelClosed

# -- the scenarios, as check_shutdown prints them (after "shutdown ") ----------------------------

CLOSES = "closes the channel"
IN_FLIGHT = "waits for the job in flight"
TRUE = "returns True when every worker finished"
FALSE = "returns False after its timeout (0.2 s) when a worker hangs"
ZERO = "returns False at once with timeout=0 when a worker hangs"
NO_POLLING = "waits without polling or spinning"
DAEMON = "leaves only daemon threads behind on a hung worker"
AGAIN = "can be called again, without an error, and tells the truth"
SCENARIOS = (CLOSES, IN_FLIGHT, TRUE, FALSE, ZERO, NO_POLLING, DAEMON, AGAIN)


# -- right answers, other styles ----------------------------------------------------------------


def suppress_then_wait(jobs: Any, wg: Any, timeout: float | None = None) -> bool:
    with contextlib.suppress(ChannelClosed):
        jobs.close()
    return wg.wait(timeout)


def try_except_and_deadline(jobs: Any, wg: Any, timeout: float | None = None) -> bool:
    """try/except around close, then a deadline computed first."""
    deadline = None if timeout is None else time.monotonic() + timeout
    try:  # noqa: SIM105 -- the style a learner writes
        jobs.close()
    except ChannelClosed:
        pass  # a second call: already closed, just wait again
    if deadline is None:
        return wg.wait()
    return wg.wait(max(0.0, deadline - time.monotonic()))


def go_waiter_after_close(jobs: Any, wg: Any, timeout: float | None = None) -> bool:
    """Go's idiom: close, then a goroutine-like daemon thread waits and closes 'finished'."""
    with contextlib.suppress(ChannelClosed):
        jobs.close()
    finished = threading.Event()

    def wait_for_workers() -> None:
        wg.wait()
        finished.set()

    threading.Thread(target=wait_for_workers, daemon=True).start()
    return finished.wait(timeout)


def go_waiter_before_close(jobs: Any, wg: Any, timeout: float | None = None) -> bool:
    """Go's idiom as often written: the waiter starts first, then close(jobs)."""
    finished = threading.Event()
    waiter = threading.Thread(target=lambda: (wg.wait(), finished.set()), daemon=True)
    waiter.start()
    if not jobs.closed:
        with contextlib.suppress(ChannelClosed):
            jobs.close()
    return finished.wait(timeout=timeout)


class Stopper:
    """A class instead of a function; an Event per call, set by a daemon waiter."""

    def __call__(self, jobs: Any, wg: Any, timeout: float | None = None) -> bool:
        self.close(jobs)
        done = threading.Event()
        t = threading.Thread(target=self._wait, args=(wg, done), name="stopper")
        t.daemon = True
        t.start()
        return done.wait(timeout)

    @staticmethod
    def close(jobs: Any) -> None:
        try:
            jobs.close()
        except ChannelClosed:
            return

    @staticmethod
    def _wait(wg: Any, done: threading.Event) -> None:
        wg.wait()
        done.set()


RIGHT = [suppress_then_wait, try_except_and_deadline, go_waiter_after_close,
         go_waiter_before_close, Stopper()]


# -- wrong answers: one mistake each ---------------------------------------------------------


def never_closes(jobs: Any, wg: Any, timeout: float | None = None) -> bool:
    return wg.wait(timeout)


def waits_then_closes(jobs: Any, wg: Any, timeout: float | None = None) -> bool:
    finished = wg.wait(timeout)
    jobs.close()
    return finished


def ignores_timeout(jobs: Any, wg: Any, timeout: float | None = None) -> bool:
    with contextlib.suppress(ChannelClosed):
        jobs.close()
    wg.wait()
    return True


def if_timeout(jobs: Any, wg: Any, timeout: float | None = None) -> bool:
    with contextlib.suppress(ChannelClosed):
        jobs.close()
    if timeout:
        return wg.wait(timeout)
    return wg.wait()


def or_none_timeout(jobs: Any, wg: Any, timeout: float | None = None) -> bool:
    """`timeout or None`: 0 becomes 'forever'."""
    with contextlib.suppress(ChannelClosed):
        jobs.close()
    return wg.wait(timeout or None)


def waits_twice(jobs: Any, wg: Any, timeout: float | None = None) -> bool:
    with contextlib.suppress(ChannelClosed):
        jobs.close()
    if wg.wait(timeout):
        return True
    return wg.wait(timeout)  # "one more chance"


def go_join_after_timeout(jobs: Any, wg: Any, timeout: float | None = None) -> bool:
    """Go's idiom, then a join of the waiter with the same timeout: twice the timeout."""
    with contextlib.suppress(ChannelClosed):
        jobs.close()
    finished = threading.Event()
    waiter = threading.Thread(target=lambda: (wg.wait(), finished.set()), daemon=True)
    waiter.start()
    ok = finished.wait(timeout)
    waiter.join(timeout)
    return ok


def raises_second_time(jobs: Any, wg: Any, timeout: float | None = None) -> bool:
    jobs.close()
    return wg.wait(timeout)


def lies_second_time(jobs: Any, wg: Any, timeout: float | None = None) -> bool:
    if jobs.closed:
        return True  # "someone already shut it down"
    jobs.close()
    return wg.wait(timeout)


def gives_up_second_time(jobs: Any, wg: Any, timeout: float | None = None) -> bool:
    if jobs.closed:
        return wg.count == 0
    jobs.close()
    return wg.wait(timeout)


def go_non_daemon_waiter(jobs: Any, wg: Any, timeout: float | None = None) -> bool:
    with contextlib.suppress(ChannelClosed):
        jobs.close()
    finished = threading.Event()

    def wait_for_workers() -> None:
        wg.wait()
        finished.set()

    threading.Thread(target=wait_for_workers).start()  # daemon inherited: False under main
    return finished.wait(timeout)


def polls_with_sleep(jobs: Any, wg: Any, timeout: float | None = None) -> bool:
    with contextlib.suppress(ChannelClosed):
        jobs.close()
    deadline = None if timeout is None else time.monotonic() + timeout
    while wg.count:
        if deadline is not None and time.monotonic() >= deadline:
            return False
        time.sleep(0.01)
    return True


def polls_with_short_waits(jobs: Any, wg: Any, timeout: float | None = None) -> bool:
    with contextlib.suppress(ChannelClosed):
        jobs.close()
    deadline = None if timeout is None else time.monotonic() + timeout
    while not wg.wait(0.02):
        if deadline is not None and time.monotonic() >= deadline:
            return False
    return True


def spins(jobs: Any, wg: Any, timeout: float | None = None) -> bool:
    with contextlib.suppress(ChannelClosed):
        jobs.close()
    deadline = None if timeout is None else time.monotonic() + timeout
    while wg.count:
        if deadline is not None and time.monotonic() >= deadline:
            return False
    return True


def forgets_return(jobs: Any, wg: Any, timeout: float | None = None) -> Any:
    with contextlib.suppress(ChannelClosed):
        jobs.close()
    wg.wait(timeout)


def always_true(jobs: Any, wg: Any, timeout: float | None = None) -> bool:
    with contextlib.suppress(ChannelClosed):
        jobs.close()
    wg.wait(timeout)
    return True


def does_not_wait(jobs: Any, wg: Any, timeout: float | None = None) -> bool:
    with contextlib.suppress(ChannelClosed):
        jobs.close()
    return wg.count == 0


@dataclass(frozen=True)
class Wrong:
    answer: Any
    scenario: str  # a scenario that must fail, with the hint that names the mistake
    hint: str


WRONG = [
    Wrong(never_closes, CLOSES, "close the channel first"),
    Wrong(waits_then_closes, CLOSES, "close the channel first"),
    Wrong(ignores_timeout, FALSE, "was still waiting 1 s after its timeout"),
    Wrong(if_timeout, ZERO, "a test like `if timeout:` mixes them up"),
    Wrong(or_none_timeout, ZERO, "0 is a timeout (do not wait at all)"),
    Wrong(waits_twice, FALSE, "returned well after its timeout, twice"),
    Wrong(go_join_after_timeout, FALSE, "returned well after its timeout, twice"),
    Wrong(raises_second_time, AGAIN, "closing what is already closed is not an error there"),
    Wrong(lies_second_time, AGAIN, "a second shutdown returned True while a worker still hung"),
    Wrong(gives_up_second_time, AGAIN, "a second shutdown returned False at once"),
    Wrong(go_non_daemon_waiter, DAEMON, "left a non-daemon thread behind"),
    Wrong(polls_with_sleep, NO_POLLING, "kept waking up while it waited"),
    Wrong(polls_with_short_waits, NO_POLLING, "kept waking up while it waited"),
    Wrong(spins, NO_POLLING, "spun while it waited"),
    Wrong(forgets_return, TRUE, "returned None, expected True"),
    Wrong(always_true, FALSE, "returned True although a worker was still running"),
    Wrong(does_not_wait, IN_FLIGHT, "returned while job 'slow' was still running"),
]
