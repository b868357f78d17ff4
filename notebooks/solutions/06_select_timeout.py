"""Reference solution: notebook 06, "the timeout the Go way".

Go's ``select`` between "every worker finished" and a timer, written out with
a helper thread and an Event instead of ``wg.wait(timeout)``. Check it in the
notebook with ``check_shutdown(my_shutdown)``.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Any

from pool import Channel, ChannelClosed, WaitGroup


def my_shutdown(jobs: Channel[Any], wg: WaitGroup, timeout: float | None = None) -> bool:
    """Close ``jobs``, then wait up to ``timeout`` seconds; True if every worker finished."""
    with contextlib.suppress(ChannelClosed):
        jobs.close()
    finished = threading.Event()  # Go: finished := make(chan struct{})

    def wait_for_workers() -> None:  # Go: go func() { wg.Wait(); close(finished) }()
        wg.wait()
        finished.set()

    # A daemon thread: with a hung worker this wait never returns, and a
    # non-daemon thread would then keep the interpreter from exiting.
    threading.Thread(target=wait_for_workers, name="shutdown-waiter", daemon=True).start()
    return finished.wait(timeout)  # Go: select { case <-finished: ... case <-timer.C: ... }
