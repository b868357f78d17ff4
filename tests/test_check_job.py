"""pool.checks.check_job: right job classes pass, whatever their style; each wrong one fails the
scenarios of its mistake, with a hint that names it.

The answers are in ``job_answers.py``; the reference solution is
``notebooks/solutions/02_job.py``, and ``pool.Job`` itself must pass too.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import job_answers as answers
import pytest
from solutionloader import load_solution

sys.path.insert(0, os.path.dirname(__file__))

import corpus
from corpus import NamedScenarios

import pool
from pool.checks import check_job

pytestmark = pytest.mark.timeout(30)

QUICK = 2.0  # a job check makes a dozen objects; even a wrong answer's check takes no time
OUTPUT = NamedScenarios("job", answers.SCENARIOS)


def run_check(make: Any, capsys: pytest.CaptureFixture[str]) -> tuple[bool, dict[str, str]]:
    """(passed, failed scenario -> hint), after checking the output's shape and speed."""
    run = corpus.run_check(check_job, [make], capsys, OUTPUT, within=QUICK)
    return run.passed, run.failures


@pytest.mark.parametrize("make", [pool.Job, load_solution("02_job").MyJob],
                         ids=["pool.Job", "reference solution"])
def test_package_job_and_reference_solution_pass(make: Any,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    passed, failures = run_check(make, capsys)
    assert passed, failures


@pytest.mark.parametrize("answer", answers.RIGHT, ids=lambda a: a.name)
def test_right_answer_in_another_style_passes(answer: answers.Answer,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    passed, failures = run_check(answer.make, capsys)
    assert passed, failures


@pytest.mark.parametrize("answer", answers.WRONG, ids=lambda a: a.name)
def test_wrong_answer_fails_its_scenarios_with_a_hint_naming_the_mistake(
    answer: answers.Wrong, capsys: pytest.CaptureFixture[str],
) -> None:
    passed, failures = run_check(answer.make, capsys)
    assert not passed
    assert set(failures) == answer.fails, failures
    first = next(s for s in answers.SCENARIOS if s in answer.fails)
    assert answer.hint in failures[first], failures[first]


def test_the_wrong_exception_class_is_named_as_such(capsys: pytest.CaptureFixture[str]) -> None:
    _, failures = run_check(answers.ValueErrorForEverything, capsys)
    assert failures[answers.ID_TYPE].startswith(
        "make_job(42, b'hello') raised ValueError: id must be a non-empty str: a non-str id is a "
        "TypeError (wrong type), not a ValueError")
