"""Jobs and servers for the DaskPool tests.

The jobs are one ``process``, :func:`run`, whose behaviour is in the payload
(``"action arg..."``), as in ``procjobs``. The workers cannot import this
module (``tests/`` is not on their path), so the tests ship it by value:
:func:`ship_by_value` registers it with cloudpickle.

Actions: ``ok``; ``sleep S`` (ignores its ctx); ``raise MESSAGE``;
``honour S`` (waits on ``job.ctx`` at most S s, raises its error);
``gate NAME`` (waits for the Dask Event NAME, at most 30 s);
``twice NAME PATH`` (appends its pid to PATH, sets the Event NAME-started,
and on its first run waits for the Event NAME; returns how many runs PATH
records); ``hang S`` (sleeps, ignoring everything).

:class:`Servers` starts a real ``dask scheduler`` and ``dask worker``
(under a nanny) as separate processes on 127.0.0.1.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pool import Job

EVENT_WAIT = 30.0


def job(job_id: str, action: str = "ok", *args: object, ctx: Any = None) -> Job:
    payload = " ".join([action, *map(str, args)]).encode()
    return Job(job_id, payload) if ctx is None else Job(job_id, payload, ctx)


def run(job: Job) -> Any:
    import distributed

    action, *args = job.payload.decode().split(" ")
    if action == "ok":
        return job.id
    if action == "sleep":
        time.sleep(float(args[0]))
        return job.id
    if action == "raise":
        raise ValueError(" ".join(args))
    if action == "honour":
        job.ctx.wait(float(args[0]))
        err = job.ctx.err()
        if err is not None:
            raise err
        return job.id
    if action == "gate":
        if not distributed.Event(args[0]).wait(EVENT_WAIT):
            raise TimeoutError(f"gate {args[0]} not opened")
        return job.id
    if action == "twice":
        name, path = args
        with open(path, "a") as f:
            f.write(f"{os.getpid()}\n")
        runs = len(Path(path).read_text().split())
        distributed.Event(f"{name}-started").set()
        if runs == 1 and not distributed.Event(name).wait(EVENT_WAIT):
            raise TimeoutError(f"gate {name} not opened")
        return runs
    if action == "hang":
        time.sleep(float(args[0]))
        return job.id
    raise ValueError(f"unknown action {action!r}")


@dataclass(frozen=True, slots=True)
class Tagged(Job):
    """A Job subclass with a field of its own."""

    tag: str = field(default="x")


def tag_of(job: Job) -> tuple[str, str, bool]:
    """``process`` for Tagged jobs: its class, its tag, whether its ctx is done."""
    return type(job).__name__, getattr(job, "tag", "?"), job.ctx.done()


def ship_by_value() -> None:
    """Let cloudpickle send this module's functions to workers that cannot import it."""
    import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__])


def close_cluster(cluster: Any) -> None:
    """Close a LocalCluster whose workers were killed and restarted during the test.

    distributed's SpecCluster can be told a worker was removed that it never
    saw added (dask/distributed#5407; seen here once in ten runs after the
    ledger test's kills): its status watcher dies with a KeyError, which
    ``close()`` raises at its very end, after the workers and the scheduler
    are closed. That is not this test's failure: check that everything did
    close, and go on.
    """
    try:
        cluster.close()
    except KeyError as exc:
        from distributed.core import Status

        nannies = list(cluster.workers.values())
        done = {Status.closing, Status.closed, Status.failed}
        open_ = [n for n in nannies if n.status not in done]
        assert not open_, f"close() raised {exc!r} and left {open_} open"
        scheduler = cluster.scheduler
        assert scheduler is None or scheduler.status in done, scheduler.status


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Servers:
    """A ``dask scheduler`` and a ``dask worker`` (with a nanny), as separate processes."""

    scheduler: subprocess.Popen[bytes]
    worker: subprocess.Popen[bytes]
    address: str

    @classmethod
    def start(cls, tmp: Path) -> Servers:
        port = free_port()
        address = f"tcp://127.0.0.1:{port}"
        with (tmp / "scheduler.log").open("wb") as log:  # the child keeps its own copy
            scheduler = subprocess.Popen(
                [sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
                 "--port", str(port), "--dashboard-address", ":0", "--no-show"],
                stdout=log, stderr=subprocess.STDOUT, cwd=tmp)
        try:
            with (tmp / "worker.log").open("wb") as log:
                worker = subprocess.Popen(
                    [sys.executable, "-m", "distributed.cli.dask_worker", address,
                     "--nthreads", "1", "--nworkers", "1", "--host", "127.0.0.1",
                     "--no-dashboard", "--local-directory", str(tmp)],
                    stdout=log, stderr=subprocess.STDOUT, cwd=tmp)
        except BaseException:
            scheduler.kill()
            scheduler.wait(10)
            raise
        return cls(scheduler, worker, address)

    def stop(self) -> None:
        """Terminate the worker (and so its nanny's child), then the scheduler; reap both.

        In that order: a worker whose scheduler is gone spends about 8 s trying
        to say goodbye to it before it exits (with 1); with the scheduler
        still up it exits at once. What lingers past 10 s is killed.
        """
        for p in (self.worker, self.scheduler):
            if p.poll() is None:
                p.terminate()
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(10)
