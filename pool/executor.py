"""``pool.Executor``: a ``concurrent.futures.Executor`` on a :class:`~pool.WorkerPool`.

A drop-in for ``ThreadPoolExecutor``: the same constructor, ``submit``,
``map`` and ``shutdown(wait, cancel_futures)``; code written for the
standard library keeps working. What it adds is what the pool adds:

- a bounded buffer (``buffer=100`` by default): ``submit`` blocks while it
  is full, which is backpressure; ``buffer=None`` is unbounded, like the
  standard library;
- ``shutdown(timeout=..., grace=...)``: a hung call cannot hold shutdown
  (or interpreter exit) forever; it is reported ABANDONED and its future
  raises :class:`~pool.Abandoned`;
- ``.pool``, the :class:`~pool.WorkerPool`, for ``stats``, ``trace``,
  ``report``, ``outcomes`` and ``plot_timeline``.

Where it differs from ``ThreadPoolExecutor``, on purpose:

- Its workers start at construction, before any call is submitted (the
  Go dispatcher's rule), so ``initializer`` runs then; if it raises, the
  executor is broken at once and ``submit`` raises ``BrokenThreadPool``.
- Each call is a :class:`~pool.Job` whose ``ctx`` is the pool context:
  a call can watch ``pool.current_job_context()`` to stop early when the
  executor is cancelled or shut down past its timeout.
- ``submit`` blocks while the buffer is full; a call that submits to its
  own executor and waits for the result can deadlock a full pool, as in
  any bounded pool. Use ``buffer=None`` for that pattern.
"""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent import futures
from typing import Any, TypeVar

from ._validate import check_callable, check_seconds, check_timeout, type_name
from .context import Context
from .job import Job
from .ledger import JobFuture, ShutdownReport
from .worker import _local
from .workerpool import WorkerPool

__all__ = ["Executor", "current_job_context"]

T = TypeVar("T")

_executors = itertools.count()


