"""The reference solutions of notebooks 05-09 pass the checks the notebooks run.

Each passes the ``pool.checks`` checker its notebook runs; 07's (a
cancellation-aware ``process``) also has its behaviour stated directly.

The solutions live in notebooks/solutions/ as plain modules whose names start
with a digit, so they are imported by path.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from solutionloader import failed_lines, load_solution

from pool import Canceled, DeadlineExceeded, Job, Status, WorkerPool, background
from pool.checks import check_pool, check_shutdown, check_stopper

# -- 05, 06, 08, 09: the pool.checks checkers --------------------------------------------------


@pytest.mark.timeout(30)
def test_shutdown_solution_passes_check_shutdown(capsys: pytest.CaptureFixture[str]) -> None:
    passed = check_shutdown(load_solution("05_shutdown").my_shutdown)
    assert failed_lines(capsys.readouterr().out) == []
    assert passed is True


@pytest.mark.timeout(30)
def test_select_timeout_solution_passes_check_shutdown(
    capsys: pytest.CaptureFixture[str],
) -> None:
    passed = check_shutdown(load_solution("06_select_timeout").my_shutdown)
    assert failed_lines(capsys.readouterr().out) == []
    assert passed is True


@pytest.mark.timeout(30)
def test_pool_solution_passes_check_pool(capsys: pytest.CaptureFixture[str]) -> None:
    passed = check_pool(load_solution("08_pool").MyPool)
    assert failed_lines(capsys.readouterr().out) == []
    assert passed is True


@pytest.mark.timeout(30)
def test_stopper_solution_passes_check_stopper(capsys: pytest.CaptureFixture[str]) -> None:
    passed = check_stopper(load_solution("09_stopper").Stopper)
    assert failed_lines(capsys.readouterr().out) == []
    assert passed is True


# -- 07: a cancellation-aware process function ---------------------------------------------


@pytest.fixture
def steps_of_work() -> Callable[[Job], Any]:
    fn: Callable[[Job], Any] = load_solution("07_cancellation").steps_of_work
    return fn


def test_07_solution_passes_check_process(
    steps_of_work: Callable[[Job], Any], capsys: pytest.CaptureFixture[str]
) -> None:
    from pool.checks import check_process

    passed = check_process(steps_of_work)
    assert failed_lines(capsys.readouterr().out) == []
    assert passed is True


@pytest.fixture
def cancel_later() -> Iterator[Callable[[float, Callable[[], None]], None]]:
    """``cancel_later(seconds, cancel)``: call ``cancel`` from a timer thread, joined at the end."""
    timers: list[threading.Timer] = []

    def start(seconds: float, cancel: Callable[[], None]) -> None:
        timer = threading.Timer(seconds, cancel)
        timer.daemon = True
        timers.append(timer)
        timer.start()

    yield start
    for timer in timers:
        timer.cancel()
        timer.join(5)
        assert not timer.is_alive()


@pytest.mark.timeout(10)
def test_cancellation_solution_does_one_step_per_payload_byte(
    steps_of_work: Callable[[Job], Any],
) -> None:
    t0 = time.monotonic()
    assert steps_of_work(Job("three", bytes(3))) == 3
    assert 0.14 <= time.monotonic() - t0 < 1.0  # 3 steps of 0.05 s


@pytest.mark.timeout(10)
def test_cancellation_solution_raises_deadline_exceeded_at_its_deadline(
    steps_of_work: Callable[[Job], Any],
) -> None:
    ctx, cancel = background().with_timeout(0.1)
    try:
        t0 = time.monotonic()
        with pytest.raises(DeadlineExceeded):
            steps_of_work(Job("long", bytes(40), ctx))  # 2 s if it ignored the deadline
        assert 0.09 <= time.monotonic() - t0 < 0.5
    finally:
        cancel()


@pytest.mark.timeout(10)
def test_cancellation_solution_raises_canceled_soon_after_its_context_is_cancelled(
    steps_of_work: Callable[[Job], Any],
    cancel_later: Callable[[float, Callable[[], None]], None],
) -> None:
    ctx, cancel = background().with_cancel()
    cancel_later(0.1, cancel)
    t0 = time.monotonic()
    with pytest.raises(Canceled):
        steps_of_work(Job("long", bytes(40), ctx))
    assert 0.09 <= time.monotonic() - t0 < 0.5


@pytest.mark.timeout(10)
def test_cancellation_solution_does_no_step_when_its_context_is_already_done(
    steps_of_work: Callable[[Job], Any],
) -> None:
    ctx, cancel = background().with_cancel()
    cancel()
    t0 = time.monotonic()
    with pytest.raises(Canceled):
        steps_of_work(Job("late", bytes(40), ctx))
    assert time.monotonic() - t0 < 0.04  # less than one step


@pytest.mark.timeout(10)
def test_cancellation_solution_passes_the_notebook_scenario_in_a_pool(
    steps_of_work: Callable[[Job], Any],
    cancel_later: Callable[[float, Callable[[], None]], None],
) -> None:
    # Notebook 07's assertion cells: three 10-byte jobs at once; no deadline,
    # a 0.12 s deadline, and a parent context cancelled after 0.1 s.
    tight, cancel_tight = background().with_timeout(0.12)
    parent, cancel_parent = background().with_cancel()
    wp = WorkerPool(steps_of_work, workers=3)
    try:
        wp.submit(Job("whole", bytes(10)))
        wp.submit(Job("tight", bytes(10), ctx=tight))
        wp.submit(Job("cancelled", bytes(10), ctx=parent))
        cancel_later(0.1, cancel_parent)
        report = wp.shutdown(timeout=5.0)
    finally:
        cancel_tight()
        wp.shutdown(timeout=5.0)
    ended = {o.job_id: o for o in wp.outcomes}
    assert report.clean
    assert (ended["whole"].status, ended["whole"].result) == (Status.SUCCEEDED, 10)
    assert ended["tight"].status is Status.TIMED_OUT
    assert ended["cancelled"].status is Status.CANCELED
    assert ended["tight"].ran_for is not None and ended["tight"].ran_for < 0.3
    assert ended["cancelled"].ran_for is not None and ended["cancelled"].ran_for < 0.3
