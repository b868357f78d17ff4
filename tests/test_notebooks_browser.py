"""Every notebook runs top to bottom in real JupyterLab, as a learner would run it.

Each notebook opens in its own workspace of one JupyterLab server, in headless
Chromium; "Run All Cells" must leave no error (outside cells tagged
``raises-exception``), no cell unrun and no widget showing "Error displaying
widget". A screenshot of each is kept (its folder is printed). Without
Chromium these tests skip, unless REQUIRE_BROWSER=1 (CI) makes that a failure.
The machinery is in ``jupyterlab_harness.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from jupyterlab_harness import REPO, Lab, running_lab

pytestmark = [pytest.mark.browser, pytest.mark.needs_notebook_deps]

NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))
NO_NOTEBOOKS = pytest.param(
    None, marks=pytest.mark.skip(reason="no .ipynb in notebooks/ yet"), id="no-notebooks")


@pytest.fixture(scope="module")
def lab(pytestconfig: pytest.Config) -> Iterator[Lab]:
    with running_lab() as lab:
        show(pytestconfig, f"JupyterLab screenshots: {lab.screenshot_dir}")
        yield lab


def show(config: pytest.Config, line: str) -> None:
    """Print ``line`` on the terminal now, past pytest's output capture."""
    capture = config.pluginmanager.get_plugin("capturemanager")
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if capture is None or reporter is None:
        print(line)
        return
    with capture.global_and_fixture_disabled():
        reporter.write_line(line)


@pytest.mark.timeout(300)
@pytest.mark.parametrize(
    "path", [pytest.param(p, id=p.stem) for p in NOTEBOOKS] or [NO_NOTEBOOKS])
def test_notebook_runs_all_cells_cleanly_in_jupyterlab(lab: Lab, path: Path) -> None:
    with lab.open(path.relative_to(REPO).as_posix()) as notebook:
        try:
            notebook.run_all()
        finally:
            print(f"screenshot: {notebook.screenshot()}")
        assert notebook.problems() == []
