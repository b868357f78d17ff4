"""pool.checks.check_worker: right workers pass, whatever their style; each wrong one fails the
scenarios of its mistake, with a hint that names it; quickly, and leaving no thread behind.

The answers are in ``worker_answers.py``; the reference solution is
``notebooks/solutions/03_worker.py``, and ``pool.worker`` itself must pass too.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import worker_answers as answers
from solutionloader import load_solution

import pool
from pool.checks import check_worker

pytestmark = pytest.mark.timeout(60)

QUICK = 5.0  # a right answer's check takes about half a second; a wrong one's at most this


@dataclass
class Run:
    passed: bool
    lines: list[str]
    elapsed: float

    @property
    def failures(self) -> dict[str, str]:
        """Failed scenario -> hint. (Scenario names may hold ': ', so they are matched whole.)"""
        failed = {}
        for line, scenario in zip(self.lines, answers.SCENARIOS, strict=True):
            prefix = f"FAIL worker {scenario}: "
            if line.startswith(prefix):
                failed[scenario] = line[len(prefix):]
        return failed


def run_check(worker: Any, capsys: pytest.CaptureFixture[str]) -> Run:
    capsys.readouterr()
    start = time.monotonic()
    try:
        passed = check_worker(worker)
    finally:
        answers.LOOPS_END.set()  # a spinning answer's loop ends once the check is over
    elapsed = time.monotonic() - start
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert err == ""
    assert len(lines) == len(answers.SCENARIOS), out
    for line, scenario in zip(lines, answers.SCENARIOS, strict=True):
        assert line == f"ok   worker {scenario}" or line.startswith(
            f"FAIL worker {scenario}: "), out
    assert passed == all(line.startswith("ok   ") for line in lines)
    return Run(passed, lines, elapsed)


@pytest.fixture(autouse=True)
def no_thread_left_behind() -> Iterator[None]:
    """Every thread the check (or the answer it ran) started has ended shortly after."""
    answers.LOOPS_END.clear()
    before = set(threading.enumerate())
    yield
    answers.LOOPS_END.set()
    deadline = time.monotonic() + 5.0
    for thread in set(threading.enumerate()) - before:
        thread.join(max(0.0, deadline - time.monotonic()))
    left = sorted(t.name for t in set(threading.enumerate()) - before if t.is_alive())
    assert left == [], f"threads still running after the test: {left}"


# -- right answers --------------------------------------------------------------------------


@pytest.mark.parametrize("worker", [pool.worker, load_solution("03_worker").my_worker],
                         ids=["pool.worker", "reference solution"])
def test_package_worker_and_reference_solution_pass(worker: Any,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    run = run_check(worker, capsys)
    assert run.passed, run.lines
    assert run.elapsed < QUICK


@pytest.mark.parametrize("answer", answers.RIGHT, ids=lambda a: a.name)
def test_right_answer_in_another_style_passes(answer: answers.Answer,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    run = run_check(answer.worker, capsys)
    assert run.passed, run.lines
    assert run.elapsed < QUICK


# -- wrong answers ------------------------------------------------------------------------


@pytest.mark.parametrize("answer", answers.WRONG, ids=lambda a: a.name)
def test_wrong_answer_fails_its_scenarios_with_a_hint_naming_the_mistake(
    answer: answers.Wrong, capsys: pytest.CaptureFixture[str],
) -> None:
    run = run_check(answer.worker, capsys)
    assert not run.passed
    assert set(run.failures) == answer.fails, run.lines
    first = next(s for s in answers.SCENARIOS if s in answer.fails)
    assert answer.hint in run.failures[first], run.failures[first]
    assert run.elapsed < QUICK


def test_a_dropped_last_job_is_not_blamed_on_exception_handling(
    capsys: pytest.CaptureFixture[str],
) -> None:
    run = run_check(answers.dropping_last_job, capsys)
    assert answers.SURVIVES not in run.failures and answers.EXIT not in run.failures
    assert "last one" in run.failures[answers.EVERY]


# -- any answer, however wrong -------------------------------------------------------------


def raise_at_once(*args: Any, **kwargs: Any) -> Any:
    raise NotImplementedError("write me")


def do_nothing(*args: Any, **kwargs: Any) -> Any:
    return None


@pytest.mark.parametrize("answer", [raise_at_once, do_nothing], ids=lambda a: a.__name__)
def test_unfinished_answer_fails_every_scenario_quickly(
    answer: Any, capsys: pytest.CaptureFixture[str],
) -> None:
    run = run_check(answer, capsys)
    assert len(run.failures) == len(answers.SCENARIOS)
    assert run.elapsed < QUICK


@pytest.mark.parametrize(
    "answer",
    [w for w in answers.WRONG if w.name in (
        "except Exception only", "wg.done() called first (Go's defer copied as a call)",
        "polling with sleep", "spinning on recv(timeout=0)",
        "the last job dropped (reads one ahead)")],
    ids=lambda a: a.name,
)
def test_check_output_is_the_same_every_run(answer: answers.Wrong,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    first = run_check(answer.worker, capsys)
    answers.LOOPS_END.clear()
    second = run_check(answer.worker, capsys)
    assert first.lines == second.lines
    assert not any("0x" in line for line in first.lines)
