"""Answers to notebook 12's exercise, right and wrong, as a learner could write them.

The exercise asks for ``async def run_pool(process, jobs, workers, timeout)
-> dict[str, str]`` (see ``pool.checks.check_async_pool``). ``RIGHT`` holds
correct answers in different styles; ``WRONG`` one answer per classic
mistake, with the scenario whose hint must name it, a phrase of that hint,
and the scenarios it still passes. ``tests/test_check_async_pool.py`` runs
them all through the checker.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from dataclasses import dataclass
from typing import Any

from pool import Job

# -- the scenarios, as the checker prints them (after "run_pool ") ---------------------------

RUNS = "runs every job exactly once ('succeeded')"
FAILS = "keeps the workers going after a job fails ('failed')"
BOUNDED = "runs `workers` jobs at a time, no more"
EARLY = "returns as soon as every job is done"
LOOP = "never blocks the event loop"
HUNG = "cancels hung jobs at the timeout ('canceled') and returns"
SCENARIOS = (RUNS, FAILS, BOUNDED, EARLY, LOOP, HUNG)


def _queue_of(jobs: list[Job]) -> asyncio.Queue[Job]:
    queue: asyncio.Queue[Job] = asyncio.Queue()
    for job in jobs:
        queue.put_nowait(job)
    return queue


# -- right answers -----------------------------------------------------------------------------

async def gather_workers(process: Any, jobs: list[Job], workers: int,
                         timeout: float) -> dict[str, str]:
    """Workers gathered with return_exceptions=True, the whole gather under wait_for."""
    queue = _queue_of(jobs)
    status = {job.id: "canceled" for job in jobs}

    async def worker() -> None:
        while True:
            try:
                job = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            try:
                await process(job)
                status[job.id] = "succeeded"
            except Exception:
                status[job.id] = "failed"

    tasks = [asyncio.create_task(worker()) for _ in range(workers)]
    # on timeout wait_for cancels the gather, which cancels every worker, and waits for them
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), timeout)
    return status


async def wait_then_cancel(process: Any, jobs: list[Job], workers: int,
                           timeout: float) -> dict[str, str]:
    """No TaskGroup: a sentinel per worker closes the queue; asyncio.wait, cancel, gather."""
    queue: asyncio.Queue[Job | None] = asyncio.Queue()
    for job in jobs:
        await queue.put(job)
    for _ in range(workers):
        await queue.put(None)             # Go's close(jobs): one "no more" per worker
    done: dict[str, str] = {}

    async def worker() -> None:
        while (job := await queue.get()) is not None:
            try:
                await process(job)
            except asyncio.CancelledError:
                done[job.id] = "canceled"
                raise
            except Exception:
                done[job.id] = "failed"
            else:
                done[job.id] = "succeeded"

    tasks = [asyncio.create_task(worker()) for _ in range(workers)]
    _, pending = await asyncio.wait(tasks, timeout=timeout)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    return {job.id: done.get(job.id, "canceled") for job in jobs}


async def timeout_around_taskgroup(process: Any, jobs: list[Job], workers: int,
                                   timeout: float) -> dict[str, str]:
    """asyncio.timeout around the TaskGroup: at the deadline the group cancels its workers."""
    queue = _queue_of(jobs)
    status = dict.fromkeys((job.id for job in jobs), "canceled")

    async def worker() -> None:
        while not queue.empty():
            job = await queue.get()
            try:
                await process(job)
                status[job.id] = "succeeded"
            except Exception:
                status[job.id] = "failed"

    try:
        async with asyncio.timeout(timeout), asyncio.TaskGroup() as tg:
            for _ in range(workers):
                tg.create_task(worker())
    except TimeoutError:
        pass
    return status


class AsyncWorkerPool:
    """A class-based pool: start() the workers, submit jobs, shutdown(timeout)."""

    def __init__(self, process: Any, workers: int) -> None:
        self.process = process
        self.queue: asyncio.Queue[Job] = asyncio.Queue(maxsize=100)
        self.status: dict[str, str] = {}
        self.tasks = [asyncio.create_task(self._work(n)) for n in range(workers)]

    async def submit(self, job: Job) -> None:
        self.status[job.id] = "canceled"      # until a worker says otherwise
        await self.queue.put(job)

    async def _work(self, n: int) -> None:
        while True:
            job = await self.queue.get()
            try:
                await self.process(job)
                self.status[job.id] = "succeeded"
            except Exception:
                self.status[job.id] = "failed"
            finally:
                self.queue.task_done()

    async def shutdown(self, timeout: float) -> dict[str, str]:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.queue.join(), timeout)
        for task in self.tasks:               # idle ones wait in get(); busy ones are hung
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        return self.status


async def class_based(process: Any, jobs: list[Job], workers: int,
                      timeout: float) -> dict[str, str]:
    pool = AsyncWorkerPool(process, workers)
    for job in jobs:
        await pool.submit(job)
    return await pool.shutdown(timeout)


async def semaphore_per_job(process: Any, jobs: list[Job], workers: int,
                            timeout: float) -> dict[str, str]:
    """A task per job, a Semaphore letting `workers` of them run at once."""
    slots = asyncio.Semaphore(workers)
    status = dict.fromkeys((job.id for job in jobs), "canceled")

    async def run_one(job: Job) -> None:
        async with slots:
            try:
                await process(job)
                status[job.id] = "succeeded"
            except Exception:
                status[job.id] = "failed"

    tasks = [asyncio.create_task(run_one(job)) for job in jobs]
    _, pending = await asyncio.wait(tasks, timeout=timeout)
    for task in pending:
        task.cancel()
    if pending:                       # asyncio.wait refuses an empty set
        await asyncio.wait(pending)
    return status


async def queue_shutdown(process: Any, jobs: list[Job], workers: int,
                         timeout: float) -> dict[str, str]:
    """Python 3.13: Queue.shutdown() is Go's close(): get() raises QueueShutDown once drained."""
    queue: asyncio.Queue[Job] = asyncio.Queue()
    for job in jobs:
        queue.put_nowait(job)
    queue.shutdown()
    status = dict.fromkeys((job.id for job in jobs), "canceled")

    async def worker() -> None:
        while True:
            try:
                job = await queue.get()
            except asyncio.QueueShutDown:  # type: ignore[attr-defined,unused-ignore]
                return
            try:
                await process(job)
                status[job.id] = "succeeded"
            except Exception:
                status[job.id] = "failed"

    async with asyncio.TaskGroup() as tg:
        tasks = [tg.create_task(worker()) for _ in range(workers)]
        _, pending = await asyncio.wait(tasks, timeout=timeout)
        for task in pending:
            task.cancel()
    return status


