"""How fast the timeline draws, and whether the dashboard's live view slows the pool.

Run: ``.venv/bin/python -m benchmarks.timeline`` (needs matplotlib and ipywidgets).

1. ``plot_timeline`` on 10,000 spans, from a list of spans and from the trace
   of a pool that ran 10,000 jobs: the call plus a full Agg render of the
   figure, median of several rounds. The target is well under a second.
2. The pool's per-job time (first submit until shutdown returns, divided by
   the jobs) with and without the dashboard's live view running:
   ``pool.widgets.drive`` with and without ``TimelineView.show`` as its frame
   callback, the dashboard's own code path. 4 workers; three workloads:
   - the dashboard's own jobs (``scenario_process``), 100 of 80 ms: ~2 s;
   - CPU-bound jobs (5 ms of pure Python each): every millisecond the view
     holds the GIL is taken from the workers;
   - 300,000 no-op jobs: the pool's own per-job overhead, as ``python -m
     benchmarks`` measures it, while the view redraws a trace that turns
     over 100,000 times a second (``keep=1000``: the last ~1,000 jobs).
   (A trace of 10,000 jobs costs ~0.1-0.2 s a frame, so the frame budget
   spaces such frames 2-4 s apart.)
   Rounds alternate with and without (ABBA), so noise and warm-up hit both alike.
   The target is a ratio under 1.1 (of the medians); the ratio of the best
   runs is less sensitive to a busy machine.
"""

from __future__ import annotations

import argparse
import gc
import logging
import math
import platform
import random
import statistics
import sys
import threading
import time
from collections.abc import Callable
from typing import NamedTuple

import ipywidgets as widgets  # type: ignore[import-untyped]
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from pool import Job, Span, Status, WorkerPool
from pool.timeline import plot_timeline
from pool.widgets import Scenario, TimelineView, drive, scenario_process

WORKERS = 4


# -- 1. drawing 10,000 spans -----------------------------------------------------


def synthetic_spans(n: int, workers: int = 8, seed: int = 1) -> list[Span]:
    """``n`` back-to-back jobs on ``workers`` lanes, mostly succeeded; the last ones open."""
    rng = random.Random(seed)
    statuses = [Status.SUCCEEDED] * 85 + [Status.FAILED] * 8 + [Status.TIMED_OUT] * 4 + \
        [Status.CANCELED] * 3
    clock = [0.0] * workers
    spans = []
    for i in range(n):
        w = i % workers
        start = clock[w] + rng.uniform(0.0, 0.002)
        end = start + rng.uniform(0.001, 0.02)
        clock[w] = end
        if i >= n - workers:  # the last job on each lane is still running (one hung)
            status = Status.ABANDONED if w == 0 else Status.RUNNING
            spans.append(Span(w + 1, str(i), start, None, status))
        else:
            spans.append(Span(w + 1, str(i), start, end, rng.choice(statuses)))
    return spans


def traced_pool(n: int) -> WorkerPool:
    """A finished pool that ran ``n`` jobs (every 13th fails), keeping all of them traced."""

    def process(job: Job) -> None:
        if int(job.id) % 13 == 0:
            raise ValueError("failed on purpose")

    pool = WorkerPool(process, 8, buffer=n, keep=n)
    for i in range(n):
        pool.submit(Job(str(i)))
    pool.shutdown()
    return pool


def draw_time(source: object, now: float | None = None) -> tuple[float, int]:
    """Seconds for ``plot_timeline`` plus a full render; and how many artists the axes hold."""
    figure = Figure(figsize=(9, 4), dpi=80)
    canvas = FigureCanvasAgg(figure)
    ax = figure.add_subplot()
    start = time.perf_counter()
    plot_timeline(source, ax, now)  # type: ignore[arg-type]
    canvas.draw()  # type: ignore[no-untyped-call]
    elapsed = time.perf_counter() - start
    return elapsed, len(ax.get_children())


# -- 2. per-job time with and without the live view ------------------------------------


def calibrate_spin(target: float) -> int:
    """Loop count of a pure-Python loop that takes about ``target`` seconds (best of 5)."""
    loops = 100_000
    best = math.inf
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(loops):
            pass
        best = min(best, time.perf_counter() - start)
    return max(1, int(target * loops / best))


class Run(NamedTuple):
    wall: float  # seconds per job
    frames: int  # live frames drawn


