"""pool.engines and the dashboard's engine selector: one scenario on threads, processes,
asyncio and Dask, each stopping the hung job its own way, and the report saying which.

The Dask runs start an embedded cluster each (2-3 s) and are marked slow.
"""

from __future__ import annotations

import multiprocessing
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("matplotlib")
pytest.importorskip("ipywidgets")

import matplotlib

matplotlib.use("Agg")

from pool import Status
from pool.engines import ENGINES, Run, Scenario, describe, payload, scenario_job, start
from pool.widgets import Dashboard, drive

pytestmark = [pytest.mark.needs_notebook_deps, pytest.mark.timeout(120)]

# One hung job among quick ones; shutdown gives up 0.3 + 0.1 s after the last submit.
HUNG = Scenario(workers=2, jobs=4, duration=0.05, hang=True, shutdown_timeout=0.3, seed=1)
# No hung job, half of them failing (the same ones on every engine: the seed decides).
FAILING = Scenario(workers=2, jobs=6, duration=0.02, failure_rate=0.5, shutdown_timeout=10.0,
                   seed=3)
ENGINE_PARAMS = [pytest.param(e, marks=pytest.mark.slow) if e == "dask" else e for e in ENGINES]
FATE = {
    "threads": "is still alive",
    "processes": "its worker process was killed",
    "asyncio": "its task was cancelled for real",
    "dask": "its Dask worker process was killed through its nanny",
}
HUNG_STATUS = {"threads": Status.ABANDONED, "processes": Status.ABANDONED,
               "asyncio": Status.CANCELED, "dask": Status.ABANDONED}


def run(engine: str, scenario: Scenario) -> tuple[Run, Any, threading.Event]:
    release = threading.Event()
    r = start(engine, scenario, release)
    report = drive(r, scenario.jobs_to_submit(), timeout=scenario.shutdown_timeout,
                   drain=scenario.drain, grace=scenario.grace)
    return r, report, release


@pytest.fixture
def runs() -> Iterator[list[tuple[Run, threading.Event]]]:
    """Runs a test made; released and closed at teardown, with no child process left."""
    made: list[tuple[Run, threading.Event]] = []
    yield made
    for r, release in made:
        release.set()
        r.close()
    deadline = time.monotonic() + 10
    while multiprocessing.active_children() and time.monotonic() < deadline:
        time.sleep(0.05)  # a killed worker is reaped by its pool's supervisor a moment later
    assert multiprocessing.active_children() == []


def run_kept(runs: list[tuple[Run, threading.Event]], engine: str,
             scenario: Scenario) -> tuple[Run, Any]:
    r, report, release = run(engine, scenario)
    runs.append((r, release))
    return r, report


def test_an_unknown_engine_is_a_value_error_naming_the_engines() -> None:
    with pytest.raises(ValueError, match="engine must be one of threads, processes"):
        start("goroutines", HUNG, threading.Event())


def test_the_dashboard_refuses_an_unknown_engine() -> None:
    with pytest.raises(ValueError, match="engine"):
        Dashboard(engine="fibers")


def test_a_payload_says_what_a_job_does() -> None:
    assert payload(0.25, fail=True) == b"0.25 1 0"


def test_a_scenario_job_fails_when_its_payload_says_so() -> None:
    from pool import Job

    with pytest.raises(RuntimeError, match="simulated failure of job x"):
        scenario_job(Job("x", payload(0.0, fail=True)))


@pytest.mark.parametrize("engine", ENGINE_PARAMS)
def test_every_engine_stops_the_hung_job_its_own_way(
        engine: str, runs: list[tuple[Run, threading.Event]]) -> None:
    r, report = run_kept(runs, engine, HUNG)
    hung = next(o for o in r.pool.outcomes if o.job_id == "1")
    assert hung.status is HUNG_STATUS[engine]
    assert not report.clean


@pytest.mark.parametrize("engine", ENGINE_PARAMS)
def test_the_report_says_what_the_engine_did_to_the_hung_job(
        engine: str, runs: list[tuple[Run, threading.Event]]) -> None:
    r, report = run_kept(runs, engine, HUNG)
    text = describe(report, r, HUNG.shutdown_timeout)
    assert "job 1 on worker" in text and FATE[engine] in text, text


@pytest.mark.parametrize("engine", ENGINE_PARAMS)
def test_every_engine_fails_the_same_jobs_and_keeps_the_ledger_rule(
        engine: str, runs: list[tuple[Run, threading.Event]]) -> None:
    r, report = run_kept(runs, engine, FAILING)
    failed = {o.job_id for o in r.pool.outcomes if o.status is Status.FAILED}
    assert failed == FAILING.failing() and failed
    s = report.stats
    assert s.submitted == FAILING.jobs == s.succeeded + s.failed
    assert report.clean


@pytest.mark.parametrize("engine", ["processes", "asyncio"])
def test_after_the_run_the_engine_has_nothing_left_running(
        engine: str, runs: list[tuple[Run, threading.Event]]) -> None:
    r, _ = run_kept(runs, engine, HUNG)
    if engine == "asyncio":
        assert all(t.done() for t in r.pool.tasks())
        assert not any(t.name == "pool-engine-loop" for t in threading.enumerate())
    else:
        assert r.pool.pids() == {}


def test_a_thread_run_leaves_the_hung_thread_until_released(
        runs: list[tuple[Run, threading.Event]]) -> None:
    r, report = run_kept(runs, "threads", HUNG)
    worker = report.abandoned[0].worker_id
    thread = next(t for t in r.pool.threads() if t.name == f"pool-worker-{worker}")
    assert thread.is_alive()
    r.close()  # sets the release Event the hung job waits on
    thread.join(5)
    assert not thread.is_alive()


def test_the_dashboard_runs_the_engine_its_selector_shows() -> None:
    dash = Dashboard(workers=2, jobs=3, duration=0.02, shutdown_timeout=5.0)
    try:
        assert dash.engine.value == "threads"
        dash.engine.value = "asyncio"
        report = dash.run()
        assert report.clean
        assert dash.last_run is not None and dash.last_run.engine == "asyncio"
        assert type(dash.last_pool).__name__ == "AsyncPool"
        assert "engine='asyncio'" in repr(dash)
    finally:
        dash.close()


def test_the_selector_is_locked_while_a_run_is_in_progress() -> None:
    dash = Dashboard(workers=1, jobs=2, duration=0.05, shutdown_timeout=5.0, engine="asyncio")
    seen: list[bool] = []
    original = dash._live_frame

    def frame(t: float) -> None:
        seen.append(bool(dash.engine.disabled))
        original(t)

    dash._live_frame = frame  # type: ignore[method-assign]
    try:
        dash.run()
        assert dash.engine.disabled is False
        assert all(seen)
    finally:
        dash.close()


def test_the_picture_title_names_the_engine_s_pool() -> None:
    dash = Dashboard(workers=1, jobs=1, duration=0.01, shutdown_timeout=5.0, engine="asyncio")
    try:
        dash.run()
        assert dash.view is not None
        titles = [t.get_text() for t in dash.view.figure.texts]
        assert any(t.startswith("AsyncPool: ") for t in titles), titles
    finally:
        dash.close()