RIGHT = [gather_workers, wait_then_cancel, timeout_around_taskgroup, class_based,
         semaphore_per_job]
if sys.version_info >= (3, 13):
    RIGHT.append(queue_shutdown)


# -- wrong answers: one per classic mistake ----------------------------------------------------

async def swallow_and_continue(process: Any, jobs: list[Job], workers: int,
                               timeout: float) -> dict[str, str]:
    """A swallowed CancelledError: noted 'canceled', then the worker takes the next job."""
    queue = _queue_of(jobs)
    status = dict.fromkeys((job.id for job in jobs), "canceled")

    async def worker() -> None:
        while not queue.empty():
            job = queue.get_nowait()
            try:
                await process(job)
                status[job.id] = "succeeded"
            except asyncio.CancelledError:
                status[job.id] = "canceled"   # ...and carries on with the next job
            except Exception:
                status[job.id] = "failed"

    async with asyncio.TaskGroup() as tg:
        tasks = [tg.create_task(worker()) for _ in range(workers)]
        _, pending = await asyncio.wait(tasks, timeout=timeout)
        for task in pending:
            task.cancel()
    return status


async def catch_base_exception(process: Any, jobs: list[Job], workers: int,
                               timeout: float) -> dict[str, str]:
    """A swallowed CancelledError: `except BaseException` around process keeps the worker alive."""
    queue = _queue_of(jobs)
    status = dict.fromkeys((job.id for job in jobs), "canceled")

    async def worker() -> None:
        while True:
            job = await queue.get()
            try:
                await process(job)
                status[job.id] = "succeeded"
            except BaseException:             # catches CancelledError too
                status[job.id] = "failed"
            queue.task_done()

    tasks = [asyncio.create_task(worker()) for _ in range(workers)]
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(queue.join(), timeout)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return status


