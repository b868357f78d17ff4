"""A dashboard for the pool: set up a scenario, run it, watch each worker's timeline.

::

    from pool.widgets import Dashboard

    dash = Dashboard(workers=3, jobs=8, hang=True)
    dash                  # in JupyterLab: the controls, the Run button, the timeline
    report = dash.run()   # the same as pressing Run; works without a browser

How it is put together, and why:

- **One thread draws.** ``run()`` is called on the kernel's main thread (a
  cell, a button click, a test). A helper thread submits the jobs and calls
  :meth:`WorkerPool.shutdown`; meanwhile the calling thread draws frames
  itself, at most four a second, waiting between frames on an Event the
  helper sets when shutdown returns (see :func:`drive`). Worker threads run
  only the scenario's job function; they never touch a widget or print.
- **Frames are PNG images** put into an ``ipywidgets.Image``: JupyterLab
  shows them with no extra frontend extension, and a test can read the bytes.
- **Frames are cheap**, so the picture does not distort what it shows. The
  axes, legend and labels are drawn once; each frame restores that
  background and draws only the bars, markers and queue strip on it
  (matplotlib's blitting), a few milliseconds' work. Frames also share a
  CPU budget (:data:`FRAME_BUDGET`): with a big trace the frame rate drops
  rather than the pool slowing down (``python -m benchmarks.timeline``
  measures both).
- **A hung job is the dashboard's to release.** With ``hang`` set, job
  ``"1"`` waits on an Event the dashboard owns and ignores its context, so
  shutdown must abandon it. :meth:`Dashboard.release` (the "Release hung
  job" button), the next :meth:`Dashboard.run` and :meth:`Dashboard.close`
  set that Event, so its thread does not outlive the lesson.

This module, with :mod:`pool.timeline`, is the only part of ``pool`` that
needs matplotlib and ipywidgets.
"""

from __future__ import annotations

import html
import io
import math
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, Protocol, cast

import ipywidgets as widgets  # type: ignore[import-untyped]
import numpy as np
import PIL.Image
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from . import timeline as tl
from ._validate import check_int, check_probability, check_seconds, type_name
from .engines import ENGINE_POOLS, ENGINES, HANG_JOB, Run, Scenario, describe, start
from .job import Job, Status
from .trace import Trace
from .workerpool import ShutdownReport

__all__ = [
    "ENGINES",
    "FRAME_BUDGET",
    "FRAME_INTERVAL",
    "HANG_JOB",
    "Dashboard",
    "Scenario",
    "TimelineView",
    "describe",
    "drive",
    "scenario_process",
]

FRAME_INTERVAL = 0.25
"""The least time between two live frames: at most four frames a second."""

FRAME_BUDGET = 0.05
"""The most of one CPU the live frames may use; a costlier frame waits longer for the next."""

# -- the scenario (pool.engines), as a thread pool runs it -----------------------------


def scenario_process(scenario: Scenario, release: threading.Event) -> Callable[[Job], None]:
    """The job function of ``scenario``; the hung job (if any) waits for ``release``.

    Runs on worker threads: it touches nothing but its job and ``release``.
    """
    failing = scenario.failing()
    duration, hang = scenario.duration, scenario.hang

    def process(job: Job) -> None:
        if hang and job.id == HANG_JOB:
            release.wait()  # ignores job.ctx: shutdown can cancel it, but must abandon it
            return
        job.ctx.sleep(duration)  # raises Canceled at once if the pool is cancelled
        if job.id in failing:
            raise RuntimeError(f"simulated failure of job {job.id}")

    return process


# -- running a pool while drawing ------------------------------------------------


class Drivable(Protocol):
    """What :func:`drive` needs of a pool: any engine's pool, or an :class:`~pool.engines.Run`."""

    @property
    def trace(self) -> Trace: ...
    def submit(self, job: Job) -> object: ...
    def shutdown(self, timeout: float | None = None, *, drain: bool = True,
                 grace: float = 0.1) -> ShutdownReport: ...


