"""Draw what a pool did: one lane per worker, one bar per job (matplotlib).

::

    from pool.timeline import plot_timeline

    with WorkerPool(process, workers=3) as p:
        ...
    plot_timeline(p)          # in a notebook: the picture of the run

Bars are coloured by how the job ended, with the Okabe-Ito palette, which
stays distinct under the common forms of colour blindness. A job still
running (a hung one too) is drawn hatched up to ``now``. Each kind of bar is
one ``PolyCollection``, however many jobs there are, so 10,000 jobs draw as
fast as ten (see ``benchmarks/timeline.py``).

This module, with :mod:`pool.widgets`, is the only part of ``pool`` that
needs matplotlib.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import Any, Literal, NamedTuple, cast

import numpy as np
from matplotlib.axes import Axes
from matplotlib.collections import PolyCollection
from matplotlib.colors import to_rgba
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator

from . import trace as ev
from ._validate import type_name
from .job import Status
from .trace import Event, Span, Trace, spans_from_events
from .workerpool import WorkerPool

__all__ = [
    "COLORS",
    "DEADLINE_STYLE",
    "HATCH",
    "MARKERS",
    "REQUESTED_STYLE",
    "LineStyle",
    "Picture",
    "draw",
    "plot_timeline",
    "snapshot",
]

COLORS: Mapping[Status, str] = MappingProxyType({
    Status.SUCCEEDED: "#009E73",  # bluish green
    Status.FAILED: "#D55E00",  # vermillion
    Status.TIMED_OUT: "#E69F00",  # orange
    Status.CANCELED: "#56B4E9",  # sky blue
    Status.ABANDONED: "#CC79A7",  # reddish purple
    Status.RUNNING: "#0072B2",  # blue: still running (drawn hatched)
})
"""The fixed colour of each status (Okabe-Ito, colour-blind safe)."""

HATCH = "///"
"""The hatching of a job still running at ``now`` (running, or abandoned and hung)."""


class LineStyle(NamedTuple):
    """How a vertical marker is drawn (black, told apart by its dashes, not its colour)."""

    color: str
    linestyle: Literal["-", "--", "-.", ":"]
    linewidth: float


REQUESTED_STYLE = LineStyle("black", "-", 1.5)
"""The vertical line at the moment shutdown was requested."""
DEADLINE_STYLE = LineStyle("black", "--", 1.5)
"""The vertical line at the shutdown deadline (the timeout), once it has passed."""

MARKERS: Mapping[str, LineStyle] = MappingProxyType({
    "shutdown requested": REQUESTED_STYLE,
    "shutdown deadline": DEADLINE_STYLE,
})
"""The vertical markers, by legend label."""

QUEUE_COLOR = "0.55"
"""The grey of the queue-depth strip."""

BAR_HEIGHT = 0.7
"""A bar's height in lanes."""

# What each legend entry says, in legend order: (status, still running?).
_KINDS: tuple[tuple[Status, bool, str], ...] = (
    (Status.SUCCEEDED, False, "succeeded"),
    (Status.FAILED, False, "failed"),
    (Status.TIMED_OUT, False, "timed out"),
    (Status.CANCELED, False, "canceled"),
    (Status.ABANDONED, False, "abandoned (returned late)"),
    (Status.ABANDONED, True, "abandoned, still running"),
    (Status.RUNNING, True, "running"),
)
_LABELS = {(status, running): label for status, running, label in _KINDS}
_OPEN_ALPHA = 0.3  # the fill under the hatching of an open bar


class Picture(NamedTuple):
    """What :func:`plot_timeline` draws, as of one moment (``now``, trace time)."""

    lanes: tuple[int, ...]
    """The worker ids, one lane each, top to bottom."""
    spans: tuple[Span, ...]
    """The jobs that had started by ``now``; ``end`` is ``None`` for those still running."""
    now: float
    requested: float | None
    """When shutdown was requested, if it had been by ``now``."""
    deadline: float | None
    """The shutdown deadline, if shutdown's timeout had passed (and been recorded) by ``now``."""
    queue: tuple[tuple[float, int], ...]
    """``(t, jobs waiting)`` steps up to ``now`` (empty for a list of spans)."""


