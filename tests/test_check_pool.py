"""pool.checks.check_pool: right answers pass, whatever their style; each wrong one fails the
scenarios of its mistake, with a hint that names it; quickly, and leaving no thread behind.

The answers are in ``pool_answers.py``; the reference solution is
``notebooks/solutions/08_pool.py``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pool_answers as answers
import pytest
from solutionloader import load_solution

from pool.checks import check_pool

pytestmark = pytest.mark.timeout(60)

QUICK = 5.0  # a right answer's check takes about 2 s
SLOW_WRONG = 12.0  # a wrong answer that waits out every timeout: about a second per scenario


@dataclass
class Run:
    passed: bool
    lines: list[str]
    elapsed: float

    @property
    def failures(self) -> dict[str, str]:
        """Failed scenario -> hint. (Scenario names may hold ': ', so they are matched whole.)"""
        failed = {}
        for line, scenario in zip(self.lines, answers.SCENARIOS, strict=True):
            prefix = f"FAIL pool {scenario}: "
            if line.startswith(prefix):
                failed[scenario] = line[len(prefix):]
        return failed


def run_check(cls: Any, capsys: pytest.CaptureFixture[str]) -> Run:
    capsys.readouterr()
    start = time.monotonic()
    passed = check_pool(cls)
    elapsed = time.monotonic() - start
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert err == ""
    assert len(lines) == len(answers.SCENARIOS), out
    for line, scenario in zip(lines, answers.SCENARIOS, strict=True):
        assert line == f"ok   pool {scenario}" or line.startswith(f"FAIL pool {scenario}: "), out
    assert passed == all(line.startswith("ok   ") for line in lines)
    return Run(passed, lines, elapsed)


@pytest.fixture(autouse=True)
def no_thread_left_behind() -> Iterator[None]:
    """Every thread the check (or the answer it ran) started has ended shortly after."""
    before = set(threading.enumerate())
    yield
    answers.close_left_open()
    deadline = time.monotonic() + 5.0
    for thread in set(threading.enumerate()) - before:
        while time.monotonic() < deadline:
            try:
                thread.join(max(0.0, deadline - time.monotonic()))
                break
            except RuntimeError:  # listed, but not started yet: it will be in a moment
                time.sleep(0.01)
    left = sorted(t.name for t in set(threading.enumerate()) - before if t.is_alive())
    assert left == [], f"threads still running after the test: {left}"


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


def raise_at_once(*args: Any, **kwargs: Any) -> Any:
    raise NotImplementedError("write me")


def do_nothing(*args: Any, **kwargs: Any) -> Any:
    return None


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
