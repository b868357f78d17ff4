"""The reference solutions of notebooks 02-04 pass the checkers the notebooks run.

The solutions live in notebooks/solutions/ as plain modules whose names start
with a digit, so they are imported by path.
"""

from __future__ import annotations

import pytest
from solutionloader import failed_lines, load_solution

from pool.checks import (
    check_channel,
    check_child_context,
    check_job,
    check_start_workers,
    check_worker,
)


@pytest.mark.timeout(20)
def test_job_solution_passes_check_job(capsys: pytest.CaptureFixture[str]) -> None:
    passed = check_job(load_solution("02_job").MyJob)
    assert failed_lines(capsys.readouterr().out) == []
    assert passed is True


@pytest.mark.timeout(20)
def test_context_solution_passes_check_child_context(capsys: pytest.CaptureFixture[str]) -> None:
    passed = check_child_context(load_solution("02_context").MiniContext)
    assert failed_lines(capsys.readouterr().out) == []
    assert passed is True


@pytest.mark.timeout(20)
def test_worker_solution_passes_check_worker(capsys: pytest.CaptureFixture[str]) -> None:
    passed = check_worker(load_solution("03_worker").my_worker)
    assert failed_lines(capsys.readouterr().out) == []
    assert passed is True


@pytest.mark.timeout(20)
def test_dispatcher_solution_passes_check_start_workers(
    capsys: pytest.CaptureFixture[str],
) -> None:
    passed = check_start_workers(load_solution("04_dispatcher").my_start_workers)
    assert failed_lines(capsys.readouterr().out) == []
    assert passed is True


@pytest.mark.timeout(20)
def test_channel_solution_passes_check_channel(capsys: pytest.CaptureFixture[str]) -> None:
    passed = check_channel(load_solution("04_channel").MyChannel)
    assert failed_lines(capsys.readouterr().out) == []
    assert passed is True