def snapshot(source: WorkerPool | Trace | Iterable[Span], now: float | None = None) -> Picture:
    """The state of ``source`` at trace time ``now``: what :func:`plot_timeline` draws.

    Everything after ``now`` is left out: a job that ended later is shown
    still running at ``now``, one that started later is not shown, and a
    shutdown marker appears only once its moment has come. So drawing
    snapshots at increasing ``now`` replays a run.

    ``now`` defaults to the trace's current time while any job is still
    running (a hung job grows with the clock), and otherwise to the last
    thing that happened; for a list of spans, to the latest start or end.
    """
    now = _check_now(now)
    if isinstance(source, Trace):
        return _from_trace(source, now, ())
    if _is_pool(source):  # any engine: WorkerPool, ProcessPool, ...
        workers = getattr(source, "workers", 0)
        return _from_trace(source.trace, now,  # type: ignore[union-attr]
                           range(1, workers + 1) if isinstance(workers, int) else ())
    if isinstance(source, (str, bytes)) or not isinstance(source, Iterable):
        raise TypeError("source must be a pool, a Trace or a list of Span, "
                        f"got {type_name(source)}")
    spans = list(source)
    for s in spans:
        if not isinstance(s, Span):
            raise TypeError("source must be a pool, a Trace or a list of Span, "
                            f"got a {type_name(source)} holding {type_name(s)}")
    if now is None:
        now = max((s.start if s.end is None else max(s.start, s.end) for s in spans),
                  default=0.0)
    clipped = tuple(_clip(s, now) for s in spans if s.start <= now)
    lanes = tuple(sorted({s.worker_id for s in spans}))
    return Picture(lanes, clipped, now, None, None, ())


def shift(picture: Picture, by: float) -> Picture:
    """``picture`` with every time moved ``by`` seconds earlier: ``by`` is drawn at x = 0.

    The dashboard draws a run from its first submit, so that an engine's
    start-up (a Dask cluster's seconds) does not push the jobs off to the
    right. Events before ``by`` get negative times (outside the axes).
    """
    if not by:
        return picture
    spans = tuple(Span(s.worker_id, s.job_id, s.start - by, None if s.end is None else s.end - by,
                       s.status) for s in picture.spans)
    return Picture(picture.lanes, spans, picture.now - by,
                   None if picture.requested is None else picture.requested - by,
                   None if picture.deadline is None else picture.deadline - by,
                   tuple((t - by, n) for t, n in picture.queue))


def _is_pool(source: object) -> bool:
    # A pool of any engine: it has a Trace (WorkerPool, ProcessPool, ...).
    return isinstance(getattr(source, "trace", None), Trace)


def _check_now(now: object) -> float | None:
    if now is None:
        return None
    if isinstance(now, bool) or not isinstance(now, (int, float)):
        raise TypeError(f"now must be a number of seconds since the pool started, "
                        f"got {type_name(now)}")
    if not math.isfinite(now):
        raise ValueError(f"now must be a finite number of seconds, got {now}")
    return float(now)


def _clip(span: Span, now: float) -> Span:
    # A list of spans has no events: a job that ended after `now` was running then.
    if span.end is not None and span.end > now:
        return Span(span.worker_id, span.job_id, span.start, None, Status.RUNNING)
    return span


