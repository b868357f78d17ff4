"""Jobs for the ProcessPool tests: one picklable ``process`` whose behaviour is in the payload.

A worker process imports this module by name, so it imports only the
standard library and ``pool`` (a worker that had to import pytest would take
far longer to start). Build jobs with :func:`job`::

    pool = ProcessPool(procjobs.run, 2)
    pool.submit(procjobs.job("a", "sleep", 0.2))

Actions (the payload is ``"action arg..."``, UTF-8):

- ``ok [value]``: return ``value`` (default: the job id).
- ``sleep S``: sleep S seconds, ignoring the context; return the job id.
- ``spin S``: burn CPU for S seconds of wall time; return the job id.
- ``hang [S]``: sleep (default 60 s), ignoring the context: only a kill ends it.
- ``honour [S [PATH]]``: create file PATH if given, wait on ``job.ctx`` (at most S s,
  default 30) and raise ``ctx.err()``.
- ``ignore-term PATH``: ignore SIGTERM, create file PATH, sleep 60 s.
- ``work N``: N loops of CPU work (a fixed amount, unlike ``spin``); return the job id.
- ``mark PATH [S]``: create file PATH, then sleep S s (default 60) ignoring the context.
- ``exit CODE``: ``os._exit(CODE)``, the worker dies.
- ``signal NAME``: the worker kills itself with signal NAME (e.g. SIGKILL, SIGSEGV).
- ``raise MESSAGE``: raise ``ValueError(MESSAGE)``.
- ``sysexit``: raise ``SystemExit``.
- ``bad-result``: return a ``threading.Lock`` (does not pickle).
- ``bad-exception``: raise an exception holding a lock (does not pickle).
- ``bad-exception-init``: raise an exception that pickles but cannot be unpickled.
- ``bad-unpickle-result``: return an object that pickles but fails to unpickle.
- ``pid``: return the worker's pid.
- ``worker``: return ``pool.current_worker_id()`` in the worker.
- ``deadline``: return ``job.ctx.deadline()``.
- ``log PATH``: append the job id to file PATH, return the job id.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from dataclasses import dataclass
from typing import Any

from pool import Job, current_worker_id


def job(job_id: str, action: str = "ok", *args: object, ctx: Any = None) -> Job:
    """A Job whose payload tells :func:`run` what to do."""
    payload = " ".join([action, *map(str, args)]).encode()
    return Job(job_id, payload) if ctx is None else Job(job_id, payload, ctx)


class Unpicklable(Exception):
    """An exception holding a lock: it does not pickle."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.lock = threading.Lock()


class NeedsTwoArgs(Exception):
    """Pickles (as ``NeedsTwoArgs(message)``) but cannot be rebuilt: ``__init__`` wants two."""

    def __init__(self, a: str, b: str) -> None:
        super().__init__(f"{a} {b}")


class BreaksOnLoad:
    """Pickles, but raises when unpickled (also as a ``process``: a worker cannot load it)."""

    def __call__(self, job: Job) -> None:
        return None

    def __reduce__(self) -> tuple[Any, ...]:
        return (_fail_on_load, ())


def _fail_on_load() -> None:
    raise RuntimeError("cannot be rebuilt here")


@dataclass(frozen=True, slots=True)
class TaggedJob(Job):
    """A Job subclass with a field of its own."""

    tag: str = ""


@dataclass(frozen=True, slots=True)
class LockedJob(Job):
    """A Job subclass holding a lock: it does not pickle."""

    lock: Any = None


def spin(seconds: float) -> int:
    """Burn CPU for ``seconds`` of wall time; return how many loops it made."""
    end = time.monotonic() + seconds
    n = 0
    while time.monotonic() < end:
        for _ in range(1000):
            n += 1
    return n


def work(loops: int) -> int:
    """A fixed amount of CPU work: ``loops`` iterations of integer arithmetic."""
    total = 0
    for i in range(loops):
        total = (total + i * i) % 1_000_003
    return total


def run(job: Job) -> Any:
    words = job.payload.decode().split(" ")
    action, args = words[0], words[1:]
    if isinstance(job, TaggedJob):
        return (type(job).__name__, job.id, job.tag, job.payload)
    if action == "ok":
        return args[0] if args else job.id
    if action == "sleep":
        time.sleep(float(args[0]))
        return job.id
    if action == "spin":
        spin(float(args[0]))
        return job.id
    if action == "hang":
        time.sleep(float(args[0]) if args else 60.0)
        return job.id
    if action == "honour":
        if len(args) > 1:
            open(args[1], "w").close()
        job.ctx.wait(float(args[0]) if args else 30.0)
        err = job.ctx.err()
        if err is not None:
            raise err
        return "context never ended"
    if action == "mark":
        with open(args[0], "w") as f:
            f.write(str(os.getpid()))
        time.sleep(float(args[1]) if len(args) > 1 else 60.0)
        return job.id
    if action == "ignore-term":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        open(args[0], "w").close()
        time.sleep(60)
        return job.id
    if action == "work":
        work(int(args[0]))
        return job.id
    if action == "exit":
        os._exit(int(args[0]))
    if action == "signal":
        os.kill(os.getpid(), getattr(signal, args[0]))
        time.sleep(10)
    if action == "raise":
        raise ValueError(" ".join(args))
    if action == "sysexit":
        raise SystemExit(3)
    if action == "bad-result":
        return threading.Lock()
    if action == "bad-exception":
        raise Unpicklable("holds a lock")
    if action == "bad-exception-init":
        raise NeedsTwoArgs("a", "b")
    if action == "bad-unpickle-result":
        return BreaksOnLoad()
    if action == "pid":
        return os.getpid()
    if action == "worker":
        return current_worker_id()
    if action == "deadline":
        return job.ctx.deadline()
    if action == "log":
        with open(args[0], "a") as f:
            f.write(job.id + "\n")
        return job.id
    raise AssertionError(f"unknown action {action!r}")
