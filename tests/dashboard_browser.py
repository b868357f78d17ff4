"""Notebook 09's dashboard in real JupyterLab: press Run with the hung worker on.

Shared by ``test_dashboard_browser.py`` and ``tools/dashboard_screenshot.py``
(which saves the README's picture), so the picture is what the test checked.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jupyterlab_harness import Lab, OpenNotebook

NOTEBOOK = "notebooks/09_production_pool.ipynb"
DASHBOARD = ".jp-OutputArea-output:has(button:text-is('Run'))"


def run_dashboard_with_hung_worker(notebook: OpenNotebook) -> Any:
    """Run all cells, press the dashboard's Run (its hung job is on after the notebook
    ran), wait for the new timeline image and the report; return the dashboard's element."""
    notebook.run_all()
    problems = notebook.problems()
    assert problems == [], problems
    dashboard = notebook.page.locator(DASHBOARD).first
    hang = dashboard.get_by_role("checkbox", name="job 1 hangs")
    assert hang.is_checked(), "notebook 09 leaves the dashboard's hung job on"
    image = dashboard.locator("img").first
    before = image.get_attribute("src")
    notebook.click_button("Run")
    # The dashboard redraws into the same <img>: wait for its picture to change,
    # then for the run to end (the status says "Done" and the report is back).
    image.evaluate("(img, before) => new Promise((resolve, reject) => {"
                   "  const end = Date.now() + 60000;"
                   "  const look = () => img.src !== before ? resolve(true)"
                   "    : Date.now() > end ? reject(new Error('timeline never redrawn'))"
                   "    : setTimeout(look, 100);"
                   "  look(); })", before)
    dashboard.get_by_text("Done.", exact=False).first.wait_for(timeout=60_000)
    dashboard.get_by_text("abandoned: job 1", exact=False).first.wait_for(timeout=60_000)
    return dashboard


def screenshot_dashboard(lab: Lab, target: Path) -> Path:
    """Open notebook 09, run the hung-worker scenario, save a PNG of the dashboard."""
    with lab.open(NOTEBOOK, workspace="dashboard") as notebook:
        dashboard = run_dashboard_with_hung_worker(notebook)
        dashboard.scroll_into_view_if_needed()
        dashboard.screenshot(path=str(target), timeout=30_000)
        notebook.click_button("Release hung job")
    return target