def _from_trace(trace: Trace, now: float | None, workers: Iterable[int]) -> Picture:
    events = trace.events()
    if now is None:
        last = max((e[0] for e in events), default=0.0)
        spans = spans_from_events(events)
        now = max(trace.now(), last) if any(s.end is None for s in spans) else last
    else:
        events = [e for e in events if e[0] <= now]
        spans = spans_from_events(events)
    lanes = set(workers)
    lanes.update(s.worker_id for s in spans)
    requested: Event | None = None
    passed: Event | None = None
    waiting: set[str] = set()  # queue depth, as Trace.queue_depth() counts it
    queue: list[tuple[float, int]] = []
    leave = (ev.START, ev.END, ev.WITHDRAWN)
    # One pass, unpacking each event (a named tuple's attributes are slower).
    for e in events:
        t, kind, worker_id, job_id, _, _ = e
        if job_id is not None:
            if kind == ev.QUEUED:
                waiting.add(job_id)
                queue.append((t, len(waiting)))
            elif kind in leave and job_id in waiting:
                waiting.discard(job_id)
                queue.append((t, len(waiting)))
        elif kind == ev.WORKER_START and worker_id is not None:
            lanes.add(worker_id)
        elif kind == ev.SHUTDOWN_REQUESTED and (requested is None or t < requested.t):
            requested = e
        elif kind == ev.SHUTDOWN_DEADLINE and (passed is None or t < passed.t):
            passed = e
    deadline: float | None = None
    if passed is not None:  # the timeout passed (by now): mark where it fell
        planned = None if requested is None else requested.detail
        deadline = passed.t if planned is None else planned
    return Picture(tuple(sorted(lanes)), tuple(spans), now,
                   None if requested is None else requested.t, deadline, tuple(queue))


def plot_timeline(
    source: WorkerPool | Trace | Iterable[Span],
    ax: Axes | None = None,
    now: float | None = None,
    *,
    queue_depth: bool = False,
    origin: float = 0.0,
) -> Axes:
    """Draw the jobs of ``source`` on ``ax``: one lane per worker, one bar per job.

    ``source`` is a pool of any engine (:class:`~pool.WorkerPool`,
    :class:`~pool.ProcessPool`, ...), its :class:`~pool.Trace`, or a list
    of :class:`~pool.Span`. Bars are coloured by status (:data:`COLORS`);
    jobs still running at ``now`` (hung ones too) are hatched up to ``now``.
    Solid and dashed vertical lines mark when shutdown was requested and when
    its timeout passed. The x axis is seconds since the pool started; the
    legend sits to the right of the axes.

    ``now`` (trace time, seconds) is the moment the picture shows; later
    events are left out (see :func:`snapshot` for the default). With
    ``queue_depth=True`` a small strip above the lanes shows how many jobs
    waited over time (needs a pool or a trace; it is ``ax.child_axes[0]``).

    ``origin`` (trace time) is drawn at x = 0: say, a dashboard run's first
    submit (``dash.view.origin``), so that an engine's start-up is left out.

    ``ax`` defaults to a new pyplot figure. Returns the axes. Raises
    ``TypeError``/``ValueError`` for a bad argument, naming it.
    """
    if ax is not None and not isinstance(ax, Axes):
        raise TypeError(f"ax must be a matplotlib Axes, got {type_name(ax)}")
    if not isinstance(queue_depth, bool):
        raise TypeError(f"queue_depth must be a bool, got {type_name(queue_depth)}")
    if queue_depth and not (isinstance(source, Trace) or _is_pool(source)):
        raise ValueError("queue_depth=True needs a pool or a Trace: "
                         "a list of spans does not say when jobs were queued")
    if isinstance(origin, bool) or not isinstance(origin, (int, float)):
        raise TypeError(f"origin must be a number of seconds, got {type_name(origin)}")
    if not math.isfinite(origin):
        raise ValueError(f"origin must be a finite number of seconds, got {origin}")
    picture = shift(snapshot(source, now), float(origin))
    if ax is None:
        import matplotlib.pyplot as plt  # only here: a figure of our own, shown inline

        height = 1.2 + 0.35 * max(len(picture.lanes), 1) + (0.6 if queue_depth else 0.0)
        _, ax = plt.subplots(figsize=(9.0, height), layout="constrained")
    draw(picture, ax, queue_depth=queue_depth)
    return ax


def draw(picture: Picture, ax: Axes, *, queue_depth: bool = False) -> None:
    """Draw a :class:`Picture` on ``ax``: :func:`plot_timeline` after :func:`snapshot`."""
    right = extent(picture)
    setup_lanes(ax, picture.lanes, right)
    draw_jobs(ax, picture)
    markers = draw_markers(ax, picture)
    add_legend(ax, kinds_of(picture), [str(line.get_label()) for line in markers])
    if queue_depth:
        strip = ax.inset_axes((0.0, 1.04, 1.0, 0.22), sharex=ax)
        setup_queue_strip(strip, right, max((d for _, d in picture.queue), default=0))
        draw_queue(strip, picture)


