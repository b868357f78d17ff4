"""pool.checks.check_service: right answers pass, whatever their style; each wrong one fails
the scenarios of its mistake, with a hint that names it; quickly, and leaving no thread behind.

The answers are in ``service_answers.py``; the reference solution is
``notebooks/solutions/10_service.py`` and the example service's own
``handle``/``stop`` (``examples/http_service.py``) must pass too.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import service_answers as answers
from solutionloader import load_solution

sys.path.insert(0, os.path.dirname(__file__))

import corpus
from corpus import NamedScenarios, Run, do_nothing, raise_at_once

from pool.checks import check_service

pytestmark = pytest.mark.timeout(60)

REPO = Path(__file__).resolve().parent.parent
QUICK = 5.0  # a right answer's check takes about 1 s; a wrong one's at most this
OUTPUT = NamedScenarios("service", answers.SCENARIOS)


def run_check(handle: Any, stop: Any, capsys: pytest.CaptureFixture[str]) -> Run:
    """check_service(handle, stop), its output read by scenario; a hanging answer's loop
    ends once the check is over."""
    return corpus.run_check(check_service, [handle, stop], capsys, OUTPUT,
                            afterwards=answers.LOOPS_END.set)


@pytest.fixture(autouse=True)
def no_thread_left_behind() -> Iterator[None]:
    """Every thread the check (or the answer it ran) started has ended shortly after.

    The answers' hanging loops run until LOOPS_END is set: it is cleared before the test and
    set after it.
    """
    with corpus.no_thread_left_behind(setup=answers.LOOPS_END.clear,
                                      teardown=answers.LOOPS_END.set):
        yield


def load_example_service() -> Any:
    path = REPO / "examples" / "http_service.py"
    spec = importlib.util.spec_from_file_location("example_http_service", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


# -- right answers --------------------------------------------------------------------------


def test_reference_solution_passes(capsys: pytest.CaptureFixture[str]) -> None:
    solution = load_solution("10_service")
    run = run_check(solution.handle, solution.stop, capsys)
    assert run.passed, run.lines
    assert run.elapsed < QUICK


def test_the_example_services_own_handle_and_stop_pass(capsys: pytest.CaptureFixture[str]) -> None:
    service = load_example_service()
    run = run_check(service.handle, service.stop, capsys)
    assert run.passed, run.lines


@pytest.mark.parametrize("answer", answers.RIGHT, ids=lambda a: a.name)
def test_right_answer_in_another_style_passes(answer: answers.Answer,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    run = run_check(answer.handle, answer.stop, capsys)
    assert run.passed, run.lines
    assert run.elapsed < QUICK


# -- wrong answers ------------------------------------------------------------------------


@pytest.mark.parametrize("answer", answers.WRONG, ids=lambda a: a.name)
def test_wrong_answer_fails_its_scenarios_with_a_hint_naming_the_mistake(
    answer: answers.Wrong, capsys: pytest.CaptureFixture[str],
) -> None:
    run = run_check(answer.handle, answer.stop, capsys)
    assert not run.passed
    assert set(run.failures) == answer.fails, run.lines
    first = next(s for s in answers.SCENARIOS if s in answer.fails)
    assert answer.hint in run.failures[first], run.failures[first]
    assert run.elapsed < QUICK + 5.0  # a hanging answer costs about a second per scenario


def test_the_three_mistakes_have_the_hints_the_notebook_promises(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """(a) intake never stopped, (b) a drain with no bound, (c) a lost answer for an unrun job."""
    a = run_check(answers.good_handle, answers.stop_waiting_for_idle_first, capsys)
    assert a.failures[answers.INTAKE].startswith("stop() did not stop intake: a request that "
                                                 "came after stop began was accepted")
    b = run_check(answers.good_handle, answers.stop_without_bound, capsys)
    assert b.failures[answers.BOUNDED].startswith(
        "stop(pool, timeout=0.3) was still waiting 1 s past its timeout while job 'stuck' "
        "hung: a drain with no bound")
    c = run_check(answers.handle_catching_all_as_500, answers.good_stop, capsys)
    assert c.failures[answers.NEVER_RAN].startswith(
        "handle answered 500 for job 'waiting', which never ran (cancelled unrun at shutdown)")
    assert "answer 503" in c.failures[answers.NEVER_RAN]
    c2 = run_check(answers.handle_forgetting_cancelled, answers.good_stop, capsys)
    assert c2.failures[answers.NEVER_RAN].startswith(
        "handle raised CancelledError for job 'waiting', which never ran")


# -- any answer, however wrong -------------------------------------------------------------


@pytest.mark.parametrize("answer", [raise_at_once, do_nothing], ids=lambda a: a.__name__)
def test_unfinished_answer_fails_every_scenario_quickly(
    answer: Any, capsys: pytest.CaptureFixture[str],
) -> None:
    run = run_check(answer, answer, capsys)
    assert len(run.failures) == len(answers.SCENARIOS)
    assert run.elapsed < QUICK


def test_unfinished_answer_output_is_what_the_notebook_commits(
    capsys: pytest.CaptureFixture[str],
) -> None:
    run = run_check(raise_at_once, raise_at_once, capsys)
    assert run.failures[answers.RESULT] == (
        "handle raised NotImplementedError: write me for a job that succeeded: return "
        "(200, body) with the job's result")
    assert run.failures[answers.INTAKE] == "stop raised NotImplementedError: write me"


@pytest.mark.parametrize(("handle", "stop"), [(42, answers.good_stop), (answers.good_handle, 42)],
                         ids=["handle", "stop"])
def test_check_given_something_not_callable_raises_type_error(handle: Any, stop: Any) -> None:
    name = "handle" if handle == 42 else "stop"
    with pytest.raises(TypeError, match=f"{name} must be callable, got int"):
        check_service(handle, stop)


@pytest.mark.parametrize(
    "answer",
    [w for w in answers.WRONG if w.name in (
        "stop that drains before it closes intake", "stop with no bound",
        "handle that answers every exception with 500", "stop that returns at once")],
    ids=lambda a: a.name,
)
def test_check_output_is_the_same_every_run(answer: answers.Wrong,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    first = run_check(answer.handle, answer.stop, capsys)
    second = run_check(answer.handle, answer.stop, capsys)
    assert first.lines == second.lines
    assert not any("0x" in line for line in first.lines)
