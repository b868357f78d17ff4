"""Drive real JupyterLab in headless Chromium: open a notebook, run it, look at it.

Used by ``test_notebooks_browser.py``; any test can use it the same way::

    import pytest
    from jupyterlab_harness import running_lab

    pytestmark = [pytest.mark.browser, pytest.mark.needs_notebook_deps]

    @pytest.fixture(scope="module")
    def lab():
        with running_lab() as lab:   # skips (or fails under REQUIRE_BROWSER=1) without Chromium
            yield lab

    @pytest.mark.timeout(300)
    def test_dashboard_draws_a_timeline(lab):
        with lab.open("notebooks/09_production_pool.ipynb") as nb:
            nb.run_all()                        # clears outputs, runs every cell, waits (bounded)
            assert nb.problems() == []          # errors, unrun cells, broken widgets
            nb.click_button("Run")              # a widget button, by its exact text
            nb.wait_for_new_image(timeout=60)   # an <img> in an output that was not there before
            nb.screenshot("after-run")          # PNG in lab.screenshot_dir; returns its path

``running_lab(root_dir=REPO)`` starts ``jupyter lab`` of this interpreter on a
free 127.0.0.1 port, without token or password, with throw-away config, data,
runtime, settings and workspace folders (nothing leaks into ``~``), then a
headless Chromium (``/usr/bin/chromium``, or ``$BROWSER_EXECUTABLE``) through the
``playwright`` package (never ``playwright install``). ``lab.open(path)`` loads
the notebook (a path relative to ``root_dir``) in a workspace of its own and
waits for its kernel to be idle; leaving the ``with`` block shuts that kernel
down. Leaving ``running_lab`` closes the browser and stops the server (and its
kernels). Every wait is bounded and raises ``LabTimeout`` with what it saw.

Lab settings: ``windowingMode`` is ``"none"`` so every cell is in the page, not
only the visible ones; autosave is off, so a run never rewrites the notebook
file (nothing in the harness saves).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("BROWSER_EXECUTABLE", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage"]  # containers often have a 64 MB /dev/shm
SERVER_START_TIMEOUT = 60.0
KERNEL_READY_TIMEOUT = 60.0
RUN_ALL_TIMEOUT = float(os.environ.get("LAB_RUN_TIMEOUT", "120"))
WIDGET_SETTLE_TIMEOUT = 15.0
STOP_TIMEOUT = 15.0

# Settings written into the throw-away user settings folder: every cell in the page,
# never save a notebook behind the test's back. No news prompt or update check either,
# but from lab/overrides.json, which `make install` puts in .venv as for `make lab`
# (tests/test_lab_settings.py proves it): the tests see what a learner sees.
LAB_SETTINGS = {
    "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
    "@jupyterlab/docmanager-extension/plugin": {"autosave": False},
}


class LabTimeout(AssertionError):
    """A bounded wait in the browser ran out."""


def require_browser() -> None:
    """Skip when Chromium or playwright is missing; fail instead under REQUIRE_BROWSER=1."""
    missing = []
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        missing.append(f"no Chromium at {CHROMIUM}: `apt-get install chromium` "
                       "(or point BROWSER_EXECUTABLE at a Chromium/Chrome binary)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("the `playwright` package is not installed: `make install`")
    if not missing:
        return
    message = "browser tests need a browser: " + "; ".join(missing)
    if os.environ.get("REQUIRE_BROWSER") == "1":
        pytest.fail(message + " (REQUIRE_BROWSER=1 makes this an error)", pytrace=False)
    pytest.skip(message + " (REQUIRE_BROWSER=1 turns this skip into a failure)")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


# JavaScript run in the page. `find(path)` is the notebook panel showing `path`.
FIND = """
const find = (path) => {
  const app = window.jupyterapp;
  if (!app) return null;
  for (const w of app.shell.widgets('main')) {
    if (w.context && w.context.path === path && w.content && w.sessionContext) return w;
  }
  return null;
};
"""
JS_KERNEL_IDLE = FIND + """
const p = find(path);
if (!p || !p.context.isReady || !p.sessionContext.isReady) return false;
const kernel = p.sessionContext.session && p.sessionContext.session.kernel;
return !!kernel && kernel.status === 'idle';
"""
JS_RUN_ALL = FIND + """
const app = window.jupyterapp;
const p = find(path);
app.shell.activateById(p.id);
window.__harnessRun = {done: false, result: null, error: null};
const run = window.__harnessRun;
app.commands.execute('notebook:clear-all-cell-outputs')
  .then(() => app.commands.execute('notebook:run-all-cells'))
  .then(r => { run.result = r; }, e => { run.error = String(e); })
  .finally(() => { run.done = true; });