# -- the building blocks (pool.widgets draws live frames with them) ---------------


def extent(picture: Picture) -> float:
    """The right end of the x axis that shows everything in ``picture``."""
    right = picture.now
    for t in (picture.requested, picture.deadline):
        if t is not None:
            right = max(right, t)
    for s in picture.spans:  # a hand-made span may end after `now`
        if s.end is not None:
            right = max(right, s.end)
    return right * 1.02 if right > 0 else 1.0


def setup_lanes(ax: Axes, lanes: Sequence[int], right: float) -> None:
    """Lay out ``ax``: one lane per worker (worker 1 on top), seconds from 0 to ``right``."""
    ax.set_xlim(0.0, right)
    ax.set_ylim(max(len(lanes), 1) - 0.5, -0.5)  # worker 1 on top
    ax.set_yticks(range(len(lanes)), [f"worker {w}" for w in lanes])
    ax.set_xlabel("seconds since the pool started")
    ax.grid(axis="x", alpha=0.3)
    ax.set_axisbelow(True)


def kinds_of(picture: Picture) -> list[tuple[Status, bool]]:
    """The kinds of bar in ``picture``, as ``(status, still running)``, in legend order."""
    present = {_kind(s) for s in picture.spans}
    return [(status, running) for status, running, _ in _KINDS if (status, running) in present]


def all_kinds() -> list[tuple[Status, bool]]:
    """Every kind of bar, in legend order (a full key, as the dashboard shows)."""
    return [(status, running) for status, running, _ in _KINDS]


def _kind(span: Span) -> tuple[Status, bool]:
    key = (span.status, span.end is None)
    # A closed span marked RUNNING (or QUEUED) only comes from a hand-made list.
    return key if key in _LABELS else (Status.RUNNING, True)


def bar_verts(picture: Picture) -> dict[tuple[Status, bool], Sequence[Any]]:
    """The bars of ``picture``: for each kind present, an (n, 4, 2) array of rectangles.

    Lanes are ``picture.lanes`` in order, as :func:`setup_lanes` lays them out;
    a bar still running ends at ``picture.now``.
    """
    row = {worker: i for i, worker in enumerate(picture.lanes)}
    now = picture.now
    groups: dict[tuple[Status, bool], tuple[list[float], list[float], list[int]]] = {}
    for s in picture.spans:
        starts, ends, rows = groups.setdefault(_kind(s), ([], [], []))
        starts.append(s.start)
        ends.append(max(now, s.start) if s.end is None else s.end)
        rows.append(row[s.worker_id])
    return {kind: _rectangles(*group) for kind, group in groups.items()}


def new_bars(kind: tuple[Status, bool], verts: Sequence[Any] = ()) -> PolyCollection:
    """One collection holding every bar of one kind, styled for it (not yet on any axes)."""
    status, still_running = kind
    color, label = COLORS[status], _LABELS[kind]
    if still_running:
        return PolyCollection(verts, closed=True, facecolors=to_rgba(color, _OPEN_ALPHA),
                              edgecolors=color, linewidths=1.0, hatch=HATCH, label=label)
    # A thin white edge keeps back-to-back jobs on one worker visibly apart.
    return PolyCollection(verts, closed=True, facecolors=color, edgecolors="white",
                          linewidths=0.8, label=label)


def draw_jobs(ax: Axes, picture: Picture) -> list[PolyCollection]:
    """Add one collection per kind of bar in ``picture`` to ``ax``; return them."""
    verts = bar_verts(picture)
    collections = []
    for kind in all_kinds():
        if kind in verts:
            bars = new_bars(kind, verts[kind])
            ax.add_collection(bars, autolim=False)
            collections.append(bars)
    return collections


