"""In JupyterLab, notebook 09's dashboard runs the hung-worker scenario and shows it.

Pressing Run (hung job on) must draw a new timeline image and a report that
names the abandoned job. Skips without Chromium unless REQUIRE_BROWSER=1.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from dashboard_browser import NOTEBOOK, run_dashboard_with_hung_worker
from jupyterlab_harness import Lab, running_lab

pytestmark = [pytest.mark.browser, pytest.mark.needs_notebook_deps]


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    with running_lab() as lab:
        yield lab


@pytest.mark.timeout(300)
def test_dashboard_run_with_hung_worker_shows_timeline_and_abandoned_job(lab: Lab) -> None:
    with lab.open(NOTEBOOK, workspace="dashboard-test") as notebook:
        dashboard = run_dashboard_with_hung_worker(notebook)
        text = dashboard.inner_text()
        assert "abandoned" in text
        assert "job 1" in text or "'1'" in text
        images = dashboard.locator("img")
        assert images.count() >= 1
        size = images.first.evaluate("img => [img.naturalWidth, img.naturalHeight]")
        assert size[0] > 200 and size[1] > 100, size
        print(f"screenshot: {notebook.screenshot('dashboard-after-run')}")
        notebook.click_button("Release hung job")