def per_job(n: int, process: Callable[[Job], object], live: bool, *, keep: int | None = None,
            right: float = 1.0) -> Run:
    """Time ``n`` jobs through a pool driven as the dashboard drives it.

    From the first submit until shutdown has returned, as in ``python -m benchmarks``.
    The pool keeps ``keep`` outcomes (default: all), and a trace of about as many
    jobs. ``right`` is the view's first x range, as the dashboard's estimate is.
    """
    jobs = [Job(str(i)) for i in range(n)]
    view = TimelineView(WORKERS, right=right, most_queued=n, image=widgets.Image(format="png"))
    view.blank()  # as the dashboard does, before the pool starts
    pool = WorkerPool(process, WORKERS, buffer=n, keep=n if keep is None else keep)
    start = time.perf_counter()
    report = drive(pool, jobs, timeout=None,
                   on_frame=(lambda t: view.show(pool, t)) if live else None)
    elapsed = time.perf_counter() - start
    assert report.clean and report.stats.succeeded == n, report
    return Run(elapsed / n, view.frames)


def overhead(name: str, n: int, process: Callable[[Job], object], rounds: int,
             keep: int | None = None) -> float:
    """Print one row of the table; return the ratio of the medians (with / without)."""
    runs: dict[bool, list[float]] = {False: [], True: []}
    frames: list[int] = []
    guess = 0.0  # the view's x range, as the dashboard estimates it: the last run's length
    for i in range(rounds):
        for live in (False, True) if i % 2 == 0 else (True, False):  # ABBA: no order bias
            gc.collect()
            run = per_job(n, process, live, keep=keep, right=max(guess * 1.2, 1.0))
            runs[live].append(run.wall)
            if live:
                frames.append(run.frames)
            guess = run.wall * n
    without, with_view = statistics.median(runs[False]), statistics.median(runs[True])
    ratio = with_view / without
    best = min(runs[True]) / min(runs[False])
    unit, scale = ("ms", 1e3) if without >= 1e-3 else ("us", 1e6)
    print(f"| {name} | {n} | {without * scale:.2f} {unit} | {with_view * scale:.2f} {unit} "
          f"| {statistics.median(frames):.0f} | {ratio:.3f} | {best:.3f} |")
    return ratio


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.timeline", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--spans", type=int, default=10_000, help="spans to draw (10000)")
    parser.add_argument("--rounds", type=int, default=7, help="rounds per measure (7)")
    args = parser.parse_args(argv)
    logging.getLogger("pool").propagate = False  # the failing jobs' log lines: not here

    print(f"Python {platform.python_version()} on {platform.machine()}, medians of "
          f"{args.rounds} rounds")
    spans = synthetic_spans(args.spans)
    pool = traced_pool(args.spans)
    draw_time(spans)  # warm up: fonts, caches
    results = []
    for label, source in ((f"{args.spans} spans (list)", spans),
                          (f"{args.spans} jobs (pool trace)", pool)):
        times, artists = [], 0
        for _ in range(args.rounds):
            gc.collect()
            seconds, artists = draw_time(source)
            times.append(seconds)
        results.append(statistics.median(times))
        print(f"plot_timeline + render, {label}: {statistics.median(times) * 1e3:.0f} ms "
              f"(max {max(times) * 1e3:.0f} ms), {artists} artists in the axes")

    print()
    print("| live view, 4 workers | jobs | per job without | per job with | frames "
          "| ratio of medians | ratio of bests |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    loops = calibrate_spin(5e-3)

    def spin(job: Job) -> None:  # holds the GIL for about 5 ms
        for _ in range(loops):
            pass

    nap = scenario_process(Scenario(duration=0.08), threading.Event())
    rows = {
        "dashboard jobs": overhead("dashboard jobs, 80 ms asleep (`scenario_process`)", 100,
                                   nap, args.rounds),
        "CPU-bound jobs": overhead("CPU-bound jobs, 5 ms of Python each", 400, spin,
                                   args.rounds),
        "no-op jobs": overhead("no-op jobs, keep=1000 (the view redraws ~1,000 jobs)",
                               300_000, lambda job: None, args.rounds, keep=1_000),
    }

    print()
    targets = [(f"{args.spans} spans draw in under 1 s", max(results) < 1.0)]
    targets += [(f"live view ratio of medians < 1.1, {name}", ratio < 1.1)
                for name, ratio in rows.items()]
    for name, ok in targets:
        print(f"{'met ' if ok else 'MISSED'} {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