return true;
"""
# "Run all" settles as soon as one cell fails, even a cell tagged raises-exception, and then
# stops showing the later cells as queued although the kernel still runs them. So once it has
# settled, the run is over when every code cell has run, or else (cells after an untagged
# error are never run) when the kernel has stayed idle, with no further cell run, for
# RUN_QUIET_MS.
RUN_QUIET_MS = 2000
JS_RUN_FINISHED = FIND + """
const p = find(path);
const run = window.__harnessRun;
const kernel = p && p.sessionContext.session && p.sessionContext.session.kernel;
if (!run || !run.done || !kernel || kernel.status !== 'idle') {
  if (run) run.quietSince = null;
  return false;
}
const cells = p.content.model.cells;
let unrun = 0, ran = 0;
for (let i = 0; i < cells.length; i++) {
  const c = cells.get(i);
  if (c.type !== 'code') continue;
  if (c.executionCount == null) unrun++; else ran++;
}
if (unrun === 0) return true;
const now = Date.now();
if (run.quietSince == null || run.ran !== ran) {
  run.quietSince = now;
  run.ran = ran;
  return false;
}
return now - run.quietSince >= """ + str(RUN_QUIET_MS) + """;
"""
JS_STATE = FIND + """
const p = find(path);
const cells = p.content.model.cells;
const out = [];
for (let i = 0; i < cells.length; i++) {
  const c = cells.get(i);
  const tags = (c.getMetadata ? c.getMetadata('tags') : (c.metadata || {}).tags) || [];
  const outputs = [];
  if (c.type === 'code') {
    for (let j = 0; j < c.outputs.length; j++) {
      const o = c.outputs.get(j).toJSON();
      outputs.push({type: o.output_type, ename: o.ename || null, evalue: o.evalue || null});
    }
  }
  out.push({index: i, type: c.type, count: c.type === 'code' ? c.executionCount : null,
            tags: tags, source: c.sharedModel.getSource().split('\\n')[0].slice(0, 60),
            outputs: outputs});
}
const widgetErrors = [];
const loading = [];
p.content.widgets.forEach((cell, i) => {
  for (const node of cell.node.querySelectorAll('.jp-OutputArea-output')) {
    const text = node.textContent || '';
    if (text.includes('Error displaying widget')) {
      widgetErrors.push({index: i, text: text.slice(0, 200)});
    }
    if (text.includes('Loading widget...')) loading.push(i);
  }
});
const run = window.__harnessRun || null;
return {cells: out, widgetErrors: widgetErrors, loading: loading, run: run};
"""
JS_NO_WIDGET_LOADING = FIND + """
const p = find(path);
return ![...p.node.querySelectorAll('.jp-OutputArea-output')]
  .some(n => (n.textContent || '').includes('Loading widget...'));
"""
JS_MARK_IMAGES = FIND + """
const p = find(path);
for (const img of p.node.querySelectorAll('.jp-OutputArea-output img')) {
  img.dataset.harnessSeen = '1';
}
return true;
"""
JS_NEW_IMAGE = FIND + """
const p = find(path);
return [...p.node.querySelectorAll('.jp-OutputArea-output img')]
  .some(img => !img.dataset.harnessSeen && img.complete && img.naturalWidth > 0);