def drive(
    pool: Drivable,
    jobs: Iterable[Job],
    *,
    timeout: float | None,
    drain: bool = True,
    grace: float = 0.1,
    on_frame: Callable[[float], object] | None = None,
    interval: float = FRAME_INTERVAL,
    budget: float = FRAME_BUDGET,
) -> ShutdownReport:
    """Submit ``jobs``, shut ``pool`` down, and call ``on_frame`` meanwhile; return the report.

    A helper thread submits the jobs (waiting while the pool's buffer is
    full), then calls ``pool.shutdown(timeout, drain=drain, grace=grace)``.
    Until that returns, this thread calls ``on_frame(t)`` (``t``: the pool's
    trace time) every ``interval`` seconds, the first one ``interval`` in
    (draw the start yourself). A frame may use at most ``budget`` of one CPU
    (``time.thread_time``): after a costly frame the next one waits longer,
    and as a frame's cost grows with the trace, so does the wait. Between
    frames this thread waits on an Event the helper sets: no polling, and
    no lingering once the pool is done. Call it from the thread that owns
    whatever ``on_frame`` draws on.

    An exception from a submit or the shutdown is raised here (the pool is
    shut down all the same); one from ``on_frame`` is raised at once, while
    the helper finishes the shutdown on its own.
    """
    check_seconds(interval, "interval")
    check_probability(budget, "budget")
    if budget == 0:
        raise ValueError("budget must be > 0")
    finished = threading.Event()
    outcome: list[ShutdownReport | BaseException] = []

    def submit_then_shut_down() -> None:
        error: BaseException | None = None
        try:
            for job in jobs:
                pool.submit(job)
        except BaseException as exc:  # still shut down, then hand it to the caller
            error = exc
        try:
            report = pool.shutdown(timeout, drain=drain, grace=grace)
            outcome.append(report if error is None else error)
        except BaseException as exc:
            outcome.append(exc if error is None else error)
        finally:
            finished.set()

    helper = threading.Thread(target=submit_then_shut_down, name="pool-dashboard-driver",
                              daemon=True)
    helper.start()
    if on_frame is not None:
        trace = pool.trace
        spent, drawn = 0.0, 0  # the last frame's CPU time, and how many events it drew
        last = time.monotonic()
        pause = interval
        while not finished.wait(pause):
            # The next frame costs about what the last did, plus the new events.
            size = len(trace)
            expected = spent + _COST_PER_EVENT * max(size - drawn, 0)
            due = last + max(interval, expected / budget)
            now = time.monotonic()
            if due > now + 1e-3:
                pause = due - now
                continue
            spent = time.thread_time()
            on_frame(trace.now())
            spent = time.thread_time() - spent
            drawn = size
            last = time.monotonic()
            pause = interval
    finished.wait()
    helper.join()
    result = outcome[0]
    if isinstance(result, BaseException):
        raise result
    return result


# About what each traced event adds to a timeline frame's cost (snapshot and
# drawing). A small trace draws at once; a full one of 40,000 events (the
# pool's default) waits 4 s for its first frame (0.2 s of work at FRAME_BUDGET).
_COST_PER_EVENT = 5e-6


# -- the picture ---------------------------------------------------------------


