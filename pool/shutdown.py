"""Stage 4: graceful shutdown, and the timeout tip.

Go::

    close(jobs)                        // no more jobs: each worker's range loop ends
    done := make(chan struct{})
    go func() { wg.Wait(); close(done) }()
    select {
    case <-done:                       // every in-flight job finished
    case <-time.After(30 * time.Second):
        log.Println("shutdown timed out") // one hung worker must not hang us forever
    }

Python's :meth:`WaitGroup.wait` takes the timeout itself, so the ``select``
becomes one call. What a timeout cannot do, in Go or Python, is stop the
hung worker: it is abandoned, still running, and the caller must know.
"""

from __future__ import annotations

import contextlib
from typing import Any

from ._validate import check_timeout, type_name
from .channel import Channel, ChannelClosed
from .waitgroup import WaitGroup

__all__ = ["shutdown"]


def shutdown(jobs: Channel[Any], wg: WaitGroup, timeout: float | None = None) -> bool:
    """Close ``jobs`` and wait up to ``timeout`` seconds for every worker to finish.

    Returns True if all workers finished, False if the timeout passed first
    (those workers are still running). Blocks for at most ``timeout``
    (forever if ``None``). Calling it again on a closed channel just waits
    again. Raises ``TypeError``/``ValueError`` for bad arguments.
    """
    if not isinstance(jobs, Channel):
        raise TypeError(f"jobs must be a pool.Channel, got {type_name(jobs)}")
    if not isinstance(wg, WaitGroup):
        raise TypeError(f"wg must be a pool.WaitGroup, got {type_name(wg)}")
    timeout = check_timeout(timeout)
    # Another thread may close it between a check and the call: suppress, not check.
    with contextlib.suppress(ChannelClosed):
        jobs.close()
    return wg.wait(timeout)
