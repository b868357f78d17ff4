"""Reference solution: notebook 07, "a job that listens".

Checked by ``pool.checks.check_process`` in the notebook and in
tests/test_solutions_05_09.py.
"""

from __future__ import annotations

from pool import Job

STEP = 0.05
"""Seconds of work per payload byte."""


def steps_of_work(job: Job) -> int:
    """Do one step of STEP seconds per payload byte; return the steps done.

    Stops as soon as ``job.ctx`` is done: ``job.ctx.sleep`` raises the
    context's error (``Canceled`` or ``DeadlineExceeded``), and letting it
    propagate is what makes the pool record ``CANCELED`` or ``TIMED_OUT``.
    """
    steps = 0
    for _ in job.payload:
        job.ctx.sleep(STEP)  # the "select on ctx.Done() or the timer" of the Go version
        steps += 1
    return steps