class TimelineView:
    """A pool's timeline as PNG frames for an ``ipywidgets.Image``: the dashboard's picture.

    One figure: a title, the queue-depth strip, one lane per worker (ids
    ``1..workers``), a full legend and a report text. The x axis runs from 0
    to ``right`` seconds and widens if a frame needs more; the strip's y
    axis to ``most_queued`` jobs.

    The axes, ticks, legend and texts are the static part, drawn once (and
    again only when the x range or the report changes). The bars, markers,
    queue and clock are a fixed set of animated artists: a frame updates
    their data, restores the static background and draws just them on it
    (matplotlib's blitting), so it costs a few milliseconds. Use it from one
    thread.
    """

    WIDTH = 9.0  # inches
    LEFT, RIGHT = 0.95, 2.25  # margins for the lane labels and the legend
    TOP, STRIP, GAP, LANE, AXIS, REPORT = 0.35, 0.5, 0.1, 0.32, 0.55, 0.75

    def __init__(self, workers: int, *, right: float, most_queued: int, title: str = "",
                 dpi: float = 80.0, image: Any = None) -> None:
        check_int(workers, "workers", minimum=1)
        self.lanes = tuple(range(1, workers + 1))
        self.image = image
        """The ``ipywidgets.Image`` each frame goes to, if any."""
        self.frames = 0
        """How many frames :meth:`show` has drawn."""
        lanes_height = self.LANE * len(self.lanes)
        height = self.TOP + self.STRIP + self.GAP + lanes_height + self.AXIS + self.REPORT
        self.figure = Figure(figsize=(self.WIDTH, height), dpi=dpi)
        """The matplotlib figure (not a pyplot one: nothing shows it by itself)."""
        self.canvas = FigureCanvasAgg(self.figure)

        def rect(bottom: float, h: float) -> tuple[float, float, float, float]:
            width = self.WIDTH - self.LEFT - self.RIGHT
            return (self.LEFT / self.WIDTH, bottom / height, width / self.WIDTH, h / height)

        lanes_bottom = self.REPORT + self.AXIS
        self.ax = self.figure.add_axes(rect(lanes_bottom, lanes_height))
        self.strip = self.figure.add_axes(rect(lanes_bottom + lanes_height + self.GAP,
                                               self.STRIP))
        self.figure.text(0.01, 1 - 0.1 / height, title, va="top", fontsize="medium")
        self.clock = self.figure.text((self.WIDTH - self.RIGHT + 0.1) / self.WIDTH,
                                      (lanes_bottom + lanes_height + self.GAP + self.STRIP / 2)
                                      / height, "", va="center", fontsize="medium",
                                      animated=True)
        self.report = self.figure.text(0.01, (self.REPORT - 0.1) / height, "", va="top",
                                       family="monospace", fontsize="small")
        self.right = right
        self.most_queued = most_queued
        self.origin = 0.0
        """The trace time drawn at x = 0 (the dashboard sets its run's first submit)."""
        self._background: Any = None
        # The animated artists, made by _draw_static (clearing the axes drops them).
        self._bars: dict[tuple[Status, bool], PolyCollection] = {}
        self._markers: dict[str, Line2D] = {}
        self._cursor: Line2D | None = None
        self._queue: PolyCollection | None = None

    def set_static(self, *, right: float | None = None, report: str | None = None) -> None:
        """Change the x range or the report text; the next frame redraws the background."""
        if right is not None and right != self.right:
            self.right = right
            self._background = None
        if report is not None and report != self.report.get_text():
            self.report.set_text(report)
            self._background = None

    def blank(self) -> bytes:
        """Draw the empty lanes at t = 0 (this draws the background the frames reuse)."""
        return self._put(self._frame(tl.Picture(self.lanes, (), 0.0, None, None, ()),
                                     "t = 0.00 s"))

    def show(self, source: Any, t: float) -> bytes:
        """Draw ``source`` as it was at trace time ``t``, into :attr:`image`; return the PNG.

        ``source`` is a pool of any engine (a ``WorkerPool``, a ``ProcessPool``,
        ...) or its trace.
        """
        picture = tl.shift(tl.snapshot(source, t), self.origin)
        png = self._put(self._frame(picture, f"t = {t - self.origin:.2f} s"))
        self.frames += 1
        return png

    def save(self, path: str | Path, dpi: float | None = None) -> None:
        """Write the last frame to ``path`` as PNG, at ``dpi`` (default: the view's)."""
        self.figure.savefig(path, format="png", dpi="figure" if dpi is None else dpi)
        self._background = None  # a save at another dpi leaves the canvas at that size

    def _put(self, png: bytes) -> bytes:
        if self.image is not None:
            self.image.value = png
        return png

    def _frame(self, picture: tl.Picture, clock: str) -> bytes:
        if picture.now > self.right:  # the run outlasted the guess: widen, by a lot
            self.set_static(right=picture.now * 1.5)
        if self._background is None:
            self._draw_static()
        else:
            self.canvas.restore_region(self._background)  # type: ignore[no-untyped-call]
        picture = picture._replace(lanes=self.lanes)
        verts = tl.bar_verts(picture)
        for kind, bars in self._bars.items():
            bars.set_verts(verts.get(kind, _NO_BARS))
            if kind in verts:
                self.ax.draw_artist(bars)
        for label, t in tl.marker_times(picture).items():
            line = self._markers[label]
            line.set_visible(t is not None)
            if t is not None:
                line.set_xdata([t, t])
                self.ax.draw_artist(line)
        assert self._cursor is not None and self._queue is not None
        self._cursor.set_xdata([picture.now, picture.now])
        self.ax.draw_artist(self._cursor)
        self._queue.set_verts([tl.queue_outline(picture)])
        self.strip.draw_artist(self._queue)
        self.clock.set_text(clock)
        self.figure.draw_artist(self.clock)
        return self._png()

    def _draw_static(self) -> None:
        ax, strip = self.ax, self.strip
        ax.clear()
        strip.clear()
        tl.setup_lanes(ax, self.lanes, self.right)
        tl.add_legend(ax, tl.all_kinds(), list(tl.MARKERS))
        tl.setup_queue_strip(strip, self.right, self.most_queued)
        self._bars = {}
        for kind in tl.all_kinds():
            bars = tl.new_bars(kind, _NO_BARS)
            bars.set_animated(True)
            ax.add_collection(bars, autolim=False)
            self._bars[kind] = bars
        self._markers = {}
        for label, style in tl.MARKERS.items():
            self._markers[label] = ax.axvline(0.0, color=style.color, linestyle=style.linestyle,
                                              linewidth=style.linewidth, label=label,
                                              animated=True)
        self._cursor = ax.axvline(0.0, color=CURSOR_COLOR, linewidth=0.8, label="now",
                                  animated=True)
        self._queue = PolyCollection([], facecolors=tl.QUEUE_COLOR, linewidths=0.0,
                                     animated=True)
        strip.add_collection(self._queue, autolim=False)
        # Drawing on screen (not saving) skips the animated artists.
        self.canvas.draw()  # type: ignore[no-untyped-call]
        bbox = self.figure.bbox
        self._background = self.canvas.copy_from_bbox(bbox)  # type: ignore[no-untyped-call]

    def _png(self) -> bytes:
        rgba = self.canvas.buffer_rgba()  # type: ignore[no-untyped-call]
        out = io.BytesIO()
        PIL.Image.fromarray(np.asarray(rgba)).save(out, format="png", compress_level=1)
        return out.getvalue()


