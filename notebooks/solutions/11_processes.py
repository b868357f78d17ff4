"""Notebook 11, exercise: run jobs in worker processes with a hard timeout.

``run_with_hard_timeout(process, payloads, timeout, workers=2)`` returns one
entry per payload, in order: the job's result, or the exception it ended with.
"""

from __future__ import annotations

from typing import Any

from pool import Job, ProcessPool


def run_with_hard_timeout(process: Any, payloads: list[bytes], timeout: float,
                          workers: int = 2) -> list[Any]:
    # process goes to the workers as is: a lambda around it would not pickle.
    # job_timeout: the pool kills a job still running after `timeout` seconds
    # (TIMED_OUT, DeadlineExceeded) and starts a fresh worker in its place.
    with ProcessPool(process, workers=workers, job_timeout=timeout) as pool:
        futures = [pool.submit(Job(f"job-{i}", p)) for i, p in enumerate(payloads)]
        answers: list[Any] = []
        for future in futures:
            try:
                answers.append(future.result())
            except Exception as exc:      # DeadlineExceeded, WorkerDied, the job's own error
                answers.append(exc)
    # leaving the `with` shuts the pool down: every worker process is joined
    return answers
