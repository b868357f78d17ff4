"""Reference solution: notebook 05, "write shutdown()".

Check it in the notebook with ``check_shutdown(my_shutdown)``.
"""

from __future__ import annotations

import contextlib
from typing import Any

from pool import Channel, ChannelClosed, WaitGroup


def my_shutdown(jobs: Channel[Any], wg: WaitGroup, timeout: float | None = None) -> bool:
    """Close ``jobs``, then wait up to ``timeout`` seconds; True if every worker finished."""
    # Close first: only a closed channel lets the workers' loops end. A second
    # shutdown (or another thread's) finds it closed already, which is fine.
    with contextlib.suppress(ChannelClosed):
        jobs.close()
    # Then wait, bounded: False means "a worker is still running", not "it stopped".
    return wg.wait(timeout)