async def no_try_in_worker(process: Any, jobs: list[Job], workers: int,
                           timeout: float) -> dict[str, str]:
    """A worker that dies with its first failing job: the TaskGroup then cancels the others."""
    queue = _queue_of(jobs)
    status = dict.fromkeys((job.id for job in jobs), "canceled")

    async def worker() -> None:
        while not queue.empty():
            job = queue.get_nowait()
            await process(job)
            status[job.id] = "succeeded"

    async with asyncio.TaskGroup() as tg:
        tasks = [tg.create_task(worker()) for _ in range(workers)]
        _, pending = await asyncio.wait(tasks, timeout=timeout)
        for task in pending:
            task.cancel()
    return status


async def gather_workers_die(process: Any, jobs: list[Job], workers: int,
                             timeout: float) -> dict[str, str]:
    """A worker that dies with its first failing job: return_exceptions only hides it."""
    queue = _queue_of(jobs)
    status = dict.fromkeys((job.id for job in jobs), "canceled")

    async def worker() -> None:
        while not queue.empty():
            job = queue.get_nowait()
            await process(job)
            status[job.id] = "succeeded"

    tasks = [asyncio.create_task(worker()) for _ in range(workers)]
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), timeout)
    return status


async def no_timeout(process: Any, jobs: list[Job], workers: int,
                     timeout: float) -> dict[str, str]:
    """A shutdown that waits forever: leaving the TaskGroup waits for a hung job forever."""
    queue = _queue_of(jobs)
    status = dict.fromkeys((job.id for job in jobs), "canceled")

    async def worker() -> None:
        while not queue.empty():
            job = queue.get_nowait()
            try:
                await process(job)
                status[job.id] = "succeeded"
            except Exception:
                status[job.id] = "failed"

    async with asyncio.TaskGroup() as tg:
        for _ in range(workers):
            tg.create_task(worker())
    return status


async def never_cancels(process: Any, jobs: list[Job], workers: int,
                        timeout: float) -> dict[str, str]:
    """A hung job left running: waits with a timeout, then returns without cancelling."""
    queue = _queue_of(jobs)
    status = dict.fromkeys((job.id for job in jobs), "canceled")

    async def worker() -> None:
        while not queue.empty():
            job = queue.get_nowait()
            try:
                await process(job)
                status[job.id] = "succeeded"
            except Exception:
                status[job.id] = "failed"

    tasks = [asyncio.create_task(worker()) for _ in range(workers)]
    await asyncio.wait(tasks, timeout=timeout)
    return dict(status)


async def cancel_without_waiting(process: Any, jobs: list[Job], workers: int,
                                 timeout: float) -> dict[str, str]:
    """A hung job left running: cancel() only asks, and nobody waits for the answer."""
    queue = _queue_of(jobs)
    status = dict.fromkeys((job.id for job in jobs), "canceled")

    async def worker() -> None:
        while not queue.empty():
            job = queue.get_nowait()
            try:
                await process(job)
                status[job.id] = "succeeded"
            except Exception:
                status[job.id] = "failed"

    tasks = [asyncio.create_task(worker()) for _ in range(workers)]
    _, pending = await asyncio.wait(tasks, timeout=timeout)
    for task in pending:
        task.cancel()
    return dict(status)


async def forgot_await_process(process: Any, jobs: list[Job], workers: int,
                               timeout: float) -> dict[str, str]:
    """`await` forgotten: process(job) only makes a coroutine; no job ever runs."""
    queue = _queue_of(jobs)
    status = dict.fromkeys((job.id for job in jobs), "canceled")

    async def worker() -> None:
        while not queue.empty():
            job = queue.get_nowait()
            try:
                process(job)
                status[job.id] = "succeeded"
            except Exception:
                status[job.id] = "failed"
            await asyncio.sleep(0)

    async with asyncio.TaskGroup() as tg:
        tasks = [tg.create_task(worker()) for _ in range(workers)]
        _, pending = await asyncio.wait(tasks, timeout=timeout)
        for task in pending:
            task.cancel()
    return status


