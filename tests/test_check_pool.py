"""pool.checks.check_pool: right answers pass, whatever their style; each wrong one fails the
scenarios of its mistake, with a hint that names it; quickly, and leaving no thread behind.

The answers are in ``pool_answers.py``; the reference solution is
``notebooks/solutions/08_pool.py``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from typing import Any

import pool_answers as answers
import pytest
from solutionloader import load_solution

sys.path.insert(0, os.path.dirname(__file__))

import corpus
from corpus import NamedScenarios, Run, do_nothing, raise_at_once

from pool.checks import check_pool

pytestmark = pytest.mark.timeout(60)

QUICK = 5.0  # a right answer's check takes about 2 s
SLOW_WRONG = 12.0  # a wrong answer that waits out every timeout: about a second per scenario
OUTPUT = NamedScenarios("pool", answers.SCENARIOS)


def run_check(cls: Any, capsys: pytest.CaptureFixture[str]) -> Run:
    """check_pool(cls), its output read by scenario."""
    return corpus.run_check(check_pool, [cls], capsys, OUTPUT)


@pytest.fixture(autouse=True)
def no_thread_left_behind() -> Iterator[None]:
    """Every thread the check (or the answer it ran) started has ended shortly after.

    What a wrong answer left open is closed first; a thread listed but not started yet
    is waited for.
    """
    with corpus.no_thread_left_behind(teardown=answers.close_left_open, wait_for_unstarted=True):
        yield


# -- right answers --------------------------------------------------------------------------


def test_reference_solution_passes(capsys: pytest.CaptureFixture[str]) -> None:
    run = run_check(load_solution("08_pool").MyPool, capsys)
    assert run.passed, run.lines
    assert run.elapsed < QUICK


@pytest.mark.parametrize(("name", "cls"), answers.RIGHT, ids=[n for n, _ in answers.RIGHT])
def test_right_answer_in_another_style_passes(name: str, cls: Any,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    run = run_check(cls, capsys)
    assert run.passed, run.lines
    assert run.elapsed < QUICK


# -- wrong answers --------------------------------------------------------------------------


@pytest.mark.parametrize("answer", answers.WRONG, ids=lambda a: a.name)
def test_wrong_answer_fails_its_scenarios_with_a_hint_naming_the_mistake(
    answer: answers.Wrong, capsys: pytest.CaptureFixture[str],
) -> None:
    run = run_check(answer.cls, capsys)
    assert not run.passed
    failed = set(run.failures)
    assert answer.fails <= failed <= answer.fails | answer.also, run.lines
    first = next(s for s in answers.SCENARIOS if s in failed)
    assert first in answer.fails
    assert answer.hint in run.failures[first], run.failures[first]
    assert run.elapsed < SLOW_WRONG


def test_the_misleading_hint_is_gone_a_pool_that_never_closes_is_told_so(
    capsys: pytest.CaptureFixture[str],
) -> None:
    run = run_check(answers.NeverCloses, capsys)
    hint = run.failures[answers.DRAINS]
    assert "never closed" in hint and "reported a timeout" not in hint


# -- any answer, however wrong ------------------------------------------------------------------


@pytest.mark.parametrize("answer", [raise_at_once, do_nothing], ids=lambda a: a.__name__)
def test_unfinished_answer_fails_every_scenario_quickly(
    answer: Any, capsys: pytest.CaptureFixture[str],
) -> None:
    run = run_check(answer, capsys)
    assert len(run.failures) == len(answers.SCENARIOS)
    assert run.elapsed < QUICK


def test_check_given_something_not_callable_raises_type_error() -> None:
    with pytest.raises(TypeError, match="cls must be callable, got int"):
        check_pool(42)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "answer",
    [w for w in answers.WRONG if w.name in (
        "catches only Exception", "no lock around the ledger", "try_send drops jobs when the "
        "buffer is full", "joins each hung thread with the whole timeout")],
    ids=lambda a: a.name,
)
def test_check_output_is_the_same_every_run(answer: answers.Wrong,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    first = run_check(answer.cls, capsys)
    second = run_check(answer.cls, capsys)
    assert first.lines == second.lines
    assert not any("0x" in line for line in first.lines)
