"""The rules every committed course notebook follows, as functions that return problems.

Each ``check_*`` function takes a notebook as parsed JSON (``json.load``; no
Jupyter package needed) and returns a list of human-readable problems, empty
when the notebook follows the rule. ``tests/test_notebooks_meta.py`` applies
them to ``notebooks/*.ipynb``; ``tests/test_notebook_tooling.py`` shows each one
rejecting a notebook that breaks it.

The rules, and why:

- code cells carry execution counts 1, 2, 3, ... in order and none is left
  unexecuted: the outputs come from one clean top-to-bottom run
  (``make notebooks``), which is what nbval replays;
- no error output, except in a cell tagged ``raises-exception``;
- at least ``MIN_COMPARED`` of the code cells that have output are compared by
  nbval (no ``# NBVAL_IGNORE_OUTPUT``/``# NBVAL_SKIP`` or matching tag);
- a cell whose output is ignored is followed directly by a code cell (the one
  that asserts the invariant and prints something stable);
- expected errors are declared with the ``raises-exception`` tag (which
  JupyterLab, nbclient and nbval all honour), never the
  ``# NBVAL_RAISES_EXCEPTION`` comment (which only nbval knows).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

Notebook = dict[str, Any]
Cell = dict[str, Any]

MIN_COMPARED = 0.6
RAISES_TAG = "raises-exception"
IGNORE_COMMENTS = ("NBVAL_IGNORE_OUTPUT", "NBVAL_SKIP")
IGNORE_TAGS = ("nbval-ignore-output", "nbval-skip")


def load(path: Path) -> Notebook:
    with path.open(encoding="utf-8") as f:
        nb: Notebook = json.load(f)
    return nb


def source(cell: Cell) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else str(src)


def tags(cell: Cell) -> list[str]:
    found = cell.get("metadata", {}).get("tags", [])
    return list(found) if isinstance(found, list) else []


def comments(cell: Cell) -> set[str]:
    """The comment lines of a cell, without the leading ``#`` and spaces."""
    return {line.strip().lstrip("#").strip() for line in source(cell).splitlines()
            if line.strip().startswith("#")}


def code_cells(nb: Notebook) -> list[tuple[int, Cell]]:
    """(index in the notebook, cell) for every code cell."""
    return [(i, c) for i, c in enumerate(nb.get("cells", [])) if c.get("cell_type") == "code"]


def label(index: int, cell: Cell) -> str:
    first = source(cell).strip().splitlines()[:1]
    return f"cell {index} ({first[0][:50]!r})" if first else f"cell {index} (empty)"


def output_ignored(cell: Cell) -> bool:
    """True when nbval does not compare this cell's output."""
    return bool(comments(cell) & set(IGNORE_COMMENTS)) or bool(set(tags(cell)) & set(IGNORE_TAGS))


def check_execution_counts(nb: Notebook) -> list[str]:
    """Code cells are numbered 1, 2, 3, ... in notebook order."""
    problems = []
    for expected, (i, cell) in enumerate(code_cells(nb), start=1):
        count = cell.get("execution_count")
        if count is not None and count != expected:
            problems.append(f"{label(i, cell)} has execution count {count}, expected {expected}:"
                            " re-run the notebook from a fresh kernel (make notebooks)")
    return problems


def check_all_executed(nb: Notebook) -> list[str]:
    """No code cell is left unexecuted (an empty code cell never runs: delete it)."""
    return [f"{label(i, cell)} was not executed: run `make notebooks`"
            + ("; an empty code cell never runs: delete it" if not source(cell).strip() else "")
            for i, cell in code_cells(nb) if cell.get("execution_count") is None]


def check_errors_only_where_expected(nb: Notebook) -> list[str]:
    """An error output appears only in a cell tagged ``raises-exception``."""
    problems = []
    for i, cell in code_cells(nb):
        if RAISES_TAG in tags(cell):
            continue
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                problems.append(f"{label(i, cell)} shows {out.get('ename')}: "
                                f"{out.get('evalue')} but is not tagged {RAISES_TAG!r}")
    return problems


def compared_fraction(nb: Notebook) -> tuple[int, int]:
    """(compared, total) over the code cells that have output."""
    with_output = [cell for _, cell in code_cells(nb) if cell.get("outputs")]
    compared = [cell for cell in with_output if not output_ignored(cell)]
    return len(compared), len(with_output)


def check_mostly_compared(nb: Notebook) -> list[str]:
    """At least MIN_COMPARED of the code cells with output are compared by nbval."""
    compared, total = compared_fraction(nb)
    if total and compared < MIN_COMPARED * total:
        return [f"only {compared} of {total} code cells with output are compared by nbval "
                f"(at least {MIN_COMPARED:.0%} must be): print stable values instead of "
                "ignoring output"]
    return []


def check_ignored_cells_are_followed_by_code(nb: Notebook) -> list[str]:
    """A cell whose output is ignored is directly followed by a code cell (the asserting one)."""
    cells = nb.get("cells", [])
    problems = []
    for i, cell in code_cells(nb):
        if not output_ignored(cell):
            continue
        following = cells[i + 1] if i + 1 < len(cells) else None
        if following is None or following.get("cell_type") != "code":
            problems.append(f"{label(i, cell)} ignores its output but is not followed by a code "
                            "cell that asserts the invariant and prints something stable")
    return problems


def check_no_raises_exception_comment(nb: Notebook) -> list[str]:
    """Expected errors use the ``raises-exception`` tag, not nbval's comment."""
    return [f"{label(i, cell)} uses # NBVAL_RAISES_EXCEPTION: tag the cell "
            f"{RAISES_TAG!r} instead (JupyterLab and nbclient honour the tag)"
            for i, cell in code_cells(nb) if "NBVAL_RAISES_EXCEPTION" in comments(cell)]


ALL_CHECKS = (
    check_execution_counts,
    check_all_executed,
    check_errors_only_where_expected,
    check_mostly_compared,
    check_ignored_cells_are_followed_by_code,
    check_no_raises_exception_comment,
)


def all_problems(nb: Notebook) -> list[str]:
    return [problem for check in ALL_CHECKS for problem in check(nb)]
