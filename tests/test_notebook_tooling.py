"""The notebook tooling itself: the committed-notebook rules, the nbval sanitisers,
``tools/run_notebooks.py`` (``make notebooks``) and nbval's strict replay.

It runs on the two sample notebooks in ``tests/fixtures/notebooks/`` (one
printing, with an expected error; one with widgets and a matplotlib figure), so
it needs no course notebook. Regenerate their outputs with
``.venv/bin/python tools/run_notebooks.py tests/fixtures/notebooks/*.ipynb``.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import notebook_rules as rules
import pytest

REPO = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "notebooks"
RUNNER = REPO / "tools" / "run_notebooks.py"
SANITIZE = Path(__file__).resolve().parent / "nbval_sanitize.cfg"
NBVAL = ["--nbval", "--nbval-current-env", "--nbval-cell-timeout=60",
         f"--nbval-sanitize-with={SANITIZE}"]
SUBPROCESS_BOUND = 120


def code(src: str, count: int | None, outputs: list[dict[str, Any]] | None = None,
         tags: list[str] | None = None) -> dict[str, Any]:
    return {"cell_type": "code", "execution_count": count, "id": f"c{count}",
            "metadata": {"tags": tags} if tags else {}, "outputs": outputs or [],
            "source": src}


def markdown(src: str) -> dict[str, Any]:
    return {"cell_type": "markdown", "id": "md", "metadata": {}, "source": src}


def stream(text: str) -> dict[str, Any]:
    return {"output_type": "stream", "name": "stdout", "text": text}


def error(ename: str) -> dict[str, Any]:
    return {"output_type": "error", "ename": ename, "evalue": "boom", "traceback": []}


def text(output: dict[str, Any]) -> str:
    """A stream output's text (a list of lines in a file, a string in memory)."""
    return "".join(output["text"])


def stdout(cell: dict[str, Any]) -> str:
    """Everything a code cell printed (a loaded kernel may add stderr noise; ignore it)."""
    return "".join(text(o) for o in cell["outputs"] if o.get("name") == "stdout")


