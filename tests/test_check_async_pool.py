"""pool.checks.check_async_pool: right answers pass, whatever their style; each wrong one fails
the scenario of its mistake with a hint that names it; quickly, and from inside a running event
loop as in Jupyter.

The answers are in ``async_answers.py``; the reference solution is
``notebooks/solutions/12_asyncio.py``.
"""

from __future__ import annotations

import asyncio
import os
import sys
import threading
import time
from typing import Any

import async_answers as answers
import pytest
from solutionloader import load_solution

sys.path.insert(0, os.path.dirname(__file__))

import corpus
from corpus import NamedScenarios

from pool.checks import check_async_pool

pytestmark = pytest.mark.timeout(120)

QUICK = 15.0  # a right answer's check takes about 1 s; the slowest wrong one about 7 s
SUBJECT = "run_pool"
OUTPUT = NamedScenarios(SUBJECT, answers.SCENARIOS)


def run_check(fn: Any, capsys: pytest.CaptureFixture[str]) -> tuple[bool, dict[str, str], float]:
    """(passed, failed scenario -> hint, seconds) of check_async_pool(fn).

    Its stderr is not read (unlike the other checkers' tests).
    """
    run = corpus.run_check(check_async_pool, [fn], capsys, OUTPUT, stderr_empty=False)
    return run.as_tuple()


def reference() -> Any:
    return load_solution("12_asyncio").run_pool


def test_the_reference_solution_passes(capsys: pytest.CaptureFixture[str]) -> None:
    passed, failures, elapsed = run_check(reference(), capsys)
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


def test_the_output_is_the_same_twice(capsys: pytest.CaptureFixture[str]) -> None:
    """nbval compares a notebook's output with a fresh run: no timings, ids or addresses,
    and a forgotten await is named the second time too (a warning is shown once per place)."""
    outputs = []
    for _ in range(2):
        check_async_pool(answers.forgot_await_put)
        outputs.append(capsys.readouterr().out)
    assert outputs[0] == outputs[1]
    assert "coroutine 'Queue.put' was never awaited" in outputs[1]


def test_works_called_from_a_running_event_loop(capsys: pytest.CaptureFixture[str]) -> None:
    """A notebook cell runs inside the kernel's event loop; the checker brings its own."""
    fn = reference()

    async def cell() -> bool:
        asyncio.get_running_loop()  # we are inside a running loop, as in Jupyter
        return check_async_pool(fn)

    assert asyncio.run(cell())
    assert "FAIL" not in capsys.readouterr().out


def test_leaves_no_thread_behind_for_an_answer_that_returns(
        capsys: pytest.CaptureFixture[str]) -> None:
    before = set(threading.enumerate())
    assert check_async_pool(reference())
    deadline = time.monotonic() + 5.0
    while set(threading.enumerate()) - before and time.monotonic() < deadline:
        time.sleep(0.02)
    assert set(threading.enumerate()) - before == set()


@pytest.mark.parametrize("value", ["run_pool", None, 3])
def test_a_non_callable_is_a_type_error(value: Any) -> None:
    with pytest.raises(TypeError):
        check_async_pool(value)
