"""The ledger rule on DaskPool, checked on random scenarios (hypothesis).

The promise of tests/test_ledger.py ("after shutdown, every submitted job id
has exactly one terminal outcome; none lost, none counted twice"; a submit
racing a shutdown lands or raises PoolClosed), on a real Dask cluster:
jobs that succeed, raise, honour or ignore their context, hit a deadline on
the worker, or hang until shutdown kills their worker; random buffer,
submitters (submit(timeout) and try_submit), shutdown point, drain,
timeout, grace and cancel(). Every accepted job's future must agree with
its outcome and call back exactly once, and shutdown must keep its bound.

The examples share one LocalCluster (3 workers) through ``client=``: a new
cluster per example would cost 1-3 s. A hung job's worker is killed and its
nanny starts a new one, so later examples may run on fewer workers meanwhile
(their jobs queue). DASK_LEDGER_EXAMPLES sets the number of examples (default 100: most
take 5-200 ms, one with a hung job about a second, as its worker restarts;
about 15-30 s in all on 2 cores).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

sys.path.insert(0, os.path.dirname(__file__))

import clusterhelpers as ch
from ledgerrun import Submit, SubmitRun
from poolhelpers import future_problems, join_all, ledger_problems

from pool import Job, background

distributed = pytest.importorskip("distributed")

from pool.cluster import DaskPool  # noqa: E402  (needs distributed)

EXAMPLES = int(os.environ.get("DASK_LEDGER_EXAMPLES", "100"))
SLACK = 0.6  # shutdown may overrun timeout + grace by this much (the kill round trip included)
JOIN_BOUND = 10.0

ACTIONS = {
    "succeed": "ok",
    "value_error": "raise boom",
    "short": "sleep 0.02",
    "honour_ctx": "honour 0.05",
    "deadline": "honour 30",  # with a deadline of 0-50 ms
    "hang": "hang 30",  # ignores its ctx: only shutdown's kill ends it
}
KINDS = tuple(ACTIONS)

ch.ship_by_value()


@dataclass(frozen=True)
class Scenario:
    buffer: int
    kinds: tuple[str, ...]
    deadlines: tuple[float, ...]
    submits: tuple[Submit, ...]
    submitters: int
    shut_after: int
    drain: bool
    timeout: float | None
    grace: float
    cancel: tuple[str, int]


submit_modes = st.one_of(
    st.just(Submit(use_try=True)),
    st.builds(Submit, use_try=st.just(False),
              timeout=st.one_of(st.none(), st.sampled_from([0.0, 0.01, 0.05]))),
)


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    kinds = tuple(draw(st.lists(st.sampled_from(KINDS), min_size=1, max_size=12)))
    n = len(kinds)
    timeouts: list[float | None] = [0.0, 0.02, 0.1]
    if "hang" not in kinds:
        timeouts.append(None)
    return Scenario(
        buffer=draw(st.sampled_from([1, 2, 5, 100])),
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
    def job(self, i: int) -> Job:
        kind = self.scenario.kinds[i]
        ctx = None
        if kind == "deadline":
            ctx, _ = background().with_timeout(self.scenario.deadlines[i])
        return ch.job(f"j{i}", *ACTIONS[kind].split(" "), ctx=ctx)


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    cluster = distributed.LocalCluster(n_workers=3, threads_per_worker=1, processes=True,
                                       host="127.0.0.1", dashboard_address=None)
    c = distributed.Client(cluster, set_as_default=False)
    yield c
    c.close()
    ch.close_cluster(cluster)


def run_scenario(scenario: Scenario, client: Any) -> list[str]:
    # A worker killed by an earlier example is restarted by its nanny, but not
    # always in time (seen once in five runs on a loaded 2-core machine: 2 of 3
    # back after 30 s); the ledger does not depend on how many there are.
    client.wait_for_workers(1, timeout=60)
    pool = DaskPool(ch.run, client=client, buffer=scenario.buffer)
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
        event(f"shutdown {'clean' if report.clean else 'timed out'}")
        problems += ledger_problems(pool, run.accepted, run.rejected)  # type: ignore[arg-type]
        if pool.stats != report.stats:
            problems.append(f"stats changed after shutdown: {report.stats} -> {pool.stats}")
        if len(report.abandoned) != report.stats.abandoned:
            problems.append(f"report lists {len(report.abandoned)} abandoned, "
                            f"stats say {report.stats.abandoned}")
        problems += future_problems(run.futures, pool.outcomes, run.callbacks)
    finally:
        join_all(run.submitters, timeout=JOIN_BOUND)
        if run.canceller is not None:
            run.canceller.join(JOIN_BOUND)
        pool.shutdown(timeout=1.0, grace=0.1)
    return problems


@pytest.mark.slow
@pytest.mark.timeout(max(120, 8 * EXAMPLES))
@settings(max_examples=EXAMPLES, deadline=None, derandomize=False, print_blob=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(scenario=scenarios())
def test_every_accepted_job_has_exactly_one_outcome_on_a_dask_cluster(
    scenario: Scenario, client: Any,
) -> None:
    started = time.monotonic()
    assert run_scenario(scenario, client) == []
    event(f"example took {'< 1 s' if time.monotonic() - started < 1 else '>= 1 s'}")
