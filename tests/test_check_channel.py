"""pool.checks.check_channel: right channels pass, whatever their style; each wrong one fails
the scenario of its mistake with a hint that names it; quickly, and leaving no thread behind.

The answers are in ``channel_answers.py``; the reference solution is
``notebooks/solutions/04_channel.py``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from typing import Any

import channel_answers as answers
import pytest
from solutionloader import load_solution

sys.path.insert(0, os.path.dirname(__file__))

import corpus
from corpus import NamedScenarios, Run

import pool
from pool.checks import check_channel

pytestmark = pytest.mark.timeout(60)

QUICK = 3.0  # a right answer's check takes about half a second; a wrong one's at most this
OUTPUT = NamedScenarios("channel", answers.SCENARIOS)


def run_check(answer: Any, capsys: pytest.CaptureFixture[str]) -> Run:
    """check_channel(answer), its output read by scenario."""
    return corpus.run_check(check_channel, [answer], capsys, OUTPUT)


@pytest.fixture(autouse=True)
def no_thread_left_behind() -> Iterator[None]:
    """Every thread the check (or the answer it ran) started has ended shortly after."""
    with corpus.no_thread_left_behind():
        yield


def test_reference_solution_passes(capsys: pytest.CaptureFixture[str]) -> None:
    run = run_check(load_solution("04_channel").MyChannel, capsys)
    assert run.passed, run.lines
    assert run.elapsed < QUICK


def test_the_packages_channel_passes(capsys: pytest.CaptureFixture[str]) -> None:
    run = run_check(pool.Channel, capsys)
    assert run.passed, run.lines


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


class Stub:
    """The notebook's stub."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity

    def send(self, item: Any) -> None:
        raise NotImplementedError

    def recv(self) -> tuple[Any, bool]:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


def test_the_stub_fails_every_scenario_quickly(capsys: pytest.CaptureFixture[str]) -> None:
    run = run_check(Stub, capsys)
    assert set(run.failures) == set(answers.SCENARIOS)
    assert all("raised NotImplementedError" in hint for hint in run.failures.values())
    assert run.elapsed < QUICK


def test_something_without_the_methods_fails_every_scenario(
    capsys: pytest.CaptureFixture[str],
) -> None:
    run = run_check(lambda capacity: object(), capsys)
    assert all(hint == "the channel (a object) has no send() method"
               for hint in run.failures.values()), run.failures


def test_check_given_something_not_callable_raises_type_error() -> None:
    with pytest.raises(TypeError, match="cls must be callable, got int"):
        check_channel(42)  # type: ignore[arg-type]


@pytest.mark.parametrize("answer", [answers.IfNotWhile, answers.CloseNotifiesOne,
                                    answers.RecvSleeps, answers.Unbounded],
                         ids=lambda a: a.__name__)
def test_check_output_is_the_same_every_run(answer: Any,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    first = run_check(answer, capsys)
    second = run_check(answer, capsys)
    assert first.lines == second.lines
    assert not any("0x" in line for line in first.lines)
