"""The ledger rule on ProcessPool under faults, checked on random scenarios (hypothesis).

The same promise as tests/test_ledger.py makes for threads ("after shutdown,
every submitted job id has exactly one terminal outcome; none lost, none
counted twice"; a submit racing a shutdown lands or raises PoolClosed), here
with what only processes do: workers that crash (``os._exit``), are killed
(SIGKILL), hit a hard ``job_timeout`` or deadline and are replaced, results
that do not pickle. Each example runs a random pool (1-3 workers, a random
buffer and job_timeout), 1-16 random jobs from 1-3 submitter threads using
submit(timeout) and try_submit, a shutdown after a random number of submits
with random drain/timeout/grace, and cancel() at a random moment. Every
accepted job's future must agree with its outcome, its done callback must
run exactly once, shutdown must keep its bound, and no process may be left.

PROCESS_LEDGER_EXAMPLES sets the number of examples (default 30: processes
cost milliseconds each to start, so this runs in well under a minute).
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

sys.path.insert(0, os.path.dirname(__file__))

import procjobs
from ledgerrun import Submit, SubmitRun
from poolhelpers import future_problems, join_all, ledger_problems
from prochelpers import descendants, describe, left_behind, needs_proc

from pool import Job, ProcessPool, background

EXAMPLES = int(os.environ.get("PROCESS_LEDGER_EXAMPLES", "30"))
SLACK = 0.3  # shutdown may overrun timeout + grace by this much (terminating included)
JOIN_BOUND = 10.0

# kind -> the procjobs action it runs
ACTIONS = {
    "succeed": "ok",
    "value_error": "raise boom",
    "system_exit": "sysexit",
    "hang": "hang 30",  # ignores its ctx: only a kill (job_timeout, shutdown) ends it
    "honour_ctx": "honour 0.02",
    "deadline": "honour 30",  # with a deadline of 0-50 ms: ends by itself, or is killed
    "crash": "exit 3",
    "sigkill": "signal SIGKILL",
    "bad_result": "bad-result",
}
KINDS = tuple(ACTIONS)


@dataclass(frozen=True)
class Scenario:
    workers: int
    buffer: int
    job_timeout: float | None
    kinds: tuple[str, ...]
    deadlines: tuple[float, ...]  # per job; used by "deadline" jobs
    submits: tuple[Submit, ...]
    submitters: int
    shut_after: int
    drain: bool
    timeout: float | None
    grace: float
    cancel: tuple[str, int]  # ("never"|"before"|"during"|"after", submits started)


submit_modes = st.one_of(
    st.just(Submit(use_try=True)),
    st.builds(Submit, use_try=st.just(False),
              timeout=st.one_of(st.none(), st.sampled_from([0.0, 0.01, 0.05]))),
)


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    kinds = tuple(draw(st.lists(st.sampled_from(KINDS), min_size=1, max_size=16)))
    n = len(kinds)
    job_timeout = draw(st.sampled_from([None, 0.05, 0.2]))
    timeouts: list[float | None] = [0.0, 0.02, 0.1]
    if "hang" not in kinds or job_timeout is not None:
        timeouts.append(None)  # every job ends by itself (or by a kill) in time
    return Scenario(
        workers=draw(st.integers(1, 3)),
        buffer=draw(st.sampled_from([0, 1, 2, 5, 100])),
        job_timeout=job_timeout,
        kinds=kinds,
        deadlines=tuple(draw(st.lists(st.floats(0.0, 0.05), min_size=n, max_size=n))),
        submits=tuple(draw(st.lists(submit_modes, min_size=n, max_size=n))),
        submitters=draw(st.integers(1, 3)),
        shut_after=draw(st.integers(0, n)),
        drain=draw(st.booleans()),
        timeout=draw(st.sampled_from(timeouts)),
        grace=draw(st.sampled_from([0.0, 0.01, 0.05])),
        cancel=(draw(st.sampled_from(["never", "before", "during", "after"])),
                draw(st.integers(0, n))),
    )


class Run(SubmitRun):
    """One scenario's submitters (see ``ledgerrun``), with this engine's jobs."""

    def job(self, i: int) -> Job:
        kind = self.scenario.kinds[i]
        ctx = None
        if kind == "deadline":
            ctx, _ = background().with_timeout(self.scenario.deadlines[i])
        return procjobs.job(f"j{i}", *ACTIONS[kind].split(" "), ctx=ctx)


def run_scenario(scenario: Scenario) -> list[str]:
    """Run one scenario; return every broken promise (empty: the ledger held)."""
    before = descendants()
    pool = ProcessPool(procjobs.run, scenario.workers, buffer=scenario.buffer,
                       job_timeout=scenario.job_timeout, keep=10_000)
    run = Run(scenario, pool)
    problems: list[str] = []
    try:
        report, elapsed = run.submit_and_shut_down()
        if scenario.timeout is not None and elapsed >= scenario.timeout + scenario.grace + SLACK:
            problems.append(f"shutdown took {elapsed:.3f} s")
        if multiprocessing.active_children():
            problems.append(f"worker processes alive after shutdown: "
                            f"{multiprocessing.active_children()}")
        alive = join_all(run.submitters, timeout=JOIN_BOUND)
        if alive:
            problems.append(f"submitters still blocked after shutdown: {alive}")
        problems += run.failures
        s = report.stats
        for name in ("failed", "canceled", "timed_out", "abandoned"):
            event(f"{name}: {'some' if getattr(s, name) else 'none'}")
        event(f"rejected submits: {'some' if run.rejected else 'none'}")
        event(f"shutdown {'clean' if report.clean else 'timed out'}")
        problems += ledger_problems(pool, run.accepted, run.rejected)  # type: ignore[arg-type]
        if pool.stats != report.stats:
            problems.append(f"stats changed after shutdown: {report.stats} -> {pool.stats}")
        if len(report.abandoned) != report.stats.abandoned:
            problems.append(f"report lists {len(report.abandoned)} abandoned, "
                            f"stats say {report.stats.abandoned}")
        problems += future_problems(run.futures, pool.outcomes, run.callbacks)
        left = left_behind(before, wait=1.0)
        if left:
            problems.append(f"processes left behind: {describe(left)}")
    finally:
        join_all(run.submitters, timeout=JOIN_BOUND)
        if run.canceller is not None:
            run.canceller.join(JOIN_BOUND)
        pool.shutdown(timeout=1.0, grace=0.1)
    return problems


@needs_proc
@pytest.mark.slow
@pytest.mark.timeout(max(60, 4 * EXAMPLES))
@settings(max_examples=EXAMPLES, deadline=None, derandomize=False, print_blob=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(scenario=scenarios())
def test_every_accepted_job_has_exactly_one_outcome_when_workers_crash_hang_and_are_killed(
    scenario: Scenario,
) -> None:
    assert run_scenario(scenario) == []
