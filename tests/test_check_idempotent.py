"""pool.checks.check_idempotent: right answers pass, whatever their style; each wrong
one fails the scenario of its mistake with a hint that names it; quickly.

The answers are in ``idempotency_answers.py``; the reference solution is
``notebooks/solutions/13_idempotency.py``.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import idempotency_answers as answers
import pytest
from solutionloader import load_solution

sys.path.insert(0, os.path.dirname(__file__))

import corpus
from corpus import NamedScenarios

from pool.checks import check_idempotent

pytestmark = pytest.mark.timeout(60)

QUICK = 5.0  # a check takes milliseconds; an answer that hangs fails after about a second
SUBJECT = "apply_payment"
OUTPUT = NamedScenarios(SUBJECT, answers.SCENARIOS)


def run_check(fn: Any, capsys: pytest.CaptureFixture[str]) -> tuple[bool, dict[str, str], float]:
    """(passed, failed scenario -> hint, seconds) of check_idempotent(fn).

    Its stderr is not read (unlike the other checkers' tests).
    """
    run = corpus.run_check(check_idempotent, [fn], capsys, OUTPUT, stderr_empty=False)
    return run.as_tuple()


def test_the_reference_solution_passes(capsys: pytest.CaptureFixture[str]) -> None:
    fn = load_solution("13_idempotency").apply_payment
    passed, failures, elapsed = run_check(fn, capsys)
    assert passed, failures
    assert elapsed < QUICK


@pytest.mark.parametrize("fn", answers.RIGHT, ids=lambda f: f.__name__)
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


def test_a_non_callable_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        check_idempotent("apply_payment")  # type: ignore[arg-type]

