"""pool.checks.check_stopper: right answers pass, whatever their style; each wrong one fails the
scenarios of its mistake, with a hint that names it; quickly, and leaving no thread behind.

The answers are in ``production_answers.py``; the reference solution is
``notebooks/solutions/09_stopper.py``.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import production_answers as answers
import pytest
from solutionloader import SOLUTIONS, load_solution

from pool.checks import check_stopper

pytestmark = pytest.mark.timeout(60)

QUICK = 5.0  # a right answer's check takes well under a second; a wrong one's a few


@dataclass
class Run:
    passed: bool
    lines: list[str]
    elapsed: float

    @property
    def failures(self) -> dict[str, str]:
        failed = {}
        for line, scenario in zip(self.lines, answers.SCENARIOS, strict=True):
            prefix = f"FAIL stopper {scenario}: "
            if line.startswith(prefix):
                failed[scenario] = line[len(prefix):]
        return failed


def run_check(cls: Any, capsys: pytest.CaptureFixture[str]) -> Run:
    capsys.readouterr()
    start = time.monotonic()
    passed = check_stopper(cls)
    elapsed = time.monotonic() - start
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert err == ""
    assert len(lines) == len(answers.SCENARIOS), out
    for line, scenario in zip(lines, answers.SCENARIOS, strict=True):
        assert line == f"ok   stopper {scenario}" or line.startswith(
            f"FAIL stopper {scenario}: "), out
    assert passed == all(line.startswith("ok   ") for line in lines)
    return Run(passed, lines, elapsed)


@pytest.fixture(autouse=True)
def no_thread_left_behind() -> Iterator[None]:
    before = set(threading.enumerate())
    yield
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


def raise_at_once(*args: Any, **kwargs: Any) -> Any:
    raise NotImplementedError("write me")


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
