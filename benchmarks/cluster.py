"""Side-by-side timings of ``pool.DaskPool``, as ratios measured in one run.

Run: ``.venv/bin/python -m benchmarks.cluster`` (``--help`` for the knobs).
Needs ``distributed`` (``pip install -e '.[dask]'``).

1. Per-job overhead on no-op jobs, on one LocalCluster (``--workers``
   processes, one thread each): DaskPool (from the first submit until every
   job's future is done) against plain ``client.map`` + ``client.gather``
   of the same number of no-op calls on the same cluster. The contenders
   alternate within each round (their order reversed every other round), so
   machine noise hits all of them, each starting on a cluster that holds no
   task; medians over the rounds, with the spread (lowest to highest) of
   each contender and of the ratio taken within each round. Target:
   DaskPool <= 1.1 x per job. Also map + gather timed until the scheduler
   has forgotten the keys, which the pool's timing includes (it drops each
   future as its job ends).
2. The seed program (3 workers, 5 jobs of 0.5 s) on an embedded cluster:
   start-up (the constructor: a LocalCluster and the pool's plugin), the
   jobs (first submit until all are done; Go's version takes 1.002 s), and
   shutdown (which closes the cluster), reported separately.
"""

from __future__ import annotations

import gc
import sys
import time
from typing import Any

from pool import Job

from .procjobs import noop


def sleepy(job: Job) -> str:
    time.sleep(0.5)
    return job.id


def per_job_pool(client: Any, n: int, buffer: int | None) -> float:
    from pool.cluster import DaskPool

    jobs = [Job(str(i)) for i in range(n)]
    p = DaskPool(noop, client=client, buffer=buffer, keep=n)
    start = time.perf_counter()
    futures = [p.submit(job) for job in jobs]
    for f in futures:
        f.result()
    elapsed = time.perf_counter() - start
    report = p.shutdown()
    assert report.clean and report.stats.succeeded == n, report
    return elapsed / n


def per_job_map(client: Any, n: int, released: bool = False) -> float:
    """``client.map`` + ``gather``; with ``released``, until the scheduler forgot the keys too.

    DaskPool drops each job's Dask future as the job ends, so the cluster's
    work of forgetting it (scheduler transitions, free-keys on the worker)
    falls inside the pool's timing; plain map + gather keeps its futures to
    the end, and their release falls after its timing. ``released`` times
    it, for the like-for-like row.
    """
    items = list(range(n))
    start = time.perf_counter()
    futures = client.map(noop, items, pure=False)
    client.gather(futures)
    if released:
        del futures
        settle(client)
    elapsed = time.perf_counter() - start
    return elapsed / n


def _task_count(dask_scheduler: Any) -> int:
    return len(dask_scheduler.tasks)


def settle(client: Any, bound: float = 60.0) -> None:
    """Wait until the scheduler holds no task (so no round pays for the one before it).

    Polls every 2 ms: the scheduler has nothing a client could wait on for this.
    """
    limit = time.monotonic() + bound
    while client.run_on_scheduler(_task_count) and time.monotonic() < limit:
        time.sleep(0.002)


def seed_program() -> tuple[float, float, float]:
    from pool.cluster import DaskPool

    start = time.perf_counter()
    p = DaskPool(sleepy, workers=3)
    up = time.perf_counter()
    futures = [p.submit(Job(f"job-{i}")) for i in range(1, 6)]
    for f in futures:
        f.result()
    done = time.perf_counter()
    report = p.shutdown()
    closed = time.perf_counter()
    assert report.clean and report.stats.succeeded == 5, report
    return up - start, done - up, closed - done


def main(argv: list[str] | None = None) -> int:
    import argparse
    import os
    import platform
    import statistics

    import distributed

    parser = argparse.ArgumentParser(prog="python -m benchmarks.cluster", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=2_000, help="no-op jobs per round")
    parser.add_argument("--rounds", type=int, default=7, help="rounds per measure (default 7)")
    parser.add_argument("--workers", type=int, default=2, help="cluster workers (default 2)")
    args = parser.parse_args(argv)
    n, rounds, workers = args.jobs, args.rounds, args.workers
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"Python {platform.python_version()}, distributed {distributed.__version__}, "
          f"{cores} cores, {rounds} rounds, medians")

    cluster = distributed.LocalCluster(n_workers=workers, threads_per_worker=1,
                                       processes=True, dashboard_address=None)
    client = distributed.Client(cluster, set_as_default=False)
    try:
        for _ in range(2):  # warm up: functions shipped, connections open, code paths hot
            per_job_map(client, 500)
            per_job_pool(client, 500, 100)
        contenders = [("pool", lambda: per_job_pool(client, n, 100)),
                      ("map", lambda: per_job_map(client, n)),
                      ("pool_unbounded", lambda: per_job_pool(client, n, None)),
                      ("map_released", lambda: per_job_map(client, n, released=True))]
        samples: dict[str, list[float]] = {key: [] for key, _ in contenders}
        for i in range(rounds):
            for key, fn in contenders if i % 2 == 0 else contenders[::-1]:
                gc.collect()
                settle(client)  # the previous contender's keys are gone (untimed)
                samples[key].append(fn())
    finally:
        client.close()
        cluster.close()
    us = {k: statistics.median(v) * 1e6 for k, v in samples.items()}
    print()
    print(f"| per-job time, {n} no-op jobs, {workers} workers | us/job | spread | "
          "vs client.map + gather | that ratio within each round |")
    print("|---|---:|---:|---:|---:|")
    for name, key in (("DaskPool, buffer=100 (default)", "pool"),
                      ("DaskPool, buffer=None", "pool_unbounded"),
                      ("client.map + client.gather", "map"),
                      ("client.map + client.gather + release (keys forgotten)",
                       "map_released")):
        low, high = min(samples[key]) * 1e6, max(samples[key]) * 1e6
        paired = [a / b for a, b in zip(samples[key], samples["map"], strict=True)]
        within = (f"{statistics.median(paired):.2f}x ({min(paired):.2f}-{max(paired):.2f})"
                  if key != "map" else "")
        print(f"| {name} | {us[key]:.1f} | {low:.0f}-{high:.0f} | {us[key] / us['map']:.2f}x "
              f"| {within} |")

    seeds = [seed_program() for _ in range(max(1, rounds // 2))]
    up, jobs, down = (statistics.median(s[i] for s in seeds) for i in range(3))
    print()
    print(f"| the seed program (3 workers, 5 jobs of 0.5 s), embedded cluster, "
          f"median of {len(seeds)} | seconds |")
    print("|---|---:|")
    print(f"| start-up: LocalCluster + plugin | {up:.3f} |")
    print(f"| jobs: first submit until all done (Go: 1.002) | {jobs:.3f} |")
    print(f"| shutdown, closing the cluster | {down:.3f} |")

    target = us["pool"] <= 1.1 * us["map"]
    print()
    print(f"{'met ' if target else 'MISSED'} DaskPool per-job <= 1.1 x client.map + gather")
    print(f"(DaskPool / map + gather + release: {us['pool'] / us['map_released']:.2f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
