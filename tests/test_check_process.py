"""pool.checks.check_process: right answers pass, whatever their style; each wrong one fails the
scenario of its mistake with a hint that names it; quickly, leaving no thread behind.

The answers are in ``cancellation_answers.py``; the reference solution is
``notebooks/solutions/07_cancellation.py``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from typing import Any

import cancellation_answers as answers
import pytest
from solutionloader import load_solution

sys.path.insert(0, os.path.dirname(__file__))

import corpus
from corpus import NamedScenarios

from pool.checks import check_process

pytestmark = pytest.mark.timeout(60)

QUICK = 8.0  # a right answer's check takes about 1 s; a deaf one's about 4 s
SUBJECT = "process"
OUTPUT = NamedScenarios(SUBJECT, answers.SCENARIOS)


def run_check(fn: Any, capsys: pytest.CaptureFixture[str]) -> tuple[bool, dict[str, str], float]:
    """(passed, failed scenario -> hint, seconds) of check_process(fn)."""
    return corpus.run_check(check_process, [fn], capsys, OUTPUT).as_tuple()


@pytest.fixture(autouse=True)
def no_thread_left_behind() -> Iterator[None]:
    """Every thread the check started has ended soon after it (deaf answers end by themselves)."""
    with corpus.no_thread_left_behind():
        yield


def test_the_reference_solution_passes(capsys: pytest.CaptureFixture[str]) -> None:
    fn = load_solution("07_cancellation").steps_of_work
    passed, failures, elapsed = run_check(fn, capsys)
    assert passed, failures
    assert elapsed < QUICK


@pytest.mark.parametrize("fn", answers.RIGHT,
                         ids=lambda f: getattr(f, "__name__", type(f).__name__))
def test_right_answers_in_other_styles_pass(fn: Any, capsys: pytest.CaptureFixture[str]) -> None:
    passed, failures, elapsed = run_check(fn, capsys)
    assert passed, failures
    assert elapsed < QUICK


@pytest.mark.parametrize("wrong", answers.WRONG, ids=lambda w: w.answer.__name__)
def test_each_wrong_answer_fails_with_a_hint_naming_its_mistake(
        wrong: answers.Wrong, capsys: pytest.CaptureFixture[str]) -> None:
    passed, failures, elapsed = run_check(wrong.answer, capsys)
    assert not passed
    assert wrong.scenario in failures, failures
    assert wrong.hint in failures[wrong.scenario], failures[wrong.scenario]
    assert set(answers.SCENARIOS) - set(failures) == wrong.passes, failures
    assert elapsed < QUICK


def test_output_is_the_same_every_run(capsys: pytest.CaptureFixture[str]) -> None:
    first = run_check(answers.looks_after_each_step, capsys)[1]
    second = run_check(answers.looks_after_each_step, capsys)[1]
    assert first == second


def test_a_non_callable_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        check_process("steps_of_work")  # type: ignore[arg-type]
