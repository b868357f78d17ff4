"""Contract of pool.widgets.Dashboard, driven headless: controls, run(), report, picture."""

from __future__ import annotations

import io
import itertools
import re
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("matplotlib")
pytest.importorskip("ipywidgets")

import matplotlib

matplotlib.use("Agg")

import PIL.Image
from matplotlib.collections import PolyCollection

from pool import Job, Status, WorkerPool
from pool.widgets import Dashboard, Scenario, drive, scenario_process

pytestmark = pytest.mark.needs_notebook_deps

JOIN = 5.0
PNG = b"\x89PNG\r\n\x1a\n"
# A short scenario, for tests where the defaults' timing is not the point.
# A timeout far above the work (unless a test is about the timeout), so a busy machine
# cannot turn a slow job into a cancelled one.
QUICK: dict[str, Any] = {"workers": 2, "jobs": 4, "duration": 0.05, "shutdown_timeout": 5.0}
# One job hangs: shutdown waits 0.2 s, cancels the pool, gives up 0.1 s later.
HUNG: dict[str, Any] = {**QUICK, "hang": True, "shutdown_timeout": 0.2}


@pytest.fixture
def make() -> Iterator[Callable[..., Dashboard]]:
    """``make(**settings)`` builds a Dashboard; teardown closes it and joins its pools' threads."""
    made: list[Dashboard] = []
    pools: list[WorkerPool] = []

    def build(**settings: Any) -> Dashboard:
        dash = Dashboard(**settings)
        made.append(dash)
        original = dash.run

        def run() -> Any:  # remember every pool the dashboard ran, to join its threads
            try:
                return original()
            finally:
                if dash.last_pool is not None and dash.last_pool not in pools:
                    pools.append(dash.last_pool)

        dash.run = run  # type: ignore[method-assign]
        return dash

    yield build
    for dash in made:
        dash.close()
    for pool in pools:
        for thread in pool.threads():
            thread.join(JOIN)
    leaked = [t.name for pool in pools for t in pool.threads() if t.is_alive()]
    assert not leaked, f"worker threads still running at teardown: {leaked}"


def worker_thread(pool: WorkerPool, worker_id: int | None) -> threading.Thread:
    (thread,) = [t for t in pool.threads() if t.name == f"pool-worker-{worker_id}"]
    return thread


def bars(dash: Dashboard) -> dict[str, PolyCollection]:
    """The picture's non-empty bar collections, by legend label."""
    assert dash.view is not None
    return {str(c.get_label()): c for c in dash.view.ax.collections
            if isinstance(c, PolyCollection) and len(c.get_paths())}


def right_end(collection: PolyCollection) -> float:
    return max(x for path in collection.get_paths() for x, _ in path.vertices)


def visible_markers(dash: Dashboard) -> dict[str, float]:
    assert dash.view is not None
    return {str(line.get_label()): float(line.get_xdata()[0])  # type: ignore[index]
            for line in dash.view.ax.lines
            if line.get_visible() and str(line.get_label()).startswith("shutdown")}


# -- controls and repr ----------------------------------------------------------------


def test_controls_are_attributes_holding_the_settings(make: Callable[..., Dashboard]) -> None:
    dash = make(workers=4, jobs=10, duration=0.5, failure_rate=0.25, hang=True,
                shutdown_timeout=2.0, drain=False)
    assert (dash.workers.value, dash.jobs.value, dash.duration.value) == (4, 10, 0.5)
    assert (dash.failure_rate.value, dash.hang.value) == (0.25, True)
    assert (dash.shutdown_timeout.value, dash.drain.value) == (2.0, False)
    assert dash.run_button.description == "Run"
    assert "Release" in dash.release_button.description


def test_scenario_reads_the_controls_as_they_are_now(make: Callable[..., Dashboard]) -> None:
    dash = make()
    dash.workers.value = 5
    dash.hang.value = True
    assert dash.scenario() == Scenario(workers=5, hang=True)


def test_repr_of_the_defaults_is_stable(make: Callable[..., Dashboard]) -> None:
    assert repr(make()) == ("Dashboard(workers=3, jobs=8, duration=0.3, failure_rate=0.0, "
                            "hang=False, shutdown_timeout=1.0, drain=True)")


def test_repr_follows_the_controls_and_tidies_slider_arithmetic(
        make: Callable[..., Dashboard]) -> None:
    dash = make()
    dash.duration.value = 0.1 + 0.2  # 0.30000000000000004
    dash.hang.value = True
    assert repr(dash) == ("Dashboard(workers=3, jobs=8, duration=0.3, failure_rate=0.0, "
                          "hang=True, shutdown_timeout=1.0, drain=True)")


