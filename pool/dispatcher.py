"""Stage 3: the dispatcher starts the workers before any traffic arrives.

Go::

    func startWorkers(n int) (chan<- Job, *sync.WaitGroup) {
        jobs := make(chan Job, 100)    // a buffer absorbs bursts; full means backpressure
        var wg sync.WaitGroup
        for i := 1; i <= n; i++ {
            wg.Add(1)                  // before the goroutine starts, never inside it
            go worker(i, jobs, &wg)
        }
        return jobs, &wg
    }

``wg.add(1)`` comes before ``thread.start()`` for the same reason as in Go:
if the thread added itself, a shutdown that ran first could see a count of
zero and return while workers were still starting.
"""

from __future__ import annotations

import threading

from ._validate import check_callable, check_int
from .channel import Channel
from .job import Job
from .waitgroup import WaitGroup
from .worker import Process, Record, worker

__all__ = ["start_workers"]


def start_workers(
    num_workers: int,
    process: Process,
    *,
    buffer: int = 100,
    record: Record | None = None,
    daemon: bool = True,
) -> tuple[Channel[Job], WaitGroup]:
    """Start ``num_workers`` worker threads on a new channel of capacity ``buffer``.

    Returns ``(jobs, wg)``: send jobs on ``jobs``; :func:`~pool.shutdown`
    closes it and waits on ``wg``. Worker ids run from 1 to ``num_workers``
    and threads are named ``pool-worker-<id>``. Threads are daemon threads
    unless ``daemon=False`` (then a hung worker keeps the interpreter alive).
    Never blocks. Raises ``TypeError``/``ValueError`` for bad arguments. If a
    thread cannot be started, the channel is closed (so the workers already
    started exit) and the error is re-raised.
    """
    check_int(num_workers, "num_workers", minimum=1)
    check_callable(process, "process")
    check_int(buffer, "buffer", minimum=0)
    if record is not None:
        check_callable(record, "record")
    if not isinstance(daemon, bool):
        raise TypeError(f"daemon must be a bool, got {type(daemon).__name__}")
    jobs: Channel[Job] = Channel(buffer)
    wg = WaitGroup()
    for worker_id in range(1, num_workers + 1):
        wg.add(1)
        try:
            threading.Thread(
                target=worker,
                args=(worker_id, jobs, wg, process),
                kwargs={"record": record},
                name=f"pool-worker-{worker_id}",
                daemon=daemon,
            ).start()
        except BaseException:
            # No thread to count out, and no caller to ever close the channel:
            # close it so the workers already started leave their range loop.
            wg.done()
            jobs.close()
            raise
    return jobs, wg
