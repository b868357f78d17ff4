"""Jobs for notebook 11, in a module of their own: worker processes import them by name.

A function defined in a notebook lives in the kernel's ``__main__``, which a
worker process cannot import; a function in a module next to the notebook
can be (the notebook runs in this folder, so ``import procdemo`` finds it).
The payload says what to do (UTF-8 text):

- ``"count N"``: a pure-Python loop of N steps (CPU-bound; holds the GIL); returns the sum.
- ``"noop"``: returns at once (to measure the cost of one job).
- ``"hang"``: sleeps an hour, ignoring its context: only a kill ends it.
- ``"crash CODE"``: ``os._exit(CODE)``: the worker process dies mid-job.
- ``"pid"``: returns the worker's process id.
"""

from __future__ import annotations

import os
import time
from typing import Any

STEPS = 2_500_000  # about 0.1 s of pure Python on one core


def count(n: int) -> int:
    """CPU-bound: a pure-Python loop. The thread running it holds the GIL throughout."""
    total = 0
    for i in range(n):
        total += i % 7
    return total


def run(job: Any) -> Any:
    """The ``process`` of every pool in notebook 11: the payload names the action."""
    action, *args = job.payload.decode().split()
    if action == "count":
        return count(int(args[0]) if args else STEPS)
    if action == "noop":
        return None
    if action == "hang":
        time.sleep(3600)
        return "woke up"
    if action == "crash":
        os._exit(int(args[0]) if args else 1)
    if action == "pid":
        return os.getpid()
    raise ValueError(f"unknown action {action!r}")
