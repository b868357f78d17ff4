"""Answers to notebook 07's exercise, right and wrong, as a learner could write them.

The exercise asks for ``steps_of_work(job)``: one step of 0.05 s of work for
every byte of ``job.payload``, returning the number of steps; it must stop as
soon as ``job.ctx`` is done by raising the context's error (see
``pool.checks.check_process``). ``RIGHT`` holds correct answers in different
styles; ``WRONG`` one answer per mistake, with the scenario it must fail, a
phrase the hint of that scenario must contain (the name of the mistake) and
the scenarios it still passes. ``tests/test_check_process.py`` runs them all
through the checker.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from pool import Canceled, ContextError, DeadlineExceeded, Job

STEP = 0.05

# -- the scenarios, as the checker prints them (after "process ") ---------------------------

FINISHES = "finishes a job whose context stays open, one step per byte"
NO_SPIN = "waits between steps without spinning (busy-waiting)"
DEADLINE = "stops at the job's deadline with DeadlineExceeded"
CANCEL = "stops when the job is cancelled with Canceled"
ALREADY = "does no work for a job already cancelled"
SCENARIOS = (FINISHES, NO_SPIN, DEADLINE, CANCEL, ALREADY)


# -- right answers ---------------------------------------------------------------------------

def sleep_through_ctx(job: Job) -> int:
    """The notebook's hint: job.ctx.sleep waits and raises."""
    steps = 0
    for _ in job.payload:
        job.ctx.sleep(STEP)
        steps += 1
    return steps


def while_not_done(job: Job) -> int:
    """A while loop that looks before each step; the step itself is a plain sleep."""
    steps = 0
    while not job.ctx.done() and steps < len(job.payload):
        time.sleep(STEP)
        steps += 1
    if job.ctx.done():
        raise job.ctx.err()  # type: ignore[misc]
    return steps


def wait_returns_early(job: Job) -> int:
    """ctx.wait(step) returns True as soon as the context is done."""
    for step in range(len(job.payload)):
        if job.ctx.wait(STEP):
            err = job.ctx.err()
            assert err is not None
            raise err
        del step
    return len(job.payload)


def err_check_and_break(job: Job) -> int:
    """A for loop that checks ctx.err() before each step and breaks out; raises after it."""
    steps = 0
    for _ in job.payload:
        if job.ctx.err() is not None:
            break
        job.ctx.wait(STEP)
        if job.ctx.err() is None:
            steps += 1
    err = job.ctx.err()
    if err is not None:
        raise err
    return steps


def reraising_after_logging(job: Job) -> int:
    """Catches the context's error to log it, then re-raises it unchanged."""
    steps = 0
    try:
        for _ in job.payload:
            job.ctx.sleep(STEP)
            steps += 1
    except ContextError:
        logging.getLogger("cancellation-answers").debug("job %s stopped at step %d", job.id,
                                                        steps)
        raise
    return steps


class StepsOfWork:
    """A class instead of a function: the step length is a setting."""

    def __init__(self, step: float = STEP) -> None:
        self.step = step

    def __call__(self, job: Job) -> int:
        done = 0
        while done < len(job.payload):
            job.ctx.sleep(self.step)
            done += 1
        return done


def one_sleep_for_the_whole_job(job: Job) -> int:
    """All the steps in one listening sleep: the same behaviour, seen from outside."""
    job.ctx.sleep(STEP * len(job.payload))
    return len(job.payload)


def per_step_child_context(job: Job) -> int:
    """Each step waits on a child context with the step's timeout; a parent's end reaches it."""
    for _ in job.payload:
        step_ctx, cancel = job.ctx.with_timeout(STEP)
        try:
            step_ctx.wait()
        finally:
            cancel()
        err = job.ctx.err()
        if err is not None:
            raise err
    return len(job.payload)