async def forgot_await_put(process: Any, jobs: list[Job], workers: int,
                           timeout: float) -> dict[str, str]:
    """`await` forgotten: queue.put(job) never ran, so the workers find an empty queue."""
    queue: asyncio.Queue[Job] = asyncio.Queue()
    for job in jobs:
        queue.put(job)
    status = dict.fromkeys((job.id for job in jobs), "canceled")

    async def worker() -> None:
        while not queue.empty():
            job = queue.get_nowait()
            try:
                await process(job)
                status[job.id] = "succeeded"
            except Exception:
                status[job.id] = "failed"

    async with asyncio.TaskGroup() as tg:
        tasks = [tg.create_task(worker()) for _ in range(workers)]
        _, pending = await asyncio.wait(tasks, timeout=timeout)
        for task in pending:
            task.cancel()
    return status


async def forgot_await_sleep(process: Any, jobs: list[Job], workers: int,
                             timeout: float) -> dict[str, str]:
    """`await` forgotten: asyncio.sleep(timeout) returns at once, so the workers are cancelled."""
    queue = _queue_of(jobs)
    status = dict.fromkeys((job.id for job in jobs), "canceled")

    async def worker() -> None:
        while not queue.empty():
            job = queue.get_nowait()
            try:
                await process(job)
                status[job.id] = "succeeded"
            except Exception:
                status[job.id] = "failed"

    async with asyncio.TaskGroup() as tg:
        tasks = [tg.create_task(worker()) for _ in range(workers)]
        asyncio.sleep(timeout)            # give them `timeout` seconds
        for task in tasks:
            task.cancel()
    return status


async def time_sleep_shutdown(process: Any, jobs: list[Job], workers: int,
                              timeout: float) -> dict[str, str]:
    """Blocking the loop: time.sleep(timeout) as the shutdown's wait; no worker can run."""
    queue = _queue_of(jobs)
    status = dict.fromkeys((job.id for job in jobs), "canceled")

    async def worker() -> None:
        while not queue.empty():
            job = queue.get_nowait()
            try:
                await process(job)
                status[job.id] = "succeeded"
            except Exception:
                status[job.id] = "failed"

    async with asyncio.TaskGroup() as tg:
        tasks = [tg.create_task(worker()) for _ in range(workers)]
        time.sleep(timeout)
        for task in tasks:
            task.cancel()
    return status


async def time_sleep_between_jobs(process: Any, jobs: list[Job], workers: int,
                                  timeout: float) -> dict[str, str]:
    """Blocking the loop: a worker pausing with time.sleep between jobs stops every task."""
    queue = _queue_of(jobs)
    status = dict.fromkeys((job.id for job in jobs), "canceled")

    async def worker() -> None:
        while not queue.empty():
            job = queue.get_nowait()
            try:
                await process(job)
                status[job.id] = "succeeded"
            except Exception:
                status[job.id] = "failed"
            time.sleep(0.05)                  # let the other workers have a go

    async with asyncio.TaskGroup() as tg:
        tasks = [tg.create_task(worker()) for _ in range(workers)]
        _, pending = await asyncio.wait(tasks, timeout=timeout)
        for task in pending:
            task.cancel()
    return status


async def serial_workers(process: Any, jobs: list[Job], workers: int,
                         timeout: float) -> dict[str, str]:
    """Not concurrent: each worker is awaited in turn, so the first one runs every job."""
    queue = _queue_of(jobs)
    status = dict.fromkeys((job.id for job in jobs), "canceled")

    async def worker() -> None:
        while not queue.empty():
            job = queue.get_nowait()
            try:
                await process(job)
                status[job.id] = "succeeded"
            except Exception:
                status[job.id] = "failed"

    try:
        async with asyncio.timeout(timeout):
            for _ in range(workers):
                await worker()
    except TimeoutError:
        pass
    return status


async def task_per_job(process: Any, jobs: list[Job], workers: int,
                       timeout: float) -> dict[str, str]:
    """Unbounded: a task per job, all at once; `workers` is never used."""
    status = dict.fromkeys((job.id for job in jobs), "canceled")

    async def run_one(job: Job) -> None:
        try:
            await process(job)
            status[job.id] = "succeeded"
        except Exception:
            status[job.id] = "failed"

    try:
        async with asyncio.timeout(timeout), asyncio.TaskGroup() as tg:
            for job in jobs:
                tg.create_task(run_one(job))
    except TimeoutError:
        pass
    return status


