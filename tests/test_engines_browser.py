"""In JupyterLab, notebook 13's dashboard runs the hung-job scenario on each engine its
selector offers, and the report says what that engine did to the hung job.

Skips without Chromium unless REQUIRE_BROWSER=1.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from jupyterlab_harness import Lab, running_lab

pytestmark = [pytest.mark.browser, pytest.mark.needs_notebook_deps]

NOTEBOOK = "notebooks/13_beyond_one_machine.ipynb"
DASHBOARD = ".jp-OutputArea-output:has(button:text-is('Run'))"
# The selector's labels, and what the report says each engine did to the hung job.
FATES = {
    "threads": "is still alive",
    "processes": "its worker process was killed",
    "asyncio": "its task was cancelled for real",
    "Dask": "killed through its nanny",
}


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    with running_lab() as lab:
        yield lab


@pytest.mark.timeout(600)
def test_the_engine_selector_runs_the_hung_job_on_every_engine(lab: Lab) -> None:
    with lab.open(NOTEBOOK, workspace="engines-test") as notebook:
        notebook.run_all()
        assert notebook.problems() == []
        dashboard = notebook.page.locator(DASHBOARD).first
        for label, fate in FATES.items():
            dashboard.locator(".widget-toggle-buttons button").filter(
                has_text=label).first.click()
            image = dashboard.locator("img").first
            before = image.get_attribute("src")
            notebook.click_button("Run")
            # The run ends when the report names what this engine did to the hung job;
            # the dashboard redraws into the same <img>, so its picture must have changed.
            dashboard.locator("pre").filter(has_text=fate).first.wait_for(timeout=120_000)
            text = dashboard.inner_text()
            assert "job 1 on worker" in text, (label, text)
            assert image.get_attribute("src") != before, label
        print(f"screenshot: {notebook.screenshot('engines-after-dask')}")
