"""pool.checks.check_child_context: right context trees pass, whatever their design; each wrong
one fails the scenarios of its mistake, with a hint that names it; quickly, leaving no thread.

The answers are in ``context_answers.py``; the reference solution is
``notebooks/solutions/02_context.py``, and ``pool.background`` itself must pass too.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from typing import Any

import context_answers as answers
import pytest
from solutionloader import load_solution

sys.path.insert(0, os.path.dirname(__file__))

import corpus
from corpus import NamedScenarios, Run, raise_at_once

import pool
from pool.checks import check_child_context

pytestmark = pytest.mark.timeout(60)

QUICK = 5.0  # a right answer's check takes one to two seconds; a wrong one's at most this
OUTPUT = NamedScenarios("context", answers.SCENARIOS)


def run_check(make_root: Any, capsys: pytest.CaptureFixture[str]) -> Run:
    """check_child_context(make_root), its output read by scenario."""
    return corpus.run_check(check_child_context, [make_root], capsys, OUTPUT)


@pytest.fixture(autouse=True)
def no_thread_left_behind() -> Iterator[None]:
    """Every thread the check started has ended shortly after."""
    with corpus.no_thread_left_behind():
        yield


@pytest.mark.parametrize("make_root", [pool.background, load_solution("02_context").MiniContext],
                         ids=["pool.background", "reference solution"])
def test_package_context_and_reference_solution_pass(make_root: Any,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    run = run_check(make_root, capsys)
    assert run.passed, run.lines
    assert run.elapsed < QUICK


@pytest.mark.parametrize("answer", answers.RIGHT, ids=lambda a: a.name)
def test_right_answer_in_another_design_passes(answer: answers.Answer,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    run = run_check(answer.make_root, capsys)
    assert run.passed, run.lines
    assert run.elapsed < QUICK


@pytest.mark.parametrize("answer", answers.WRONG, ids=lambda a: a.name)
def test_wrong_answer_fails_its_scenarios_with_a_hint_naming_the_mistake(
    answer: answers.Wrong, capsys: pytest.CaptureFixture[str],
) -> None:
    run = run_check(answer.make_root, capsys)
    assert not run.passed
    assert set(run.failures) == answer.fails, run.lines
    first = next(s for s in answers.SCENARIOS if s in answer.fails)
    assert answer.hint in run.failures[first], run.failures[first]
    assert run.elapsed < QUICK


def test_unfinished_answer_fails_every_scenario_quickly(
    capsys: pytest.CaptureFixture[str],
) -> None:
    run = run_check(raise_at_once, capsys)
    assert len(run.failures) == len(answers.SCENARIOS)
    assert run.failures[answers.FRESH] == "make_root() raised NotImplementedError: write me"
    assert run.elapsed < QUICK


def test_check_given_something_not_callable_raises_type_error() -> None:
    with pytest.raises(TypeError, match="make_root must be callable, got int"):
        check_child_context(42)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "answer",
    [w for w in answers.WRONG if w.make_root in (
        answers.CheckThenJoinNoLock, answers.SnapshotThenMark, answers.DeadlineCheckedFirst,
        answers.OwnDeadlineOnly)],
    ids=lambda a: a.name,
)
def test_check_output_is_the_same_every_run(answer: answers.Wrong,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    first = run_check(answer.make_root, capsys)
    second = run_check(answer.make_root, capsys)
    assert first.lines == second.lines
    assert not any("0x" in line for line in first.lines)
