"""The ledger rule under faults, checked on random scenarios (hypothesis).

DESIGN.md: "after shutdown, every submitted job id has exactly one terminal
outcome; none lost, none counted twice", and "a submit racing a shutdown
either lands (and is accounted for) or raises PoolClosed, never anything
else". Each example runs a random pool: 1-4 workers, a random buffer, 1-40
jobs that succeed, fail (ValueError, SystemExit), hang ignoring their ctx,
honour their ctx, or carry a deadline that passes while they wait; 1-4
submitter threads using submit(timeout) and try_submit; shutdown after a
random number of submits with random drain/timeout/grace; cancel() at a
random moment. Each accepted job's future must agree with its outcome, and
its done callback must run exactly once.

LEDGER_EXAMPLES sets the number of examples (default 200).
"""

from __future__ import annotations

import os
import sys
import threading
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

sys.path.insert(0, os.path.dirname(__file__))

from ledgerrun import Submit, SubmitRun
from poolhelpers import future_problems, join_all, ledger_problems

from pool import Job, WorkerPool, background

EXAMPLES = int(os.environ.get("LEDGER_EXAMPLES", "200"))
SLACK = 0.25  # shutdown may overrun timeout + grace by this much on a busy 2-core box
HONOUR_BOUND = 0.02  # longest a ctx-honouring job waits for its ctx before returning
HANG_BOUND = 10.0  # a hung job returns after this even if never released
JOIN_BOUND = 10.0

KINDS = ("succeed", "value_error", "system_exit", "hang", "honour_ctx", "deadline")


@dataclass(frozen=True)
class Scenario:
    workers: int
    buffer: int
    kinds: tuple[str, ...]
    deadlines: tuple[float, ...]  # per job; used by "deadline" jobs
    submits: tuple[Submit, ...]  # per job
    submitters: int
    shut_after: int  # submits started before shutdown() is called
    drain: bool
    timeout: float | None
    grace: float
    cancel: tuple[str, int]  # ("never"|"before"|"during"|"after", submits started)


submit_modes = st.one_of(
    st.just(Submit(use_try=True)),
    st.builds(Submit, use_try=st.just(False),
              timeout=st.one_of(st.none(), st.sampled_from([0.0, 0.001, 0.01, 0.02]))),
)


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    kinds = tuple(draw(st.lists(st.sampled_from(KINDS), min_size=1, max_size=40)))
    n = len(kinds)
    timeouts: list[float | None] = [0.0, 0.01, 0.05]
    if "hang" not in kinds:
        timeouts.append(None)
    return Scenario(
        workers=draw(st.integers(1, 4)),
        buffer=draw(st.sampled_from([0, 1, 2, 5, 100])),
        kinds=kinds,
        deadlines=tuple(draw(st.lists(st.floats(0.0, 0.02), min_size=n, max_size=n))),
        submits=tuple(draw(st.lists(submit_modes, min_size=n, max_size=n))),
        submitters=draw(st.integers(1, 4)),
        shut_after=draw(st.integers(0, n)),
        drain=draw(st.booleans()),
        timeout=draw(st.sampled_from(timeouts)),
        grace=draw(st.sampled_from([0.0, 0.01, 0.05])),
        cancel=(draw(st.sampled_from(["never", "before", "during", "after"])),
                draw(st.integers(0, n))),
    )


def make_process(release: threading.Event) -> Any:
    def process(job: Job) -> Any:
        kind = job.payload.decode()
        if kind == "value_error":
            raise ValueError(job.id)
        if kind == "system_exit":
            raise SystemExit(job.id)
        if kind == "hang":  # ignores its ctx
            release.wait(HANG_BOUND)
            return "released"
        if kind in ("honour_ctx", "deadline") and job.ctx.wait(HONOUR_BOUND):
            err = job.ctx.err()
            assert err is not None
            raise err
        return job.id

    return process


class Run(SubmitRun):
    """One scenario's submitters (see ``ledgerrun``), with this engine's jobs."""

    def job(self, i: int) -> Job:
        kind = self.scenario.kinds[i]
        if kind == "deadline":
            ctx, _ = background().with_timeout(self.scenario.deadlines[i])
            return Job(f"j{i}", kind.encode(), ctx)
        return Job(f"j{i}", kind.encode())


def run_scenario(scenario: Scenario) -> list[str]:
    """Run one scenario; return every broken promise (empty: the ledger held)."""
    release = threading.Event()
    pool = WorkerPool(make_process(release), scenario.workers, buffer=scenario.buffer,
                      keep=10_000)
    run = Run(scenario, pool)
    problems: list[str] = []
    try:
        report, elapsed = run.submit_and_shut_down()
        if scenario.timeout is not None and elapsed >= scenario.timeout + scenario.grace + SLACK:
            problems.append(f"shutdown took {elapsed:.3f} s")
        alive = join_all(run.submitters, timeout=JOIN_BOUND)
        if alive:
            problems.append(f"submitters still blocked after shutdown: {alive}")
        problems += run.failures
        s = report.stats
        for name in ("failed", "canceled", "timed_out", "abandoned"):
            event(f"{name}: {'some' if getattr(s, name) else 'none'}")
        event(f"rejected submits: {'some' if run.rejected else 'none'}")
        event(f"shutdown {'clean' if report.clean else 'timed out'}")
        problems += ledger_problems(pool, run.accepted, run.rejected)
        if pool.stats != report.stats:
            problems.append(f"stats changed after shutdown: {report.stats} -> {pool.stats}")
        if len(report.abandoned) != report.stats.abandoned:
            problems.append(f"report lists {len(report.abandoned)} abandoned, "
                            f"stats say {report.stats.abandoned}")
        release.set()  # abandoned jobs now come back late: they must not be counted again
        alive = join_all(pool.threads(), timeout=JOIN_BOUND)
        if alive:
            problems.append(f"workers still alive after release: {alive}")
        if pool.stats != report.stats:
            problems.append(f"late jobs changed the stats: {report.stats} -> {pool.stats}")
        # Every callback has run by now: the workers that end jobs have exited.
        problems += future_problems(run.futures, pool.outcomes, run.callbacks)
    finally:
        release.set()
        join_all(run.submitters, timeout=JOIN_BOUND)
        if run.canceller is not None:
            run.canceller.join(JOIN_BOUND)
        pool.shutdown(timeout=JOIN_BOUND)
    return problems


@pytest.mark.slow
@pytest.mark.timeout(max(60, 3 * EXAMPLES))
@settings(max_examples=EXAMPLES, deadline=None, derandomize=False, print_blob=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(scenario=scenarios())
def test_every_accepted_job_has_exactly_one_outcome_under_faults(scenario: Scenario) -> None:
    assert run_scenario(scenario) == []
