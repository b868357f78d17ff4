"""Answers to notebook 11's exercise, right and wrong, as a learner could write them.

The exercise asks for ``run_with_hard_timeout(process, payloads, timeout,
workers=2)`` (see ``pool.checks.check_run_with_hard_timeout``). ``RIGHT``
holds correct answers in different styles; ``WRONG`` one answer per classic
mistake, with the scenarios it must fail and a phrase naming the mistake that
the hint of the named scenario must contain.
``tests/test_check_run_with_hard_timeout.py`` runs them all through the checker.
"""

from __future__ import annotations

import threading
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures import wait
from dataclasses import dataclass
from typing import Any

from pool import Job, ProcessPool

# -- the scenarios, as the checker prints them (after "run_with_hard_timeout ") -------------

ORDER = "returns each job's result, in payload order"
PICKLE = "sends process itself to the workers (a lambda does not pickle)"
KILL = "answers a hung job killed at the timeout with its error"
REPLACE = "runs later jobs on replacement workers after kills"
CRASH = "fails only the job whose worker crashed (WorkerDied)"
ORPHANS = "leaves no worker process behind"
SCENARIOS = (ORDER, PICKLE, KILL, REPLACE, CRASH, ORPHANS)


# -- right answers ---------------------------------------------------------------------------

def with_block(process: Any, payloads: list[bytes], timeout: float, workers: int = 2) -> list[Any]:
    """Submit all, collect each future's result or exception; the with block shuts down."""
    with ProcessPool(process, workers=workers, job_timeout=timeout) as pool:
        futures = [pool.submit(Job(f"job-{i}", p)) for i, p in enumerate(payloads)]
        out: list[Any] = []
        for f in futures:
            try:
                out.append(f.result())
            except Exception as exc:
                out.append(exc)
    return out


def wait_then_read(process: Any, payloads: list[bytes], timeout: float,
                   workers: int = 2) -> list[Any]:
    """concurrent.futures.wait for all, then exception() or result(); explicit shutdown."""
    pool = ProcessPool(process, workers, job_timeout=timeout)
    try:
        futures = [pool.submit(Job(str(i), p)) for i, p in enumerate(payloads)]
        wait(futures)
        return [f.exception() or f.result() for f in futures]
    finally:
        pool.shutdown(timeout=1.0, grace=0.1)


def by_outcome(process: Any, payloads: list[bytes], timeout: float, workers: int = 2) -> list[Any]:
    """Collected by job id through done callbacks, ordered at the end."""
    done: dict[str, Any] = {}
    finished = threading.Event()

    def record(f: Any) -> None:
        done[f.job_id] = f.exception() or f.result()
        if len(done) == len(payloads):
            finished.set()

    pool = ProcessPool(process, workers=workers, job_timeout=timeout)
    try:
        ids = [f"p{i}" for i in range(len(payloads))]
        for job_id, payload in zip(ids, payloads, strict=True):
            pool.submit(Job(job_id, payload)).add_done_callback(record)
        finished.wait(30)
        return [done.get(job_id) for job_id in ids]
    finally:
        pool.shutdown()


RIGHT = [with_block, wait_then_read, by_outcome]


# -- wrong answers: one per classic mistake ----------------------------------------------------

def wrapped_in_lambda(process: Any, payloads: list[bytes], timeout: float,
                      workers: int = 2) -> list[Any]:
    """A lambda sent to a process pool: it does not pickle."""
    with ProcessPool(lambda job: process(job), workers=workers, job_timeout=timeout) as pool:
        return [f.result() for f in [pool.submit(Job(str(i), p)) for i, p in enumerate(payloads)]]


def dropping_failures(process: Any, payloads: list[bytes], timeout: float,
                      workers: int = 2) -> list[Any]:
    """A kill that loses the job: only the jobs that succeeded are answered."""
    with ProcessPool(process, workers=workers, job_timeout=timeout) as pool:
        futures = [pool.submit(Job(str(i), p)) for i, p in enumerate(payloads)]
        wait(futures)
        return [f.result() for f in futures if f.exception() is None]


def soft_timeout_only(process: Any, payloads: list[bytes], timeout: float,
                      workers: int = 2) -> list[Any]:
    """A replacement that is never started: waits with a timeout but never kills the worker."""
    pool = ProcessPool(process, workers=workers)
    try:
        futures = [pool.submit(Job(str(i), p)) for i, p in enumerate(payloads)]
        out: list[Any] = []
        for f in futures:
            try:
                out.append(f.result(timeout=timeout))
            except FutureTimeout as exc:   # the hung worker stays busy: nobody replaces it
                out.append(exc)
            except Exception as exc:
                out.append(exc)
        return out
    finally:
        pool.shutdown(timeout=0, grace=0.05)


def never_shut_down(process: Any, payloads: list[bytes], timeout: float,
                    workers: int = 2) -> list[Any]:
    """A shutdown that leaves orphans: the pool's worker processes outlive the call."""
    pool = ProcessPool(process, workers=workers, job_timeout=timeout)
    futures = [pool.submit(Job(str(i), p)) for i, p in enumerate(payloads)]
    out: list[Any] = []
    for f in futures:
        try:
            out.append(f.result())
        except Exception as exc:
            out.append(exc)
    return out


@dataclass(frozen=True)
class Wrong:
    answer: Any
    scenario: str     # the scenario whose hint must name the mistake
    hint: str         # the phrase naming it
    passes: frozenset[str] = frozenset()   # scenarios it still passes


WRONG = [
    Wrong(wrapped_in_lambda, PICKLE, "a lambda sent to a process pool"),
    Wrong(dropping_failures, KILL, "a kill that loses the job", frozenset({ORDER, PICKLE})),
    Wrong(soft_timeout_only, REPLACE, "a replacement that is never started",
          frozenset({ORDER, PICKLE, CRASH, ORPHANS, KILL})),
    Wrong(never_shut_down, ORPHANS, "a shutdown that leaves orphans",
          frozenset({ORDER, PICKLE, KILL, REPLACE, CRASH})),
]
