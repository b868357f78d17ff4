"""Every committed notebook in notebooks/ is the record of one clean run that nbval can replay.

The rules themselves (and why) are in ``notebook_rules.py``. Re-run the
notebooks with ``make notebooks`` after changing one.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import notebook_rules as rules
import pytest

NOTEBOOK_DIR = Path(__file__).resolve().parent.parent / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
NO_NOTEBOOKS = pytest.param(
    None, marks=pytest.mark.skip(reason=f"no .ipynb in {NOTEBOOK_DIR} yet"), id="no-notebooks")

over_notebooks = pytest.mark.parametrize(
    "path", [pytest.param(p, id=p.stem) for p in NOTEBOOKS] or [NO_NOTEBOOKS])


def assert_follows(path: Path, check: Callable[[rules.Notebook], list[str]]) -> None:
    found = check(rules.load(path))
    assert not found, "\n".join(f"{path.name}: {problem}" for problem in found)


@over_notebooks
def test_code_cells_are_numbered_one_to_n_in_order(path: Path) -> None:
    assert_follows(path, rules.check_execution_counts)


@over_notebooks
def test_no_code_cell_is_left_unexecuted(path: Path) -> None:
    assert_follows(path, rules.check_all_executed)


@over_notebooks
def test_error_output_appears_only_in_cells_tagged_raises_exception(path: Path) -> None:
    assert_follows(path, rules.check_errors_only_where_expected)


@over_notebooks
def test_at_least_60_percent_of_cells_with_output_are_compared_by_nbval(path: Path) -> None:
    assert_follows(path, rules.check_mostly_compared)


@over_notebooks
def test_each_ignored_output_cell_is_followed_by_a_code_cell(path: Path) -> None:
    assert_follows(path, rules.check_ignored_cells_are_followed_by_code)


@over_notebooks
def test_expected_errors_use_the_tag_not_the_nbval_comment(path: Path) -> None:
    assert_follows(path, rules.check_no_raises_exception_comment)