def test_repr_has_no_timestamps_or_ids_after_a_run(make: Callable[..., Dashboard]) -> None:
    dash = make(**QUICK)
    before = repr(dash)
    dash.run()
    assert repr(dash) == before
    assert not re.search(r"0x[0-9a-f]+|[0-9a-f]{32}", before)


def test_notebook_text_output_is_the_repr(make: Callable[..., Dashboard]) -> None:
    dash = make()
    bundle = dash._repr_mimebundle_()
    assert bundle["text/plain"] == repr(dash)
    assert "application/vnd.jupyter.widget-view+json" in bundle


@pytest.mark.parametrize(("settings", "error", "name"), [
    pytest.param({"workers": 0}, ValueError, "workers", id="no-workers"),
    pytest.param({"jobs": "8"}, TypeError, "jobs", id="jobs-str"),
    pytest.param({"failure_rate": 1.5}, ValueError, "failure_rate", id="rate-above-1"),
    pytest.param({"duration": -1}, ValueError, "duration", id="negative-duration"),
    pytest.param({"hang": "yes"}, TypeError, "hang", id="hang-str"),
    pytest.param({"shutdown_timeout": float("inf")}, ValueError, "shutdown_timeout",
                 id="endless-timeout"),
])
def test_a_bad_setting_raises_naming_it(settings: dict[str, Any], error: type,
                                        name: str) -> None:
    with pytest.raises(error, match=name):
        Dashboard(**settings)


def test_replay_controls_are_disabled_until_a_run(make: Callable[..., Dashboard]) -> None:
    dash = make()
    assert dash.play.disabled and dash.replay.disabled
    assert dash.release_button.disabled


# -- running ----------------------------------------------------------------------------


@pytest.mark.timeout(30)
def test_run_with_the_defaults_returns_a_clean_report_and_keeps_it(
        make: Callable[..., Dashboard]) -> None:
    dash = make()
    report = dash.run()
    assert report.clean
    assert report.stats.succeeded == 8
    assert dash.last_report is report


@pytest.mark.timeout(30)
def test_the_run_button_runs_the_same_scenario(make: Callable[..., Dashboard]) -> None:
    dash = make(**QUICK)
    dash.run_button.click()
    assert dash.last_report is not None
    assert dash.last_report.stats.succeeded == 4
    assert not dash.run_button.disabled


@pytest.mark.timeout(30)
def test_the_same_jobs_fail_on_every_run(make: Callable[..., Dashboard]) -> None:
    dash = make(**{**QUICK, "jobs": 10, "failure_rate": 0.5})
    failed = []
    for _ in range(2):
        dash.run()
        assert dash.last_pool is not None
        failed.append({o.job_id for o in dash.last_pool.errors})
    assert failed[0] == failed[1] == dash.scenario().failing()
    assert 0 < len(failed[0]) < 10


@pytest.mark.parametrize(("rate", "failed"), [(0.0, 0), (1.0, 4)])
def test_failure_rate_zero_fails_none_and_one_fails_all(
        make: Callable[..., Dashboard], rate: float, failed: int) -> None:
    report = make(**{**QUICK, "failure_rate": rate}).run()
    assert report.stats.failed == failed


@pytest.mark.timeout(30)
def test_without_drain_queued_jobs_are_canceled_unrun(make: Callable[..., Dashboard]) -> None:
    report = make(**{**QUICK, "jobs": 8, "drain": False}).run()
    never_ran = [o for o in report.canceled if o.started_at is None]
    assert len(never_ran) >= 6  # 2 workers: at most 2 jobs had started
    assert report.stats.succeeded + report.stats.canceled == 8


@pytest.mark.timeout(30)
def test_a_hung_job_is_abandoned_and_its_thread_stays_alive(
        make: Callable[..., Dashboard]) -> None:
    dash = make(**HUNG)
    report = dash.run()
    (hung,) = report.abandoned
    assert hung.job_id == "1"
    assert not report.clean
    assert dash.last_pool is not None
    assert worker_thread(dash.last_pool, hung.worker_id).is_alive()
    assert not dash.release_button.disabled


@pytest.mark.timeout(30)
def test_the_report_counts_jobs_by_status(make: Callable[..., Dashboard]) -> None:
    dash = make(**{**QUICK, "jobs": 6, "failure_rate": 1.0})
    dash.run()
    assert "6 jobs: 0 succeeded, 6 failed, 0 timed out, 0 canceled, 0 abandoned" in (
        dash.report_view.value)


