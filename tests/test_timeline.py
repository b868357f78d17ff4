"""Contract of pool.timeline.plot_timeline: what the picture of a pool's run shows."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

pytest.importorskip("matplotlib")

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import PolyCollection
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure

from pool import Job, Span, Status, Trace, WorkerPool
from pool.timeline import COLORS, HATCH, plot_timeline, snapshot

pytestmark = pytest.mark.needs_notebook_deps

JOIN = 5.0
TERMINAL = [Status.SUCCEEDED, Status.FAILED, Status.TIMED_OUT, Status.CANCELED,
            Status.ABANDONED]
# Okabe & Ito (2008): the palette that stays distinct under colour blindness.
OKABE_ITO = {"#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7",
             "#000000"}


@pytest.fixture
def ax() -> Iterator[Axes]:
    """Axes on a figure of its own (not pyplot's), rendered by Agg."""
    figure = Figure(figsize=(8, 3))
    FigureCanvasAgg(figure)
    yield figure.add_subplot()


@pytest.fixture(autouse=True)
def _close_pyplot_figures() -> Iterator[None]:
    yield
    plt.close("all")


@pytest.fixture
def hung_pool(release: threading.Event) -> Iterator[WorkerPool]:
    """A pool, shut down with a 0.1 s timeout, whose job "hung" ignores its context.

    Three workers; "hung" blocks on ``release``, "quick" succeeds, "bad" fails.
    At teardown the job is released and every worker thread must end.
    """
    started = threading.Event()

    def process(job: Job) -> None:
        if job.id == "hung":
            started.set()
            release.wait()
        elif job.id == "bad":
            raise ValueError("bad job")

    pool = WorkerPool(process, 3)
    try:
        pool.submit(Job("hung"))
        assert started.wait(JOIN)
        pool.submit(Job("quick"))
        pool.submit(Job("bad"))
        pool.shutdown(timeout=0.1, grace=0.05)
        yield pool
    finally:
        release.set()
        for thread in pool.threads():
            thread.join(JOIN)
        assert not any(t.is_alive() for t in pool.threads())


def finished_pool(workers: int = 2, jobs: int = 4) -> WorkerPool:
    pool = WorkerPool(lambda job: None, workers)
    for i in range(jobs):
        pool.submit(Job(str(i)))
    pool.shutdown(timeout=5)
    return pool


def bars(ax: Axes) -> dict[str, PolyCollection]:
    """The bar collections on ``ax``, by legend label."""
    return {str(c.get_label()): c for c in ax.collections if isinstance(c, PolyCollection)}


def extent(collection: PolyCollection) -> tuple[float, float]:
    """The leftmost and rightmost x of every bar in ``collection``."""
    xs = [x for path in collection.get_paths() for x, _ in path.vertices]
    return min(xs), max(xs)


def markers(ax: Axes) -> dict[str, float]:
    """The vertical marker lines on ``ax``: label -> x."""
    return {str(line.get_label()): float(line.get_xdata()[0])  # type: ignore[index]
            for line in ax.lines}


def lane_labels(ax: Axes) -> list[str]:
    return [label.get_text() for label in ax.get_yticklabels()]


def test_each_status_is_one_collection_in_its_fixed_colour(ax: Axes) -> None:
    spans = [Span(1, f"{status.value}-{i}", float(i), i + 0.5, status)
             for status in TERMINAL for i in range(3)]
    plot_timeline(spans, ax, now=10.0)
    drawn = bars(ax)
    labels = {Status.SUCCEEDED: "succeeded", Status.FAILED: "failed",
              Status.TIMED_OUT: "timed out", Status.CANCELED: "canceled",
              Status.ABANDONED: "abandoned (returned late)"}
    assert set(drawn) == set(labels.values())
    for status, label in labels.items():
        collection = drawn[label]
        assert len(collection.get_paths()) == 3
        assert tuple(collection.get_facecolor()[0]) == to_rgba(COLORS[status])


def test_palette_gives_every_status_its_own_colour_blind_safe_colour() -> None:
    assert set(TERMINAL) | {Status.RUNNING} <= set(COLORS)
    colours = [COLORS[s].upper() for s in [*TERMINAL, Status.RUNNING]]
    assert len(set(colours)) == len(colours)
    assert set(colours) <= OKABE_ITO


def test_one_labelled_lane_per_worker_of_a_pool_even_idle_ones(ax: Axes) -> None:
    pool = finished_pool(workers=4, jobs=1)
    plot_timeline(pool, ax)
    assert lane_labels(ax) == ["worker 1", "worker 2", "worker 3", "worker 4"]


def test_lanes_of_a_trace_come_from_its_worker_start_events(ax: Axes) -> None:
    pool = finished_pool(workers=3, jobs=1)
    plot_timeline(pool.trace, ax)
    assert lane_labels(ax) == ["worker 1", "worker 2", "worker 3"]


def test_lanes_of_a_list_of_spans_are_the_workers_in_it(ax: Axes) -> None:
    spans = [Span(5, "a", 0.0, 1.0, Status.SUCCEEDED), Span(2, "b", 0.0, 1.0, Status.FAILED)]
    plot_timeline(spans, ax)
    assert lane_labels(ax) == ["worker 2", "worker 5"]


def test_a_running_job_is_hatched_up_to_now(ax: Axes) -> None:
    spans = [Span(1, "done", 0.0, 1.0, Status.SUCCEEDED), Span(2, "busy", 1.0, None,
                                                               Status.RUNNING)]
    plot_timeline(spans, ax, now=3.0)
    running = bars(ax)["running"]
    assert running.get_hatch() == HATCH
    assert extent(running) == (1.0, 3.0)
    assert bars(ax)["succeeded"].get_hatch() is None


def test_a_hung_job_is_drawn_abandoned_and_open_past_the_deadline_marker(
        ax: Axes, hung_pool: WorkerPool) -> None:
    plot_timeline(hung_pool, ax)
    lines = markers(ax)
    hung = bars(ax)["abandoned, still running"]
    assert hung.get_hatch() == HATCH
    assert extent(hung)[1] > lines["shutdown deadline"]
    assert tuple(hung.get_facecolor()[0])[:3] == to_rgba(COLORS[Status.ABANDONED])[:3]


def test_markers_show_when_shutdown_was_requested_and_its_timeout_passed(
        ax: Axes, hung_pool: WorkerPool) -> None:
    plot_timeline(hung_pool, ax)
    lines = markers(ax)
    requested = hung_pool.trace.first("shutdown_requested")
    assert requested is not None
    assert lines["shutdown requested"] == requested.t
    assert lines["shutdown deadline"] == pytest.approx(requested.t + 0.1, abs=1e-6)


def test_a_clean_shutdown_has_a_requested_marker_and_no_deadline_marker(ax: Axes) -> None:
    plot_timeline(finished_pool(), ax)
    assert set(markers(ax)) == {"shutdown requested"}


def test_a_list_of_spans_has_no_markers(ax: Axes) -> None:
    plot_timeline([Span(1, "a", 0.0, 1.0, Status.SUCCEEDED)], ax)
    assert markers(ax) == {}


def test_a_job_that_returned_after_being_abandoned_is_solid_abandoned(ax: Axes) -> None:
    plot_timeline([Span(1, "late", 0.0, 2.0, Status.ABANDONED)], ax)
    late = bars(ax)["abandoned (returned late)"]
    assert late.get_hatch() is None
    assert extent(late) == (0.0, 2.0)


def test_legend_names_the_statuses_and_markers_drawn(ax: Axes, hung_pool: WorkerPool) -> None:
    plot_timeline(hung_pool, ax)
    legend = ax.get_legend()
    assert legend is not None
    assert {t.get_text() for t in legend.get_texts()} == {
        "succeeded", "failed", "abandoned, still running", "shutdown requested",
        "shutdown deadline"}


def test_x_axis_is_seconds_since_the_pool_started(ax: Axes) -> None:
    pool = finished_pool()
    plot_timeline(pool, ax)
    assert ax.get_xlabel() == "seconds since the pool started"
    left, right = ax.get_xlim()
    assert left == 0.0
    assert right >= max(s.end or 0.0 for s in pool.trace.spans())


def test_ten_thousand_spans_make_a_handful_of_artists(ax: Axes) -> None:
    statuses = [*TERMINAL, Status.RUNNING]
    spans = [Span(i % 8 + 1, str(i), i * 0.001, None if i >= 9_990 else i * 0.001 + 0.0008,
                  statuses[i % len(statuses)]) for i in range(10_000)]
    plot_timeline(spans, ax)
    assert sum(len(c.get_paths()) for c in bars(ax).values()) == 10_000
    assert len(ax.collections) <= 7
    assert len(ax.get_children()) < 30
    ax.figure.canvas.draw()  # and it renders


def test_now_in_the_past_shows_the_run_as_it_was_then(ax: Axes) -> None:
    trace = Trace()
    origin = trace.origin
    trace.record("worker_start", 1, at=origin)
    trace.record("start", 1, "a", at=origin + 1.0)
    trace.record("end", 1, "a", Status.SUCCEEDED, at=origin + 3.0)
    trace.record("start", 1, "b", at=origin + 3.0)
    trace.record("end", 1, "b", Status.FAILED, at=origin + 4.0)
    plot_timeline(trace, ax, now=2.0)
    drawn = bars(ax)
    assert set(drawn) == {"running"}  # "a" had not ended at 2.0; "b" had not started
    assert extent(drawn["running"]) == pytest.approx((1.0, 2.0))


def test_default_now_of_a_finished_trace_is_its_last_event() -> None:
    pool = finished_pool()
    last = max(e.t for e in pool.trace.events())
    assert snapshot(pool).now == last


def test_queue_depth_strip_shows_how_many_jobs_waited(ax: Axes, release: threading.Event
                                                      ) -> None:
    started = threading.Event()

    def process(job: Job) -> None:
        started.set()
        release.wait()

    pool = WorkerPool(process, 1)
    try:
        pool.submit(Job("runs"))
        assert started.wait(JOIN)
        for i in range(3):
            pool.submit(Job(str(i)))  # wait behind it
        plot_timeline(pool, ax, queue_depth=True)
    finally:
        release.set()
        pool.shutdown(timeout=JOIN)
    (strip,) = ax.child_axes
    (area,) = strip.collections
    depths = [y for path in area.get_paths() for _, y in path.vertices]
    assert max(depths) == 3


def test_queue_depth_needs_a_pool_or_a_trace(ax: Axes) -> None:
    with pytest.raises(ValueError, match="queue_depth"):
        plot_timeline([Span(1, "a", 0.0, 1.0, Status.SUCCEEDED)], ax, queue_depth=True)


def test_without_ax_it_draws_on_a_new_pyplot_figure() -> None:
    ax = plot_timeline(finished_pool())
    assert isinstance(ax, Axes)
    assert plt.fignum_exists(ax.figure.number)  # type: ignore[union-attr]


def test_an_empty_source_draws_empty_lanes(ax: Axes) -> None:
    plot_timeline([], ax)
    assert bars(ax) == {}
    ax.figure.canvas.draw()


@pytest.mark.parametrize(("source", "error"), [
    pytest.param("spans", TypeError, id="str"),
    pytest.param(42, TypeError, id="int"),
    pytest.param([Span(1, "a", 0.0, 1.0, Status.SUCCEEDED), "b"], TypeError, id="not-a-span"),
])
def test_a_bad_source_raises_naming_source(ax: Axes, source: object, error: type) -> None:
    with pytest.raises(error, match="source"):
        plot_timeline(source, ax)  # type: ignore[arg-type]


@pytest.mark.parametrize(("now", "error"), [
    pytest.param("1", TypeError, id="str"),
    pytest.param(float("nan"), ValueError, id="nan"),
    pytest.param(float("inf"), ValueError, id="inf"),
])
def test_a_bad_now_raises_naming_now(ax: Axes, now: object, error: type) -> None:
    with pytest.raises(error, match="now"):
        plot_timeline([], ax, now=now)  # type: ignore[arg-type]


def test_a_bad_ax_raises_type_error_naming_ax() -> None:
    with pytest.raises(TypeError, match="ax"):
        plot_timeline([], ax="axes")  # type: ignore[arg-type]


def test_origin_is_drawn_at_zero_so_a_start_up_is_left_out(ax: Axes) -> None:
    spans = [Span(1, "a", 5.0, 6.0, Status.SUCCEEDED)]
    plot_timeline(spans, ax, origin=4.5)
    assert extent(bars(ax)["succeeded"]) == pytest.approx((0.5, 1.5))


@pytest.mark.parametrize(("origin", "error"), [("1", TypeError), (True, TypeError),
                                                (float("inf"), ValueError)])
def test_a_bad_origin_raises_naming_it(ax: Axes, origin: object, error: type) -> None:
    with pytest.raises(error, match="origin"):
        plot_timeline([], ax, origin=origin)  # type: ignore[arg-type]
