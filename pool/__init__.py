"""A production worker pool, built stage by stage from the Go pattern.

Stages: :class:`Job` (1), :func:`worker` (2), :func:`start_workers` (3),
:func:`shutdown` (4); the primitives they stand on: :class:`Context`,
:class:`Channel`, :class:`WaitGroup`; and all of it in one production
object, :class:`WorkerPool`, whose ``submit`` returns a :class:`JobFuture`;
:class:`Executor` is a ``concurrent.futures.Executor`` on it; :class:`ProcessPool`
is the same contract on worker processes (CPU-bound work, hard timeouts).
``pool.timeline`` and ``pool.widgets`` (need matplotlib / ipywidgets) draw
what a pool did; ``pool.checks`` checks the
course's exercises.
"""

import logging

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

# A library logs but does not decide where logs go: without this, Python's
# last-resort handler would print failures from worker threads to stderr.
logging.getLogger("pool").addHandler(logging.NullHandler())

__all__ = [
    "Abandoned",
    "Canceled",
    "Channel",
    "ChannelClosed",
    "Context",
    "ContextError",
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