@pytest.mark.timeout(30)
def test_the_report_names_the_abandoned_job_its_worker_runtime_and_live_thread(
        make: Callable[..., Dashboard]) -> None:
    dash = make(**HUNG)
    (hung,) = dash.run().abandoned
    text = dash.report_view.value
    match = re.search(r"abandoned: job 1 on worker (\d) after running ([\d.]+) s; "
                      r"thread pool-worker-(\d) is still alive", text)
    assert match is not None, text
    assert int(match[1]) == int(match[3]) == hung.worker_id
    assert 0.25 <= float(match[2]) < 1.0  # timeout 0.2 + grace 0.1


@pytest.mark.timeout(30)
def test_release_lets_the_hung_thread_end_and_the_report_says_so(
        make: Callable[..., Dashboard]) -> None:
    dash = make(**HUNG)
    (hung,) = dash.run().abandoned
    assert dash.release() is True
    assert dash.last_pool is not None
    assert not worker_thread(dash.last_pool, hung.worker_id).is_alive()
    assert f"thread pool-worker-{hung.worker_id} has ended" in dash.report_view.value
    assert dash.release_button.disabled


@pytest.mark.timeout(30)
def test_the_release_button_releases_the_hung_job(make: Callable[..., Dashboard]) -> None:
    dash = make(**HUNG)
    (hung,) = dash.run().abandoned
    dash.release_button.click()
    assert dash.last_pool is not None
    assert not worker_thread(dash.last_pool, hung.worker_id).is_alive()


@pytest.mark.timeout(30)
def test_the_next_run_releases_a_job_left_hung(make: Callable[..., Dashboard]) -> None:
    dash = make(**HUNG)
    (hung,) = dash.run().abandoned
    first = dash.last_pool
    assert first is not None
    dash.run()
    assert not worker_thread(first, hung.worker_id).is_alive()


@pytest.mark.timeout(30)
def test_close_releases_the_hung_job_and_refuses_more_runs(
        make: Callable[..., Dashboard]) -> None:
    dash = make(**HUNG)
    (hung,) = dash.run().abandoned
    dash.close()
    assert dash.last_pool is not None
    assert not worker_thread(dash.last_pool, hung.worker_id).is_alive()
    with pytest.raises(RuntimeError, match="closed"):
        dash.run()


# -- the picture --------------------------------------------------------------------------


@pytest.mark.timeout(30)
def test_after_a_run_the_image_is_a_png_of_the_picture(make: Callable[..., Dashboard]) -> None:
    dash = make(**QUICK)
    assert dash.figure_png() == b""
    dash.run()
    png = dash.figure_png()
    assert png.startswith(PNG)
    assert dash.view is not None
    assert PIL.Image.open(io.BytesIO(png)).size == dash.view.canvas.get_width_height()


@pytest.mark.timeout(30)
def test_the_picture_has_one_lane_per_worker(make: Callable[..., Dashboard]) -> None:
    dash = make(**{**QUICK, "workers": 5})
    dash.run()
    assert dash.view is not None
    labels = [label.get_text() for label in dash.view.ax.get_yticklabels()]
    assert labels == [f"worker {i}" for i in range(1, 6)]


@pytest.mark.timeout(30)
def test_the_picture_shows_the_statuses_of_the_run(make: Callable[..., Dashboard]) -> None:
    dash = make(**{**HUNG, "jobs": 10, "failure_rate": 0.5})
    report = dash.run()
    assert dash.last_pool is not None
    ran = {o.status for o in dash.last_pool.outcomes if o.started_at is not None}
    labels = {Status.SUCCEEDED: "succeeded", Status.FAILED: "failed",
              Status.CANCELED: "canceled", Status.ABANDONED: "abandoned, still running"}
    assert set(bars(dash)) == {labels[status] for status in ran}
    assert report.abandoned  # so "abandoned, still running" is among them


@pytest.mark.timeout(30)
def test_the_hung_job_is_drawn_open_past_the_deadline_marker(
        make: Callable[..., Dashboard]) -> None:
    dash = make(**HUNG)
    dash.run()
    markers = visible_markers(dash)
    assert set(markers) == {"shutdown requested", "shutdown deadline"}
    hung = bars(dash)["abandoned, still running"]
    assert hung.get_hatch()
    assert right_end(hung) > markers["shutdown deadline"]
    assert markers["shutdown deadline"] == pytest.approx(markers["shutdown requested"] + 0.2,
                                                         abs=1e-6)


