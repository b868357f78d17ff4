"""pool.checks.check_shutdown: right shutdowns pass, whatever their style (Go's idiom with the
waiter started before close too); each wrong one fails the scenario of its mistake with a hint
that names it; quickly, leaving no thread behind.

The answers are in ``shutdown_answers.py``; the reference solutions are
``notebooks/solutions/05_shutdown.py`` and ``06_select_timeout.py`` (notebook 06
runs the same checker).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import shutdown_answers as answers
from solutionloader import load_solution

sys.path.insert(0, os.path.dirname(__file__))

import corpus
from corpus import NamedScenarios, Run

import pool
from pool.checks import check_shutdown

pytestmark = pytest.mark.timeout(60)

QUICK = 4.0  # a right answer's check takes about 1.1 s; a wrong one's at most this
OUTPUT = NamedScenarios("shutdown", answers.SCENARIOS)


def run_check(answer: Callable[..., Any], capsys: pytest.CaptureFixture[str]) -> Run:
    """check_shutdown(answer), its output read by scenario."""
    return corpus.run_check(check_shutdown, [answer], capsys, OUTPUT)


@pytest.fixture(autouse=True)
def no_thread_left_behind() -> Iterator[None]:
    """Every thread the check (or the answer it ran) started has ended shortly after,
    and the trace hook the check borrowed is given back."""
    with corpus.no_thread_left_behind(trace_hook=True):
        yield


def test_reference_solutions_and_the_package_pass(capsys: pytest.CaptureFixture[str]) -> None:
    for answer in (load_solution("05_shutdown").my_shutdown,
                   load_solution("06_select_timeout").my_shutdown, pool.shutdown):
        run = run_check(answer, capsys)
        assert run.passed, run.lines
        assert run.elapsed < QUICK


@pytest.mark.parametrize("answer", answers.RIGHT,
                         ids=lambda a: getattr(a, "__name__", type(a).__name__))
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


@pytest.mark.parametrize("answer", [answers.waits_twice, answers.go_non_daemon_waiter,
                                    answers.polls_with_sleep, answers.if_timeout],
                         ids=lambda a: a.__name__)
def test_check_output_is_the_same_every_run(answer: Any,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    runs = [run_check(answer, capsys) for _ in range(3)]
    assert all(r.lines == runs[0].lines for r in runs), [r.lines for r in runs]
    assert not any("0x" in line for line in runs[0].lines)


def raise_at_once(*args: Any, **kwargs: Any) -> Any:
    raise NotImplementedError


def test_the_stub_fails_every_scenario_quickly(capsys: pytest.CaptureFixture[str]) -> None:
    run = run_check(raise_at_once, capsys)
    assert run.failures[answers.CLOSES] == "shutdown raised NotImplementedError"
    assert run.failures[answers.AGAIN] == "the first shutdown raised NotImplementedError"
    assert set(run.failures) == set(answers.SCENARIOS)
    assert run.elapsed < QUICK