def marker_times(picture: Picture) -> dict[str, float | None]:
    """When each marker in :data:`MARKERS` is, in ``picture`` (``None``: not drawn)."""
    return {"shutdown requested": picture.requested, "shutdown deadline": picture.deadline}


def draw_markers(ax: Axes, picture: Picture) -> list[Line2D]:
    """Add the shutdown markers in ``picture`` to ``ax``; return them."""
    lines = []
    for label, t in marker_times(picture).items():
        if t is not None:
            style = MARKERS[label]
            lines.append(ax.axvline(t, color=style.color, linestyle=style.linestyle,
                                    linewidth=style.linewidth, label=label))
    return lines


def add_legend(ax: Axes, kinds: Iterable[tuple[Status, bool]], markers: Iterable[str]) -> None:
    """A legend, right of ``ax``, for ``kinds`` of bar and the named markers."""
    handles: list[Patch | Line2D] = []
    for status, still_running in kinds:
        color, label = COLORS[status], _LABELS[status, still_running]
        if still_running:
            handles.append(Patch(facecolor=to_rgba(color, _OPEN_ALPHA), edgecolor=color,
                                 hatch=HATCH, label=label))
        else:
            handles.append(Patch(facecolor=color, label=label))
    for label in markers:
        style = MARKERS[label]
        handles.append(Line2D([], [], color=style.color, linestyle=style.linestyle,
                              linewidth=style.linewidth, label=label))
    if handles:
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0),
                  borderaxespad=0.0, frameon=False, fontsize="small")


def setup_queue_strip(strip: Axes, right: float, most: int) -> None:
    """Lay out the queue-depth strip: seconds from 0 to ``right``, 0 to ``most`` jobs."""
    strip.set_xlim(0.0, right)
    strip.set_ylim(0, max(most, 1) * 1.15)
    strip.set_ylabel("queued", fontsize="small", rotation=0, ha="right", va="center")
    strip.tick_params(axis="x", labelbottom=False)
    strip.tick_params(axis="y", labelsize="x-small")
    strip.yaxis.set_major_locator(MaxNLocator(nbins=2, integer=True))


def queue_outline(picture: Picture) -> Sequence[Any]:
    """The queue strip's filled area: an (m, 2) polygon stepping with the queue, 0 to now."""
    ts = np.asarray([t for t, _ in picture.queue], dtype=float)
    depths = np.asarray([d for _, d in picture.queue], dtype=float)
    before = np.concatenate(([0.0], depths))  # depth just before each change
    outline = np.empty((2 * len(ts) + 3, 2))
    outline[0] = (0.0, 0.0)
    outline[1:-2:2, 0] = outline[2:-2:2, 0] = ts  # a vertical step at each change
    outline[1:-2:2, 1] = before[:-1]
    outline[2:-2:2, 1] = depths
    outline[-2] = (picture.now, before[-1])
    outline[-1] = (picture.now, 0.0)
    return cast("Sequence[Any]", outline)


def draw_queue(strip: Axes, picture: Picture) -> PolyCollection:
    """Fill the strip with how many jobs waited, up to ``picture.now``; return the artist."""
    area = PolyCollection([queue_outline(picture)], facecolors=QUEUE_COLOR, linewidths=0.0)
    strip.add_collection(area, autolim=False)
    return area


def _rectangles(starts: list[float], ends: list[float], rows: list[int]) -> Sequence[Any]:
    # (n, 4, 2) vertices, one rectangle per job: built with numpy, not a loop.
    x0 = np.asarray(starts, dtype=float)
    x1 = np.asarray(ends, dtype=float)
    y = np.asarray(rows, dtype=float)
    low, high = y - BAR_HEIGHT / 2, y + BAR_HEIGHT / 2
    verts = np.empty((len(x0), 4, 2))
    verts[:, 0, 0] = verts[:, 1, 0] = x0
    verts[:, 2, 0] = verts[:, 3, 0] = x1
    verts[:, 0, 1] = verts[:, 3, 1] = low
    verts[:, 1, 1] = verts[:, 2, 1] = high
    return cast("Sequence[Any]", verts)  # PolyCollection's fast path takes the array