@pytest.mark.timeout(30)
def test_the_report_is_drawn_in_the_picture_too(make: Callable[..., Dashboard]) -> None:
    dash = make(**QUICK)
    dash.run()
    assert dash.view is not None
    assert "4 jobs: 4 succeeded" in dash.view.report.get_text()


@pytest.mark.timeout(30)
def test_the_timeline_updates_live_a_few_frames_a_second(
        make: Callable[..., Dashboard]) -> None:
    dash = make(jobs=12)  # 4 rounds of 0.3 s
    report = dash.run()
    assert 2 <= dash.live_frames <= report.elapsed / 0.25 + 1


@pytest.mark.timeout(30)
def test_every_frame_is_drawn_on_the_thread_that_called_run(
        make: Callable[..., Dashboard]) -> None:
    dash = make()
    painters: list[threading.Thread] = []
    dash.image.observe(lambda change: painters.append(threading.current_thread()),
                       names="value")
    dash.run()
    assert len(painters) >= 3  # the empty lanes, live frames, the final picture
    assert set(painters) == {threading.current_thread()}


@pytest.mark.timeout(30)
def test_replay_redraws_the_run_as_it_was_at_that_time(make: Callable[..., Dashboard]) -> None:
    dash = make(**HUNG)
    dash.run()
    final = dash.figure_png()
    assert not dash.replay.disabled and not dash.play.disabled
    assert dash.replay.value == dash.replay.max
    dash.replay.value = 0.0
    assert dash.figure_png() != final
    assert "abandoned, still running" not in bars(dash)  # at 0 s nothing had been abandoned
    dash.replay.value = dash.replay.max
    assert dash.figure_png() == final


@pytest.mark.timeout(30)
def test_play_steps_the_replay_slider(make: Callable[..., Dashboard]) -> None:
    dash = make(**QUICK)
    dash.run()
    dash.play.value = 2
    assert dash.replay.value == pytest.approx(2 * dash.replay.step)


@pytest.mark.timeout(30)
def test_save_png_writes_the_picture(make: Callable[..., Dashboard], tmp_path: Path) -> None:
    dash = make(**QUICK)
    dash.run()
    path = dash.save_png(tmp_path / "dashboard.png")
    assert path.read_bytes() == dash.figure_png()


@pytest.mark.timeout(30)
def test_save_png_at_a_higher_dpi_draws_a_bigger_picture(
        make: Callable[..., Dashboard], tmp_path: Path) -> None:
    dash = make(**QUICK, dpi=50)
    dash.run()
    shown = PIL.Image.open(io.BytesIO(dash.figure_png())).size
    path = dash.save_png(tmp_path / "big.png", dpi=100)
    with PIL.Image.open(path) as big:
        assert big.size == pytest.approx((shown[0] * 2, shown[1] * 2), abs=1)  # rounding
    dash.replay.value = 0.0  # and the live picture still draws afterwards
    assert dash.figure_png().startswith(PNG)


def test_save_png_before_a_run_raises(make: Callable[..., Dashboard], tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="run"):
        make().save_png(tmp_path / "nothing.png")


# -- drive: the loop under run() ------------------------------------------------------------


@pytest.mark.timeout(30)
def test_drive_draws_frames_on_its_own_thread_while_the_pool_runs() -> None:
    gate = threading.Event()
    scenario = Scenario(workers=2, jobs=4, duration=0.2)
    pool = WorkerPool(scenario_process(scenario, gate), 2)
    frames: list[tuple[float, threading.Thread]] = []
    report = drive(pool, [Job(i) for i in scenario.job_ids()], timeout=5,
                   on_frame=lambda t: frames.append((t, threading.current_thread())))
    assert report.clean and report.stats.succeeded == 4
    assert len(frames) >= 1
    assert {thread for _, thread in frames} == {threading.current_thread()}
    times = [t for t, _ in frames]
    assert all(later - earlier >= 0.2 for earlier, later in itertools.pairwise(times))


@pytest.mark.timeout(30)
def test_drive_raises_a_submit_error_after_shutting_the_pool_down() -> None:
    pool = WorkerPool(lambda job: None, 1)
    with pytest.raises(TypeError, match="job"):
        drive(pool, [Job("ok"), "not a job"], timeout=5)  # type: ignore[list-item]
    assert pool.report is not None and pool.report.stats.succeeded == 1