async def fixed_sleep(process: Any, jobs: list[Job], workers: int,
                      timeout: float) -> dict[str, str]:
    """Waited the full timeout: asyncio.sleep(timeout), then cancel, even when all is done."""
    queue = _queue_of(jobs)
    status = dict.fromkeys((job.id for job in jobs), "canceled")

    async def worker() -> None:
        while not queue.empty():
            job = queue.get_nowait()
            try:
                await process(job)
                status[job.id] = "succeeded"
            except Exception:
                status[job.id] = "failed"

    async with asyncio.TaskGroup() as tg:
        tasks = [tg.create_task(worker()) for _ in range(workers)]
        await asyncio.sleep(timeout)
        for task in tasks:
            task.cancel()
    return status


async def workers_never_stop(process: Any, jobs: list[Job], workers: int,
                             timeout: float) -> dict[str, str]:
    """Waited the full timeout: workers wait on get() for more jobs, never ending on their own."""
    queue = _queue_of(jobs)
    status = dict.fromkeys((job.id for job in jobs), "canceled")

    async def worker() -> None:
        while True:
            job = await queue.get()
            try:
                await process(job)
                status[job.id] = "succeeded"
            except Exception:
                status[job.id] = "failed"

    async with asyncio.TaskGroup() as tg:
        tasks = [tg.create_task(worker()) for _ in range(workers)]
        _, pending = await asyncio.wait(tasks, timeout=timeout)
        for task in pending:
            task.cancel()
    return status


async def retry_failed(process: Any, jobs: list[Job], workers: int,
                       timeout: float) -> dict[str, str]:
    """A job run twice: a failed job goes back in the queue for one more try."""
    queue = _queue_of(jobs)
    status = dict.fromkeys((job.id for job in jobs), "canceled")
    tried: set[str] = set()

    async def worker() -> None:
        while not queue.empty():
            job = queue.get_nowait()
            try:
                await process(job)
                status[job.id] = "succeeded"
            except Exception:
                status[job.id] = "failed"
                if job.id not in tried:
                    tried.add(job.id)
                    queue.put_nowait(job)

    async with asyncio.TaskGroup() as tg:
        tasks = [tg.create_task(worker()) for _ in range(workers)]
        _, pending = await asyncio.wait(tasks, timeout=timeout)
        for task in pending:
            task.cancel()
    return status


