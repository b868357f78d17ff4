"""Is memory flat over a million jobs? Peak RSS of one engine, in a process of its own.

    python -m benchmarks.memory pool 1000000       # WorkerPool.submit, futures dropped
    python -m benchmarks.memory executor 1000000   # pool.Executor.submit
    python -m benchmarks.memory tpe 1000000        # ThreadPoolExecutor.submit

Prints one JSON line: the peak RSS (MiB) after 10%, 50% and 100% of the
jobs. Flat means the last two agree: the pool keeps its last ``keep``
outcomes (default 10,000) and a bounded trace, and a future nobody holds is
freed with its job.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from pool import Executor, Job, WorkerPool

WORKERS = 4


def noop(_: object) -> None:
    return None


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def main(argv: list[str]) -> int:
    kind, n = argv[0], int(argv[1])
    checkpoints = {n // 10: "10%", n // 2: "50%", n: "100%"}
    peaks: dict[str, float] = {}
    start = time.perf_counter()
    if kind == "pool":
        pool = WorkerPool(noop, WORKERS)
        for i in range(1, n + 1):
            pool.submit(Job(str(i)))
            if i in checkpoints:
                peaks[checkpoints[i]] = peak_mib()
        pool.shutdown()
    elif kind in ("executor", "tpe"):
        ex = Executor(WORKERS) if kind == "executor" else ThreadPoolExecutor(WORKERS)
        for i in range(1, n + 1):
            ex.submit(noop, i)
            if i in checkpoints:
                peaks[checkpoints[i]] = peak_mib()
        ex.shutdown()
    else:
        raise SystemExit(f"unknown engine {kind!r}: pool, executor or tpe")
    print(json.dumps({"engine": kind, "jobs": n, "seconds": round(time.perf_counter() - start, 1),
                      "peak_mib": {k: round(v, 1) for k, v in peaks.items()}}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
