"""JupyterLab as a learner gets it (``make lab``, Binder): no news prompt, no update check.

``lab/overrides.json`` sets the defaults; ``make install`` copies it into
``.venv`` and ``binder/postBuild`` into the image's prefix. These tests ask a
real ``jupyter lab`` of this interpreter (no browser needed) for the settings
it serves, with an empty user settings folder, as a first start has.
"""

from __future__ import annotations

import json
import tempfile
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("jupyterlab")
from jupyterlab_harness import REPO, lab_server

pytestmark = [pytest.mark.needs_notebook_deps, pytest.mark.timeout(120)]

NOTIFICATION = "@jupyterlab/apputils-extension:notification"


@pytest.fixture(scope="module")
def notification_defaults() -> Iterator[dict[str, Any]]:
    with tempfile.TemporaryDirectory(prefix="lab-settings-") as tmp:
        base = Path(tmp)
        (base / "lab").mkdir()
        with lab_server(REPO, base / "lab", base / "server.log") as url, \
                urllib.request.urlopen(f"{url}lab/api/settings/{NOTIFICATION}",
                                       timeout=30) as response:
            served = json.load(response)
    yield {name: spec.get("default") for name, spec in served["schema"]["properties"].items()}


def test_lab_never_prompts_for_jupyter_news(notification_defaults: dict[str, Any]) -> None:
    assert notification_defaults["fetchNews"] == "false"


def test_lab_never_checks_for_updates(notification_defaults: dict[str, Any]) -> None:
    assert notification_defaults["checkForUpdates"] is False


def test_binder_installs_the_same_overrides() -> None:
    post_build = (REPO / "binder" / "postBuild").read_text(encoding="utf-8")
    assert "lab/overrides.json" in post_build
    assert "share/jupyter/lab/settings/overrides.json" in post_build
