"""pool.checks.check_worker: right workers pass, whatever their style; each wrong one fails the
scenarios of its mistake, with a hint that names it; quickly, and leaving no thread behind.

The answers are in ``worker_answers.py``; the reference solution is
``notebooks/solutions/03_worker.py``, and ``pool.worker`` itself must pass too.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from typing import Any

import pytest
import worker_answers as answers
from solutionloader import load_solution

sys.path.insert(0, os.path.dirname(__file__))

import corpus
from corpus import NamedScenarios, Run, do_nothing, raise_at_once

import pool
from pool.checks import check_worker

pytestmark = pytest.mark.timeout(60)

QUICK = 5.0  # a right answer's check takes about half a second; a wrong one's at most this
OUTPUT = NamedScenarios("worker", answers.SCENARIOS)


def run_check(worker: Any, capsys: pytest.CaptureFixture[str]) -> Run:
    """check_worker(worker), its output read by scenario; a spinning answer's loop ends
    once the check is over."""
    return corpus.run_check(check_worker, [worker], capsys, OUTPUT,
                            afterwards=answers.LOOPS_END.set)


@pytest.fixture(autouse=True)
def no_thread_left_behind() -> Iterator[None]:
    """Every thread the check (or the answer it ran) started has ended shortly after.

    The answers' spinning loops run until LOOPS_END is set: it is cleared before the test and
    set after it.
    """
    with corpus.no_thread_left_behind(setup=answers.LOOPS_END.clear,
                                      teardown=answers.LOOPS_END.set):
        yield


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
