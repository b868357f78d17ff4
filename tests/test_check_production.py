"""pool.checks.check_stopper: right answers pass, whatever their style; each wrong one fails the
scenarios of its mistake, with a hint that names it; quickly, and leaving no thread behind.

The answers are in ``production_answers.py``; the reference solution is
``notebooks/solutions/09_stopper.py``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import production_answers as answers
import pytest
from solutionloader import SOLUTIONS, load_solution

sys.path.insert(0, os.path.dirname(__file__))

import corpus
from corpus import NamedScenarios, Run, raise_at_once

from pool.checks import check_stopper

pytestmark = pytest.mark.timeout(60)

QUICK = 5.0  # a right answer's check takes well under a second; a wrong one's a few
OUTPUT = NamedScenarios("stopper", answers.SCENARIOS)


def run_check(cls: Any, capsys: pytest.CaptureFixture[str]) -> Run:
    """check_stopper(cls), its output read by scenario."""
    return corpus.run_check(check_stopper, [cls], capsys, OUTPUT)


@pytest.fixture(autouse=True)
def no_thread_left_behind() -> Iterator[None]:
    """Every thread the check (or the answer it ran) started has ended shortly after
    (a thread listed but not started yet is waited for)."""
    with corpus.no_thread_left_behind(wait_for_unstarted=True):
        yield


def test_reference_solution_passes(capsys: pytest.CaptureFixture[str]) -> None:
    run = run_check(load_solution("09_stopper").Stopper, capsys)
    assert run.passed, run.lines
    assert run.elapsed < QUICK


@pytest.mark.parametrize(("name", "cls"), answers.RIGHT, ids=[n for n, _ in answers.RIGHT])
def test_right_answer_in_another_style_passes(name: str, cls: Any,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    run = run_check(cls, capsys)
    assert run.passed, run.lines
    assert run.elapsed < QUICK


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
    assert run.elapsed < QUICK + 5.0


def test_unfinished_answer_fails_every_scenario_quickly(capsys: pytest.CaptureFixture[str]) -> None:
    run = run_check(raise_at_once, capsys)
    assert len(run.failures) == len(answers.SCENARIOS)
    assert run.elapsed < QUICK


def test_check_given_something_not_callable_raises_type_error() -> None:
    with pytest.raises(TypeError, match="cls must be callable, got int"):
        check_stopper(42)  # type: ignore[arg-type]


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_the_solution_as_a_program_drains_on_the_first_sigint_and_cancels_on_the_second() -> None:
    """Real signals, in a real process: the wiring the exercise is for."""
    proc = subprocess.Popen([sys.executable, str(SOLUTIONS / "09_stopper.py")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        assert "10 jobs submitted" in proc.stdout.readline()
        proc.send_signal(signal.SIGINT)
        time.sleep(0.2)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=10)
    finally:
        proc.kill()
    assert proc.returncode == 3, (out, err)
    assert "0 drained, 10 canceled, 0 abandoned" in out and err == ""