class _Call(Job):
    """A job that is one call: ``fn(*args, **kwargs)``. Made only by :class:`Executor`."""

    __slots__ = ("args", "fn", "kwargs")
    fn: Callable[..., Any]
    args: tuple[Any, ...]
    kwargs: dict[str, Any]

    def __init__(self, job_id: str, ctx: Context, fn: Callable[..., Any],
                 args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        # One per call, so set the fields the way a frozen dataclass's own
        # __init__ does, without Job's checks: the id, the empty payload and
        # the pool context are the executor's own, valid by construction.
        object.__setattr__(self, "id", job_id)
        object.__setattr__(self, "payload", b"")
        object.__setattr__(self, "ctx", ctx)
        object.__setattr__(self, "fn", fn)
        object.__setattr__(self, "args", args)
        object.__setattr__(self, "kwargs", kwargs)

    def __repr__(self) -> str:
        name = getattr(self.fn, "__qualname__", type(self.fn).__name__)
        return f"_Call(id={self.id!r}, fn={name})"


def _run_call(job: Job) -> Any:
    # The pool's process function: the job is always a _Call.
    call: _Call = job  # type: ignore[assignment]
    return call.fn(*call.args, **call.kwargs)


class Executor(futures.Executor):
    """A ``ThreadPoolExecutor`` that is a production worker pool underneath.

    ``Executor(max_workers=None, thread_name_prefix="", initializer=None,
    initargs=(), *, buffer=100, keep=10_000, exit_timeout=5.0)``.
    ``max_workers`` defaults to ``min(32, CPUs this process may use + 4)``
    as in the standard library. Workers start now. Raises ``TypeError``/``ValueError``
    for bad arguments, naming them.
    """

    def __init__(
        self,
        max_workers: int | None = None,
        thread_name_prefix: str = "",
        initializer: Callable[..., object] | None = None,
        initargs: tuple[Any, ...] = (),
        *,
        buffer: int | None = 100,
        keep: int = 10_000,
        exit_timeout: float = 5.0,
    ) -> None:
        if max_workers is None:
            # the CPUs this process may use (3.13+), as the standard library counts them
            cpus = getattr(os, "process_cpu_count", os.cpu_count)()
            max_workers = min(32, (cpus or 1) + 4)
        else:
            if isinstance(max_workers, bool) or not isinstance(max_workers, int):
                raise TypeError(f"max_workers must be an int, got {type_name(max_workers)}")
            if max_workers <= 0:  # the standard library's words
                raise ValueError("max_workers must be greater than 0")
        if not isinstance(thread_name_prefix, str):
            raise TypeError("thread_name_prefix must be a str, "
                            f"got {type_name(thread_name_prefix)}")
        if initializer is not None:
            check_callable(initializer, "initializer")
        prefix = thread_name_prefix or f"pool.Executor-{next(_executors)}"
        self._pool = WorkerPool(
            _run_call, max_workers, buffer=buffer, keep=keep, exit_timeout=exit_timeout,
            initializer=initializer, initargs=initargs,
            keep_results=False,  # as the standard library: a result lives as long as its future
            # 0-based names, as ThreadPoolExecutor gives them
            _thread_name=lambda worker_id: f"{prefix}_{worker_id - 1}")
        self._ids = itertools.count(1)
        self._ctx = self._pool.context

    @property
    def pool(self) -> WorkerPool:
        """The :class:`~pool.WorkerPool` underneath: ``stats``, ``trace``, ``report``."""
        return self._pool

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> JobFuture:
        """Schedule ``fn(*args, **kwargs)``; return its future (a :class:`~pool.JobFuture`).

        Blocks while the buffer is full. The call runs in a copy of the
        caller's ``contextvars``. Raises ``RuntimeError`` (``PoolClosed``)
        after shutdown, ``BrokenThreadPool`` if an initializer failed,
        ``TypeError`` if ``fn`` is not callable.
        """
        return self._submit(fn, args, kwargs, None)

    def _submit(self, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any],
                timeout: float | None) -> JobFuture:
        if not callable(fn):
            raise TypeError(f"fn must be callable, got {type_name(fn)}")
        job = _Call(str(next(self._ids)), self._ctx, fn, args, kwargs)
        return self._pool.submit(job, timeout)

    def map(self, fn: Callable[..., T], *iterables: Iterable[Any], timeout: float | None = None,
            chunksize: int = 1) -> Iterator[T]:
        """``map(fn, *iterables)`` in the pool; results in order, as the standard library's.

        Submits every call first, then yields results. ``timeout`` bounds
        the whole of it, the waits for room in the buffer included
        (``TimeoutError``). Leaving the iterator early cancels the calls not
        yet started. ``chunksize`` is accepted and ignored, as by
        ``ThreadPoolExecutor``.
        """
        limit = check_timeout(timeout)  # None: no limit
        end = None if limit is None else time.monotonic() + limit
        fs: list[JobFuture] = []
        try:
            for args in zip(*iterables, strict=False):
                left = None if end is None else max(0.0, end - time.monotonic())
                fs.append(self._submit(fn, args, {}, left))
        except BaseException:
            for future in fs:
                future.cancel()
            raise

        def results() -> Iterator[T]:
            try:
                fs.reverse()  # pop() from the end, dropping each future once yielded
                while fs:
                    left = None if end is None else end - time.monotonic()
                    yield _result_or_cancel(fs.pop(), left)
            finally:
                for future in fs:
                    future.cancel()

        return results()

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False,
                 timeout: float | None = None, grace: float = 0.1) -> None:
        """Stop taking calls; with ``wait``, wait for the calls already submitted.

        ``cancel_futures=True`` cancels the calls not yet started. With
        ``wait=True`` it waits at most ``timeout`` seconds (``None``:
        forever, as the standard library), then cancels the pool context
        and waits ``grace`` more; calls still running are ABANDONED (their
        futures raise :class:`~pool.Abandoned`). ``.pool.report`` says
        what happened. With ``wait=False`` it returns at once; the calls
        already submitted still run. Raises ``RuntimeError`` when called
        with ``wait=True`` from one of this executor's own calls.
        """
        # Stricter than the standard library, which takes any value for its truth:
        # a bad argument type is a TypeError naming it, as everywhere in pool.
        if not isinstance(wait, bool):
            raise TypeError(f"wait must be a bool, got {type_name(wait)}")
        if not isinstance(cancel_futures, bool):
            raise TypeError(f"cancel_futures must be a bool, got {type_name(cancel_futures)}")
        timeout = check_timeout(timeout)
        grace = check_seconds(grace, "grace")
        if wait:
            self._pool.shutdown(timeout, drain=not cancel_futures, grace=grace)
        else:
            self._pool._stop_intake(drain=not cancel_futures)

    @property
    def report(self) -> ShutdownReport | None:
        """The pool's shutdown report, once ``shutdown(wait=True)`` has returned."""
        return self._pool.report

    def __repr__(self) -> str:
        return f"<pool.Executor {self._pool!r}>"


def _result_or_cancel(future: JobFuture, timeout: float | None) -> Any:
    # As the standard library's map: a future that times out is cancelled,
    # and the iterator holds no reference to a result it has yielded.
    try:
        try:
            return future.result(timeout)
        finally:
            future.cancel()
    finally:
        del future


def current_job_context() -> Context | None:
    """The context of the :class:`Executor` call running in this thread, or ``None``.

    A call does not receive its job, so this is how it sees its context,
    the pool context: check ``ctx.done()`` or use ``ctx.sleep()`` to stop
    when the executor is cancelled or its shutdown times out. In a
    :class:`~pool.WorkerPool` job it is the pool context too (the job's own,
    merged one is ``job.ctx``). ``None`` outside a pool's worker thread.
    Never blocks.
    """
    return getattr(_local, "pool_ctx", None)
