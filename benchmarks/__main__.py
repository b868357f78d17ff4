"""Side-by-side timings of ``pool.WorkerPool`` against the standard library.

Run: ``make bench`` (or ``.venv/bin/python -m benchmarks``). Everything is
measured in one run, several rounds each, and reported as medians and as
ratios, so the numbers compare like with like on whatever machine runs it.

1. Per-job overhead: no-op jobs, 4 workers, tens of thousands of jobs, from
   the first submit until shutdown has returned. WorkerPool keeps outcomes
   and its trace on, as in production. Against:
   - ``concurrent.futures.ThreadPoolExecutor`` (submit + shutdown(wait=True));
   - a bare ``queue.Queue`` with one ``None`` sentinel per worker: the
     least a Python thread pool can do.
2. Shutdown latency of an idle pool (4 workers, nothing queued).
3. How far past ``timeout + grace`` a shutdown with a hung worker returns.
4. Memory over a million jobs (``benchmarks/memory.py``, each engine in a
   process of its own): peak RSS after 10%, 50% and 100% of the jobs.
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import queue
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from pool import Executor, Job, WorkerPool

WORKERS = 4


def noop(_: object) -> None:
    return None


def per_job_pool(n: int, buffer: int) -> float:
    jobs = [Job(str(i)) for i in range(n)]
    pool = WorkerPool(noop, WORKERS, buffer=buffer, keep=n)
    start = time.perf_counter()
    for job in jobs:
        pool.submit(job)
    report = pool.shutdown()
    elapsed = time.perf_counter() - start
    assert report.clean and report.stats.succeeded == n, report
    return elapsed / n


def per_job_pool_executor(n: int) -> float:
    items = list(range(n))
    executor = Executor(WORKERS, keep=n)
    start = time.perf_counter()
    for item in items:
        executor.submit(noop, item)
    executor.shutdown(wait=True)
    elapsed = time.perf_counter() - start
    report = executor.report
    assert report is not None and report.clean and report.stats.succeeded == n, report
    return elapsed / n


def per_job_executor(n: int) -> float:
    items = list(range(n))
    executor = ThreadPoolExecutor(WORKERS)
    # Start its threads first, as WorkerPool does in its constructor.
    for f in [executor.submit(noop, None) for _ in range(WORKERS)]:
        f.result()
    start = time.perf_counter()
    for item in items:
        executor.submit(noop, item)
    executor.shutdown(wait=True)
    return (time.perf_counter() - start) / n


def per_job_queue(n: int) -> float:
    q: queue.Queue[int | None] = queue.Queue()

    def work() -> None:
        while (item := q.get()) is not None:
            noop(item)

    threads = [threading.Thread(target=work) for _ in range(WORKERS)]
    for t in threads:
        t.start()
    start = time.perf_counter()
    for i in range(n):
        q.put(i)
    for _ in threads:
        q.put(None)
    for t in threads:
        t.join()
    return (time.perf_counter() - start) / n


def idle_shutdown() -> float:
    warmed = threading.Event()
    pool = WorkerPool(lambda job: warmed.set(), WORKERS)
    pool.submit(Job("warm-up"))
    warmed.wait(5)
    start = time.perf_counter()
    pool.shutdown()
    return time.perf_counter() - start


def overrun(timeout: float, grace: float) -> float:
    release = threading.Event()
    pool = WorkerPool(lambda job: release.wait(), WORKERS)
    pool.submit(Job("hung"))
    start = time.perf_counter()
    report = pool.shutdown(timeout=timeout, grace=grace)
    elapsed = time.perf_counter() - start
    release.set()
    assert len(report.abandoned) == 1, report
    return elapsed - (timeout + grace)


def median_of(rounds: int, fn: Callable[[], float]) -> float:
    samples = []
    for _ in range(rounds):
        gc.collect()
        samples.append(fn())
    return statistics.median(samples)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=20_000, help="jobs per round (default 20000)")
    parser.add_argument("--rounds", type=int, default=15, help="rounds per measure (default 15)")
    parser.add_argument("--memory-jobs", type=int, default=1_000_000,
                        help="jobs for the memory measure (default 1000000; 0 skips it)")
    args = parser.parse_args(argv)
    n, rounds = args.jobs, args.rounds

    print(f"Python {platform.python_version()} on {platform.machine()}, "
          f"{WORKERS} workers, {n} no-op jobs x {rounds} rounds, medians")
    # Interleave the contenders round by round, so machine noise hits all alike.
    samples: dict[str, list[float]] = {
        k: [] for k in ("pool", "pool_big", "executor", "tpe", "queue")}
    for _ in range(rounds):
        for key, fn in (("pool", lambda: per_job_pool(n, 100)),
                        ("executor", lambda: per_job_pool_executor(n)),
                        ("pool_big", lambda: per_job_pool(n, n)),
                        ("tpe", lambda: per_job_executor(n)),
                        ("queue", lambda: per_job_queue(n))):
            gc.collect()
            samples[key].append(fn())
    med = {k: statistics.median(v) for k, v in samples.items()}
    us = {k: v * 1e6 for k, v in med.items()}
    rows = [
        ("WorkerPool, buffer=100 (default)", us["pool"]),
        (f"WorkerPool, buffer={n}", us["pool_big"]),
        ("pool.Executor.submit, buffer=100 (default)", us["executor"]),
        ("ThreadPoolExecutor", us["tpe"]),
        ("queue.Queue + sentinels", us["queue"]),
    ]
    print()
    print("| per-job time | us/job | vs ThreadPoolExecutor | vs bare queue |")
    print("|---|---:|---:|---:|")
    for name, value in rows:
        print(f"| {name} | {value:.2f} | {value / us['tpe']:.2f}x | {value / us['queue']:.2f}x |")

    idle = median_of(rounds * 3, idle_shutdown)
    late = median_of(rounds, lambda: overrun(0.05, 0.05))
    print()
    print("| shutdown | median |")
    print("|---|---:|")
    print(f"| idle pool, 4 workers | {idle * 1e3:.3f} ms |")
    print(f"| hung worker, timeout 0.05 s + grace 0.05 s: past the bound by "
          f"| {late * 1e3:.3f} ms |")

    flat = True
    if args.memory_jobs:
        print()
        print(f"| memory, {args.memory_jobs:,} no-op jobs | peak RSS at 10% | 50% | 100% | s |")
        print("|---|---:|---:|---:|---:|")
        for engine, name in (("pool", "WorkerPool.submit"), ("executor", "pool.Executor.submit"),
                             ("tpe", "ThreadPoolExecutor.submit")):
            out = subprocess.run(
                [sys.executable, "-m", "benchmarks.memory", engine, str(args.memory_jobs)],
                capture_output=True, text=True, check=True, timeout=600).stdout
            row = json.loads(out)
            peak = row["peak_mib"]
            print(f"| {name} | {peak['10%']} MiB | {peak['50%']} MiB | {peak['100%']} MiB "
                  f"| {row['seconds']} |")
            if engine != "tpe":
                flat = flat and peak["100%"] <= peak["50%"] * 1.05

    targets = [
        ("WorkerPool per-job <= 0.5 x ThreadPoolExecutor", med["pool"] <= 0.5 * med["tpe"]),
        ("pool.Executor per-job <= 0.5 x ThreadPoolExecutor",
         med["executor"] <= 0.5 * med["tpe"]),
        ("memory flat over the run (peak at 100% within 5% of 50%)", flat),
        ("WorkerPool per-job <= 2.5 x bare queue", med["pool"] <= 2.5 * med["queue"]),
        ("idle shutdown < 1 ms", idle < 1e-3),
        ("timed-out shutdown within 5 ms of timeout + grace", 0 <= late < 5e-3),
    ]
    print()
    for name, ok in targets:
        print(f"{'met ' if ok else 'MISSED'} {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
