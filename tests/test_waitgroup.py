"""Contract of pool.WaitGroup: Go's sync.WaitGroup, with a timeout on wait."""

from __future__ import annotations

import math
import threading
import time

import pytest
from poolhelpers import BAD_TIMEOUTS

from pool import WaitGroup

SHORT = 0.1
EARLIEST = 0.09
LATEST = 0.5
GLANCE = 0.05  # a bounded look for a wait that must NOT return yet



def test_wait_on_a_new_waitgroup_returns_true_at_once() -> None:
    wg = WaitGroup()
    assert wg.wait() is True
    assert wg.wait(0) is True


def test_add_defaults_to_one() -> None:
    wg = WaitGroup()
    wg.add()
    assert wg.count == 1
    assert wg.wait(0) is False
    wg.done()
    assert wg.wait(0) is True


def test_add_and_done_count_up_and_down() -> None:
    wg = WaitGroup()
    wg.add(3)
    wg.done()
    assert wg.count == 2
    wg.add(-2)
    assert wg.count == 0
    assert wg.wait(0) is True


def test_wait_blocks_until_every_task_is_done(spawn) -> None:
    wg = WaitGroup()
    wg.add(2)
    waiter = spawn(wg.wait, 10)
    wg.done()
    assert not waiter.finished.wait(GLANCE), "wait returned with a task pending"
    wg.done()
    assert waiter.join(5) is True


def test_wait_wakes_every_waiter(spawn) -> None:
    wg = WaitGroup()
    wg.add(1)
    ready = threading.Barrier(4, timeout=5)

    def wait() -> bool:
        ready.wait()
        return wg.wait(10)

    waiters = [spawn(wait) for _ in range(3)]
    ready.wait()
    wg.done()
    assert [w.join(5) for w in waiters] == [True] * 3


def test_wait_returns_false_when_the_timeout_passes_first() -> None:
    wg = WaitGroup()
    wg.add(1)
    start = time.monotonic()
    assert wg.wait(SHORT) is False
    assert EARLIEST <= time.monotonic() - start < LATEST
    assert wg.count == 1


def test_wait_zero_with_tasks_pending_returns_false_at_once() -> None:
    wg = WaitGroup()
    wg.add(1)
    start = time.monotonic()
    assert wg.wait(0) is False
    assert time.monotonic() - start < LATEST


def test_wait_with_a_huge_timeout_does_not_overflow(spawn) -> None:
    wg = WaitGroup()
    wg.add(1)
    waiter = spawn(wg.wait, 1e300)
    wg.done()
    assert waiter.join(5) is True


def test_done_with_nothing_pending_raises_value_error_and_keeps_the_counter_at_zero() -> None:
    wg = WaitGroup()
    with pytest.raises(ValueError):
        wg.done()
    assert wg.count == 0
    assert wg.wait(0) is True


def test_add_that_would_go_negative_raises_value_error_and_leaves_the_counter() -> None:
    wg = WaitGroup()
    wg.add(1)
    with pytest.raises(ValueError):
        wg.add(-2)
    assert wg.count == 1
    assert wg.wait(0) is False
    wg.done()
    assert wg.wait(0) is True


def test_counter_is_exact_under_concurrent_add_and_done(spawn) -> None:
    wg = WaitGroup()
    wg.add(8 * 1000)

    def finish_many() -> None:
        for _ in range(1000):
            wg.done()

    for t in [spawn(finish_many) for _ in range(8)]:
        t.join(10)
    assert wg.count == 0
    assert wg.wait(0) is True


@pytest.mark.parametrize("delta", ["1", 1.0, True, None], ids=["str", "float", "bool", "none"])
def test_add_rejects_a_non_int_delta_naming_it(delta: object) -> None:
    wg = WaitGroup()
    with pytest.raises(TypeError, match="delta"):
        wg.add(delta)  # type: ignore[arg-type]
    assert wg.count == 0


@pytest.mark.parametrize(("timeout", "error"), BAD_TIMEOUTS)
def test_wait_rejects_a_bad_timeout_naming_it(timeout: object, error: type[Exception]) -> None:
    wg = WaitGroup()
    with pytest.raises(error, match="timeout"):
        wg.wait(timeout)  # type: ignore[arg-type]


def test_wait_with_infinite_timeout_returns_true_once_done() -> None:
    wg = WaitGroup()
    assert wg.wait(math.inf) is True


def test_wait_with_an_int_too_large_for_a_float_waits_forever() -> None:
    wg = WaitGroup()
    assert wg.wait(10**400) is True