def event_and_err(job: Job) -> int:
    """A threading.Event as the step's timer, with ctx.err() checked before each step."""
    pause = threading.Event()
    for i in range(len(job.payload)):
        if (err := job.ctx.err()) is not None:
            raise err
        pause.wait(STEP)
        del i
    if (err := job.ctx.err()) is not None:
        raise err
    return len(job.payload)


RIGHT = [sleep_through_ctx, while_not_done, wait_returns_early, err_check_and_break,
         reraising_after_logging, StepsOfWork(), one_sleep_for_the_whole_job,
         per_step_child_context, event_and_err]


# -- wrong answers: one per mistake ----------------------------------------------------------

def deaf(job: Job) -> int:
    """Never looks at the context: time.sleep for every step."""
    for _ in job.payload:
        time.sleep(STEP)
    return len(job.payload)


def looks_only_at_the_start(job: Job) -> int:
    """Checks the context once, before the loop, then works deaf."""
    if job.ctx.done():
        raise job.ctx.err()  # type: ignore[misc]
    for _ in job.payload:
        time.sleep(STEP)
    return len(job.payload)


def looks_after_each_step(job: Job) -> int:
    """One more step after the context is done: the check comes after the work, not before."""
    steps = 0
    for _ in job.payload:
        time.sleep(STEP)
        steps += 1
        if job.ctx.done():
            raise job.ctx.err()  # type: ignore[misc]
    return steps


def ctx_sleep_zero_after_step(job: Job) -> int:
    """The same mistake in another style: a plain step, then ctx.sleep(0) as the check."""
    for _ in job.payload:
        time.sleep(STEP)
        job.ctx.sleep(0)
    return len(job.payload)


def returns_partial_count(job: Job) -> int:
    """Stops at once, but returns the steps done instead of raising."""
    steps = 0
    try:
        for _ in job.payload:
            job.ctx.sleep(STEP)
            steps += 1
    except ContextError:
        return steps
    return steps


def breaks_without_raising(job: Job) -> int:
    """Breaks out when the context is done, and returns as if all went well."""
    steps = 0
    for _ in job.payload:
        if job.ctx.wait(STEP):
            break
        steps += 1
    return steps


def ignores_wait_result(job: Job) -> int:
    """ctx.wait(step) returns early once done, but the answer carries on with the next step."""
    for _ in job.payload:
        job.ctx.wait(STEP)
    return len(job.payload)


def wraps_in_runtime_error(job: Job) -> int:
    """Turns the context's error into a RuntimeError: the pool records FAILED."""
    try:
        for _ in job.payload:
            job.ctx.sleep(STEP)
    except ContextError as exc:
        raise RuntimeError(f"job {job.id} stopped") from exc
    return len(job.payload)


def always_canceled(job: Job) -> int:
    """Raises Canceled whatever ended the context: a deadline is recorded as a cancel."""
    for _ in job.payload:
        if job.ctx.wait(STEP):
            raise Canceled("stopped")
    return len(job.payload)


def always_deadline(job: Job) -> int:
    """Raises DeadlineExceeded whatever ended the context: a cancel is recorded as a timeout."""
    for _ in job.payload:
        if job.ctx.wait(STEP):
            raise DeadlineExceeded("too slow")
    return len(job.payload)


def deadline_only(job: Job) -> int:
    """Watches the deadline by the clock and never sees a cancel."""
    deadline = job.ctx.deadline()
    for _ in job.payload:
        if deadline is not None and time.monotonic() >= deadline:
            raise DeadlineExceeded("context deadline exceeded")
        time.sleep(STEP)
    return len(job.payload)


def spins_on_the_clock(job: Job) -> int:
    """Busy-waits: each step is a loop on time.monotonic() that checks the context."""
    for _ in job.payload:
        end = time.monotonic() + STEP
        while time.monotonic() < end:
            if job.ctx.done():
                raise job.ctx.err()  # type: ignore[misc]
    return len(job.payload)


