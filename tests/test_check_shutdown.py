"""pool.checks.check_shutdown: right shutdowns pass, whatever their style (Go's idiom with the
waiter started before close too); each wrong one fails the scenario of its mistake with a hint
that names it; quickly, leaving no thread behind.

The answers are in ``shutdown_answers.py``; the reference solutions are
``notebooks/solutions/05_shutdown.py`` and ``06_select_timeout.py`` (notebook 06
runs the same checker).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import shutdown_answers as answers
from solutionloader import load_solution

import pool
from pool.checks import check_shutdown

pytestmark = pytest.mark.timeout(60)

QUICK = 4.0  # a right answer's check takes about 1.1 s; a wrong one's at most this


@dataclass
class Run:
    passed: bool
    lines: list[str]
    elapsed: float

    @property
    def failures(self) -> dict[str, str]:
        """Failed scenario -> hint."""
        failed = {}
        for line, scenario in zip(self.lines, answers.SCENARIOS, strict=True):
            prefix = f"FAIL shutdown {scenario}: "
            if line.startswith(prefix):
                failed[scenario] = line[len(prefix):]
        return failed


def run_check(answer: Callable[..., Any], capsys: pytest.CaptureFixture[str]) -> Run:
    capsys.readouterr()
    start = time.monotonic()
    passed = check_shutdown(answer)
    elapsed = time.monotonic() - start
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert err == ""
    assert len(lines) == len(answers.SCENARIOS), out
    for line, scenario in zip(lines, answers.SCENARIOS, strict=True):
        assert line == f"ok   shutdown {scenario}" or line.startswith(
            f"FAIL shutdown {scenario}: "), out
    assert passed == all(line.startswith("ok   ") for line in lines)
    return Run(passed, lines, elapsed)


@pytest.fixture(autouse=True)
def no_thread_left_behind() -> Iterator[None]:
    """Every thread the check (or the answer it ran) started has ended shortly after,
    and the trace hook the check borrowed is given back."""
    before = set(threading.enumerate())
    hook = threading.gettrace()
    yield
    assert threading.gettrace() is hook
    deadline = time.monotonic() + 5.0
    for thread in set(threading.enumerate()) - before:
        thread.join(max(0.0, deadline - time.monotonic()))
    left = sorted(t.name for t in set(threading.enumerate()) - before if t.is_alive())
    assert left == [], f"threads still running after the test: {left}"


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