CURSOR_COLOR = "0.4"
"""The grey line at ``now`` in the dashboard's picture."""

_NO_BARS = cast("Sequence[Any]", np.empty((0, 4, 2)))  # no rectangles


# -- the dashboard -----------------------------------------------------------------


_WIDE = {"description_width": "initial"}


class Dashboard:
    """Controls, a Run button, a live timeline and a report, for one :class:`Scenario`.

    The controls are ipywidgets, as attributes: ``workers``, ``jobs``,
    ``duration`` (seconds per job), ``failure_rate``, ``hang``,
    ``shutdown_timeout``, ``drain``, ``run_button``, ``release_button`` and,
    enabled after a run, the replay controls ``play`` and ``replay`` (a time
    slider). Set their ``.value`` and call :meth:`run`, or ``.click()`` a
    button: no browser needed. ``image`` holds the picture as PNG,
    ``report_view`` the report, ``status`` a one-line state; ``widget`` is
    all of it in one box. Make the dashboard a cell's value to show it.

    After a run: :attr:`last_report`, :attr:`last_pool`, :attr:`view` (the
    matplotlib figure and axes), :attr:`live_frames`. :meth:`release` lets a
    hung job go, :meth:`close` ends it all, :meth:`save_png` writes the
    picture.

    ``seed`` fixes which jobs fail; ``grace`` is shutdown's grace; ``dpi``
    the picture's resolution. Raises ``TypeError``/``ValueError`` for a bad
    argument, naming it. Use it from one thread (the notebook's).
    """

    def __init__(
        self,
        *,
        workers: int = 3,
        jobs: int = 8,
        duration: float = 0.3,
        failure_rate: float = 0.0,
        hang: bool = False,
        shutdown_timeout: float = 1.0,
        drain: bool = True,
        seed: int = 0,
        grace: float = 0.1,
        dpi: float = 80.0,
        engine: str = "threads",
    ) -> None:
        first = Scenario(workers, jobs, duration, failure_rate, hang, shutdown_timeout, drain,
                         seed, grace)  # checks every argument
        if engine not in ENGINES:
            raise ValueError(f"engine must be one of {', '.join(ENGINES)}, got {engine!r}")
        self.seed = seed
        self.grace = first.grace
        if isinstance(dpi, bool) or not isinstance(dpi, (int, float)):
            raise TypeError(f"dpi must be a number, got {type_name(dpi)}")
        if not (math.isfinite(dpi) and dpi > 0):
            raise ValueError(f"dpi must be a finite number > 0, got {dpi}")
        self.dpi = float(dpi)
        self.workers = widgets.IntSlider(value=workers, min=1, max=max(16, workers),
                                         description="workers", style=_WIDE)
        self.jobs = widgets.IntSlider(value=jobs, min=1, max=max(100, jobs),
                                      description="jobs", style=_WIDE)
        self.duration = widgets.FloatSlider(value=first.duration, min=0.0,
                                            max=max(2.0, first.duration), step=0.05,
                                            description="seconds per job", style=_WIDE)
        self.failure_rate = widgets.FloatSlider(value=first.failure_rate, min=0.0, max=1.0,
                                                step=0.05, description="failure rate",
                                                style=_WIDE)
        self.hang = widgets.Checkbox(value=hang, description=f"job {HANG_JOB} hangs",
                                     indent=False)
        self.shutdown_timeout = widgets.FloatSlider(
            value=first.shutdown_timeout, min=0.0, max=max(5.0, first.shutdown_timeout),
            step=0.1, description="shutdown timeout (s)", style=_WIDE)
        self.drain = widgets.Checkbox(value=drain, description="drain queued jobs",
                                      indent=False)
        self.engine = widgets.ToggleButtons(
            options=[("threads", "threads"), ("processes", "processes"),
                     ("asyncio", "asyncio"), ("Dask", "dask")],
            value=engine, description="engine", style=_WIDE,
            tooltips=["WorkerPool: a hung job is abandoned (a thread cannot be stopped)",
                      "ProcessPool: a hung job's worker process is killed",
                      "AsyncPool: a hung job's task is cancelled",
                      "DaskPool (a local cluster): a hung job's worker is killed by its nanny"])
        self.run_button = widgets.Button(description="Run", button_style="primary",
                                         icon="play")
        self.release_button = widgets.Button(description="Release hung job", disabled=True,
                                             tooltip="let the hung job return")
        self.play = widgets.Play(value=0, min=0, max=1, step=1, interval=100, disabled=True)
        self.replay = widgets.FloatSlider(value=0.0, min=0.0, max=1.0, step=0.05,
                                          description="replay (s)", disabled=True,
                                          readout_format=".2f", style=_WIDE)
        self.image = widgets.Image(format="png")
        self.status = widgets.HTML(value="Set up a scenario and press Run.")
        self.report_view = widgets.HTML(value="")
        wrap = widgets.Layout(flex_flow="row wrap", align_items="center")
        self.widget = widgets.VBox([
            self.engine,
            widgets.HBox([self.workers, self.jobs, self.duration], layout=wrap),
            widgets.HBox([self.failure_rate, self.shutdown_timeout], layout=wrap),
            widgets.HBox([self.hang, self.drain, self.run_button, self.release_button],
                         layout=wrap),
            self.status,
            self.image,
            widgets.HBox([self.play, self.replay], layout=wrap),
            self.report_view,
        ])
        """The whole dashboard, one ``VBox``: what a notebook cell displays."""
        self.run_button.on_click(self._on_run)
        self.release_button.on_click(self._on_release)
        self.play.observe(self._on_play, names="value")
        self.replay.observe(self._on_replay, names="value")

        self.last_report: ShutdownReport | None = None
        """The report of the last run, once one has finished."""
        self.last_pool: Any = None
        """The pool of the last run (its ``trace`` and ``outcomes``), of the engine it ran on."""
        self.last_run: Run | None = None
        """The last run (:class:`pool.engines.Run`): its ``engine``, ``pool`` and ``trace``."""
        self.live_frames = 0
        """How many live frames the last run drew (the final picture not counted)."""
        self._scenario: Scenario | None = None  # of the last run
        self.view: TimelineView | None = None
        """The picture of the last run (its ``figure`` and axes ``ax``, ``strip``)."""
        self._release_event: threading.Event | None = None
        self._hung: threading.Thread | None = None
        self._end = 0.0  # the last run's length, as drawn (from its first submit)
        self._running = False
        self._closed = False

    # -- what a run does ---------------------------------------------------------

    def scenario(self) -> Scenario:
        """The scenario the controls describe now (checked, as :class:`Scenario` checks)."""
        return Scenario(
            workers=int(self.workers.value),
            jobs=int(self.jobs.value),
            duration=_tidy(self.duration.value),
            failure_rate=_tidy(self.failure_rate.value),
            hang=bool(self.hang.value),
            shutdown_timeout=_tidy(self.shutdown_timeout.value),
            drain=bool(self.drain.value),
            seed=self.seed,
            grace=self.grace,
        )

    def run(self) -> ShutdownReport:
        """Run the scenario on a new pool of the chosen engine; draw it live; return the report.

        Call it from the thread that displays the dashboard (the Run button
        does). Takes about as long as the scenario (``Scenario.horizon()``),
        plus the engine's start-up: a moment for processes, 1-3 s for a Dask
        cluster.
        First releases a job left hung by the last run. The report is also
        kept as :attr:`last_report` and shown under the picture; afterwards
        ``play`` and ``replay`` step through the run. Raises
        ``RuntimeError`` if a run is in progress or the dashboard is closed.
        """
        if self._closed:
            raise RuntimeError("the dashboard is closed")
        if self._running:
            raise RuntimeError("a run is already in progress")
        scenario = self.scenario()
        engine = str(self.engine.value)
        self._release(1.0, redraw=False)
        self._running = True
        self.run_button.disabled = True
        self.release_button.disabled = True
        self.play.disabled = self.replay.disabled = True
        self.play.playing = False
        self.engine.disabled = True
        try:
            release = threading.Event()
            self._release_event, self._hung, self._scenario = release, None, scenario
            self.last_report, self.live_frames = None, 0
            view = TimelineView(scenario.workers, right=max(scenario.horizon() * 1.1, 0.5),
                                most_queued=scenario.jobs, title=_title(scenario, engine),
                                dpi=self.dpi, image=self.image)
            self.view = view
            # The empty lanes also draw the background the live frames reuse:
            # that cost is paid before the pool starts.
            view.blank()
            self.report_view.value = ""
            self.status.value = _STARTING.get(engine, "Running...")
            if self.last_run is not None:
                self.last_run.close()
            run = start(engine, scenario, release)
            self.last_run, self.last_pool = run, run.pool
            self.status.value = "Running..."
            view.origin = run.trace.now()  # the engine's start-up is not part of the picture
            report = drive(run, scenario.jobs_to_submit(), timeout=scenario.shutdown_timeout,
                           drain=scenario.drain, grace=scenario.grace,
                           on_frame=self._live_frame)
            self.last_report = report
            self._finish(run, report)
            return report
        finally:
            self._running = False
            self.run_button.disabled = self._closed
            self.engine.disabled = self._closed

    def _live_frame(self, t: float) -> None:
        assert self.last_pool is not None and self.view is not None
        self.view.show(self.last_pool, t)
        self.live_frames += 1

    def _finish(self, run: Run, report: ShutdownReport) -> None:
        assert self.view is not None
        pool = run.pool
        end = pool.trace.now()
        self._end = shown = end - self.view.origin
        self._hung = None
        if run.engine == "threads":  # only a thread outlives its abandoned job
            threads = {t.name: t for t in pool.threads()}
            hung = [threads[f"pool-worker-{o.worker_id}"] for o in report.abandoned]
            self._hung = next((t for t in hung if t.is_alive()), None)
        self.view.set_static(right=tl.extent(tl.shift(tl.snapshot(pool, end), self.view.origin)))
        step = 0.05 if shown <= 5.0 else shown / 100
        self.replay.step = step
        self.replay.max = shown
        self.play.max = max(math.ceil(shown / step), 1)
        self.replay.disabled = self.play.disabled = False
        self.release_button.disabled = self._hung is None
        self.replay.value = shown  # the observer draws nothing while a run is in progress
        # The final picture first, then the report and "Done.": whoever waits for those
        # (a person, a browser test) then sees the picture they describe.
        self._show_report(then=lambda: self._draw_at(shown))
        self.status.value = "Done. Press play, or drag the slider, to replay the run."

    def _show_report(self, then: Callable[[], object] | None = None) -> None:
        """Put the report into the picture, run ``then`` (a redraw), then show it as text."""
        if self.last_report is None or self.last_pool is None or self.view is None:
            return
        scenario = self._scenario
        assert self.last_run is not None
        text = describe(self.last_report, self.last_run,
                        None if scenario is None else scenario.shutdown_timeout)
        if self._hung is not None and self._hung.is_alive():
            text += "\n(Release hung job lets it return; the thread then ends.)"
        self.view.set_static(report=text)
        if then is not None:
            then()
        self.report_view.value = f"<pre>{html.escape(text)}</pre>"

    def _draw_at(self, t: float) -> None:
        if self.last_pool is None or self.view is None:
            return
        # t is the time shown (the replay slider's); the view wants trace time
        self.view.show(self.last_pool, self.view.origin + min(max(t, 0.0), self._end))

    # -- the hung job ----------------------------------------------------------

    def release(self, timeout: float = 1.0) -> bool:
        """Let the hung job of the last run return; wait up to ``timeout`` for its thread.

        Returns True when no worker thread of the last run is left hung.
        Safe to call at any time, any number of times.
        """
        check_seconds(timeout, "timeout")
        return self._release(timeout, redraw=True)

    def _release(self, timeout: float, *, redraw: bool) -> bool:
        if self._release_event is not None:
            self._release_event.set()
        hung = self._hung
        if hung is None:
            return True
        hung.join(timeout)
        if hung.is_alive():
            return False
        self._hung = None
        self.release_button.disabled = True
        if redraw and not self._running:
            self._show_report(then=lambda: self._draw_at(self.replay.value))
        return True

    def close(self) -> None:
        """Release a hung job, and close the widgets. The dashboard cannot run again."""
        self.release()
        if self.last_run is not None:
            self.last_run.close()
        self._closed = True
        self.play.playing = False
        for child in _all_widgets(self.widget):
            child.close()

    # -- pictures --------------------------------------------------------------

    def figure_png(self) -> bytes:
        """The picture as shown (timeline and report), as PNG bytes; empty before a run."""
        return bytes(self.image.value)

    def save_png(self, path: str | Path, dpi: float | None = None) -> Path:
        """Write the picture as shown (timeline and report) to ``path`` as PNG; return the path.

        With ``dpi``, the picture is drawn again at that resolution (say 150,
        for a README screenshot); otherwise the shown bytes are written.
        Raises ``RuntimeError`` before the first run.
        """
        data = self.figure_png()
        if not data or self.view is None:
            raise RuntimeError("nothing to save yet: run the dashboard first")
        target = Path(path)
        if dpi is None:
            target.write_bytes(data)
        else:
            self.view.save(target, dpi)
        return target

    # -- widget callbacks (main thread) ------------------------------------------

    def _on_run(self, _button: object) -> None:
        try:
            self.run()
        except Exception as exc:  # a button has no caller to raise to: show it
            self.status.value = f"<b>Run failed:</b> {html.escape(repr(exc))}"

    def _on_release(self, _button: object) -> None:
        if not self.release():
            self.status.value = "The hung job was released but its thread has not ended yet."

    def _on_play(self, change: dict[str, Any]) -> None:
        self.replay.value = min(change["new"] * self.replay.step, self.replay.max)

    def _on_replay(self, change: dict[str, Any]) -> None:
        if not self._running:
            self._draw_at(float(change["new"]))

    # -- display -----------------------------------------------------------------

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        bundle: dict[str, Any] = self.widget._repr_mimebundle_(**kwargs)
        bundle["text/plain"] = repr(self)
        return bundle

    def __repr__(self) -> str:
        s = self.scenario()
        text = (f"Dashboard(workers={s.workers}, jobs={s.jobs}, duration={s.duration!r}, "
                f"failure_rate={s.failure_rate!r}, hang={s.hang}, "
                f"shutdown_timeout={s.shutdown_timeout!r}, drain={s.drain}")
        if self.seed:
            text += f", seed={self.seed}"
        if self.engine.value != "threads":
            text += f", engine={self.engine.value!r}"
        return text + ")"


def _tidy(value: float) -> float:
    # Slider arithmetic gives 0.30000000000000004; the scenario and the repr want 0.3.
    return round(float(value), 6)


_STARTING = {"processes": "Starting worker processes...",
             "dask": "Starting a Dask cluster (1-3 s)..."}


def _title(s: Scenario, engine: str = "threads") -> str:
    parts = [f"{s.workers} worker{'s' if s.workers != 1 else ''}",
             f"{s.jobs} job{'s' if s.jobs != 1 else ''} of {s.duration:g} s"]
    if s.failure_rate:
        parts.append(f"failure rate {s.failure_rate:g}")
    if s.hang:
        parts.append(f"job {HANG_JOB} hangs")
    parts.append(f"shutdown timeout {s.shutdown_timeout:g} s"
                 + ("" if s.drain else ", no drain"))
    return f"{ENGINE_POOLS[engine]}: " + ", ".join(parts)


def _all_widgets(root: Any) -> list[Any]:
    found = [root]
    for child in getattr(root, "children", ()):
        found += _all_widgets(child)
    return found

