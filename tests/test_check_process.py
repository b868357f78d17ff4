"""pool.checks.check_process: right answers pass, whatever their style; each wrong one fails the
scenario of its mistake with a hint that names it; quickly, leaving no thread behind.

The answers are in ``cancellation_answers.py``; the reference solution is
``notebooks/solutions/07_cancellation.py``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import cancellation_answers as answers
import pytest
from solutionloader import load_solution

from pool.checks import check_process

pytestmark = pytest.mark.timeout(60)

QUICK = 8.0  # a right answer's check takes about 1 s; a deaf one's about 4 s
SUBJECT = "process"


def run_check(fn: Any, capsys: pytest.CaptureFixture[str]) -> tuple[bool, dict[str, str], float]:
    capsys.readouterr()
    start = time.monotonic()
    passed = check_process(fn)
    elapsed = time.monotonic() - start
    out, err = capsys.readouterr()
    assert err == ""
    lines = out.splitlines()
    assert len(lines) == len(answers.SCENARIOS), out
    failures = {}
    for line, scenario in zip(lines, answers.SCENARIOS, strict=True):
        if line == f"ok   {SUBJECT} {scenario}":
            continue
        prefix = f"FAIL {SUBJECT} {scenario}: "
        assert line.startswith(prefix), out
        failures[scenario] = line[len(prefix):]
    assert passed == (not failures)
    return passed, failures, elapsed


@pytest.fixture(autouse=True)
def no_thread_left_behind() -> Iterator[None]:
    """Every thread the check started has ended soon after it (deaf answers end by themselves)."""
    before = set(threading.enumerate())
    yield
    deadline = time.monotonic() + 5.0
    for thread in set(threading.enumerate()) - before:
        thread.join(max(0.0, deadline - time.monotonic()))
    left = sorted(t.name for t in set(threading.enumerate()) - before if t.is_alive())
    assert left == [], f"threads still running after the test: {left}"


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