def spins_on_done(job: Job) -> int:
    """Busy-waits with ctx.wait(0), yielding the GIL with time.sleep(0) but never sleeping."""
    end = time.monotonic() + STEP * len(job.payload)
    while time.monotonic() < end:
        if job.ctx.wait(0):
            raise job.ctx.err()  # type: ignore[misc]
        time.sleep(0)
    return len(job.payload)


def raises_err_unconditionally(job: Job) -> int:
    """`raise job.ctx.err()` before each step, even while the context is open (raises None)."""
    for _ in job.payload:
        if job.ctx.done:  # the method itself, always truthy: not called
            raise job.ctx.err()  # type: ignore[misc]
        job.ctx.sleep(STEP)
    return len(job.payload)


def no_work(job: Job) -> int:
    """Raises if already done, else returns the count at once: the steps are never done."""
    if (err := job.ctx.err()) is not None:
        raise err
    return len(job.payload)


def off_by_one(job: Job) -> int:
    """Counts from 1 and returns the last index + 1: one step too many."""
    steps = 1
    for _ in job.payload:
        job.ctx.sleep(STEP)
        steps += 1
    return steps


def skips_the_step_in_the_swallowed_error(job: Job) -> int:
    """Catches the context's error inside the loop and goes on: races through the rest."""
    steps = 0
    for _ in job.payload:
        try:
            job.ctx.sleep(STEP)
        except ContextError:
            continue
        steps += 1
    return steps


@dataclass(frozen=True)
class Wrong:
    answer: Any
    scenario: str  # the scenario whose hint must name the mistake
    hint: str  # a phrase that hint contains
    passes: frozenset[str]  # the scenarios it still passes


def _wrong(answer: Any, scenario: str, hint: str, passes: set[str]) -> Wrong:
    return Wrong(answer, scenario, hint, frozenset(passes))


WRONG = [
    _wrong(deaf, CANCEL, "still working", {FINISHES, NO_SPIN}),
    _wrong(looks_only_at_the_start, CANCEL, "still working", {FINISHES, NO_SPIN, ALREADY}),
    _wrong(looks_after_each_step, ALREADY, "look at job.ctx before each step",
           {FINISHES, NO_SPIN, DEADLINE, CANCEL}),
    _wrong(ctx_sleep_zero_after_step, ALREADY, "look at job.ctx before each step",
           {FINISHES, NO_SPIN, DEADLINE, CANCEL}),
    _wrong(returns_partial_count, CANCEL, "raise the context's error", {FINISHES, NO_SPIN}),
    _wrong(breaks_without_raising, DEADLINE, "raise the context's error", {FINISHES, NO_SPIN}),
    _wrong(ignores_wait_result, CANCEL, "raise the context's error", {FINISHES, NO_SPIN}),
    _wrong(wraps_in_runtime_error, CANCEL, "expected Canceled", {FINISHES, NO_SPIN}),
    _wrong(always_canceled, DEADLINE, "expected DeadlineExceeded",
           {FINISHES, NO_SPIN, CANCEL, ALREADY}),
    _wrong(always_deadline, CANCEL, "expected Canceled", {FINISHES, NO_SPIN, DEADLINE}),
    _wrong(deadline_only, CANCEL, "still working", {FINISHES, NO_SPIN, DEADLINE}),
    _wrong(spins_on_the_clock, NO_SPIN, "busy-waiting", {FINISHES, DEADLINE, CANCEL, ALREADY}),
    _wrong(spins_on_done, NO_SPIN, "busy-waiting", {FINISHES, DEADLINE, CANCEL, ALREADY}),
    _wrong(raises_err_unconditionally, FINISHES, "job.ctx.err() is None while the context is "
           "open", {ALREADY}),
    _wrong(no_work, FINISHES, "returned at once", {ALREADY}),
    _wrong(off_by_one, FINISHES, "one step per payload byte", {DEADLINE, CANCEL, ALREADY}),
    _wrong(skips_the_step_in_the_swallowed_error, CANCEL, "raise the context's error",
           {FINISHES, NO_SPIN}),
]
