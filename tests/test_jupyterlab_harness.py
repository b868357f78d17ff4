"""The JupyterLab harness (jupyterlab_harness.py) sees what a learner would see.

It runs the sample notebooks of ``tests/fixtures/notebooks/`` and a broken one
in real JupyterLab and headless Chromium, so the browser test of the course
notebooks can be trusted to fail when a notebook is broken.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jupyterlab_harness import Lab, running_lab

pytestmark = [pytest.mark.browser, pytest.mark.needs_notebook_deps, pytest.mark.slow,
              pytest.mark.timeout(300)]

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "notebooks"
BAD_WIDGET = {"application/vnd.jupyter.widget-view+json":
              {"model_id": "no-such-model", "version_major": 2, "version_minor": 0}}


def code(cell_id: str, count: int, src: str) -> dict[str, Any]:
    """A code cell as saved after an earlier run: a count and a stale output."""
    return {"cell_type": "code", "id": cell_id, "execution_count": count, "metadata": {},
            "outputs": [{"output_type": "stream", "name": "stdout", "text": "stale\n"}],
            "source": src}


BROKEN = {
    "cells": [
        code("bad-widget", 1, f"display({BAD_WIDGET!r}, raw=True)"),
        code("untagged-error", 2, "raise RuntimeError('not expected')"),
        code("after-error", 3, "print('never reached')"),
    ],
    "metadata": {"kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python",
                                "name": "python3"}},
    "nbformat": 4, "nbformat_minor": 5,
}


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("lab-root")
    for path in FIXTURES.glob("*.ipynb"):
        shutil.copy(path, folder / path.name)
    (folder / "broken.ipynb").write_text(json.dumps(BROKEN), encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def lab(root: Path) -> Iterator[Lab]:
    with running_lab(root_dir=root) as lab:
        yield lab


@pytest.fixture(scope="module")
def broken_problems(lab: Lab) -> list[str]:
    with lab.open("broken.ipynb") as notebook:
        notebook.run_all()
        return notebook.problems()


@pytest.fixture(scope="module")
def clean_run(lab: Lab, root: Path) -> tuple[list[str], Path, bytes]:
    """Problems, screenshot and file content after running 01_print.ipynb."""
    with lab.open("01_print.ipynb") as notebook:
        notebook.run_all()
        return notebook.problems(), notebook.screenshot(), (root / "01_print.ipynb").read_bytes()


def test_a_clean_notebook_with_a_tagged_expected_error_has_no_problem(
        clean_run: tuple[list[str], Path, bytes]) -> None:
    assert clean_run[0] == []


def test_a_run_saves_a_screenshot(clean_run: tuple[list[str], Path, bytes]) -> None:
    assert clean_run[1].read_bytes().startswith(b"\x89PNG")


def test_a_run_leaves_the_notebook_file_unchanged(
        clean_run: tuple[list[str], Path, bytes]) -> None:
    assert clean_run[2] == (FIXTURES / "01_print.ipynb").read_bytes()


def test_an_untagged_error_is_a_problem(broken_problems: list[str]) -> None:
    assert any("raised RuntimeError: not expected" in p for p in broken_problems), broken_problems


def test_cells_after_an_untagged_error_are_reported_unrun(broken_problems: list[str]) -> None:
    assert any("'never reached'" in p and "did not run" in p for p in broken_problems), \
        broken_problems


def test_a_widget_that_cannot_display_is_a_problem(broken_problems: list[str]) -> None:
    assert any("Error displaying widget" in p for p in broken_problems), broken_problems


def test_clicking_a_widget_button_shows_a_new_image(lab: Lab) -> None:
    with lab.open("02_widgets.ipynb") as notebook:
        notebook.run_all()
        notebook.click_button("Draw")
        notebook.wait_for_new_image(timeout=60)
