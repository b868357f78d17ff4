"""A production worker pool, built stage by stage from the Go pattern.

Stages: :class:`Job` (1), :func:`worker` (2), :func:`start_workers` (3),
:func:`shutdown` (4); the primitives they stand on: :class:`Context`,
:class:`Channel`, :class:`WaitGroup`; and all of it in one production
object, :class:`WorkerPool`, whose ``submit`` returns a :class:`JobFuture`;
:class:`Executor` is a ``concurrent.futures.Executor`` on it; :class:`ProcessPool`
is the same contract on worker processes (CPU-bound work, hard timeouts),
:class:`AsyncPool` on asyncio tasks (real cancellation) and :class:`DaskPool`
on a Dask distributed cluster; those two are imported when first used, so
``import pool`` imports neither asyncio nor ``distributed``.
``pool.timeline`` and ``pool.widgets`` (need matplotlib / ipywidgets) draw
what a pool did; ``pool.checks`` checks the
course's exercises.
"""

import logging
from typing import TYPE_CHECKING, Any

from .channel import Channel, ChannelClosed
from .context import Canceled, Context, ContextError, DeadlineExceeded, background
from .dispatcher import start_workers
from .executor import Executor, current_job_context
from .job import Job, Outcome, Status
from .ledger import Abandoned, JobFuture, PoolClosed, ShutdownReport, Stats
from .processes import ProcessPool, WorkerDied
from .shutdown import shutdown
from .trace import Event, Span, Trace
from .waitgroup import WaitGroup
from .worker import current_worker_id, worker
from .workerpool import WorkerPool

if TYPE_CHECKING:
    from .aio import AsyncJobFuture, AsyncPool, BlockedLoopWarning
    from .cluster import DaskPool

# Engines whose module imports something heavy or optional, imported on first use.
_LAZY = {"AsyncJobFuture": "aio", "AsyncPool": "aio", "BlockedLoopWarning": "aio",
         "DaskPool": "cluster"}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'pool' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # the next lookup does not come here
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


# A library logs but does not decide where logs go: without this, Python's
# last-resort handler would print failures from worker threads to stderr.
logging.getLogger("pool").addHandler(logging.NullHandler())

__all__ = [
    "Abandoned",
    "AsyncJobFuture",
    "AsyncPool",
    "BlockedLoopWarning",
    "Canceled",
    "Channel",
    "ChannelClosed",
    "Context",
    "ContextError",
    "DaskPool",
    "DeadlineExceeded",
    "Event",
    "Executor",
    "Job",
    "JobFuture",
    "Outcome",
    "PoolClosed",
    "ProcessPool",
    "ShutdownReport",
    "Span",
    "Stats",
    "Status",
    "Trace",
    "WaitGroup",
    "WorkerDied",
    "WorkerPool",
    "background",
    "current_job_context",
    "current_worker_id",
    "shutdown",
    "start_workers",
    "worker",
]

__version__ = "0.1.0"