"""
JS_SHUTDOWN = FIND + """
const p = find(path);
if (p && p.sessionContext.session) await p.sessionContext.shutdown();
return true;
"""


def js(body: str) -> str:
    """Wrap a script body into a function of `path` for page.evaluate/wait_for_function."""
    return "async (path) => {\n" + body + "\n}" if "await " in body else \
        "(path) => {\n" + body + "\n}"


class OpenNotebook:
    """One notebook open in its own browser context and workspace (see the module doc)."""

    def __init__(self, lab: Lab, path: str, page: Any) -> None:
        self.lab = lab
        self.path = path
        self.page = page

    def _wait(self, script: str, timeout: float, what: str) -> None:
        from playwright.sync_api import TimeoutError as PlaywrightTimeout

        try:
            self.page.wait_for_function(js(script), arg=self.path, timeout=timeout * 1000,
                                        polling=100)
        except PlaywrightTimeout:
            shot = self.screenshot("timeout")
            raise LabTimeout(f"{self.path}: {what} not within {timeout} s "
                             f"(screenshot: {shot})") from None

    def wait_until_idle(self, timeout: float = KERNEL_READY_TIMEOUT) -> None:
        """Wait until the notebook is loaded and its kernel is idle."""
        self._wait(JS_KERNEL_IDLE, timeout, "kernel idle")

    def run_all(self, timeout: float = RUN_ALL_TIMEOUT) -> None:
        """Clear all outputs, run all cells, wait until the run ends and the kernel is idle,
        then (bounded) until no widget still shows "Loading widget..."."""
        self.wait_until_idle()
        self.page.evaluate(js(JS_RUN_ALL), self.path)
        self._wait(JS_RUN_FINISHED, timeout, "run all cells finished")
        self._wait(JS_NO_WIDGET_LOADING, WIDGET_SETTLE_TIMEOUT, "widgets rendered")

    def state(self) -> dict[str, Any]:
        """Cells (type, execution count, tags, first source line, outputs) and widget errors."""
        result: dict[str, Any] = self.page.evaluate(js(JS_STATE), self.path)
        return result

    def problems(self) -> list[str]:
        """What is wrong after a run: error outputs in cells not tagged raises-exception,
        code cells without an execution count, widgets showing "Error displaying widget"."""
        state = self.state()
        found = []
        run = state["run"] or {}
        if run.get("error"):
            found.append(f"run all cells failed: {run['error']}")
        for cell in state["cells"]:
            where = f"cell {cell['index']} ({cell['source']!r})"
            if cell["type"] != "code":
                continue
            if cell["count"] is None:
                found.append(f"{where} did not run")
            if "raises-exception" not in cell["tags"]:
                found += [f"{where} raised {o['ename']}: {o['evalue']}"
                          for o in cell["outputs"] if o["type"] == "error"]
        found += [f"cell {w['index']} shows {w['text']!r}" for w in state["widgetErrors"]]
        return found

    def screenshot(self, name: str = "") -> Path:
        """Save a PNG of the page in lab.screenshot_dir; return its path."""
        stem = Path(self.path).stem + (f"-{name}" if name else "")
        target = self.lab.screenshot_dir / f"{stem}.png"
        self.page.screenshot(path=str(target), timeout=30_000)
        return target

    def click_button(self, text: str, timeout: float = 30.0) -> None:
        """Click the first widget button in an output whose text is exactly ``text``.

        Images already in outputs count as seen for ``wait_for_new_image``."""
        self.page.evaluate(js(JS_MARK_IMAGES), self.path)
        # By text, not by accessible name: an icon font (ipywidgets' "fa fa-play")
        # adds a glyph to the accessible name but no text.
        button = self.page.locator(".jp-OutputArea-output button").filter(
            has_text=re.compile(rf"^\s*{re.escape(text)}\s*$")).first
        button.click(timeout=timeout * 1000)

    def wait_for_new_image(self, timeout: float = 60.0) -> None:
        """Wait until an output shows an image not there at the last ``click_button``."""
        self._wait(JS_NEW_IMAGE, timeout, "a new image in an output")


class Lab:
    """A running JupyterLab server and a headless Chromium connected to nothing yet."""

    def __init__(self, url: str, browser: Any, screenshot_dir: Path) -> None:
        self.url = url
        self.browser = browser
        self.screenshot_dir = screenshot_dir

    @contextmanager
    def open(self, path: str, workspace: str | None = None) -> Iterator[OpenNotebook]:
        """Open ``path`` (relative to the server's root) in workspace ``workspace``
        (default: the notebook's name), reset; wait for its kernel to be idle."""
        name = workspace or Path(path).stem
        context = self.browser.new_context(viewport={"width": 1400, "height": 1000})
        try:
            page = context.new_page()
            page.set_default_timeout(30_000)
            page.goto(f"{self.url}lab/workspaces/{name}/tree/{path}?reset",
                      wait_until="domcontentloaded", timeout=60_000)
            notebook = OpenNotebook(self, path, page)
            notebook.wait_until_idle()
            try:
                yield notebook
            finally:
                try:
                    page.evaluate(js(JS_SHUTDOWN), path)
                except Exception as exc:  # the kernel dies with the server anyway
                    print(f"could not shut down the kernel of {path}: {exc}")
        finally:
            context.close()


def _lab_command(port: int, root_dir: Path, base: Path) -> list[str]:
    command = [
        sys.executable, "-m", "jupyterlab",
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        "--IdentityProvider.token=",
        "--PasswordIdentityProvider.hashed_password=",
        f"--ServerApp.root_dir={root_dir}",
        "--LabApp.expose_app_in_browser=True",
        f"--LabApp.workspaces_dir={base / 'workspaces'}",
        f"--LabApp.user_settings_dir={base / 'settings'}",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--LabApp.extension_manager=readonly",
    ]
    if os.geteuid() == 0:
        command.append("--allow-root")
    return command


def _write_settings(settings_dir: Path) -> None:
    for plugin, values in LAB_SETTINGS.items():
        target = settings_dir / f"{plugin}.jupyterlab-settings"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(values), encoding="utf-8")


@contextmanager
def lab_server(root_dir: Path, base: Path, log_path: Path) -> Iterator[str]:
    """Run ``jupyter lab`` until the block ends, logging to ``log_path``; yield its URL."""
    for sub in ("config", "data", "runtime", "workspaces", "settings", "ipython"):
        (base / sub).mkdir()
    _write_settings(base / "settings")
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(base / "config"),
               JUPYTER_DATA_DIR=str(base / "data"), JUPYTER_RUNTIME_DIR=str(base / "runtime"),
               IPYTHONDIR=str(base / "ipython"), JUPYTER_PLATFORM_DIRS="0")
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(_lab_command(port, root_dir, base), cwd=root_dir, env=env,
                                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"jupyter lab exited with {proc.returncode}:\n"
                                   + log_path.read_text(errors="replace")[-3000:])
            try:
                with urllib.request.urlopen(url + "api/status", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"jupyter lab not up within {SERVER_START_TIMEOUT} s:\n"
                                   + log_path.read_text(errors="replace")[-3000:])
            time.sleep(0.2)  # polling a port: there is no event to wait on
        yield url
    finally:
        _stop(proc)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM (the server shuts its kernels down), then SIGKILL the group if it lingers."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(STOP_TIMEOUT)


@contextmanager
def running_lab(root_dir: Path = REPO) -> Iterator[Lab]:
    """JupyterLab serving ``root_dir`` plus a headless Chromium; see the module doc.

    Skips the calling test when no browser is available (fails under REQUIRE_BROWSER=1).
    Screenshots go to a fresh temporary folder (``lab.screenshot_dir``) that is kept,
    with the server's log (``jupyter-server.log``).
    """
    require_browser()
    from playwright.sync_api import sync_playwright

    base = Path(tempfile.mkdtemp(prefix="jupyterlab-harness-"))
    screenshot_dir = Path(tempfile.mkdtemp(prefix="lab-screenshots-"))
    try:
        with lab_server(root_dir, base, screenshot_dir / "jupyter-server.log") as url, \
                sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                                 args=CHROMIUM_ARGS, timeout=60_000)
            try:
                yield Lab(url, browser, screenshot_dir)
            finally:
                browser.close()
    finally:
        shutil.rmtree(base, ignore_errors=True)
