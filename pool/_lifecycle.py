"""Lifecycle helpers shared by the thread and process pools.

:class:`LivePools` remembers a kind's live pools for the hooks that must
reach them at interpreter exit and in a forked child; :func:`unstoppable`
runs shutdown's steps where a ``KeyboardInterrupt`` cannot split them;
:func:`forked_report` is what a pool's copy in a forked child reports (it
owns no worker, so it has nothing to shut down).
"""

from __future__ import annotations

import contextlib
import os
import threading
import weakref
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from .ledger import ShutdownReport, Stats

T = TypeVar("T")
P = TypeVar("P")


class LivePools(Generic[P]):
    """The live pools of one kind, and the process-wide hooks installed for them.

    The first :meth:`track` registers ``at_exit`` to run at the start of
    interpreter shutdown, before non-daemon threads are joined (as
    ``ThreadPoolExecutor``'s hook does: a thread blocked in a submit is then
    released by ``PoolClosed``), and ``after_fork`` to run in a forked
    child. Pools are held weakly: a dropped pool leaves by itself.
    """

    def __init__(self, at_exit: Callable[[], object], after_fork: Callable[[], object]) -> None:
        self._at_exit = at_exit
        self._after_fork = after_fork
        self._pools: weakref.WeakSet[Any] = weakref.WeakSet()
        self._installed = False
        self._lock = threading.Lock()

    def track(self, pool: P) -> None:
        """Remember ``pool``; install the hooks the first time. Takes a lock briefly."""
        with self._lock:
            if not self._installed:
                self._installed = True
                with contextlib.suppress(RuntimeError, AttributeError):  # already shutting down
                    threading._register_atexit(self._at_exit)  # type: ignore[attr-defined]
                if hasattr(os, "register_at_fork"):
                    os.register_at_fork(after_in_child=self._after_fork)
            self._pools.add(pool)

    def pools(self) -> list[P]:
        """The pools alive now (a copy: safe to iterate while pools come and go)."""
        return list(self._pools)

    def forget_after_fork(self) -> list[P]:
        """In a forked child: forget the parent's pools and return them.

        The lock is made anew: a parent's thread that held it did not survive
        the fork. The hooks stay installed (they were inherited).
        """
        self._lock = threading.Lock()
        pools = list(self._pools)
        self._pools.clear()
        return pools

FORKED_STATS = Stats(0, 0, 0, 0, 0, 0, 0, 0)
"""The stats of a pool's copy in a forked child: it has no jobs."""


def forked_report() -> ShutdownReport:
    """The shutdown report of a pool's copy in a forked child: clean, nothing done."""
    return ShutdownReport(clean=True, elapsed=0.0, drained=(), canceled=(), abandoned=(),
                          stats=FORKED_STATS)


def unstoppable(steps: Callable[..., T], *args: Any) -> T:
    """Run ``steps(*args)`` in a thread of its own and wait for it.

    Shutdown moves many jobs in the ledger and wakes parked threads; a
    ``KeyboardInterrupt`` (which only the main thread receives) landing
    half-way through such a move would leave it half-done. Here it can only
    stop the caller's wait: the steps, each bounded, run to their end, and a
    later call finds them done. About 0.1 ms; other threads run the steps
    themselves.
    """
    if threading.current_thread() is not threading.main_thread():
        return steps(*args)  # no interrupt can reach this thread
    result: list[T] = []
    error: list[BaseException] = []

    def run() -> None:
        try:
            result.append(steps(*args))
        except BaseException as exc:  # handed to the caller
            error.append(exc)

    thread = threading.Thread(target=run, name="pool-shutdown", daemon=True)
    try:
        thread.start()
    except RuntimeError:  # at interpreter exit no thread can start: run them here
        return steps(*args)
    thread.join()
    if error:
        raise error[0]
    return result[0]
