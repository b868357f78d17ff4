"""The reference solutions of notebooks 02-04 pass the checkers the notebooks run.

The solutions live in notebooks/solutions/ as plain modules whose names start
with a digit, so they are imported by path.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from pool.checks import check_job, check_start_workers, check_worker

SOLUTIONS = Path(__file__).resolve().parent.parent / "notebooks" / "solutions"


def load_solution(stem: str) -> ModuleType:
    path = SOLUTIONS / f"{stem}.py"
    spec = importlib.util.spec_from_file_location(f"solution_{stem}", path)
    assert spec is not None and spec.loader is not None, f"cannot import {path}"
    module = importlib.util.module_from_spec(spec)
    # Registered first, as `import` would: a dataclass looks its module up while it is made.
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[spec.name]
        raise
    return module


def failed_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if not line.startswith("ok   ")]


@pytest.mark.timeout(20)
def test_job_solution_passes_check_job(capsys: pytest.CaptureFixture[str]) -> None:
    passed = check_job(load_solution("02_job").MyJob)
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