def notebook(*cells: dict[str, Any]) -> dict[str, Any]:
    return {"cells": list(cells), "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


# The rules (tests/notebook_rules.py) --------------------------------------------------------

def test_fixture_notebooks_follow_every_rule() -> None:
    for path in sorted(FIXTURES.glob("*.ipynb")):
        assert rules.all_problems(rules.load(path)) == [], path.name


def test_count_rule_rejects_counts_out_of_order() -> None:
    nb = notebook(code("a = 1", 1), code("b = 2", 3))
    assert rules.check_execution_counts(nb)


def test_executed_rule_rejects_a_code_cell_without_a_count() -> None:
    nb = notebook(code("a = 1", 1), code("b = 2", None))
    assert rules.check_all_executed(nb)


def test_executed_rule_suggests_deleting_an_empty_code_cell() -> None:
    [problem] = rules.check_all_executed(notebook(code("", None)))
    assert "empty code cell" in problem


def test_error_rule_rejects_an_error_in_an_untagged_cell() -> None:
    nb = notebook(code("raise ValueError", 1, [error("ValueError")]))
    assert rules.check_errors_only_where_expected(nb)


def test_error_rule_accepts_an_error_in_a_cell_tagged_raises_exception() -> None:
    nb = notebook(code("raise ValueError", 1, [error("ValueError")], tags=["raises-exception"]))
    assert rules.check_errors_only_where_expected(nb) == []


def test_compared_rule_rejects_ignoring_more_than_40_percent_of_outputs() -> None:
    ignored = "# NBVAL_IGNORE_OUTPUT\nprint(t)"
    nb = notebook(code(ignored, 1, [stream("1")]), code(ignored, 2, [stream("2")]),
                  code("print(3)", 3, [stream("3")]))
    assert rules.check_mostly_compared(nb)


def test_compared_rule_accepts_exactly_60_percent() -> None:
    cells = [code("# NBVAL_IGNORE_OUTPUT\nt", i, [stream("t")]) for i in (1, 2)]
    cells += [code("print(1)", i, [stream("1")]) for i in (3, 4, 5)]
    assert rules.check_mostly_compared(notebook(*cells)) == []


def test_compared_rule_counts_the_ignore_tag_like_the_comment() -> None:
    nb = notebook(code("t", 1, [stream("t")], tags=["nbval-ignore-output"]),
                  code("print(1)", 2, [stream("1")]))
    assert rules.compared_fraction(nb) == (1, 2)


def test_follow_rule_rejects_an_ignored_cell_followed_by_markdown() -> None:
    nb = notebook(code("# NBVAL_IGNORE_OUTPUT\nt", 1, [stream("t")]), markdown("text"),
                  code("assert t", 2))
    assert rules.check_ignored_cells_are_followed_by_code(nb)


def test_follow_rule_rejects_an_ignored_cell_at_the_end() -> None:
    nb = notebook(code("# NBVAL_IGNORE_OUTPUT\nt", 1, [stream("t")]))
    assert rules.check_ignored_cells_are_followed_by_code(nb)


def test_comment_rule_rejects_the_nbval_raises_exception_comment() -> None:
    nb = notebook(code("# NBVAL_RAISES_EXCEPTION\nraise ValueError", 1, [error("ValueError")]))
    assert rules.check_no_raises_exception_comment(nb)


# The sanitisers (tests/nbval_sanitize.cfg) -------------------------------------------------

def sanitize(text: str) -> str:
    from nbval.plugin import get_sanitize_patterns  # the parser nbval itself uses

    for regex, replace in get_sanitize_patterns(SANITIZE.read_text(encoding="utf-8")):
        text = re.sub(regex, replace, text)
    return text


@pytest.mark.needs_notebook_deps
@pytest.mark.parametrize(("first", "second"), [
    ("Shutdown complete in 1.002 s", "Shutdown complete in 0.998 s"),
    ("each job took 0.503 s", "each job took 12.5 ms"),
    ("<object object at 0x7f407af4f320>", "<object object at 0x7fa1c2d3e4f0>"),
    ("main thread ident: 139914926463872", "main thread ident: 140233331377984"),
    ("<Thread(Thread-3 (worker), started daemon 139914926463872)>",
     "<Thread(Thread-12 (worker), started daemon 140233331377984)>"),
    ("INFO 2025-11-28 01:33:07,123 job 3 failed", "INFO 2025-12-01 17:02:59,999 job 3 failed"),
], ids=["seconds", "milliseconds", "address", "thread-ident", "thread-repr", "timestamp"])
def test_sanitizer_equates_what_legitimately_varies(first: str, second: str) -> None:
    assert sanitize(first) == sanitize(second)


@pytest.mark.needs_notebook_deps
@pytest.mark.parametrize(("first", "second"), [
    ("3 workers, 5 jobs", "3 workers, 6 jobs"),
    ("status: SUCCEEDED", "status: FAILED"),
    ("Worker 1 started job 2", "Worker 2 started job 1"),
    ("timeout=1", "timeout=2"),
], ids=["counts", "status", "ids", "integer-settings"])
def test_sanitizer_keeps_what_the_lesson_is_about(first: str, second: str) -> None:
    assert sanitize(first) != sanitize(second)


# The runner (tools/run_notebooks.py) -------------------------------------------------------

def run(cmd: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=SUBPROCESS_BOUND,
                          check=False)


def make_stale(path: Path) -> None:
    """Give a notebook the marks of an interactive session: shuffled counts, timestamps,
    widget state, no outputs."""
    nb = rules.load(path)
    nb["metadata"]["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
    for n, (_, cell) in enumerate(reversed(rules.code_cells(nb)), start=7):
        cell["execution_count"] = n
        cell["outputs"] = []
        cell["metadata"]["execution"] = {"iopub.status.idle": "2025-11-28T01:33:07.123456Z"}
    path.write_text(json.dumps(nb, indent=1), encoding="utf-8")


WHERE = "where.ipynb"


@pytest.fixture(scope="module")
def executed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """The fixture notebooks, made stale, then run by the runner: (folder, {name: notebook})."""
    folder = tmp_path_factory.mktemp("run")
    for path in FIXTURES.glob("*.ipynb"):
        shutil.copy(path, folder / path.name)
        make_stale(folder / path.name)
    (folder / WHERE).write_text(json.dumps(notebook(
        code("import os, sys\nprint(os.getcwd())\nprint(sys.executable)\n"
             "print(os.environ.get('PYTHONHASHSEED'))", None))), "utf-8")
    result = run([sys.executable, str(RUNNER), *sorted(map(str, folder.glob("*.ipynb")))], REPO)
    assert result.returncode == 0, result.stderr
    return folder, {p.name: rules.load(p) for p in folder.glob("*.ipynb")}


@pytest.mark.needs_notebook_deps
@pytest.mark.timeout(SUBPROCESS_BOUND)
def test_runner_numbers_code_cells_one_to_n(executed: tuple[Path, dict[str, Any]]) -> None:
    for name, nb in executed[1].items():
        counts = [cell["execution_count"] for _, cell in rules.code_cells(nb)]
        assert counts == list(range(1, len(counts) + 1)), name


@pytest.mark.needs_notebook_deps
@pytest.mark.timeout(SUBPROCESS_BOUND)
def test_runner_output_follows_every_notebook_rule(
        executed: tuple[Path, dict[str, Any]]) -> None:
    for name, nb in executed[1].items():
        assert rules.all_problems(nb) == [], name


@pytest.mark.needs_notebook_deps
@pytest.mark.timeout(SUBPROCESS_BOUND)
def test_runner_records_an_expected_error_and_runs_the_cells_after_it(
        executed: tuple[Path, dict[str, Any]]) -> None:
    cells = [cell for _, cell in rules.code_cells(executed[1]["01_print.ipynb"])]
    [raising] = [i for i, cell in enumerate(cells) if "raises-exception" in rules.tags(cell)]
    assert cells[raising]["outputs"][0]["ename"] == "ValueError"
    assert stdout(cells[raising + 1]) == "the notebook goes on after the expected error\n"


@pytest.mark.needs_notebook_deps
@pytest.mark.timeout(SUBPROCESS_BOUND)
def test_runner_keeps_cell_ids_sources_and_tags(executed: tuple[Path, dict[str, Any]]) -> None:
    fresh, original = executed[1]["01_print.ipynb"], rules.load(FIXTURES / "01_print.ipynb")

    def shape(nb: dict[str, Any]) -> list[tuple[str, str, list[str]]]:
        return [(c["id"], rules.source(c), rules.tags(c)) for c in nb["cells"]]
    assert shape(fresh) == shape(original)


@pytest.mark.needs_notebook_deps
@pytest.mark.timeout(SUBPROCESS_BOUND)
def test_runner_strips_execution_timestamps_and_widget_state(
        executed: tuple[Path, dict[str, Any]]) -> None:
    for name, nb in executed[1].items():
        assert "widgets" not in nb["metadata"], name
        assert all("execution" not in cell["metadata"] for cell in nb["cells"]), name


@pytest.mark.needs_notebook_deps
@pytest.mark.timeout(SUBPROCESS_BOUND)
def test_runner_sets_the_python3_kernelspec(executed: tuple[Path, dict[str, Any]]) -> None:
    for name, nb in executed[1].items():
        assert nb["metadata"]["kernelspec"]["name"] == "python3", name


@pytest.mark.needs_notebook_deps
@pytest.mark.timeout(SUBPROCESS_BOUND)
def test_runner_kernel_is_this_interpreter_in_the_notebook_folder(
        executed: tuple[Path, dict[str, Any]]) -> None:
    folder, notebooks = executed
    [cell] = [cell for _, cell in rules.code_cells(notebooks[WHERE])]
    cwd, executable, _ = stdout(cell).splitlines()
    assert Path(cwd) == folder.resolve()
    assert Path(executable) == Path(sys.executable)


@pytest.mark.needs_notebook_deps
@pytest.mark.timeout(SUBPROCESS_BOUND)
def test_runner_kernel_has_the_hash_seed_nbval_runs_with(
        executed: tuple[Path, dict[str, Any]]) -> None:
    [cell] = [cell for _, cell in rules.code_cells(executed[1][WHERE])]
    assert stdout(cell).splitlines()[2] == "0"


@pytest.mark.needs_notebook_deps
@pytest.mark.timeout(SUBPROCESS_BOUND)
def test_runner_leaves_a_failing_notebook_unchanged_and_exits_1(tmp_path: Path) -> None:
    path = tmp_path / "fails.ipynb"
    text = json.dumps(notebook(code("raise RuntimeError('not expected')", None)))
    path.write_text(text, encoding="utf-8")
    result = run([sys.executable, str(RUNNER), str(path)], REPO)
    assert (result.returncode, path.read_text(encoding="utf-8")) == (1, text)
    assert "RuntimeError" in result.stderr


# nbval in strict mode, with the sanitisers ----------------------------------------------------

CHANGED = "changed.ipynb"


@pytest.fixture(scope="module")
def nbval_results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str]]:
    """One strict nbval run over the committed fixtures plus a copy of 01_print.ipynb whose
    first output was edited: {notebook file: failure messages, one per failing cell}."""
    folder = tmp_path_factory.mktemp("nbval")
    for path in FIXTURES.glob("*.ipynb"):
        shutil.copy(path, folder / path.name)
    changed = rules.load(FIXTURES / "01_print.ipynb")
    rules.code_cells(changed)[0][1]["outputs"] = [stream("hello from somewhere else\n")]
    (folder / CHANGED).write_text(json.dumps(changed), encoding="utf-8")
    report = folder / "report.xml"
    run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *NBVAL,
         f"--junitxml={report}", str(folder)], folder)
    results: dict[str, list[str]] = {}
    for case in ElementTree.parse(report).iter("testcase"):
        notebook_file = case.get("classname", "").split(".ipynb")[0] + ".ipynb"
        failures = [f.get("message", "") + (f.text or "") for f in case.iter("failure")]
        results.setdefault(notebook_file, []).extend(failures)
    return results


@pytest.mark.slow
@pytest.mark.needs_notebook_deps
@pytest.mark.timeout(SUBPROCESS_BOUND)
def test_nbval_strict_passes_on_the_committed_fixture_notebooks(
        nbval_results: dict[str, list[str]]) -> None:
    for path in FIXTURES.glob("*.ipynb"):
        assert nbval_results[path.name] == [], path.name


@pytest.mark.slow
@pytest.mark.needs_notebook_deps
@pytest.mark.timeout(SUBPROCESS_BOUND)
def test_nbval_strict_fails_when_a_committed_output_differs(
        nbval_results: dict[str, list[str]]) -> None:
    [failure] = nbval_results[CHANGED]
    assert "hello from somewhere else" in failure
