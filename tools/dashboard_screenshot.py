"""Save docs/dashboard.png: notebook 09's dashboard after a hung-worker run, in JupyterLab.

Run: ``.venv/bin/python tools/dashboard_screenshot.py`` (needs /usr/bin/chromium).
It drives the same steps as tests/test_dashboard_browser.py.
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from dashboard_browser import screenshot_dashboard  # noqa: E402
from jupyterlab_harness import running_lab  # noqa: E402


def main() -> int:
    target = REPO / "docs" / "dashboard.png"
    target.parent.mkdir(exist_ok=True)
    with running_lab() as lab:
        print(screenshot_dashboard(lab, target))
    return 0


if __name__ == "__main__":
    sys.exit(main())
