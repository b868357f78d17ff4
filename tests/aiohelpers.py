"""What the AsyncPool tests share: a bounded asyncio.run, scripted jobs, future checks."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, TypeVar

from pool import Abandoned, Job, Outcome, Status

T = TypeVar("T")
BOUND = 10.0  # no test coroutine may run longer than this


def run(main: Callable[[], Awaitable[T]], bound: float = BOUND) -> T:
    """``asyncio.run(main())`` bounded by ``bound`` seconds (a fresh loop each time: no leaks)."""
    async def bounded() -> T:
        async with asyncio.timeout(bound):
            return await main()

    return asyncio.run(bounded())


class Script:
    """``process`` for tests: each job's payload names what it does.

    ``ok`` returns the job id; ``fail`` raises ValueError; ``exit`` raises
    SystemExit; ``hang`` awaits far longer than any test (cancellable);
    ``swallow`` swallows every CancelledError until ``release`` is set (or
    ``BOUND`` passes), then returns; ``block S`` blocks the loop S seconds
    with time.sleep; ``blockhang S`` blocks, then hangs; ``sleep S`` awaits
    S seconds; ``gate`` waits for ``gate`` to be set. ``started`` is set
    for a job id once it starts; ``seen`` holds each job as process got it.
    """

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.gate = asyncio.Event()
        self.started: dict[str, asyncio.Event] = {}
        self.seen: dict[str, Job] = {}

    def started_event(self, job_id: str) -> asyncio.Event:
        return self.started.setdefault(job_id, asyncio.Event())

    async def wait_started(self, *job_ids: str) -> None:
        for job_id in job_ids:
            await self.started_event(job_id).wait()

    async def __call__(self, job: Job) -> Any:
        self.seen[job.id] = job
        self.started_event(job.id).set()
        action, _, arg = job.payload.decode().partition(" ")
        if action in ("", "ok"):
            return job.id
        if action == "fail":
            raise ValueError(f"boom {job.id}")
        if action == "exit":
            raise SystemExit(3)
        if action == "hang":
            await asyncio.sleep(3600)
        if action == "swallow":
            limit = time.monotonic() + BOUND
            while not self.release.is_set() and time.monotonic() < limit:
                with contextlib.suppress(asyncio.CancelledError):  # swallowed
                    await self.release.wait()
            return "swallowed"
        if action == "block":
            time.sleep(float(arg))
            return job.id
        if action == "blockhang":
            time.sleep(float(arg))
            await asyncio.sleep(3600)
        if action == "sleep":
            await asyncio.sleep(float(arg))
            return job.id
        if action == "gate":
            await self.gate.wait()
            return job.id
        raise AssertionError(f"unknown action {action!r}")


def job(job_id: str, action: str = "ok", **kwargs: Any) -> Job:
    return Job(job_id, action.encode(), **kwargs)


def future_problems(futures: Iterable[Any], outcomes: Iterable[Outcome],
                    callbacks: Mapping[str, int] | None = None) -> list[str]:
    """Each AsyncJobFuture agrees with its job's outcome (asyncio flavour of poolhelpers').

    SUCCEEDED: the result; never ran and CANCELED, or cancelled through the
    future: a cancelled future; ABANDONED: an Abandoned naming job and
    worker; anything else: the outcome's error. With ``callbacks``, each
    done callback ran exactly once.
    """
    ended = {o.job_id: o for o in outcomes}
    problems: list[str] = []
    for future in futures:
        job_id = future.job_id
        if not future.done():
            problems.append(f"future of job {job_id!r} is not done")
            continue
        outcome = ended.get(job_id)
        if outcome is None:
            problems.append(f"future of job {job_id!r} is done but the job has no outcome")
            continue
        if future.outcome != outcome:
            problems.append(f"future of {job_id!r} has outcome {future.outcome}, ledger {outcome}")
        status = outcome.status
        if future.cancelled():
            if status is not Status.CANCELED:
                problems.append(f"job {job_id!r} ended {status.name} but its future is cancelled")
        elif status is Status.CANCELED and outcome.started_at is None:
            problems.append(f"job {job_id!r} never ran, ended CANCELED, future not cancelled")
        elif status is Status.SUCCEEDED:
            if future.exception() is not None or future.result() != outcome.result:
                problems.append(f"job {job_id!r} SUCCEEDED but its future says "
                                f"{future.exception()!r}")
        elif status is Status.ABANDONED:
            error = future.exception()
            if not (isinstance(error, Abandoned) and error.job_id == job_id
                    and error.worker_id == outcome.worker_id):
                problems.append(f"job {job_id!r} ABANDONED but its future raised {error!r}")
        elif future.exception() is not outcome.error:
            problems.append(f"job {job_id!r} ended {status.name} with {outcome.error!r}, "
                            f"future raised {future.exception()!r}")
        if callbacks is not None and callbacks.get(job_id, 0) != 1:
            problems.append(f"done callback of {job_id!r} ran {callbacks.get(job_id, 0)} times")
    return problems
