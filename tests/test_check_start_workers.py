"""pool.checks.check_start_workers: right dispatchers pass, whatever their style; each wrong one
fails the scenario of its mistake with a hint that names it; quickly, leaving no thread behind.

The answers are in ``dispatcher_answers.py``; the reference solution is
``notebooks/solutions/04_dispatcher.py``. The race of ``wg.add(1)`` inside the
worker thread and the late-binding ``lambda`` are caught every time, not only
when the scheduler shows them: the loop test runs them repeatedly.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from typing import Any

import dispatcher_answers as answers
import pytest
from solutionloader import load_solution

sys.path.insert(0, os.path.dirname(__file__))

import corpus
from corpus import NamedScenarios, Run

import pool
from pool.checks import check_start_workers

pytestmark = pytest.mark.timeout(60)

QUICK = 3.0  # a right answer's check takes well under a second; a wrong one's at most this
OUTPUT = NamedScenarios("start_workers", answers.SCENARIOS)


def run_check(answer: Callable[..., Any], capsys: pytest.CaptureFixture[str]) -> Run:
    """check_start_workers(answer), its output read by scenario."""
    return corpus.run_check(check_start_workers, [answer], capsys, OUTPUT)


@pytest.fixture(autouse=True)
def no_thread_left_behind() -> Iterator[None]:
    """Every thread the check (or the answer it ran) started has ended shortly after,
    and the trace hook the check borrowed is given back."""
    with corpus.no_thread_left_behind(trace_hook=True):
        yield


def test_reference_solution_and_the_package_pass(capsys: pytest.CaptureFixture[str]) -> None:
    for answer in (load_solution("04_dispatcher").my_start_workers, pool.start_workers):
        run = run_check(answer, capsys)
        assert run.passed, run.lines
        assert run.elapsed < QUICK


@pytest.mark.parametrize("answer", answers.RIGHT, ids=lambda a: a.__name__)
def test_right_answer_in_another_style_passes(answer: Any,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    run = run_check(answer, capsys)
    assert run.passed, run.lines
    assert run.elapsed < QUICK


@pytest.mark.parametrize("answer", answers.WRONG, ids=lambda a: a.answer.__name__)
def test_wrong_answer_fails_with_a_hint_naming_the_mistake(
    answer: answers.Wrong, capsys: pytest.CaptureFixture[str],
) -> None:
    run = run_check(answer.answer, capsys)
    assert not run.passed
    assert answer.scenario in run.failures, run.lines
    assert answer.hint in run.failures[answer.scenario], run.failures[answer.scenario]
    assert run.elapsed < QUICK + 5.0  # an answer that blocks costs about a second per scenario


@pytest.mark.parametrize("answer", [answers.add_inside_thread, answers.late_binding_lambda],
                         ids=lambda a: a.__name__)
def test_races_are_caught_every_time(answer: Any, capsys: pytest.CaptureFixture[str]) -> None:
    runs = [run_check(answer, capsys) for _ in range(5)]
    assert all(r.lines == runs[0].lines for r in runs), [r.lines for r in runs]
    assert not runs[0].passed


def test_a_hung_start_does_not_block_the_notebook(capsys: pytest.CaptureFixture[str]) -> None:
    run = run_check(answers.joins_workers, capsys)
    assert set(run.failures) == set(answers.SCENARIOS)


def raise_at_once(*args: Any, **kwargs: Any) -> Any:
    raise NotImplementedError


def test_the_stub_fails_every_scenario_quickly(capsys: pytest.CaptureFixture[str]) -> None:
    run = run_check(raise_at_once, capsys)
    assert all(h == "start_workers raised NotImplementedError" for h in run.failures.values())
    assert set(run.failures) == set(answers.SCENARIOS)
    assert run.elapsed < QUICK
