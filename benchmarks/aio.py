"""Side-by-side timings of ``pool.AsyncPool``, as ratios measured in one run.

Run: ``.venv/bin/python -m benchmarks.aio`` (``--help`` for the knobs). Every
measure runs several rounds; the contenders are interleaved round by round,
so machine noise hits all alike; the tables show medians.

1. Per-job overhead on no-op jobs (``async def process(job): return job.id``):
   from the first submit until every job's result is in, against the
   hand-written idiom with results (an ``asyncio.Queue`` of the same bound,
   N worker tasks in a ``TaskGroup``, a future per job). The pool does its
   full accounting (ledger, outcome, trace, a per-job context, the deadline
   check), with the blocked-loop check on (the default) and off
   (``slow_job=None``), which prices it. Target: <= 1.5 x.
2. Cancellation latency: N jobs hang in ``await asyncio.sleep(...)``; how
   long from shutdown's timeout (the ``shutdown_deadline`` event in the
   trace) until shutdown has returned with every job cancelled. Target:
   < 5 ms.
3. With ``--instructions``, also the per-job cost of 1 in CPU instructions,
   counted by ``valgrind --tool=callgrind`` (a run of 2N jobs less a run of
   N, so start-up cancels out; less the making of the jobs, about 8,500
   instructions a job, which both contenders do before their clocks
   start). Unlike time, the count repeats exactly whatever else the
   machine is doing; it does not see what memory costs (cache misses).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import re
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

from pool import Job
from pool import trace as ev
from pool.aio import AsyncPool


async def noop(job: Job) -> str:
    return job.id


async def idiom(n: int, workers: int, buffer: int) -> float:
    """The hand-written pattern: a bounded queue, N tasks in a TaskGroup, a future per job."""
    jobs = [Job(str(i)) for i in range(n)]
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[Job, asyncio.Future[Any]] | None] = asyncio.Queue(buffer)

    async def worker() -> None:
        while True:
            item = await queue.get()
            if item is None:
                return
            job, future = item
            try:
                future.set_result(await noop(job))
            except Exception as exc:
                future.set_exception(exc)

    start = time.perf_counter()
    futures = []
    async with asyncio.TaskGroup() as tg:
        for _ in range(workers):
            tg.create_task(worker())
        for job in jobs:
            future = loop.create_future()
            await queue.put((job, future))
            futures.append(future)
        for _ in range(workers):
            await queue.put(None)
    for future in futures:
        future.result()
    return (time.perf_counter() - start) / n


async def pooled(n: int, workers: int, buffer: int, slow_job: float | None) -> float:
    jobs = [Job(str(i)) for i in range(n)]
    pool = AsyncPool(noop, workers, buffer=buffer, keep=n, slow_job=slow_job)
    await asyncio.sleep(0)  # the workers start, as the idiom's do inside its clock
    start = time.perf_counter()
    futures = [await pool.submit(job) for job in jobs]
    report = await pool.shutdown()
    for future in futures:
        future.result()
    elapsed = time.perf_counter() - start
    assert report.clean and report.stats.succeeded == n, report
    return elapsed / n


async def hang(job: Job) -> None:
    await asyncio.sleep(3600)


async def cancel_latency(jobs: int, workers: int) -> tuple[float, float]:
    """(ms from shutdown's deadline to its return, ms shutdown overran its timeout)."""
    pool = AsyncPool(hang, workers, keep=jobs)
    for i in range(jobs):
        await pool.submit(Job(f"h{i}"))
    await asyncio.sleep(0.01)  # all running
    timeout = 0.05
    began = time.monotonic()
    report = await pool.shutdown(timeout, grace=1.0)
    returned = time.monotonic()
    assert report.stats.canceled == jobs and not report.abandoned, report
    deadline = pool.trace.first(ev.SHUTDOWN_DEADLINE)
    assert deadline is not None
    latency = returned - (pool.trace.origin + deadline.t)
    return latency * 1000, (returned - began - timeout) * 1000


CONTENDERS = ("idiom", "pool", "pool, no blocked check")


async def jobs_only(n: int) -> float:
    """What every contender does before its clock starts: make the jobs."""
    [Job(str(i)) for i in range(n)]
    return 0.0


def run_one(name: str, jobs: int, workers: int, buffer: int) -> float:
    """Run contender ``name`` once, in a loop of its own; seconds per job."""
    if name == "jobs only":
        return asyncio.run(jobs_only(jobs))
    if name == "idiom":
        return asyncio.run(idiom(jobs, workers, buffer))
    slow_job = 0.1 if name == "pool" else None
    return asyncio.run(pooled(jobs, workers, buffer, slow_job))


def callgrind_per_job(command: Callable[[int], list[str]], jobs: int,
                      cwd: str | None = None) -> int:
    """CPU instructions a job: callgrind's count for a run of 2N jobs less a run of N.

    ``command(n)`` is the command line of a run of ``n`` jobs; the
    difference cancels out start-up. Raises ``CalledProcessError`` if a run fails.
    """
    def count(n: int) -> int:
        done = subprocess.run(
            ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", *command(n)],
            capture_output=True, text=True, check=True, timeout=600, cwd=cwd)
        found = re.search(r"Collected : (\d+)", done.stderr)
        assert found is not None, done.stderr[-2000:]
        return int(found.group(1))
    return (count(2 * jobs) - count(jobs)) // jobs


def instructions(name: str, jobs: int, workers: int, buffer: int) -> int:
    """CPU instructions per job of one contender: callgrind's count for 2N jobs less N."""
    return callgrind_per_job(
        lambda n: [sys.executable, "-m", "benchmarks.aio", "--one", name, "--jobs", str(n),
                   "--workers", str(workers), "--buffer", str(buffer)], jobs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=50_000)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--buffer", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--hung", type=int, default=100, help="hung jobs to cancel")
    parser.add_argument("--instructions", action="store_true",
                        help="also count CPU instructions per job (needs valgrind; slow)")
    parser.add_argument("--one", choices=(*CONTENDERS, "jobs only"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:  # one run of one contender, for --instructions
        run_one(args.one, args.jobs, args.workers, args.buffer)
        return 0

    print(f"Python {sys.version.split()[0]}, {args.jobs} no-op jobs, {args.workers} workers, "
          f"buffer {args.buffer}, median of {args.rounds} rounds")
    rows: dict[str, list[float]] = {name: [] for name in CONTENDERS}
    for _ in range(args.rounds):
        for name in CONTENDERS:
            gc.collect()
            rows[name].append(run_one(name, args.jobs, args.workers, args.buffer))
    base = statistics.median(rows["idiom"])
    print()
    print("| per-job overhead (no-op jobs)      | us/job | ratio | spread of ratios | target |")
    print("|------------------------------------|-------:|------:|-----------------:|-------:|")
    for name, times in rows.items():
        med = statistics.median(times)
        # Each round's ratio against the idiom's run of the same round.
        ratios = sorted(t / i for t, i in zip(times, rows["idiom"], strict=True))
        target = "" if name == "idiom" else "<= 1.5"
        spread = f"{ratios[0]:.2f}-{ratios[-1]:.2f}"
        print(f"| {name:<34} | {med * 1e6:6.2f} | {med / base:5.2f} | {spread:>16} "
              f"| {target:>6} |")

    if args.instructions:
        if shutil.which("valgrind") is None:
            print("\n--instructions: valgrind is not installed (apt-get install valgrind)")
        else:
            n = min(args.jobs, 5_000)  # under valgrind a job takes ~50x as long
            making = instructions("jobs only", n, args.workers, args.buffer)
            counts = {name: instructions(name, n, args.workers, args.buffer) - making
                      for name in CONTENDERS}
            print()
            print(f"| instructions per job ({n} vs {2 * n} jobs) | instr/job | ratio |")
            print("|------------------------------------------|----------:|------:|")
            for name, count in counts.items():
                print(f"| {name:<40} | {count:9,d} | {count / counts['idiom']:5.2f} |")

    lat = [asyncio.run(cancel_latency(args.hung, args.hung))  # a worker per hung job
           for _ in range(args.rounds)]
    print()
    print(f"| cancellation ({args.hung} hung jobs)             | median | worst | target |")
    print("|------------------------------------------|-------:|------:|-------:|")
    cancelled = [x[0] for x in lat]
    overrun = [x[1] for x in lat]
    print(f"| shutdown deadline -> all cancelled, ms  | {statistics.median(cancelled):6.2f} "
          f"| {max(cancelled):5.2f} |    < 5 |")
    print(f"| shutdown overran its timeout by, ms     | {statistics.median(overrun):6.2f} "
          f"| {max(overrun):5.2f} |        |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