async def fixed_share(process: Any, jobs: list[Job], workers: int,
                      timeout: float) -> dict[str, str]:
    """A job lost: each worker takes len(jobs) // workers jobs; the remainder never runs."""
    queue = _queue_of(jobs)
    status = dict.fromkeys((job.id for job in jobs), "canceled")

    async def worker() -> None:
        for _ in range(len(jobs) // workers):
            job = queue.get_nowait()
            try:
                await process(job)
                status[job.id] = "succeeded"
            except Exception:
                status[job.id] = "failed"

    async with asyncio.TaskGroup() as tg:
        tasks = [tg.create_task(worker()) for _ in range(workers)]
        _, pending = await asyncio.wait(tasks, timeout=timeout)
        for task in pending:
            task.cancel()
    return status


async def cancelled_as_failed(process: Any, jobs: list[Job], workers: int,
                              timeout: float) -> dict[str, str]:
    """A job cancelled at the timeout reported 'failed' (the cancel itself is re-raised)."""
    queue = _queue_of(jobs)
    status = dict.fromkeys((job.id for job in jobs), "canceled")

    async def worker() -> None:
        while not queue.empty():
            job = queue.get_nowait()
            try:
                await process(job)
                status[job.id] = "succeeded"
            except asyncio.CancelledError:
                status[job.id] = "failed"
                raise
            except Exception:
                status[job.id] = "failed"

    async with asyncio.TaskGroup() as tg:
        tasks = [tg.create_task(worker()) for _ in range(workers)]
        _, pending = await asyncio.wait(tasks, timeout=timeout)
        for task in pending:
            task.cancel()
    return status


async def started_jobs_only(process: Any, jobs: list[Job], workers: int,
                            timeout: float) -> dict[str, str]:
    """Only the jobs a worker took are in the result: one still queued is lost."""
    queue = _queue_of(jobs)
    status: dict[str, str] = {}

    async def worker() -> None:
        while not queue.empty():
            job = queue.get_nowait()
            try:
                await process(job)
                status[job.id] = "succeeded"
            except asyncio.CancelledError:
                status[job.id] = "canceled"
                raise
            except Exception:
                status[job.id] = "failed"

    async with asyncio.TaskGroup() as tg:
        tasks = [tg.create_task(worker()) for _ in range(workers)]
        _, pending = await asyncio.wait(tasks, timeout=timeout)
        for task in pending:
            task.cancel()
    return status


def sync_with_asyncio_run(process: Any, jobs: list[Job], workers: int,
                          timeout: float) -> dict[str, str]:
    """A plain def that starts its own loop with asyncio.run(): not inside a running loop."""
    return asyncio.run(timeout_around_taskgroup(process, jobs, workers, timeout))


async def timeout_per_worker(process: Any, jobs: list[Job], workers: int,
                             timeout: float) -> dict[str, str]:
    """A timeout per worker, one after the other: with several hung workers they add up."""
    queue = _queue_of(jobs)
    status = dict.fromkeys((job.id for job in jobs), "canceled")

    async def worker() -> None:
        while not queue.empty():
            job = queue.get_nowait()
            try:
                await process(job)
                status[job.id] = "succeeded"
            except Exception:
                status[job.id] = "failed"

    tasks = [asyncio.create_task(worker()) for _ in range(workers)]
    for task in tasks:
        with contextlib.suppress(TimeoutError, asyncio.CancelledError):
            await asyncio.wait_for(task, timeout)   # cancels the task on timeout
    return status


@dataclass(frozen=True)
class Wrong:
    answer: Any
    scenario: str     # the scenario whose hint must name the mistake
    hint: str         # the phrase naming it
    passes: frozenset[str] = frozenset()   # scenarios it still passes


_ALL = frozenset(SCENARIOS)

WRONG = [
    Wrong(swallow_and_continue, HUNG, "a swallowed CancelledError", _ALL - {HUNG}),
    Wrong(catch_base_exception, HUNG, "a swallowed CancelledError", _ALL - {HUNG}),
    Wrong(no_try_in_worker, FAILS, "a worker that dies with its first failing job",
          _ALL - {FAILS, EARLY}),
    Wrong(gather_workers_die, FAILS, "a worker that dies with its first failing job",
          _ALL - {FAILS, EARLY}),
    Wrong(no_timeout, HUNG, "a shutdown that waits forever", _ALL - {HUNG}),
    Wrong(never_cancels, HUNG, "a hung job left running", _ALL - {HUNG}),
    Wrong(cancel_without_waiting, HUNG, "a hung job left running", _ALL - {HUNG}),
    Wrong(forgot_await_process, RUNS, "a forgotten await: process(job)"),
    Wrong(forgot_await_put, RUNS, "coroutine 'Queue.put' was never awaited"),
    Wrong(forgot_await_sleep, RUNS, "coroutine 'sleep' was never awaited"),
    Wrong(time_sleep_shutdown, RUNS, "blocking the loop"),
    Wrong(time_sleep_between_jobs, LOOP, "blocking the loop", _ALL - {LOOP}),
    Wrong(serial_workers, BOUNDED, "not concurrent", frozenset({RUNS, FAILS, EARLY, LOOP})),
    Wrong(task_per_job, BOUNDED, "unbounded", _ALL - {BOUNDED, HUNG}),
    Wrong(fixed_sleep, EARLY, "waited the full timeout", _ALL - {EARLY}),
    Wrong(workers_never_stop, EARLY, "waited the full timeout", _ALL - {EARLY}),
    Wrong(retry_failed, FAILS, "a job run twice", _ALL - {FAILS, EARLY}),
    Wrong(fixed_share, RUNS, "a job lost", frozenset({FAILS, BOUNDED, EARLY, LOOP})),
    Wrong(cancelled_as_failed, HUNG, "a job cancelled at the timeout ends 'canceled'",
          _ALL - {HUNG}),
    Wrong(started_jobs_only, HUNG, "a job that never started ends 'canceled'", _ALL - {HUNG}),
    Wrong(sync_with_asyncio_run, RUNS, "asyncio.run() inside run_pool"),
    Wrong(timeout_per_worker, HUNG, "not each worker's wait", _ALL - {HUNG}),
]
