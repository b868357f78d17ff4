"""pool.checks.check_run_with_hard_timeout: right answers pass, whatever their style; each wrong
one fails the scenario of its mistake with a hint that names it; quickly, leaving no child
process behind.

The answers are in ``process_answers.py``; the reference solution is
``notebooks/solutions/11_processes.py``.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import time
from collections.abc import Iterator
from typing import Any

import process_answers as answers
import pytest
from solutionloader import load_solution

sys.path.insert(0, os.path.dirname(__file__))

import corpus
from corpus import NamedScenarios

from pool.checks import check_run_with_hard_timeout

pytestmark = pytest.mark.timeout(120)

QUICK = 15.0  # a right answer's check takes about 1.5 s; a wrong one's well under this
SUBJECT = "run_with_hard_timeout"
OUTPUT = NamedScenarios(SUBJECT, answers.SCENARIOS)


def run_check(fn: Any, capsys: pytest.CaptureFixture[str]) -> tuple[bool, dict[str, str], float]:
    """(passed, failed scenario -> hint, seconds) of check_run_with_hard_timeout(fn).

    Its stderr is not read (unlike the other checkers' tests).
    """
    run = corpus.run_check(check_run_with_hard_timeout, [fn], capsys, OUTPUT, stderr_empty=False)
    return run.as_tuple()


@pytest.fixture(autouse=True)
def no_child_left_behind() -> Iterator[None]:
    yield
    deadline = time.monotonic() + 5.0
    while multiprocessing.active_children() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert multiprocessing.active_children() == []


def test_the_reference_solution_passes(capsys: pytest.CaptureFixture[str]) -> None:
    fn = load_solution("11_processes").run_with_hard_timeout
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
        check_run_with_hard_timeout("run_with_hard_timeout")
